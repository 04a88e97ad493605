//! Viewer-side rules: limits, methods, protocol policy, routing (§1, §5).

use crate::harness::*;
use bytes::Bytes;
use cachalot_test::{Reply, TestOrigin, get, request};
use http::Method;

#[tokio::test]
async fn methods_outside_allowed_methods_get_403() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start(&config, &[]).await;
    let r = request(h.pop(0), Method::POST, "/form", &[], Bytes::from_static(b"a=1")).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-cache"), "Error from cloudfront");
    assert_eq!(r.header("server"), "CloudFront");
    assert!(String::from_utf8_lossy(&r.body).contains("only cachable requests"));
    assert_eq!(origin.requests().len(), 0);
    let logged = h.summaries(1).await;
    assert_eq!(logged[0].detailed.as_str(), "InvalidRequestMethod");
}

#[tokio::test]
async fn allowed_post_passes_through_with_its_body_and_is_never_cached() {
    let origin = TestOrigin::start_with(|r| Reply::ok(format!("got {}", String::from_utf8_lossy(&r.body)))).await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "AllowedMethods": {"Quantity": 7, "Items": ["GET","HEAD","OPTIONS","PUT","PATCH","POST","DELETE"]}"#,
        "",
    );
    let h = start(&config, &[]).await;
    for _ in 0..2 {
        let r = request(h.pop(0), Method::POST, "/form", &[("content-type", "text/plain")], Bytes::from_static(b"a=1"))
            .await;
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"got a=1"[..]));
        assert_eq!(r.header("x-cache"), "Miss from cloudfront");
    }
    assert_eq!(origin.requests()[0].header("content-type"), "text/plain");
}

#[tokio::test]
async fn get_with_a_body_is_refused() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start(&config, &[]).await;
    let r = request(h.pop(0), Method::GET, "/x", &[], Bytes::from_static(b"body")).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn oversized_headers_and_urls_get_413_and_are_not_logged() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start(&config, &[]).await;
    let big = "x".repeat(21_000);
    assert_eq!(get(h.pop(0), "/a", &[("x-big", &big)]).await.status, 413);
    let long_url = format!("/{}", "a".repeat(8_200));
    assert_eq!(get(h.pop(0), &long_url, &[]).await.status, 413);
    assert_eq!(get(h.pop(0), "/ok", &[]).await.status, 200);
    let logged = h.summaries(1).await;
    assert_eq!(logged.len(), 1, "413s are not logged");
    assert_eq!(origin.requests().len(), 1);
}

#[tokio::test]
async fn redirect_to_https_and_https_only() {
    let origin = TestOrigin::start().await;
    let base = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start(&base.replace("allow-all", "redirect-to-https"), &[]).await;
    let r = get(h.pop(0), "/p?q=1", &[("host", "www.example.com:8080")]).await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), "https://www.example.com/p?q=1");
    assert_eq!(r.header("x-cache"), "Redirect from cloudfront");
    let h2 = start(&base.replace("allow-all", "https-only"), &[]).await;
    assert_eq!(get(h2.pop(0), "/p", &[]).await.status, 403);
    assert_eq!(origin.requests().len(), 0);
}

#[tokio::test]
async fn ordered_behaviors_pick_the_first_matching_pattern() {
    let origin = TestOrigin::start_with(|_| Reply::ok("x").header("cache-control", "max-age=100")).await;
    let config = cachalot_test::single_origin_config(&origin.authority(), r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#, "")
        .replace(
            r#""DefaultCacheBehavior""#,
            r#""CacheBehaviors": {"Quantity": 2, "Items": [
                {"PathPattern": "/api/*", "TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
                {"PathPattern": "*.jpg", "TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}
            ]},
            "DefaultCacheBehavior""#,
        );
    let h = start(&config, &[]).await;
    get(h.pop(0), "/api/x.jpg", &[]).await;
    assert_eq!(
        get(h.pop(0), "/api/x.jpg", &[]).await.header("x-cache"),
        "Miss from cloudfront",
        "/api/* wins: not cached"
    );
    get(h.pop(0), "/img/x.jpg", &[]).await;
    assert_eq!(get(h.pop(0), "/img/x.jpg", &[]).await.header("x-cache"), "Hit from cloudfront");
    let logged = h.summaries(4).await;
    assert_eq!(logged[0].behavior.as_deref(), Some("/api/*"));
    assert_eq!(logged[2].behavior.as_deref(), Some("*.jpg"));
}

#[tokio::test]
async fn head_shares_the_get_entry() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let h = start(&config, &[]).await;
    let head = request(h.pop(0), Method::HEAD, "/h.txt", &[], Bytes::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), "6");
    let g = get(h.pop(0), "/h.txt", &[]).await;
    assert_eq!((g.header("x-cache"), &g.body[..]), ("Hit from cloudfront", &b"/h.txt"[..]));
}

#[tokio::test]
async fn unknown_host_with_several_distributions_is_refused() {
    let origin = TestOrigin::start().await;
    let one = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    let mut second = v["Distributions"][0].clone();
    second["Id"] = "E2SECOND000001".into();
    second["DomainName"] = "d222222abcdef8.cloudfront.net".into();
    second["DistributionConfig"]["CallerReference"] = "second".into();
    let config = serde_json::json!({"Distributions": [v["Distributions"][0].clone(), second]}).to_string();
    let h = start(&config, &[]).await;
    assert_eq!(get(h.pop(0), "/a", &[("host", "unknown.example")]).await.status, 403);
    assert_eq!(get(h.pop(0), "/a", &[("host", "d222222abcdef8.cloudfront.net")]).await.status, 200);
}
