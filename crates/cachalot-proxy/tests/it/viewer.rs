//! Viewer-side rules: limits, methods, protocol policy, routing (§1, §5).

use crate::harness::*;
use bytes::Bytes;
use cachalot_test::{Reply, TestOrigin, get, request};
use http::Method;

#[tokio::test]
async fn methods_outside_allowed_methods_get_403() {
    let (origin, h) = start_echo(&[]).await;
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
    let (_origin, h) = start_echo(&[]).await;
    let r = request(h.pop(0), Method::GET, "/x", &[], Bytes::from_static(b"body")).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn oversized_headers_and_urls_get_413_and_are_not_logged() {
    let (origin, h) = start_echo(&[]).await;
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
    let base = managed(&origin, CACHING_OPTIMIZED);
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
    let config = managed(&origin, CACHING_OPTIMIZED)
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
    let (_origin, h) = start_echo(&[]).await;
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
    let one = managed(&origin, CACHING_OPTIMIZED);
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

/// A GET that carries a body is refused the same way over HTTP/1.1 and HTTP/2.
#[tokio::test]
async fn get_with_a_body_is_refused_over_http2_too() {
    let (origin, h) = start_echo(&[]).await;
    let h1 = request(h.pop(0), Method::GET, "/x", &[], Bytes::from_static(b"body")).await;
    let h2 = cachalot_test::request_h2(h.pop(0), Method::GET, "/x", &[], Bytes::from_static(b"body")).await.unwrap();
    assert_eq!((h1.status.as_u16(), h2.status.as_u16()), (403, 403));
    assert_eq!(h2.header("x-cache"), "Error from cloudfront");
    let plain = cachalot_test::request_h2(h.pop(0), Method::GET, "/x", &[], Bytes::new()).await.unwrap();
    assert_eq!(plain.status.as_u16(), 200, "a GET without a body is served over HTTP/2");
    assert_eq!(origin.hits("/x"), 1);
}

/// A request body with broken chunked framing is the viewer's fault: 400, never a 502
/// that blames the origin.
#[tokio::test]
async fn malformed_chunked_request_body_is_the_viewers_400() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
           "AllowedMethods": {"Quantity": 7, "Items": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]}"#,
        "",
    );
    let h = start(&config, &[]).await;
    let raw = b"POST /submit HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz-not-hex\r\n\r\n";
    let answer = String::from_utf8_lossy(&cachalot_test::raw_exchange(h.pop(0), raw).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

/// HTTP/2 viewers may send as many header bytes as HTTP/1.1 viewers: up to 20,480 (§13).
#[tokio::test]
async fn http2_accepts_the_documented_header_size() {
    let (_origin, h) = start_echo(&[]).await;
    let big = "v".repeat(18_000);
    let ok = cachalot_test::request_h2(h.pop(0), Method::GET, "/big", &[("x-big", &big)], Bytes::new()).await.unwrap();
    assert_eq!(ok.status.as_u16(), 200);
    let h1 = request(h.pop(0), Method::GET, "/big", &[("x-big", &big)], Bytes::new()).await;
    assert_eq!(h1.status.as_u16(), 200);
    let too_big = "v".repeat(21_000);
    let refused =
        cachalot_test::request_h2(h.pop(0), Method::GET, "/big", &[("x-big", &too_big)], Bytes::new()).await.unwrap();
    assert_eq!(refused.status.as_u16(), 413);
}

/// CloudFront chooses the behavior by the path normalised per RFC 3986 (dot segments
/// removed, `//` merged, escaped unreserved characters decoded) and forwards the raw
/// path: no spelling of `/admin/…` escapes the `/admin/*` behavior and its
/// viewer-request function (Developer Guide, cache behavior settings, "Path
/// normalization": <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#path-normalization>).
#[tokio::test]
async fn unnormalised_paths_cannot_bypass_a_protected_behavior() {
    let origin = TestOrigin::start_with(|r| Reply::ok(format!("origin saw {}", r.path()))).await;
    let config = managed(&origin, CACHING_OPTIMIZED).replace(
        r#""DefaultCacheBehavior": {"#,
        r#""CacheBehaviors": {"Quantity": 2, "Items": [
            {"PathPattern": "/admin/*", "TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all",
             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
             "FunctionAssociations": {"Quantity": 1, "Items": [{"FunctionARN": "arn:aws:cloudfront::123456789012:function/deny", "EventType": "viewer-request"}]}},
            {"PathPattern": "/public/*", "TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all",
             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}]},
        "DefaultCacheBehavior": {"#,
    );
    let deny = "function handler(event) { return { statusCode: 403, statusDescription: 'Forbidden', headers: { 'x-seen-uri': { value: event.request.uri } } }; }";
    let snapshot = cachalot_test::snapshot_with_functions(&config, &[("deny", "cloudfront-js-2.0", deny)]);
    let h = start_snapshot(snapshot, &[], std::collections::HashMap::new(), cachalot_proxy::ListenerLimits::default())
        .await;
    let bypasses = [
        "/admin/secret.txt",
        "/public/../admin/secret.txt",
        "/./admin/secret.txt",
        "/public/%2e%2e/admin/secret.txt",
        "/public/%2E%2E/admin/secret.txt",
        "//admin/secret.txt",
        "/%61dmin/secret.txt",
        "/%61%64%6D%69%6E/secret.txt",
        "/admin/./secret.txt",
        "/../admin/secret.txt",
        "/public/./../admin/secret.txt",
        "/public//..//admin/secret.txt",
        "/x/y/../../admin/secret.txt",
    ];
    for path in bypasses {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\nConnection: close\r\n\r\n");
        let answer = String::from_utf8_lossy(&cachalot_test::raw_exchange(h.pop(0), raw.as_bytes()).await).into_owned();
        assert!(answer.starts_with("HTTP/1.1 403"), "{path} escaped the /admin/* behavior:\n{answer}");
        assert!(answer.contains("FunctionGeneratedResponse from cloudfront"), "{path}: {answer}");
        // The function sees the raw path, as CloudFront forwards it.
        assert!(
            answer.to_ascii_lowercase().contains(&format!("x-seen-uri: {}", path.to_ascii_lowercase())),
            "{path}: {answer}"
        );
    }
    assert!(origin.requests().iter().all(|r| !r.path().contains("admin")), "an admin path reached the origin");
    // What normalisation leaves alone keeps its behavior: an escaped slash is not a separator (RFC 3986 §6.2.2).
    let escaped = get(h.pop(0), "/admin%2fsecret.txt", &[]).await;
    assert_eq!(escaped.status, 200);
    assert_eq!(escaped.body, "origin saw /admin%2fsecret.txt", "the raw path is forwarded");
    // The raw path is logged and keyed: two spellings are two objects, never one served for the other.
    let plain = get(h.pop(0), "/public/a.txt", &[]).await;
    let dotted = get(h.pop(0), "/public/./a.txt", &[]).await;
    assert_eq!(
        (plain.body.as_ref(), dotted.body.as_ref()),
        (&b"origin saw /public/a.txt"[..], &b"origin saw /public/./a.txt"[..])
    );
    let logged = h.summaries(bypasses.len() + 3).await;
    assert!(logged.iter().any(|s| s.uri_stem == "/public/./a.txt"));
}
