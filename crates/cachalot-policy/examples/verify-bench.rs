//! The cost of one cold signed-URL check (no remembered verification): every `ok` case of
//! `tests/signed/cases.json` (RSA 2048 and ECDSA P-256, SHA-1 and SHA-256, canned and
//! custom policies, URLs and cookies) checked `N` times through `signed::check`.
//!
//! `cargo run --release -p cachalot-policy --example verify-bench [N]`

use cachalot_config::model::PublicKey;
use cachalot_policy::signed::{self, SignedRequest};
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/signed/cases.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("cases.json")).expect("JSON");
    let mut keys: HashMap<String, Arc<PublicKey>> = HashMap::new();
    for (id, pem) in doc["keys"].as_object().expect("keys") {
        let (algorithm, key) = cachalot_config::keys::parse_public_key(pem.as_str().unwrap_or_default()).expect("key");
        keys.insert(id.clone(), Arc::new(PublicKey { id: id.clone(), name: id.clone(), algorithm, key }));
    }
    println!("{:<60} {:>12}", "case", "µs / check");
    for case in doc["cases"].as_array().expect("cases").iter().filter(|c| c["expect"] == "ok") {
        let r = &case["request"];
        let mut headers = HeaderMap::new();
        if let Some(c) = r["cookie"].as_str().and_then(|c| HeaderValue::from_str(c).ok()) {
            headers.insert(header::COOKIE, c);
        }
        let req = SignedRequest {
            https: r["https"].as_bool().unwrap_or(true),
            host: r["host"].as_str().unwrap_or_default(),
            path: r["path"].as_str().unwrap_or_default(),
            query: r["query"].as_str(),
            headers: &headers,
            client_ip: r["ip"].as_str().unwrap_or("203.0.113.9").parse().expect("ip"),
        };
        let now = case["now"].as_u64().unwrap_or(0);
        let started = Instant::now();
        for _ in 0..n {
            assert!(signed::check(&req, |id| keys.get(id).cloned(), now).is_ok());
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!("{:<60} {:>12.1}", case["title"].as_str().unwrap_or_default(), micros);
    }
}
