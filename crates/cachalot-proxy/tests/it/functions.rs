//! CloudFront Functions at the edge (§9): viewer-request before the key, generated
//! responses, viewer-response after the origin, failures contained.

use crate::harness::*;
use cachalot_proxy::{Edge, EdgeSettings, ManualClock};
use cachalot_test::{Reply, TestOrigin, get};
use std::sync::Arc;
use std::time::Duration;

const NORMALIZE_ACCEPT: &str = include_str!("../../../../examples/functions/normalize-accept.js");

/// Starts an edge whose default behavior keys on Accept and runs `functions` (`(event type, name, code)`).
async fn start_with_functions(origin: &TestOrigin, functions: &[(&str, &str, &str)]) -> (Edge, std::net::SocketAddr) {
    let accept = r#"{"HeaderBehavior": "whitelist", "Headers": {"Quantity": 1, "Items": ["Accept"]}}"#;
    start_keyed_with_functions(origin, functions, accept, NONE_QUERY).await
}

/// Starts an edge whose default behavior keys on `headers` and `query` (cache policy JSON) and
/// runs `functions`.
async fn start_keyed_with_functions(
    origin: &TestOrigin,
    functions: &[(&str, &str, &str)],
    headers: &str,
    query: &str,
) -> (Edge, std::net::SocketAddr) {
    let associations: Vec<String> = functions
        .iter()
        .map(|(event, name, _)| {
            format!(r#"{{"FunctionARN": "arn:aws:cloudfront::123456789012:function/{name}", "EventType": "{event}"}}"#)
        })
        .collect();
    let config = with_policy(origin, &policy(1, 86400, 31536000, headers, NONE_COOKIES, query)).replace(
        r#""CachePolicyId": "11111111"#,
        &format!(
            r#""FunctionAssociations": {{"Quantity": {}, "Items": [{}]}}, "CachePolicyId": "11111111"#,
            associations.len(),
            associations.join(",")
        ),
    );
    let code: Vec<(&str, &str, &str)> =
        functions.iter().map(|(_, name, code)| (*name, "cloudfront-js-2.0", *code)).collect();
    let snapshot = cachalot_test::snapshot_with_functions(&config, &code);
    let edge = Edge::with(
        EdgeSettings::default(),
        snapshot,
        Arc::new(ManualClock::new(START_MS)),
        Arc::new(Recording::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    tokio::spawn(cachalot_proxy::serve_pop(edge.clone(), 0, listener, None, stopped, Duration::from_secs(1)));
    (edge, addr)
}

/// The seed's fix: equivalent Accept strings collapse onto one cached object.
#[tokio::test]
async fn accept_normalisation_collapses_equivalent_accept_strings() {
    let origin = TestOrigin::start_with(|r| Reply::ok(format!("format={}", r.header("accept")))).await;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-request", "normalize-accept", NORMALIZE_ACCEPT)]).await;
    let a = get(pop, "/images/hero.jpg", &[("accept", "image/avif,image/webp,image/apng,*/*;q=0.8")]).await;
    let b = get(pop, "/images/hero.jpg", &[("accept", "image/avif,image/webp,*/*")]).await;
    assert_eq!(a.header("x-cache"), "Miss from cloudfront");
    assert_eq!(b.header("x-cache"), "Hit from cloudfront", "one object for both Accept strings");
    assert_eq!(b.body, "format=image/avif");
    let c = get(pop, "/images/hero.jpg", &[("accept", "image/webp,*/*")]).await;
    assert_eq!((c.header("x-cache"), &c.body[..]), ("Miss from cloudfront", &b"format=image/webp"[..]));
    assert_eq!(origin.hits("/images/hero.jpg"), 2);
}

#[tokio::test]
async fn rewrite_changes_key_and_origin_path_but_not_the_behavior() {
    let origin = TestOrigin::start().await;
    let spa = r#"function handler(event) { var r = event.request; if (!r.uri.includes('.')) { r.uri = '/index.html'; } return r; }"#;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-request", "spa", spa)]).await;
    assert_eq!(get(pop, "/app/settings", &[]).await.body, "/index.html");
    assert_eq!(get(pop, "/app/profile", &[]).await.header("x-cache"), "Hit from cloudfront");
    assert_eq!(origin.hits("/index.html"), 1);
}

#[tokio::test]
async fn generated_responses_skip_cache_and_origin() {
    let origin = TestOrigin::start().await;
    let redirect = r#"function handler(event) {
        return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: 'https://example.com/new' } } };
    }"#;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-request", "redirect", redirect)]).await;
    let r = get(pop, "/old", &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), "https://example.com/new");
    assert_eq!(r.header("x-cache"), "FunctionGeneratedResponse from cloudfront");
    assert_eq!(origin.requests().len(), 0);
}

#[tokio::test]
async fn viewer_response_runs_only_below_400() {
    let origin =
        TestOrigin::start_with(|r| if r.path() == "/missing" { Reply::ok("no").status(404) } else { Reply::ok("yes") })
            .await;
    let headers = r#"function handler(event) { var res = event.response; res.headers['x-added'] = { value: 'by-function' }; return res; }"#;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-response", "add-header", headers)]).await;
    let ok = get(pop, "/ok", &[]).await;
    assert_eq!((ok.header("x-added"), &ok.body[..]), ("by-function", &b"yes"[..]));
    assert_eq!(ok.header("x-cache"), "Miss from cloudfront");
    assert_eq!(get(pop, "/ok", &[]).await.header("x-added"), "by-function", "runs on hits too");
    assert_eq!(get(pop, "/missing", &[]).await.header("x-added"), "", "not for origin errors");
}

#[tokio::test]
async fn failing_functions_are_contained() {
    let origin = TestOrigin::start().await;
    let throws = r#"function handler(event) { throw new Error('boom'); }"#;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-request", "throws", throws)]).await;
    let r = get(pop, "/x", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("x-cache")), (503, "FunctionExecutionError from cloudfront"));
    let endless = r#"function handler(event) { while (true) {} }"#;
    let (_edge2, pop2) = start_with_functions(&origin, &[("viewer-request", "endless", endless)]).await;
    let r = get(pop2, "/y", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("x-cache")), (503, "FunctionThrottledError from cloudfront"));
    assert_eq!(get(pop2, "/y", &[]).await.status, 503, "the edge keeps serving");
    assert_eq!(origin.requests().len(), 0);
}

/// A function that sorts the query string (assigning the sorted text, as AWS's
/// normalize-query-string example does) is obeyed at the edge: the origin receives the sorted
/// query and the key uses it, so a repeated name interleaved with others (`?a=0&b=2&a=1`)
/// lands on the same cache entry as its sorted form.
#[tokio::test]
async fn a_query_string_a_function_sorts_is_the_one_keyed_and_forwarded() {
    let sort = include_str!("../../../cachalot-functions/tests/functions/sort-query-strings.js");
    let origin = TestOrigin::start_with(|r| Reply::ok(r.query().unwrap_or_default().to_owned())).await;
    let all = r#"{"QueryStringBehavior": "all"}"#;
    let (_edge, pop) =
        start_keyed_with_functions(&origin, &[("viewer-request", "sort", sort)], NONE_HEADERS, all).await;
    let sorted = get(pop, "/list?a=0&a=1&b=2", &[]).await;
    let interleaved = get(pop, "/list?a=0&b=2&a=1", &[]).await;
    assert_eq!(sorted.header("x-cache"), "Miss from cloudfront");
    assert_eq!(interleaved.header("x-cache"), "Hit from cloudfront", "one cache entry for both orders");
    assert_eq!(interleaved.body, "a=0&a=1&b=2");
    let queries: Vec<Option<String>> = origin.requests().iter().map(|r| r.query().map(str::to_owned)).collect();
    assert_eq!(queries, [Some("a=0&a=1&b=2".to_owned())]);
}

/// HTTP/1.1 responses name their headers capitalised per word, as CloudFront writes them,
/// those a function adds included (functions must add them in lower case).
#[tokio::test]
async fn http1_response_header_names_are_capitalised() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = TestOrigin::start_with(|_| Reply::ok("yes").header("x-origin-header", "o")).await;
    let add = r#"function handler(event) { var res = event.response; res.headers['x-added-by-function'] = { value: 'f' }; return res; }"#;
    let (_edge, pop) = start_with_functions(&origin, &[("viewer-response", "add", add)]).await;
    let mut stream = tokio::net::TcpStream::connect(pop).await.unwrap();
    stream
        .write_all(b"GET /page HTTP/1.1\r\nHost: d111111abcdef8.cloudfront.net\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let head = &text[..text.find("\r\n\r\n").expect("a complete head")];
    for name in
        ["X-Added-By-Function: f", "X-Origin-Header: o", "X-Cache: ", "Via: ", "X-Amz-Cf-Pop: ", "Content-Length: "]
    {
        assert!(head.contains(&format!("\r\n{name}")), "{name} missing in:\n{head}");
    }
    assert!(!head.contains("\r\nx-"), "a lower-case header name in:\n{head}");
}
