//! TLS viewers: HTTPS listeners, `redirect-to-https`, `https-only`, and what is logged (§5.3, §8.1).

use crate::harness::Recording;
use bytes::Bytes;
use cachalot_proxy::{Edge, EdgeSettings, ManualClock, PopSettings};
use cachalot_test::{TestOrigin, get};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

struct TlsEdge {
    http: SocketAddr,
    https: SocketAddr,
    client: tokio_rustls::TlsConnector,
    observed: Arc<Recording>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start(config: &str) -> TlsEdge {
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
    let observed = Arc::new(Recording::default());
    let settings = EdgeSettings {
        pops: vec![PopSettings { id: "SEA19-C1".into(), region: "us-west-2".into(), cache_bytes: 1 << 24, disk: None }],
        ..EdgeSettings::default()
    };
    let edge = Edge::with(
        settings,
        cachalot_test::snapshot_from_json(config),
        Arc::new(ManualClock::new(1_700_000_000_000)),
        observed.clone(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http, https) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    tokio::spawn(cachalot_proxy::serve_pop(edge.clone(), 0, plain, None, stopped.clone(), Duration::from_secs(1)));
    tokio::spawn(cachalot_proxy::serve_pop(edge, 0, secure, Some(acceptor), stopped, Duration::from_secs(1)));
    TlsEdge { http, https, client: tokio_rustls::TlsConnector::from(Arc::new(client_config)), observed, _stop: stop }
}

async fn get_tls(edge: &TlsEdge, path: &str) -> (u16, http::HeaderMap, Bytes) {
    let tcp = tokio::net::TcpStream::connect(edge.https).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = edge.client.connect(name, tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status.as_u16(), parts.headers, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn https_viewers_and_redirects() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    )
    .replace("allow-all", "redirect-to-https");
    let edge = start(&config).await;
    let plain = get(edge.http, "/secure.txt?x=1", &[("host", "localhost:8080")]).await;
    assert_eq!(plain.status, 301);
    assert_eq!(plain.header("location"), "https://localhost/secure.txt?x=1");
    assert_eq!(plain.header("x-cache"), "Redirect from cloudfront");
    let (status, headers, body) = get_tls(&edge, "/secure.txt").await;
    assert_eq!((status, &body[..]), (200, &b"/secure.txt"[..]));
    assert_eq!(headers["x-cache"], "Miss from cloudfront");
    let (_, headers, _) = get_tls(&edge, "/secure.txt").await;
    assert_eq!(headers["x-cache"], "Hit from cloudfront");
    let logged = edge.observed.0.lock().clone();
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
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    )
    .replace("allow-all", "https-only");
    let edge = start(&config).await;
    assert_eq!(get(edge.http, "/p", &[]).await.status, 403);
    assert_eq!(get_tls(&edge, "/p").await.0, 200);
}
