//! Custom error responses and stale serving (§3.3, §3.6).

use crate::harness::*;
use cachalot_test::{Reply, TestOrigin, get};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn with_error_responses(origin: &TestOrigin, items: &str) -> String {
    cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    )
    .replace(
        r#""DefaultCacheBehavior""#,
        &format!(
            r#""CustomErrorResponses": {{"Quantity": {}, "Items": [{items}]}}, "DefaultCacheBehavior""#,
            items.matches("ErrorCode").count()
        ),
    )
}

/// SPA fallback: a 404 becomes /index.html with 200, fetched (and cached) through the edge.
#[tokio::test]
async fn custom_error_page_replaces_the_origin_error() {
    let origin = TestOrigin::start_with(|r| match r.path() {
        "/index.html" => Reply::ok("<app>").header("content-type", "text/html"),
        _ => Reply::ok("not here").status(404),
    })
    .await;
    let config = with_error_responses(
        &origin,
        r#"{"ErrorCode": 404, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 30}"#,
    );
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/app/route", &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"<app>"[..]));
    assert_eq!(r.header("x-cache"), "Error from cloudfront");
    get(h.pop(0), "/app/other", &[]).await;
    assert_eq!(origin.hits("/index.html"), 1, "the page itself is cached");
    h.advance(20);
    get(h.pop(0), "/app/route", &[]).await;
    assert_eq!(origin.hits("/app/route"), 1, "the 404 is cached for ErrorCachingMinTTL (30 s)");
    h.advance(15);
    get(h.pop(0), "/app/route", &[]).await;
    assert_eq!(origin.hits("/app/route"), 2);
    let logged = h.summaries(1).await;
    assert_eq!(
        (logged[0].status, logged[0].result.as_str()),
        (200, "Error"),
        "sc-status is the replaced code, result Error"
    );
}

/// A 502 for an unreachable origin gets the custom page too.
#[tokio::test]
async fn custom_error_page_for_unreachable_origin() {
    let pages = TestOrigin::start_with(|_| Reply::ok("sorry").header("content-type", "text/html")).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let (ph, pp) = pages.authority().rsplit_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let config = format!(
        r#"{{"Distributions": [{{"Id": "E5ERR", "DomainName": "d555555abcdef8.cloudfront.net", "DistributionConfig": {{
        "CallerReference": "e", "Comment": "", "Enabled": true,
        "Origins": {{"Quantity": 2, "Items": [
            {{"Id": "app", "DomainName": "127.0.0.1", "ConnectionAttempts": 1, "CustomOriginConfig": {{"HTTPPort": {}, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}},
            {{"Id": "pages", "DomainName": "{ph}", "CustomOriginConfig": {{"HTTPPort": {pp}, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}}]}},
        "CustomErrorResponses": {{"Quantity": 1, "Items": [{{"ErrorCode": 502, "ResponsePagePath": "/errors/502.html", "ResponseCode": "503"}}]}},
        "CacheBehaviors": {{"Quantity": 1, "Items": [{{"PathPattern": "/errors/*", "TargetOriginId": "pages", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}]}},
        "DefaultCacheBehavior": {{"TargetOriginId": "app", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}}}}]}}"#,
        dead.port()
    );
    let h = start(&config, &[]).await;
    let r = get(h.pop(0), "/x", &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (503, &b"sorry"[..]));
    assert_eq!(pages.hits("/errors/502.html"), 1);
}

/// stale-while-revalidate: the expired copy is served at once and refreshed once in the background.
#[tokio::test]
async fn stale_while_revalidate_serves_then_refreshes_once() {
    let version = Arc::new(AtomicUsize::new(1));
    let v = version.clone();
    let origin = TestOrigin::start_with(move |_| {
        Reply::ok(format!("v{}", v.load(Ordering::SeqCst)))
            .header("cache-control", "max-age=10, stale-while-revalidate=60")
            .delay(Duration::from_millis(100))
    })
    .await;
    let h =
        start(&with_policy(&origin, &policy(0, 86400, 31536000, NONE_HEADERS, NONE_COOKIES, NONE_QUERY)), &[]).await;
    assert_eq!(get(h.pop(0), "/swr", &[]).await.body, "v1");
    version.store(2, Ordering::SeqCst);
    h.advance(15);
    let pop = h.pop(0);
    let tasks: Vec<_> = (0..5).map(|_| tokio::spawn(async move { get(pop, "/swr", &[]).await })).collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(
            (r.header("x-cache"), &r.body[..]),
            ("Hit from cloudfront", &b"v1"[..]),
            "stale copy served at once"
        );
    }
    for _ in 0..100 {
        if origin.hits("/swr") == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(origin.hits("/swr"), 2, "one background refresh");
    let r = get(h.pop(0), "/swr", &[]).await;
    assert_eq!((r.header("x-cache"), &r.body[..]), ("Hit from cloudfront", &b"v2"[..]));
}

/// stale-if-error=0 opts out of serving stale copies on origin errors.
#[tokio::test]
async fn stale_if_error_zero_opts_out() {
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let origin = TestOrigin::start_with(move |_| {
        if flag.load(Ordering::SeqCst) {
            Reply::ok("good").header("cache-control", "max-age=10, stale-if-error=0")
        } else {
            Reply::ok("broken").status(503)
        }
    })
    .await;
    let h =
        start(&with_policy(&origin, &policy(0, 86400, 31536000, NONE_HEADERS, NONE_COOKIES, NONE_QUERY)), &[]).await;
    get(h.pop(0), "/o", &[]).await;
    healthy.store(false, Ordering::SeqCst);
    h.advance(20);
    assert_eq!(get(h.pop(0), "/o", &[]).await.status, 503);
}

/// stale-if-error=N serves the stale copy only within N seconds after expiry.
#[tokio::test]
async fn stale_if_error_window() {
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let origin = TestOrigin::start_with(move |_| {
        if flag.load(Ordering::SeqCst) {
            Reply::ok("good").header("cache-control", "max-age=10, stale-if-error=30")
        } else {
            Reply::ok("broken").status(500)
        }
    })
    .await;
    let h =
        start(&with_policy(&origin, &policy(0, 86400, 31536000, NONE_HEADERS, NONE_COOKIES, NONE_QUERY)), &[]).await;
    get(h.pop(0), "/w", &[]).await;
    healthy.store(false, Ordering::SeqCst);
    h.advance(20);
    assert_eq!(get(h.pop(0), "/w", &[]).await.body, "good");
    h.advance(30);
    assert_eq!(get(h.pop(0), "/w", &[]).await.status, 500);
}
