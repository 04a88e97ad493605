//! What goes into the key and what reaches the origin (§2), reproducing seed causes 1–3.

use crate::harness::*;
use cachalot_test::{Reply, TestOrigin, get};

/// A config whose inline policy (MinTTL 1 s) keys these headers, cookies and query strings.
fn keyed(origin: &TestOrigin, headers: &str, cookies: &str, query: &str) -> String {
    with_policy(origin, &policy(1, 86400, 31536000, headers, cookies, query))
}

/// Seed cause 1: junk query strings split the cache under `all`, not under `none`.
#[tokio::test]
async fn junk_query_strings_split_the_cache_only_when_keyed() {
    let origin = TestOrigin::start().await;
    let all = keyed(&origin, NONE_HEADERS, NONE_COOKIES, r#"{"QueryStringBehavior": "all"}"#);
    let h = start(&all, &[]).await;
    assert_eq!(get(h.pop(0), "/images/hero.jpg?utm=a", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(get(h.pop(0), "/images/hero.jpg?utm=b", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(origin.hits("/images/hero.jpg"), 2);
    assert_eq!(origin.requests()[1].query(), Some("utm=b"), "keyed query strings are forwarded");

    let origin2 = TestOrigin::start().await;
    let none = unkeyed(&origin2, 1);
    let h2 = start(&none, &[]).await;
    assert_eq!(get(h2.pop(0), "/images/hero.jpg?utm=a", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(get(h2.pop(0), "/images/hero.jpg?utm=b", &[]).await.header("x-cache"), "Hit from cloudfront");
    assert_eq!(origin2.hits("/images/hero.jpg"), 1);
    assert_eq!(origin2.requests()[0].query(), None, "unkeyed query strings never reach the origin");
}

/// A whitelist keys only the listed names, in request order, case-sensitively (§2.2).
#[tokio::test]
async fn whitelisted_query_string() {
    let origin = TestOrigin::start().await;
    let query = r#"{"QueryStringBehavior": "whitelist", "QueryStrings": {"Quantity": 1, "Items": ["w"]}}"#;
    let h = start(&keyed(&origin, NONE_HEADERS, NONE_COOKIES, query), &[]).await;
    get(h.pop(0), "/i?w=800&utm=1", &[]).await;
    assert_eq!(get(h.pop(0), "/i?utm=2&w=800", &[]).await.header("x-cache"), "Hit from cloudfront");
    assert_eq!(get(h.pop(0), "/i?W=800", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(origin.requests()[0].path_and_query, "/i?w=800");
}

/// Seed cause 2: cookies in the key fragment the cache per value; without them, no split and no Set-Cookie (§2.4).
#[tokio::test]
async fn cookies_in_the_key() {
    let origin = TestOrigin::start_with(|_| Reply::ok("img").header("set-cookie", "session=new; Path=/")).await;
    let h = start(&keyed(&origin, NONE_HEADERS, r#"{"CookieBehavior": "all"}"#, NONE_QUERY), &[]).await;
    let a = get(h.pop(0), "/m.jpg", &[("cookie", "session=1")]).await;
    let b = get(h.pop(0), "/m.jpg", &[("cookie", "session=2")]).await;
    assert_eq!((a.header("x-cache"), b.header("x-cache")), ("Miss from cloudfront", "Miss from cloudfront"));
    assert_eq!(a.header("set-cookie"), "session=new; Path=/", "forwarded cookies keep Set-Cookie");
    assert_eq!(origin.requests()[1].header("cookie"), "session=2");

    let origin2 = TestOrigin::start_with(|_| Reply::ok("img").header("set-cookie", "session=new; Path=/")).await;
    let h2 = start(&unkeyed(&origin2, 1), &[]).await;
    let a = get(h2.pop(0), "/m.jpg", &[("cookie", "session=1")]).await;
    let b = get(h2.pop(0), "/m.jpg", &[("cookie", "session=2")]).await;
    assert_eq!(b.header("x-cache"), "Hit from cloudfront");
    assert_eq!(a.header("set-cookie"), "", "Set-Cookie stripped when no cookie is forwarded");
    assert_eq!(origin2.requests()[0].header("cookie"), "", "unkeyed cookies never reach the origin");
}

/// Seed cause 3: two equivalent Accept strings split the cache when Accept is keyed raw.
#[tokio::test]
async fn raw_accept_in_the_key_splits_equivalent_strings() {
    let origin = TestOrigin::start().await;
    let headers = r#"{"HeaderBehavior": "whitelist", "Headers": {"Quantity": 1, "Items": ["Accept"]}}"#;
    let h = start(&keyed(&origin, headers, NONE_COOKIES, NONE_QUERY), &[]).await;
    let a = get(h.pop(0), "/images/hero.jpg", &[("accept", "image/avif,image/webp,image/apng,*/*;q=0.8")]).await;
    let b = get(h.pop(0), "/images/hero.jpg", &[("accept", "image/avif,image/webp,*/*")]).await;
    let c = get(h.pop(0), "/images/hero.jpg", &[("Accept", "image/avif,image/webp,*/*")]).await;
    assert_eq!(a.header("x-cache"), "Miss from cloudfront");
    assert_eq!(b.header("x-cache"), "Miss from cloudfront");
    assert_eq!(c.header("x-cache"), "Hit from cloudfront", "header names are case-insensitive");
    assert_eq!(origin.requests()[1].header("accept"), "image/avif,image/webp,*/*", "keyed headers are forwarded");
}

/// Accept-Encoding is normalised into the key from the policy's gzip/brotli flags (§2.5).
#[tokio::test]
async fn accept_encoding_is_normalised() {
    let (origin, h) = start_echo(&[]).await;
    get(h.pop(0), "/t.txt", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(
        get(h.pop(0), "/t.txt", &[("accept-encoding", "br, gzip")]).await.header("x-cache"),
        "Hit from cloudfront"
    );
    assert_eq!(get(h.pop(0), "/t.txt", &[("accept-encoding", "gzip")]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(
        get(h.pop(0), "/t.txt", &[("accept-encoding", "deflate")]).await.header("x-cache"),
        "Miss from cloudfront"
    );
    assert_eq!(
        get(h.pop(0), "/t.txt", &[]).await.header("x-cache"),
        "Hit from cloudfront",
        "no AE and identity share an entry"
    );
    let sent: Vec<String> = origin.requests().iter().map(|r| r.header("accept-encoding").to_owned()).collect();
    assert_eq!(sent, ["br,gzip", "gzip", "identity"]);
}

/// Nothing unkeyed reaches the origin; the always-sent headers do (§2.6).
#[tokio::test]
async fn origin_receives_only_keyed_values_and_cloudfront_headers() {
    let origin = TestOrigin::start().await;
    let config = managed(&origin, CACHING_OPTIMIZED).replace(r#""Id": "origin", "DomainName""#, r#""Id": "origin", "OriginPath": "/prod", "CustomHeaders": {"Quantity": 1, "Items": [{"HeaderName": "X-Origin-Secret", "HeaderValue": "s3cr3t"}]}, "DomainName""#);
    let h = start(&config, &[]).await;
    get(
        h.pop(0),
        "/a.css?utm=1",
        &[
            ("user-agent", "Mozilla/5.0"),
            ("accept", "text/css"),
            ("accept-language", "fr"),
            ("authorization", "Bearer t"),
            ("cookie", "s=1"),
            ("referer", "https://example.com/"),
            ("x-custom", "1"),
            ("x-origin-secret", "viewer-supplied"),
            ("x-forwarded-for", "203.0.113.9"),
        ],
    )
    .await;
    let r = &origin.requests()[0];
    assert_eq!(r.path_and_query, "/prod/a.css", "OriginPath prefixed, query not forwarded");
    assert_eq!(r.header("user-agent"), "Amazon CloudFront");
    assert_eq!(r.header("x-origin-secret"), "s3cr3t", "origin custom headers overwrite viewer values");
    assert_eq!(r.header("x-forwarded-for"), "203.0.113.9,127.0.0.1");
    assert_eq!(r.header("x-amz-cf-id").len(), 56);
    assert!(r.header("via").ends_with(".cloudfront.net (CloudFront)"));
    assert!(r.header("host").starts_with("127.0.0.1"), "Host is the origin's domain: {}", r.header("host"));
    for absent in ["accept", "accept-language", "authorization", "cookie", "referer", "x-custom"] {
        assert_eq!(r.header(absent), "", "{absent} must not reach the origin");
    }
}

/// An origin request policy forwards values without keying them (§2.6).
#[tokio::test]
async fn origin_request_policy_forwards_without_keying() {
    let origin = TestOrigin::start().await;
    let config = cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "OriginRequestPolicyId": "acba4595-bd28-49b8-b9fe-13317c0390fa""#,
        "",
    );
    let h = start(&config, &[]).await;
    get(h.pop(0), "/u", &[("user-agent", "UA-1"), ("referer", "r1")]).await;
    assert_eq!(get(h.pop(0), "/u", &[("user-agent", "UA-2")]).await.header("x-cache"), "Hit from cloudfront");
    let r = &origin.requests()[0];
    assert_eq!((r.header("user-agent"), r.header("referer")), ("UA-1", "r1"));
}
