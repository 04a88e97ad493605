//! Connection limits of a POP listener: idle and header timeouts, the connection
//! cap. CloudFront documents no viewer idle timeout; these are Cachalot's settings
//! (`ListenerLimits`), tested here with short values.

use crate::harness::*;
use bytes::Bytes;
use cachalot_proxy::ListenerLimits;
use cachalot_test::TestOrigin;
use http::Method;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn short_limits() -> ListenerLimits {
    ListenerLimits {
        idle_timeout: Duration::from_millis(600),
        header_read_timeout: Duration::from_millis(600),
        tls_handshake_timeout: Duration::from_secs(1),
        max_connections: 2,
    }
}

async fn edge(limits: ListenerLimits) -> (TestOrigin, Harness) {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start_with_limits(&config, &[], HashMap::new(), limits).await;
    (origin, h)
}

/// Reads until the server closes the connection; `None` if it is still open after `wait`.
async fn closed_within(stream: &mut tokio::net::TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed() {
    let (_origin, h) = edge(short_limits()).await;
    let mut silent = tokio::net::TcpStream::connect(h.pop(0)).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await.is_some(), "the idle connection stayed open");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    let (_origin, h) = edge(short_limits()).await;
    let mut conn = tokio::net::TcpStream::connect(h.pop(0)).await.unwrap();
    conn.write_all(b"GET /a HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\n\r\n").await.unwrap();
    let seen = closed_within(&mut conn, Duration::from_secs(10)).await.expect("closed once idle");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"), "the request itself was answered");
}

#[tokio::test]
async fn slow_request_headers_are_cut_off() {
    let (_origin, h) = edge(short_limits()).await;
    let mut conn = tokio::net::TcpStream::connect(h.pop(0)).await.unwrap();
    conn.write_all(b"GET /a HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\n").await.unwrap();
    // One header line every 200 ms keeps the socket busy but never finishes the request.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if conn.write_all(format!("x-slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                return;
            }
            let mut probe = [0u8; 512];
            if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), conn.read(&mut probe)).await {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a request whose headers never end kept its connection");
}

#[tokio::test]
async fn http2_idle_connections_are_closed() {
    let (_origin, h) = edge(short_limits()).await;
    let stream = tokio::net::TcpStream::connect(h.pop(0)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(conn);
    let req = http::Request::get("http://d111111abcdef8.cloudfront.net/a")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(10), driver).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let (_origin, h) = edge(ListenerLimits { idle_timeout: Duration::from_secs(30), ..short_limits() }).await;
    let pop = h.pop(0);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = tokio::net::TcpStream::connect(pop).await.unwrap();
        c.write_all(b"GET /a HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    let third = tokio::spawn(async move { cachalot_test::request(pop, Method::GET, "/a", &[], Bytes::new()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection was served while two were open");
    held.pop();
    let reply = tokio::time::timeout(Duration::from_secs(10), third).await.expect("served once a slot freed").unwrap();
    assert_eq!(reply.status, 200);
}
