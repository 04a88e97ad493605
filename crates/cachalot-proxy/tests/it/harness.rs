//! What the data-plane tests share: an edge with a manual clock and recording observer on
//! loopback (plain and TLS listeners), the configs and cache policies the tests start it
//! on, origins that behave alike, and a one-request HTTP/1.1 client over any stream.

use bytes::Bytes;
use cachalot_proxy::{Edge, EdgeSettings, ManualClock, Observer, PopSettings, RequestSummary};
use cachalot_test::{Reply, TestOrigin};
use http_body_util::{BodyExt, Full};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Records every request summary.
#[derive(Default)]
pub(crate) struct Recording(pub(crate) Mutex<Vec<RequestSummary>>);

impl Observer for Recording {
    fn observe(&self, summary: RequestSummary) {
        self.0.lock().push(summary);
    }
}

pub(crate) struct Harness {
    pub(crate) edge: Edge,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) pops: Vec<SocketAddr>,
    pub(crate) observed: Arc<Recording>,
    /// Dropping it stops the listeners.
    stop: watch::Sender<bool>,
}

impl Harness {
    pub(crate) fn pop(&self, i: usize) -> SocketAddr {
        self.pops[i]
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.clock.advance_ms(secs * 1000);
    }

    /// Serves POP `i` over TLS as well, on a listener of its own; returns its address.
    pub(crate) async fn serve_tls(&self, i: usize, acceptor: tokio_rustls::TlsAcceptor) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stopped = self.stop.subscribe();
        tokio::spawn(cachalot_proxy::serve_pop(
            self.edge.clone(),
            i,
            listener,
            Some(acceptor),
            stopped,
            Duration::from_secs(1),
        ));
        addr
    }

    /// Summaries recorded so far (waits briefly: they are reported when bodies finish).
    pub(crate) async fn summaries(&self, at_least: usize) -> Vec<RequestSummary> {
        for _ in 0..200 {
            if self.observed.0.lock().len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.observed.0.lock().clone()
    }
}

pub(crate) const START_MS: u64 = 1_700_000_000_000;

pub(crate) async fn start(config: &str, pops: &[(&str, &str)]) -> Harness {
    start_with(config, pops, HashMap::new()).await
}

pub(crate) async fn start_with(
    config: &str,
    pops: &[(&str, &str)],
    buckets: HashMap<String, std::path::PathBuf>,
) -> Harness {
    start_with_limits(config, pops, buckets, cachalot_proxy::ListenerLimits::default()).await
}

pub(crate) async fn start_with_limits(
    config: &str,
    pops: &[(&str, &str)],
    buckets: HashMap<String, std::path::PathBuf>,
    listener: cachalot_proxy::ListenerLimits,
) -> Harness {
    start_snapshot(cachalot_test::snapshot_from_json(config), pops, buckets, listener).await
}

/// Starts an edge on an already built snapshot (for configs with functions).
pub(crate) async fn start_snapshot(
    snapshot: std::sync::Arc<cachalot_config::Snapshot>,
    pops: &[(&str, &str)],
    buckets: HashMap<String, std::path::PathBuf>,
    listener: cachalot_proxy::ListenerLimits,
) -> Harness {
    let pops: Vec<(&str, &str)> = if pops.is_empty() { vec![("LOCAL50-C1", "us-east-1")] } else { pops.to_vec() };
    let settings = EdgeSettings {
        pops: pops
            .iter()
            .map(|(id, region)| PopSettings {
                id: (*id).to_owned(),
                region: (*region).to_owned(),
                cache_bytes: 64 << 20,
                disk: None,
            })
            .collect(),
        buckets,
        max_object_bytes: 1 << 20,
        listener,
        ..EdgeSettings::default()
    };
    start_settings(snapshot, settings).await
}

/// Starts an edge with one POP of `memory` bytes in front of a disk tier.
pub(crate) async fn start_with_disk(config: &str, memory: u64, disk: cachalot_proxy::DiskConfig) -> Harness {
    let settings = EdgeSettings {
        pops: vec![PopSettings {
            id: "LOCAL50-C1".into(),
            region: "us-east-1".into(),
            cache_bytes: memory,
            disk: Some(disk),
        }],
        ..EdgeSettings::default()
    };
    start_settings(cachalot_test::snapshot_from_json(config), settings).await
}

/// Starts an edge with these settings, a listener per POP.
pub(crate) async fn start_settings(snapshot: Arc<cachalot_config::Snapshot>, settings: EdgeSettings) -> Harness {
    let pops = settings.pops.len();
    let clock = Arc::new(ManualClock::new(START_MS));
    let observed = Arc::new(Recording::default());
    let edge = Edge::with(settings, snapshot, clock.clone(), observed.clone());
    let (stop, stopped) = watch::channel(false);
    let mut addrs = Vec::new();
    for i in 0..pops {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(cachalot_proxy::serve_pop(
            edge.clone(),
            i,
            listener,
            None,
            stopped.clone(),
            Duration::from_secs(1),
        ));
    }
    Harness { edge, clock, pops: addrs, observed, stop }
}

/// Managed-CachingOptimized.
pub(crate) const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// Managed-CachingDisabled.
pub(crate) const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

/// A one-origin config whose default behavior uses the managed cache policy `policy_id`.
pub(crate) fn managed(origin: &TestOrigin, policy_id: &str) -> String {
    managed_at(&origin.authority(), policy_id)
}

/// [`managed`] for an origin at `authority` (one that may not be listening).
pub(crate) fn managed_at(authority: &str, policy_id: &str) -> String {
    cachalot_test::single_origin_config(authority, &format!(r#""CachePolicyId": "{policy_id}""#), "")
}

/// Starts one POP in front of `origin` with Managed-CachingOptimized.
pub(crate) async fn start_optimized(origin: &TestOrigin) -> Harness {
    start(&managed(origin, CACHING_OPTIMIZED), &[]).await
}

/// Starts an origin that answers with the request path, and `pops` (one by default) in
/// front of it with Managed-CachingOptimized.
pub(crate) async fn start_echo(pops: &[(&str, &str)]) -> (TestOrigin, Harness) {
    let origin = TestOrigin::start().await;
    let h = start(&managed(&origin, CACHING_OPTIMIZED), pops).await;
    (origin, h)
}

/// A config whose default behavior uses a cache policy defined inline.
pub(crate) fn with_policy(origin: &TestOrigin, policy: &str) -> String {
    cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "11111111-2222-3333-4444-555555555555""#,
        &format!(
            r#""CachePolicies": [{{"Id": "11111111-2222-3333-4444-555555555555", "CachePolicyConfig": {policy}}}]"#
        ),
    )
}

/// A cache policy JSON with the given key settings.
pub(crate) fn policy(min: u64, default: u64, max: u64, headers: &str, cookies: &str, query: &str) -> String {
    format!(
        r#"{{"Name": "test", "MinTTL": {min}, "DefaultTTL": {default}, "MaxTTL": {max},
           "ParametersInCacheKeyAndForwardedToOrigin": {{
             "EnableAcceptEncodingGzip": {gz}, "EnableAcceptEncodingBrotli": {gz},
             "HeadersConfig": {headers}, "CookiesConfig": {cookies}, "QueryStringsConfig": {query}}}}}"#,
        gz = max > 0
    )
}

pub(crate) const NONE_HEADERS: &str = r#"{"HeaderBehavior": "none"}"#;
pub(crate) const NONE_COOKIES: &str = r#"{"CookieBehavior": "none"}"#;
pub(crate) const NONE_QUERY: &str = r#"{"QueryStringBehavior": "none"}"#;

/// A config whose inline policy keys nothing and follows the origin's TTLs between
/// `min_ttl` and a year (a day when the origin says nothing).
pub(crate) fn unkeyed(origin: &TestOrigin, min_ttl: u64) -> String {
    with_policy(origin, &policy(min_ttl, 86400, 31536000, NONE_HEADERS, NONE_COOKIES, NONE_QUERY))
}

/// An origin whose object (ETag `"v1"`, `max-age=60`) answers a conditional GET for `"v1"`
/// with 304 and any other GET with `body`.
pub(crate) async fn revalidating_origin(body: Bytes) -> TestOrigin {
    TestOrigin::start_with(move |r| {
        let reply =
            if r.header("if-none-match") == "\"v1\"" { Reply::ok("").status(304) } else { Reply::ok(body.clone()) };
        reply.header("etag", "\"v1\"").header("cache-control", "max-age=60")
    })
    .await
}

/// Sends `req` on a new HTTP/1.1 connection over `io`; the reply's head and its whole body
/// (or why the body could not be read).
pub(crate) async fn exchange<I>(
    io: I,
    req: http::Request<Full<Bytes>>,
) -> (http::response::Parts, Result<Bytes, hyper::Error>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await.unwrap();
    tokio::spawn(conn);
    let (parts, body) = sender.send_request(req).await.unwrap().into_parts();
    (parts, body.collect().await.map(|b| b.to_bytes()))
}
