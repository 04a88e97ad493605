//! The admin listener's own pages: `/metrics` (Prometheus), `/dashboard` (a self-contained
//! live page) with its data at `/dashboard/data`, and `/healthz`.
//!
//! The dashboard reads the telemetry registry (the same numbers as `/metrics` and
//! CloudWatch) plus [`TopMisses`], the one thing the registry does not keep: which paths
//! miss most. The page polls `/dashboard/data` every two seconds and draws hit ratio and
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
/// the zeros dropped, so paths that keep missing stay and one-off misses age out.
#[derive(Default)]
pub(crate) struct TopMisses {
    counts: Mutex<HashMap<(Arc<str>, String), u64>>,
}

impl TopMisses {
    /// Counts one cacheable request that was not a hit. Only misses take the lock: hits never do.
    pub(crate) fn note(&self, distribution: &Arc<str>, path: &str) {
        let mut counts = self.counts.lock();
        if let Some(c) = counts.get_mut(&(distribution.clone(), path.to_owned())) {
            *c += 1;
            return;
        }
        if counts.len() >= MISS_CAPACITY {
            counts.retain(|_, c| {
                *c /= 2;
                *c > 0
            });
        }
        counts.insert((distribution.clone(), path.to_owned()), 1);
    }

    /// The `n` paths with the most misses, most first.
    pub(crate) fn top(&self, n: usize) -> Vec<(String, String, u64)> {
        let counts = self.counts.lock();
        let mut all: Vec<_> = counts.iter().map(|((d, p), c)| (d.to_string(), p.clone(), *c)).collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        all.truncate(n);
        all
    }
}

#[derive(Clone)]
struct Pages {
    telemetry: Arc<Telemetry>,
    misses: Arc<TopMisses>,
}

/// `/metrics`, `/dashboard`, `/dashboard/data`, `/healthz` and `GET /` (to the dashboard).
pub(crate) fn router(telemetry: Arc<Telemetry>, misses: Arc<TopMisses>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/dashboard") }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { Html(PAGE) }))
        .route("/dashboard/data", get(data))
        .with_state(Pages { telemetry, misses })
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
        .map(|(d, p, c)| json!({"distribution": d, "path": p, "misses": c}))
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
        for _ in 0..5 {
            m.note(&d, "/hot.jpg");
        }
        m.note(&d, "/cold.jpg");
        for i in 0..(MISS_CAPACITY * 2) {
            m.note(&d, &format!("/once-{i}"));
        }
        assert!(m.counts.lock().len() <= MISS_CAPACITY);
        let top = m.top(1);
        assert_eq!(top[0].1, "/hot.jpg");
        assert!(top[0].2 >= 1);
    }
}
