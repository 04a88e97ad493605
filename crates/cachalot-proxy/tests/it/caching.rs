//! TTLs, hits, revalidation, per-POP caches and collapsing (§3, §6.5, §6.6).

use crate::harness::*;
use cachalot_test::{ClientReply, Reply, TestOrigin, get};
use std::time::Duration;
use tokio::task::JoinHandle;

/// An origin that answers every request with `body`, cacheable for `max_age` seconds,
/// after `delay_ms`.
async fn slow_origin(body: &'static str, max_age: u32, delay_ms: u64) -> TestOrigin {
    TestOrigin::start_with(move |_| {
        Reply::ok(body).header("cache-control", &format!("max-age={max_age}")).delay(Duration::from_millis(delay_ms))
    })
    .await
}

/// Starts `n` concurrent GETs for `path`, the i-th to POP `i % pops`.
fn spawn_gets(h: &Harness, pops: usize, path: &'static str, n: usize) -> Vec<JoinHandle<ClientReply>> {
    (0..n)
        .map(|i| {
            let pop = h.pop(i % pops);
            tokio::spawn(async move { get(pop, path, &[]).await })
        })
        .collect()
}

/// The replies of `tasks`, in order.
async fn replies(tasks: Vec<JoinHandle<ClientReply>>) -> Vec<ClientReply> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Seed: "request 1 = Miss (age 0), request 2 = Hit (age rising), SAME pop".
#[tokio::test]
async fn repeat_request_misses_then_hits_with_rising_age() {
    let (origin, h) = start_echo(&[]).await;
    let first = get(h.pop(0), "/images/hero.jpg", &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), "Miss from cloudfront");
    assert_eq!(first.header("age"), "", "age is omitted when 0");
    assert_eq!(first.header("x-amz-cf-pop"), "LOCAL50-C1");
    assert_eq!(first.header("x-amz-cf-id").len(), 56);
    assert!(first.header("via").ends_with(".cloudfront.net (CloudFront)"), "{}", first.header("via"));
    h.advance(3);
    let second = get(h.pop(0), "/images/hero.jpg", &[]).await;
    assert_eq!(second.header("x-cache"), "Hit from cloudfront");
    assert_eq!(second.header("age"), "3");
    h.advance(4);
    assert_eq!(get(h.pop(0), "/images/hero.jpg", &[]).await.header("age"), "7");
    assert_eq!(second.body, first.body);
    assert_ne!(first.header("x-amz-cf-id"), second.header("x-amz-cf-id"));
    assert_eq!(origin.hits("/images/hero.jpg"), 1);
    let logged = h.summaries(3).await;
    assert_eq!(logged.iter().map(|s| s.result.as_str()).collect::<Vec<_>>(), ["Miss", "Hit", "Hit"]);
}

/// Seed cause 4: a short max-age ends in RefreshHit when the origin answers 304 (§3.4).
#[tokio::test]
async fn short_max_age_ends_in_refresh_hit() {
    let origin = revalidating_origin(bytes::Bytes::from_static(b"body")).await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    assert_eq!(get(h.pop(0), "/a", &[]).await.header("x-cache"), "Miss from cloudfront");
    h.advance(30);
    assert_eq!(get(h.pop(0), "/a", &[]).await.header("x-cache"), "Hit from cloudfront");
    h.advance(31);
    let refreshed = get(h.pop(0), "/a", &[]).await;
    assert_eq!(refreshed.header("x-cache"), "RefreshHit from cloudfront");
    assert_eq!(refreshed.body, "body");
    assert_eq!(refreshed.header("age"), "", "a refreshed object is new");
    let reqs = origin.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("if-none-match"), "\"v1\"", "the edge revalidates with the stored ETag");
    h.advance(10);
    assert_eq!(get(h.pop(0), "/a", &[]).await.header("x-cache"), "Hit from cloudfront", "fresh again for max-age");
}

/// An expired object whose origin sends a new version is a Miss and is replaced.
#[tokio::test]
async fn expired_object_with_new_version_is_a_miss() {
    let version = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let v = version.clone();
    let origin = TestOrigin::start_with(move |_| {
        let n = v.load(std::sync::atomic::Ordering::SeqCst);
        Reply::ok(format!("v{n}")).header("etag", &format!("\"{n}\"")).header("cache-control", "max-age=10")
    })
    .await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    assert_eq!(get(h.pop(0), "/x", &[]).await.body, "v1");
    version.store(2, std::sync::atomic::Ordering::SeqCst);
    h.advance(11);
    let r = get(h.pop(0), "/x", &[]).await;
    assert_eq!((r.header("x-cache"), &r.body[..]), ("Miss from cloudfront", &b"v2"[..]));
}

/// Seed cause 5: each POP caches on its own; a second POP misses (§6.5).
#[tokio::test]
async fn second_pop_misses_on_its_own() {
    let (origin, h) = start_echo(&[("LHR50-C1", "eu-west-2"), ("FRA56-P1", "eu-central-1")]).await;
    let a = get(h.pop(0), "/img.png", &[]).await;
    let b = get(h.pop(0), "/img.png", &[]).await;
    let c = get(h.pop(1), "/img.png", &[]).await;
    assert_eq!((a.header("x-cache"), a.header("x-amz-cf-pop")), ("Miss from cloudfront", "LHR50-C1"));
    assert_eq!((b.header("x-cache"), b.header("x-amz-cf-pop")), ("Hit from cloudfront", "LHR50-C1"));
    assert_eq!((c.header("x-cache"), c.header("x-amz-cf-pop")), ("Miss from cloudfront", "FRA56-P1"));
    assert_eq!(origin.hits("/img.png"), 2, "different regions share no tier");
}

/// POPs of one region share a regional edge cache: the second POP is served from it —
/// a hit at layer REC, with the age of the regional copy — and the origin is not asked again (§6.2, §6.5).
#[tokio::test]
async fn pops_of_one_region_share_the_regional_cache() {
    let (origin, h) = start_echo(&[("IAD89-C1", "us-east-1"), ("IAD89-C2", "us-east-1")]).await;
    let first = get(h.pop(0), "/r", &[("pragma", "server-timing")]).await;
    assert_eq!(first.header("x-cache"), "Miss from cloudfront");
    assert!(
        first.header("server-timing").starts_with("cdn-upstream-layer;desc=\"REC\""),
        "{}",
        first.header("server-timing")
    );
    h.advance(5);
    let second = get(h.pop(1), "/r", &[("pragma", "server-timing")]).await;
    assert_eq!((second.header("x-cache"), second.header("age")), ("Hit from cloudfront", "5"));
    assert!(
        second.header("server-timing").contains("cdn-hit-layer;desc=\"REC\""),
        "{}",
        second.header("server-timing")
    );
    assert!(second.header("server-timing").contains("cdn-pop;desc=\"IAD89-C2\""));
    assert_eq!(get(h.pop(1), "/r", &[]).await.header("x-cache"), "Hit from cloudfront");
    assert_eq!(origin.hits("/r"), 1);
}

/// Origin Shield: 200 concurrent requests from 3 POPs in 3 regions for one cold object
/// cost the origin exactly one fetch; shield hits are logged `OriginShieldHit` (§6.5, §6.6).
#[tokio::test]
async fn shield_collapses_every_pop_onto_one_origin_fetch() {
    let origin = slow_origin("shielded", 300, 300).await;
    let config = managed(&origin, CACHING_OPTIMIZED).replace(
        r#""Id": "origin","#,
        r#""Id": "origin", "OriginShield": {"Enabled": true, "OriginShieldRegion": "us-east-2"},"#,
    );
    let h =
        start(&config, &[("LHR50-C1", "eu-west-2"), ("NRT57-C1", "ap-northeast-1"), ("GRU1-C1", "sa-east-1")]).await;
    let mut misses = 0;
    for r in replies(spawn_gets(&h, 3, "/cold.bin", 200)).await {
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"shielded"[..]));
        misses += usize::from(r.header("x-cache") == "Miss from cloudfront");
    }
    assert_eq!(origin.hits("/cold.bin"), 1, "one origin fetch for 200 requests from 3 POPs");
    assert_eq!(misses, 1);
    let logged = h.summaries(200).await;
    assert!(
        logged.iter().any(|s| s.detailed.as_str() == "OriginShieldHit"),
        "requests of the POPs that did not lead are served by the shield"
    );
}

/// MaxTTL 0 (Managed-CachingDisabled) stores nothing (§3.2).
#[tokio::test]
async fn caching_disabled_stores_nothing() {
    let origin = TestOrigin::start_with(|_| Reply::ok("x").header("cache-control", "max-age=3600")).await;
    let h = start(&managed(&origin, CACHING_DISABLED), &[]).await;
    for _ in 0..3 {
        assert_eq!(get(h.pop(0), "/api", &[]).await.header("x-cache"), "Miss from cloudfront");
    }
    assert_eq!(origin.hits("/api"), 3);
}

/// MinTTL 0 respects no-store; MinTTL > 0 caches anyway (§3.2).
#[tokio::test]
async fn no_store_respected_only_when_min_ttl_is_zero() {
    let origin = TestOrigin::start_with(|_| Reply::ok("x").header("cache-control", "no-store")).await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    get(h.pop(0), "/n", &[]).await;
    assert_eq!(get(h.pop(0), "/n", &[]).await.header("x-cache"), "Miss from cloudfront");
    let origin2 = TestOrigin::start_with(|_| Reply::ok("x").header("cache-control", "no-store")).await;
    let h2 = start(&unkeyed(&origin2, 60), &[]).await;
    get(h2.pop(0), "/n", &[]).await;
    assert_eq!(get(h2.pop(0), "/n", &[]).await.header("x-cache"), "Hit from cloudfront");
    h2.advance(61);
    assert_eq!(get(h2.pop(0), "/n", &[]).await.header("x-cache"), "Miss from cloudfront", "cached for MinTTL only");
}

/// Concurrent misses for one key cost the origin one fetch; the others are logged as hits (§6.6).
#[tokio::test]
async fn concurrent_misses_collapse_onto_one_fetch() {
    let origin = slow_origin("slow", 60, 300).await;
    let h = start_optimized(&origin).await;
    let results = replies(spawn_gets(&h, 1, "/c", 20)).await;
    assert!(results.iter().all(|r| r.status == 200 && r.body == "slow"));
    assert_eq!(origin.hits("/c"), 1);
    let misses = results.iter().filter(|r| r.header("x-cache") == "Miss from cloudfront").count();
    assert_eq!(misses, 1, "one leader, nineteen collapsed hits");
}

/// Collapsing is off when the origin says private with MinTTL 0: every waiter goes to the origin (§6.6).
#[tokio::test]
async fn private_responses_are_not_shared_between_waiters() {
    let origin = TestOrigin::start_with(|_| {
        Reply::ok("mine").header("cache-control", "private").delay(Duration::from_millis(200))
    })
    .await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    for r in replies(spawn_gets(&h, 1, "/p", 5)).await {
        assert_eq!(r.header("x-cache"), "Miss from cloudfront");
    }
    assert_eq!(origin.hits("/p"), 5);
}

/// Errors: 404 cached for ErrorCachingMinTTL (10 s default); 403 without max-age not cached (§3.6).
#[tokio::test]
async fn error_caching() {
    let origin = TestOrigin::start_with(|r| match r.path() {
        "/missing" => Reply::ok("nope").status(404),
        _ => Reply::ok("no").status(403),
    })
    .await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    for _ in 0..2 {
        let r = get(h.pop(0), "/missing", &[]).await;
        assert_eq!((r.status.as_u16(), r.header("x-cache")), (404, "Error from cloudfront"));
    }
    assert_eq!(origin.hits("/missing"), 1);
    h.advance(11);
    get(h.pop(0), "/missing", &[]).await;
    assert_eq!(origin.hits("/missing"), 2);
    get(h.pop(0), "/forbidden", &[]).await;
    get(h.pop(0), "/forbidden", &[]).await;
    assert_eq!(origin.hits("/forbidden"), 2);
}

/// Invalidation purges every POP; the next request misses (§7).
#[tokio::test]
async fn invalidation_purges() {
    let (_origin, h) = start_echo(&[("A1", "us-east-1"), ("B1", "eu-west-1")]).await;
    for pop in [0, 1] {
        get(h.pop(pop), "/img/a.png", &[]).await;
        get(h.pop(pop), "/css/b.css", &[]).await;
    }
    let paths = [cachalot_policy::invalidation::InvalidationPath::parse("/img/*").unwrap()];
    assert_eq!(h.edge.invalidate("E2TESTDIST0001", &paths), 2);
    for pop in [0, 1] {
        assert_eq!(get(h.pop(pop), "/img/a.png", &[]).await.header("x-cache"), "Miss from cloudfront");
        assert_eq!(get(h.pop(pop), "/css/b.css", &[]).await.header("x-cache"), "Hit from cloudfront");
    }
}

/// Viewer conditionals are answered from the cache with 304 (§6.3).
#[tokio::test]
async fn viewer_conditional_gets_304_from_cache() {
    let origin =
        TestOrigin::start_with(|_| Reply::ok("data").header("etag", "\"e1\"").header("cache-control", "max-age=60"))
            .await;
    let h = start_optimized(&origin).await;
    get(h.pop(0), "/e", &[]).await;
    let r = get(h.pop(0), "/e", &[("if-none-match", "\"e1\"")]).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), "\"e1\"");
    assert!(r.body.is_empty());
    assert_eq!(get(h.pop(0), "/e", &[("if-none-match", "\"other\"")]).await.status, 200);
    assert_eq!(origin.hits("/e"), 1);
}

/// A GET on a behavior that caches nothing is a full `200` with `x-cache: Miss`, and it
/// is logged as a `Miss` — not as an error the viewer never saw (§8.2). Same for MaxTTL 0.
#[tokio::test]
async fn non_caching_get_is_logged_as_the_miss_it_was() {
    let origin = TestOrigin::start_with(|_| Reply::ok("dynamic body").header("cache-control", "max-age=3600")).await;
    let disabled = managed(&origin, CACHING_DISABLED);
    let max_ttl_zero = with_policy(&origin, &policy(0, 0, 0, NONE_HEADERS, NONE_COOKIES, NONE_QUERY));
    for config in [disabled, max_ttl_zero] {
        let h = start(&config, &[]).await;
        for _ in 0..3 {
            let r = get(h.pop(0), "/api/items", &[]).await;
            assert_eq!((r.status.as_u16(), r.header("x-cache")), (200, "Miss from cloudfront"));
            assert_eq!(r.body, "dynamic body");
        }
        let head = cachalot_test::request(h.pop(0), http::Method::HEAD, "/api/items", &[], bytes::Bytes::new()).await;
        assert_eq!(head.header("x-cache"), "Miss from cloudfront");
        let logged = h.summaries(4).await;
        let results: Vec<_> =
            logged.iter().map(|s| (s.result.as_str(), s.response_result.as_str(), s.detailed.as_str())).collect();
        assert_eq!(results, vec![("Miss", "Miss", "Miss"); 4], "the log says what x-cache said");
        assert!(logged.iter().take(3).all(|s| s.response_bytes > 12), "the body was sent and counted");
    }
}

/// Collapsing survives the viewer that started the fetch: one aborted request plus
/// many concurrent requests for the same slow object cost the origin one fetch (§6.6).
#[tokio::test]
async fn collapsed_fetch_outlives_the_viewer_that_started_it() {
    let origin = slow_origin("slow object", 300, 600).await;
    let h = start_optimized(&origin).await;
    let pop = h.pop(0);
    // The first viewer starts the fetch and goes away before the origin answers.
    let first = tokio::spawn(async move { get(pop, "/slow.bin", &[]).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tasks = spawn_gets(&h, 1, "/slow.bin", 60);
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.abort();
    for r in replies(tasks).await {
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"slow object"[..]));
    }
    assert_eq!(origin.hits("/slow.bin"), 1, "the abandoned leader's fetch was shared");
}
