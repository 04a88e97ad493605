//! Serves only the control-plane API, with an edge link that records what it is asked.
//!
//! ```text
//! cargo run -p cachalot-control --example control_only -- [ADDR] [STATE_DIR] [ACCESS_KEY_ID:SECRET]
//! ```
//!
//! Prints `listening on http://ADDR` once ready (ADDR defaults to
//! 127.0.0.1:9400; `127.0.0.1:0` picks a free port). Used by the crate's
//! end-to-end tests (the AWS CLI and boto3 script, the crash test).

use cachalot_config::file::AccessKey;
use cachalot_config::validate::Resources;
use cachalot_control::{ControlPlane, RecordingEdge, StoreLocation};
use std::io::Write as _;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9400".into());
    let state = args.next().unwrap_or_else(|| "./.cachalot".into());
    let keys: Vec<AccessKey> = args
        .next()
        .and_then(|k| {
            let (id, secret) = k.split_once(':')?;
            Some(AccessKey { access_key_id: id.into(), secret_access_key: secret.into() })
        })
        .into_iter()
        .collect();
    let edge = RecordingEdge::new();
    let control = ControlPlane::open(StoreLocation::Dir(state.into()), Resources::default(), keys, edge, None)?;
    if control.is_open() {
        eprintln!("warning: no access keys configured; the API accepts any credentials");
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, control.router()).await?;
    Ok(())
}
