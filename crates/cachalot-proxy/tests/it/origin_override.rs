//! `cf.updateRequestOrigin()` at the edge (§9.4): every field a viewer-request function
//! sets is applied to the origin request, and the tiers follow the changed origin.

use crate::harness::*;
use cachalot_proxy::ListenerLimits;
use cachalot_test::{Reply, TestOrigin, get};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// An edge whose default behavior (CachingOptimized) runs `code` as its viewer-request function.
async fn edge_with_update(origin: &TestOrigin, code: &str, pops: &[(&str, &str)]) -> Harness {
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
           "FunctionAssociations": {"Quantity": 1, "Items": [{"FunctionARN": "arn:aws:cloudfront::123456789012:function/route", "EventType": "viewer-request"}]}"#,
        "",
    )
    .replace(r#""Id": "origin","#, r#""Id": "origin", "CustomHeaders": {"Quantity": 1, "Items": [{"HeaderName": "x-origin-secret", "HeaderValue": "configured"}]},"#);
    let snapshot = cachalot_test::snapshot_with_functions(&config, &[("route", "cloudfront-js-2.0", code)]);
    start_snapshot(snapshot, pops, HashMap::new(), ListenerLimits::default()).await
}

fn update(fields: &str) -> String {
    format!(
        "import cf from 'cloudfront'; function handler(event) {{ cf.updateRequestOrigin({fields}); return event.request; }}"
    )
}

#[tokio::test]
async fn custom_headers_and_host_header_reach_the_origin() {
    let origin = TestOrigin::start().await;
    let h = edge_with_update(
        &origin,
        &update(r#"{ customHeaders: { 'x-tenant': 'blue' }, hostHeader: 'tenant-blue.example.com' }"#),
        &[],
    )
    .await;
    assert_eq!(get(h.pop(0), "/a", &[]).await.status, 200);
    let seen = &origin.requests()[0];
    assert_eq!(seen.header("x-tenant"), "blue");
    assert_eq!(seen.header("x-origin-secret"), "", "the function's custom headers replace the configured ones");
    assert_eq!(seen.header("host"), "tenant-blue.example.com");
}

#[tokio::test]
async fn domain_name_and_port_send_the_request_elsewhere() {
    let configured = TestOrigin::start_with(|_| Reply::ok("configured")).await;
    let other = TestOrigin::start_with(|_| Reply::ok("other")).await;
    let (host, port) = other.authority().rsplit_once(':').map(|(h, p)| (h.to_owned(), p.to_owned())).unwrap();
    let code = update(&format!(
        r#"{{ domainName: '{host}', originPath: '/v2', customOriginConfig: {{ port: {port}, protocol: 'http' }} }}"#
    ));
    let h = edge_with_update(&configured, &code, &[]).await;
    assert_eq!(get(h.pop(0), "/a", &[]).await.body, "other");
    assert_eq!(other.requests()[0].path(), "/v2/a");
    assert!(configured.requests().is_empty());
}

#[tokio::test]
async fn timeouts_and_connection_attempts_apply() {
    let origin = TestOrigin::start_with(|_| Reply::ok("late").delay(Duration::from_millis(1500))).await;
    let h = edge_with_update(&origin, &update("{ timeouts: { readTimeout: 1 }, connectionAttempts: 2 }"), &[]).await;
    let r = get(h.pop(0), "/slow", &[]).await;
    assert_eq!(r.status, 504, "the function's 1 s response timeout, not the origin's 5 s");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(origin.hits("/slow"), 2, "two attempts, as the function asked");
}

/// Origin Shield switched on by the function changes the tiers: a second POP in
/// another region is served by the shield, and the origin is asked once.
#[tokio::test]
async fn origin_shield_from_the_function_chooses_the_tiers() {
    let origin = TestOrigin::start_with(|_| Reply::ok("shielded").header("cache-control", "max-age=300")).await;
    let h = edge_with_update(
        &origin,
        &update("{ originShield: { enabled: true, region: 'us-east-2' } }"),
        &[("LHR50-C1", "eu-west-2"), ("NRT57-C1", "ap-northeast-1")],
    )
    .await;
    let first = get(h.pop(0), "/s", &[("pragma", "server-timing")]).await;
    assert!(
        first.header("server-timing").contains("cdn-upstream-layer;desc=\"Origin Shield\""),
        "{}",
        first.header("server-timing")
    );
    let second = get(h.pop(1), "/s", &[]).await;
    assert_eq!(second.header("x-cache"), "Hit from cloudfront");
    assert_eq!(origin.hits("/s"), 1);
    let logged = h.summaries(2).await;
    assert_eq!(logged[1].detailed.as_str(), "OriginShieldHit");
}

/// `sni` is the TLS server name sent to an HTTPS origin.
#[tokio::test]
async fn sni_is_the_server_name_sent_to_the_origin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            if let Ok(start) = acceptor.await {
                record.lock().push(start.client_hello().server_name().unwrap_or("").to_owned());
            }
        }
    });
    // Any HTTP origin to start from; the function sends the request to the TLS listener.
    let origin = TestOrigin::start().await;
    let code = update(&format!(
        r#"{{ domainName: '127.0.0.1', customOriginConfig: {{ port: {port}, protocol: 'https' }}, sni: 'tenant.example.com', connectionAttempts: 1 }}"#
    ));
    let h = edge_with_update(&origin, &code, &[]).await;
    let r = get(h.pop(0), "/tls", &[]).await;
    assert_eq!(r.status, 502, "the test listener never finishes the handshake");
    assert_eq!(seen.lock().clone(), ["tenant.example.com"]);
}
