//! The admin listener's own pages: `/metrics` (Prometheus), `/dashboard` (a self-contained
//! live page) with its data at `/dashboard/data`, and `/healthz`. They are served on the admin
//! listener, behind the access keys when some are configured, or on a listener of their own
//! (`--metrics ADDR`, `"Metrics"` in the config).
//!
//! The dashboard reads the telemetry registry (the same numbers as `/metrics` and
//! CloudWatch) plus [`TopMisses`], the one thing the registry does not keep: which paths
//! miss most, and over how many query string / cookie variants (fragmentation). The page polls `/dashboard/data` every two seconds and draws hit ratio and
//! request rate from the deltas, so it needs no external assets.

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use cachalot_telemetry::Telemetry;
use http::header;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many (distribution, path) miss counters are kept before the counts decay.
const MISS_CAPACITY: usize = 4096;
/// Paths listed under "top missed".
const TOP_MISSED: usize = 20;
/// Minutes of per-distribution history sent to the page.
const HISTORY_MINUTES: u64 = 60;

const PAGE: &str = include_str!("dashboard.html");

/// Misses counted per (distribution, path), bounded: when full, every count is halved and
/// the zeros dropped, so paths that keep missing stay and one-off misses age out. Each entry
/// also remembers which distinct query string + cookie combinations missed (up to
/// [`MAX_VARIANTS`]): many variants of one path is cache key fragmentation.
#[derive(Default)]
pub(crate) struct TopMisses {
    counts: Mutex<HashMap<(Arc<str>, String), MissEntry>>,
}

/// Distinct key variants remembered per path.
pub(crate) const MAX_VARIANTS: usize = 64;

#[derive(Default)]
struct MissEntry {
    misses: u64,
    variants: Vec<u64>,
}

/// One row of the top missed paths.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MissedPath {
    pub(crate) distribution: String,
    pub(crate) path: String,
    pub(crate) misses: u64,
    /// Distinct query string + cookie combinations among the misses (capped at [`MAX_VARIANTS`]).
    pub(crate) variants: usize,
}

impl TopMisses {
    /// Counts one cacheable request that was not a hit; `variant` identifies its query string
    /// and cookies. Only misses take the lock: hits never do.
    pub(crate) fn note(&self, distribution: &Arc<str>, path: &str, variant: u64) {
        let mut counts = self.counts.lock();
        let key = (distribution.clone(), path.to_owned());
        if !counts.contains_key(&key) && counts.len() >= MISS_CAPACITY {
            counts.retain(|_, e| {
                e.misses /= 2;
                e.misses > 0
            });
        }
        let entry = counts.entry(key).or_default();
        entry.misses += 1;
        if entry.variants.len() < MAX_VARIANTS && !entry.variants.contains(&variant) {
            entry.variants.push(variant);
        }
    }

    /// The `n` paths with the most misses, most first.
    pub(crate) fn top(&self, n: usize) -> Vec<MissedPath> {
        let counts = self.counts.lock();
        let mut all: Vec<MissedPath> = counts
            .iter()
            .map(|((d, p), e)| MissedPath {
                distribution: d.to_string(),
                path: p.clone(),
                misses: e.misses,
                variants: e.variants.len(),
            })
            .collect();
        all.sort_by(|a, b| {
            b.misses.cmp(&a.misses).then_with(|| (&a.distribution, &a.path).cmp(&(&b.distribution, &b.path)))
        });
        all.truncate(n);
        all
    }
}

#[derive(Clone)]
struct Pages {
    telemetry: Arc<Telemetry>,
    misses: Arc<TopMisses>,
}

/// `/metrics`, `/dashboard`, `/dashboard/data` and `GET /` (to the dashboard): what access keys
/// protect when they are configured (see `cachalot_control::ControlPlane::guard`).
pub(crate) fn router(telemetry: Arc<Telemetry>, misses: Arc<TopMisses>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/dashboard") }))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { Html(PAGE) }))
        .route("/dashboard/data", get(data))
        .with_state(Pages { telemetry, misses })
}

/// `/healthz`: always open, so that health checks need no credentials.
pub(crate) fn health() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}

async fn metrics(State(p): State<Pages>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], p.telemetry.render_prometheus())
}

async fn data(State(p): State<Pages>) -> impl IntoResponse {
    let body = dashboard_data(&p.telemetry, &p.misses, SystemTime::now()).to_string();
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Everything the page draws, as of `now`.
fn dashboard_data(telemetry: &Telemetry, misses: &TopMisses, now: SystemTime) -> Value {
    let metrics = telemetry.metrics();
    let start = now - Duration::from_secs(HISTORY_MINUTES * 60);
    let end = now + Duration::from_secs(60);
    let distributions: Vec<Value> = metrics
        .distributions()
        .into_iter()
        .map(|id| {
            let minutes: Vec<Value> = metrics
                .minutes(&id, start, end)
                .into_iter()
                .map(|m| {
                    json!({"t": unix(m.minute_start), "requests": m.requests, "cacheable": m.cacheable, "hits": m.hits,
                           "errors_4xx": m.errors_4xx, "errors_5xx": m.errors_5xx})
                })
                .collect();
            json!({"id": id, "minutes": minutes})
        })
        .collect();
    let label_sets: Vec<Value> = metrics
        .label_sets()
        .into_iter()
        .map(|s| {
            let results: serde_json::Map<String, Value> = s.results.into_iter().map(|(k, v)| (k, json!(v))).collect();
            json!({"distribution": s.distribution, "pop": s.pop, "behavior": s.behavior, "requests": s.requests,
                   "cacheable": s.cacheable, "hits": s.hits, "bytes_downloaded": s.bytes_downloaded, "results": results})
        })
        .collect();
    let top: Vec<Value> = misses
        .top(TOP_MISSED)
        .into_iter()
        .map(|m| json!({"distribution": m.distribution, "path": m.path, "misses": m.misses, "variants": m.variants}))
        .collect();
    json!({"now": unix(now), "distributions": distributions, "label_sets": label_sets, "top_missed": top})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_misses_rank_and_stay_bounded() {
        let m = TopMisses::default();
        let d: Arc<str> = Arc::from("E1");
        for i in 0..5 {
            m.note(&d, "/hot.jpg", i % 3);
        }
        m.note(&d, "/cold.jpg", 0);
        for i in 0..(MISS_CAPACITY * 2) {
            m.note(&d, &format!("/once-{i}"), 0);
        }
        assert!(m.counts.lock().len() <= MISS_CAPACITY);
        let top = m.top(1);
        assert_eq!((top[0].path.as_str(), top[0].variants), ("/hot.jpg", 3));
        assert!(top[0].misses >= 1);
    }
}
