//! Delivery: compression (§5.4), ranges (§6.4), response headers policies and Vary (§6.1).

use crate::harness::*;
use cachalot_test::{Reply, TestOrigin, get};
use std::io::Read as _;

fn text_body() -> String {
    (0..2000).map(|i| format!("line {i} of a compressible text object\n")).collect()
}

fn optimized(origin: &TestOrigin) -> String {
    cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "Compress": true"#,
        "",
    )
}

#[tokio::test]
async fn compresses_with_brotli_first_then_gzip_and_caches_each_variant() {
    let body = text_body();
    let b = body.clone();
    let origin = TestOrigin::start_with(move |_| {
        Reply::ok(b.clone()).header("content-type", "text/plain; charset=utf-8").header("etag", "\"strong\"")
    })
    .await;
    let h = start(&optimized(&origin), &[]).await;
    let br = get(h.pop(0), "/t.txt", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(br.header("content-encoding"), "br");
    assert_eq!(br.header("etag"), "W/\"strong\"", "strong ETags are weakened");
    assert!(br.header("vary").contains("Accept-Encoding"));
    let mut plain = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, body.as_bytes());
    assert!(br.body.len() < body.len() / 4);
    let again = get(h.pop(0), "/t.txt", &[("accept-encoding", "br,gzip")]).await;
    assert_eq!((again.header("x-cache"), again.header("content-encoding")), ("Hit from cloudfront", "br"));
    let gz = get(h.pop(0), "/t.txt", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, body.as_bytes());
    let identity = get(h.pop(0), "/t.txt", &[]).await;
    assert_eq!((identity.header("content-encoding"), identity.body.len()), ("", body.len()));
    assert_eq!(origin.hits("/t.txt"), 3, "one fetch per normalised Accept-Encoding");
}

#[tokio::test]
async fn compression_rules_leave_some_responses_alone() {
    let body = text_body();
    let b = body.clone();
    let origin = TestOrigin::start_with(move |r| match r.path() {
        "/img.png" => Reply::ok(b.clone()).header("content-type", "image/png"),
        "/small.txt" => Reply::ok("tiny").header("content-type", "text/plain"),
        "/pre.txt" => Reply::ok(b.clone()).header("content-type", "text/plain").header("content-encoding", "identity"),
        _ => Reply::ok(b.clone()).header("content-type", "text/plain").status(500),
    })
    .await;
    let h = start(&optimized(&origin), &[]).await;
    for path in ["/img.png", "/small.txt", "/pre.txt", "/err.txt"] {
        let r = get(h.pop(0), path, &[("accept-encoding", "br, gzip")]).await;
        assert_ne!(r.header("content-encoding"), "br", "{path}");
        assert_ne!(r.header("content-encoding"), "gzip", "{path}");
    }
    let off = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h2 = start(&off, &[]).await;
    assert_eq!(
        get(h2.pop(0), "/a.txt", &[("accept-encoding", "gzip")]).await.header("content-encoding"),
        "",
        "Compress is off"
    );
}

#[tokio::test]
async fn ranges_are_served_from_the_cached_object() {
    let origin = TestOrigin::start_with(|_| {
        Reply::ok("0123456789abcdefghij").header("content-type", "application/octet-stream").header("etag", "\"r1\"")
    })
    .await;
    let h = start(&optimized(&origin), &[]).await;
    let single = get(h.pop(0), "/r.bin", &[("range", "bytes=2-5")]).await;
    assert_eq!(single.status, 206);
    assert_eq!((single.header("content-range"), &single.body[..]), ("bytes 2-5/20", &b"2345"[..]));
    let suffix = get(h.pop(0), "/r.bin", &[("range", "bytes=-3")]).await;
    assert_eq!((suffix.header("x-cache"), &suffix.body[..]), ("Hit from cloudfront", &b"hij"[..]));
    let multi = get(h.pop(0), "/r.bin", &[("range", "bytes=0-1,10-11")]).await;
    assert_eq!(multi.status, 206);
    assert!(multi.header("content-type").starts_with("multipart/byteranges; boundary="));
    let text = String::from_utf8_lossy(&multi.body);
    assert!(
        text.contains("Content-Range: bytes 0-1/20\r\n\r\n01")
            && text.contains("Content-Range: bytes 10-11/20\r\n\r\nab"),
        "{text}"
    );
    assert_eq!(
        get(h.pop(0), "/r.bin", &[("range", "bytes=10-11,0-1")]).await.status,
        200,
        "out of order: whole object"
    );
    assert_eq!(get(h.pop(0), "/r.bin", &[("range", "bytes=50-60")]).await.status, 416);
    assert_eq!(get(h.pop(0), "/r.bin", &[("range", "bytes=2-5"), ("if-range", "\"old\"")]).await.status, 200);
    assert_eq!(origin.hits("/r.bin"), 1);
    let logged = h.summaries(1).await;
    assert_eq!(logged[0].range, Some((2, 5)));
}

#[tokio::test]
async fn managed_security_headers_policy_and_cors() {
    let origin = TestOrigin::start_with(|_| {
        Reply::ok("x").header("content-type", "text/plain").header("x-frame-options", "DENY")
    })
    .await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "ResponseHeadersPolicyId": "eaab4381-ed33-4a86-88ca-d9558dc6cd63""#,
        "",
    );
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/s", &[("origin", "https://app.example")]).await;
    assert_eq!(r.header("strict-transport-security"), "max-age=31536000");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "strict-origin-when-cross-origin");
    assert_eq!(r.header("x-frame-options"), "DENY", "the origin's value is kept when the policy does not override");
    assert_eq!(r.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn custom_response_headers_policy_adds_and_removes() {
    let origin =
        TestOrigin::start_with(|_| Reply::ok("x").header("server", "origin-server/1.0").header("x-powered-by", "php"))
            .await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "ResponseHeadersPolicyId": "rhp-1""#,
        r#""ResponseHeadersPolicies": [{"Id": "rhp-1", "ResponseHeadersPolicyConfig": {"Name": "custom",
            "CustomHeadersConfig": {"Quantity": 1, "Items": [{"Header": "X-Env", "Value": "local", "Override": true}]},
            "RemoveHeadersConfig": {"Quantity": 2, "Items": [{"Header": "Server"}, {"Header": "X-Powered-By"}]},
            "ServerTimingHeadersConfig": {"Enabled": true, "SamplingRate": 100}}}]"#,
    );
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/c", &[]).await;
    assert_eq!(r.header("x-env"), "local");
    assert_eq!((r.header("server"), r.header("x-powered-by")), ("", ""));
    assert!(r.header("server-timing").contains("cdn-cache-miss"), "{}", r.header("server-timing"));
}

#[tokio::test]
async fn vary_keeps_only_what_the_edge_keys_or_forwards() {
    let origin =
        TestOrigin::start_with(|_| Reply::ok("x").header("vary", "Accept-Encoding, User-Agent, X-Custom")).await;
    let h = start(&optimized(&origin), &[]).await;
    assert_eq!(get(h.pop(0), "/v", &[]).await.header("vary"), "Accept-Encoding");
}
