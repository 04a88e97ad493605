//! TLS viewers: HTTPS listeners, `redirect-to-https`, `https-only`, and what is logged (§5.3, §8.1).

use crate::harness::*;
use bytes::Bytes;
use cachalot_proxy::{EdgeSettings, PopSettings};
use cachalot_test::{TestOrigin, get};
use http_body_util::Full;
use std::net::SocketAddr;
use std::sync::Arc;

/// An edge whose POP listens in plain HTTP and over TLS, and a client that trusts it.
struct TlsEdge {
    harness: Harness,
    https: SocketAddr,
    client: tokio_rustls::TlsConnector,
}

/// Starts one POP on `origin`'s Managed-CachingOptimized config with this viewer protocol policy.
async fn start_tls(origin: &TestOrigin, viewer_protocol_policy: &str) -> TlsEdge {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let acceptor =
        cachalot_proxy::tls_acceptor(cert.cert.pem().as_bytes(), cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let settings = EdgeSettings {
        pops: vec![PopSettings { id: "SEA19-C1".into(), region: "us-west-2".into(), cache_bytes: 1 << 24, disk: None }],
        ..EdgeSettings::default()
    };
    let config = managed(origin, CACHING_OPTIMIZED).replace("allow-all", viewer_protocol_policy);
    let harness = start_settings(cachalot_test::snapshot_from_json(&config), settings).await;
    let https = harness.serve_tls(0, acceptor).await;
    TlsEdge { harness, https, client: tokio_rustls::TlsConnector::from(Arc::new(client_config)) }
}

async fn get_tls(edge: &TlsEdge, path: &str) -> (u16, http::HeaderMap, Bytes) {
    let tcp = tokio::net::TcpStream::connect(edge.https).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = edge.client.connect(name, tcp).await.unwrap();
    let req = http::Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
    let (parts, body) = exchange(tls, req).await;
    (parts.status.as_u16(), parts.headers, body.unwrap())
}

#[tokio::test]
async fn https_viewers_and_redirects() {
    let origin = TestOrigin::start().await;
    let edge = start_tls(&origin, "redirect-to-https").await;
    let plain = get(edge.harness.pop(0), "/secure.txt?x=1", &[("host", "localhost:8080")]).await;
    assert_eq!(plain.status, 301);
    assert_eq!(plain.header("location"), "https://localhost/secure.txt?x=1");
    assert_eq!(plain.header("x-cache"), "Redirect from cloudfront");
    let (status, headers, body) = get_tls(&edge, "/secure.txt").await;
    assert_eq!((status, &body[..]), (200, &b"/secure.txt"[..]));
    assert_eq!(headers["x-cache"], "Miss from cloudfront");
    let (_, headers, _) = get_tls(&edge, "/secure.txt").await;
    assert_eq!(headers["x-cache"], "Hit from cloudfront");
    let logged = edge.harness.observed.0.lock().clone();
    let redirect = logged.iter().find(|s| s.status == 301).unwrap();
    assert_eq!((redirect.protocol, redirect.result.as_str()), ("http", "Redirect"));
    let secure = logged.iter().find(|s| s.status == 200).unwrap();
    assert_eq!(secure.protocol, "https");
    assert_eq!(secure.ssl_protocol, Some("TLSv1.3"));
    assert!(secure.ssl_cipher.as_deref().is_some_and(|c| c.starts_with("TLS_")), "{:?}", secure.ssl_cipher);
}

#[tokio::test]
async fn https_only_refuses_plain_http() {
    let origin = TestOrigin::start().await;
    let edge = start_tls(&origin, "https-only").await;
    assert_eq!(get(edge.harness.pop(0), "/p", &[]).await.status, 403);
    assert_eq!(get_tls(&edge, "/p").await.0, 200);
}
