//! The viewer side: one request from arrival to the last byte, as CloudFront's
//! steps (§1), each one method of [`Exchange`] returning `Result<_, Exit>`:
//!
//! | Step | Method | What CloudFront does there |
//! | --- | --- | --- |
//! | Admit | `check_limits` | request line + headers ≤ 20,480 bytes, URL ≤ 8,192 (413, not logged) |
//! | Route | `route` | Host → distribution; normalised path → behavior; protocol policy, methods, GET body |
//! | Restrict | `restrict` | geo restriction, unenforced protections, signed URLs and cookies; location headers |
//! | ViewerRequest | `viewer_request_function` | the behavior's function may rewrite the request or answer it |
//! | Key | `key` | the cache key and normalised `Accept-Encoding` |
//! | Lookup / Fetch | `lookup` | POP cache, then tiers, collapsing, origin (`crate::fetch`) |
//! | Pass | `pass` | uncached methods and behaviors: straight to the origin, body and all |
//! | ViewerResponse | `viewer_response_function` | the behavior's function may change the response |
//! | ErrorPage | `error_page` | custom error responses for origin errors |
//! | Headers | `response_headers_policy` | the behavior's response headers policy |
//! | Finish | `finish` | `x-cache`, `age`, `via`, `x-amz-cf-*`, `Server-Timing` and the log, from one [`Outcome`] |
//!
//! An early exit ([`Exit`]) becomes an [`Outcome`] in `synth` (CloudFront's error
//! pages, redirects, function responses), so every response leaves through `finish`
//! and `x-cache` can never disagree with the log. Adding a step is one method and one
//! line in [`run`].

mod exchange;
mod private;
mod respond;
mod route;
mod serve;

pub(crate) use exchange::Exchange;
use exchange::{Exit, Outcome};
pub(crate) use private::Remembered;

use crate::body::EdgeBody;
use crate::edge::EdgeInner;
use http::{Request, Response};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the listener knows about the connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Viewer address.
    pub remote: SocketAddr,
    /// TLS connection.
    pub https: bool,
    /// Negotiated TLS version, e.g. `TLSv1.3`.
    pub tls_protocol: Option<&'static str>,
    /// Negotiated cipher suite (OpenSSL name).
    pub tls_cipher: Option<String>,
}

/// Handles one viewer request.
pub(crate) async fn handle(
    edge: Arc<EdgeInner>,
    pop_index: usize,
    conn: ConnInfo,
    req: Request<Incoming>,
) -> Response<EdgeBody> {
    let mut ex = Exchange::new(edge, pop_index, conn, req);
    let outcome = match run(&mut ex).await {
        Ok(outcome) => outcome,
        Err(exit) => ex.synth(exit).await,
    };
    ex.finish(outcome)
}

/// The pipeline: CloudFront's steps in order.
async fn run(ex: &mut Exchange) -> Result<Outcome, Exit> {
    ex.check_limits()?;
    let route = ex.route()?;
    ex.restrict(&route)?;
    ex.viewer_request_function(&route)?;
    let key = ex.key(&route);
    let mut outcome = if ex.cached(&route) { ex.lookup(&route, key).await? } else { ex.pass(&route, key).await? };
    ex.viewer_response_function(&route, &mut outcome)?;
    ex.error_page(&route, &mut outcome).await;
    ex.response_headers_policy(&route, &mut outcome);
    Ok(outcome)
}
