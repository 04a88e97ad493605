//! Origin side: failures, timeouts, folder-backed S3, failover (§12).

use crate::harness::*;
use cachalot_test::{Failure, Reply, TestOrigin, get};
use std::collections::HashMap;
use std::time::Duration;

/// The Managed-CachingOptimized config for an origin at `authority` with these origin
/// settings (`"ConnectionAttempts": 1, …`).
fn with_origin_settings(authority: &str, settings: &str) -> String {
    managed_at(authority, CACHING_OPTIMIZED).replace(r#""Id": "origin","#, &format!(r#""Id": "origin", {settings},"#))
}

/// [`with_origin_settings`] with one connection attempt, this connection timeout and a
/// read timeout of 1 s.
fn read_timeout_of_one_second(origin: &TestOrigin, connection_timeout: u64) -> String {
    let settings = format!(r#""ConnectionAttempts": 1, "ConnectionTimeout": {connection_timeout}"#);
    with_origin_settings(&origin.authority(), &settings)
        .replace(r#""OriginReadTimeout": 5"#, r#""OriginReadTimeout": 1"#)
}

#[tokio::test]
async fn unreachable_origin_is_502_error_from_cloudfront() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap().to_string();
    drop(listener);
    let config = with_origin_settings(&dead, r#""ConnectionAttempts": 1, "ConnectionTimeout": 1"#);
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/x", &[]).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("x-cache"), "Error from cloudfront");
    assert!(String::from_utf8_lossy(&r.body).contains("The request could not be satisfied"));
    assert_eq!(h.summaries(1).await[0].detailed.as_str(), "OriginConnectError");
}

#[tokio::test]
async fn slow_origin_is_504_after_the_read_timeout() {
    let origin = TestOrigin::start_with(|_| Reply::ok("late").delay(Duration::from_secs(5))).await;
    let h = start(&read_timeout_of_one_second(&origin, 1), &[]).await;
    let r = get(h.pop(0), "/slow", &[]).await;
    assert_eq!(r.status, 504);
    assert_eq!(h.summaries(1).await[0].detailed.as_str(), "OriginCommError");
}

#[tokio::test]
async fn truncated_or_reset_bodies_are_never_cached() {
    let origin = TestOrigin::start_with(|r| match r.path() {
        "/trunc" => Reply::ok(vec![b'a'; 4096]).fail(Failure::Truncate),
        _ => Reply::ok("x").fail(Failure::Reset),
    })
    .await;
    let h = start(&with_origin_settings(&origin.authority(), r#""ConnectionAttempts": 1"#), &[]).await;
    for path in ["/trunc", "/reset"] {
        assert_eq!(get(h.pop(0), path, &[]).await.status, 502, "{path}");
        assert_eq!(get(h.pop(0), path, &[]).await.status, 502, "{path}: not served from cache");
    }
    assert_eq!(origin.hits("/trunc"), 2);
}

#[tokio::test]
async fn folder_backed_s3_origin() {
    let dir = std::env::temp_dir().join(format!("cachalot-it-s3-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("css")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("css/site.css"), "body{}").unwrap();
    let config = r#"{"Distributions": [{"Id": "E3S3", "DomainName": "d333333abcdef8.cloudfront.net", "DistributionConfig": {
        "CallerReference": "s3", "Comment": "", "Enabled": true, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.us-east-1.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}]}"#;
    let h = start_with(config, &[], HashMap::from([("site".to_owned(), dir.clone())])).await;
    let root = get(h.pop(0), "/", &[]).await;
    assert_eq!((root.status.as_u16(), &root.body[..]), (200, &b"<h1>home</h1>"[..]));
    assert_eq!(root.header("content-type"), "text/html");
    assert_eq!(root.header("server"), "AmazonS3");
    assert!(root.header("etag").starts_with('"'));
    let css = get(h.pop(0), "/css/site.css", &[]).await;
    assert_eq!(css.header("content-type"), "text/css");
    let missing = get(h.pop(0), "/nope.png", &[]).await;
    assert_eq!((missing.status.as_u16(), missing.header("x-cache")), (404, "Error from cloudfront"));
    assert_eq!(get(h.pop(0), "/../../etc/passwd", &[]).await.status.as_u16(), 404);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn origin_group_fails_over_on_listed_status_and_on_connection_failure() {
    let primary = TestOrigin::start_with(|_| Reply::ok("down").status(503)).await;
    let secondary = TestOrigin::start_with(|_| Reply::ok("backup").header("cache-control", "max-age=60")).await;
    let (ph, pp) = primary.authority().rsplit_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let (sh, sp) = secondary.authority().rsplit_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let config = format!(
        r#"{{"Distributions": [{{"Id": "E4GROUP", "DomainName": "d444444abcdef8.cloudfront.net", "DistributionConfig": {{
        "CallerReference": "g", "Comment": "", "Enabled": true,
        "Origins": {{"Quantity": 2, "Items": [
            {{"Id": "p", "DomainName": "{ph}", "CustomOriginConfig": {{"HTTPPort": {pp}, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}},
            {{"Id": "s", "DomainName": "{sh}", "CustomOriginConfig": {{"HTTPPort": {sp}, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}}]}},
        "OriginGroups": {{"Quantity": 1, "Items": [{{"Id": "g", "FailoverCriteria": {{"StatusCodes": {{"Quantity": 2, "Items": [500, 503]}}}},
            "Members": {{"Quantity": 2, "Items": [{{"OriginId": "p"}}, {{"OriginId": "s"}}]}}}}]}},
        "DefaultCacheBehavior": {{"TargetOriginId": "g", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}}}}]}}"#
    );
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/f", &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"backup"[..]));
    assert_eq!((primary.hits("/f"), secondary.hits("/f")), (1, 1));
    let r = get(h.pop(0), "/other", &[]).await;
    assert_eq!(r.body, "backup", "every request starts at the primary");
    assert_eq!(primary.hits("/other"), 1);
}

#[tokio::test]
async fn an_expired_object_is_served_when_the_origin_fails() {
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = healthy.clone();
    let origin = TestOrigin::start_with(move |_| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::ok("good").header("cache-control", "max-age=10")
        } else {
            Reply::ok("broken").status(500)
        }
    })
    .await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    get(h.pop(0), "/s", &[]).await;
    healthy.store(false, std::sync::atomic::Ordering::SeqCst);
    h.advance(20);
    let r = get(h.pop(0), "/s", &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"good"[..]));
}

/// `OriginReadTimeout` bounds the wait for the response headers, whatever the
/// connection timeout: an origin that answers after the read timeout is a 504, not a late 200 (§12.2).
#[tokio::test]
async fn read_timeout_applies_to_the_response_headers() {
    let origin = TestOrigin::start_with(|_| Reply::ok("late").delay(Duration::from_millis(2500))).await;
    let h = start(&read_timeout_of_one_second(&origin, 10), &[]).await;
    let r = get(h.pop(0), "/late", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("x-cache")), (504, "Error from cloudfront"));
    assert_eq!(h.summaries(1).await[0].detailed.as_str(), "OriginCommError");
}
