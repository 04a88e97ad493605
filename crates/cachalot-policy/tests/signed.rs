//! Signed URLs and cookies as data: `tests/signed/cases.json` holds public keys and
//! requests signed with `openssl dgst -sign` (RSA 2048 and ECDSA P-256, SHA-1 and SHA-256),
//! each case citing the AWS page it checks and expecting `ok` or CloudFront's error code.
//! The harness calls exactly what the edge calls (`signed::check`).

use cachalot_config::model::PublicKey;
use cachalot_policy::signed::{self, SignedRequest};
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[test]
fn signed_cases_hold() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/signed/cases.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let keys: HashMap<String, Arc<PublicKey>> = doc["keys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, pem)| {
            let (algorithm, key) = cachalot_config::keys::parse_public_key(pem.as_str().unwrap()).unwrap();
            (id.clone(), Arc::new(PublicKey { id: id.clone(), name: id.clone(), algorithm, key }))
        })
        .collect();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let at = format!("cases.json[{i}] {} ({})", case["title"], case["source"].as_str().unwrap());
        let r = &case["request"];
        let mut headers = HeaderMap::new();
        if let Some(c) = r["cookie"].as_str() {
            headers.insert(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        let req = SignedRequest {
            https: r["https"].as_bool().unwrap(),
            host: r["host"].as_str().unwrap(),
            path: r["path"].as_str().unwrap(),
            query: r["query"].as_str(),
            headers: &headers,
            client_ip: r["ip"].as_str().unwrap_or("203.0.113.9").parse().unwrap(),
        };
        let got = signed::check(&req, |id| keys.get(id).cloned(), case["now"].as_u64().unwrap());
        let got = match got {
            Ok(_) => "ok",
            Err(refusal) => refusal.code(),
        };
        assert_eq!(got, case["expect"].as_str().unwrap(), "{at}");
    }
}
