//! The admin listener's own pages: `/metrics` (Prometheus), `/dashboard` (a self-contained
//! live page) with its data at `/dashboard/data`, and `/healthz`. They are served on the admin
//! listener, behind the access keys when some are configured, or on a listener of their own
//! (`--metrics ADDR`, `"Metrics"` in the config).
//!
//! The dashboard reads the telemetry registry (the same numbers as `/metrics` and
//! CloudWatch) plus [`TopMisses`], the one thing the registry does not keep: which paths
//! miss most, and over how many query string / cookie variants (fragmentation), and the
//! cache tiers' own counters ([`Tiers`]: memory and disk hits, contents, evictions,
//! admission rejections, the disk's health), which `/metrics` shows as `cachalot_cache_*`. The page polls `/dashboard/data` every two seconds and draws hit ratio and
//! request rate from the deltas, so it needs no external assets.

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use cachalot_proxy::TierReport;
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

/// The cache tiers' reports and the bytes of bodies being buffered, read when a page asks.
pub(crate) type Tiers = Arc<dyn Fn() -> (Vec<TierReport>, u64) + Send + Sync>;
/// The fleet's nodes as JSON (`cachalot_control::ControlPlane::fleet_status`).
pub(crate) type FleetStatus = Arc<dyn Fn() -> Value + Send + Sync>;

#[derive(Clone)]
struct Pages {
    telemetry: Arc<Telemetry>,
    misses: Arc<TopMisses>,
    tiers: Tiers,
    fleet: FleetStatus,
}

/// `/metrics`, `/dashboard`, `/dashboard/data` and `GET /` (to the dashboard): what access keys
/// protect when they are configured (see `cachalot_control::ControlPlane::guard`).
pub(crate) fn router(telemetry: Arc<Telemetry>, misses: Arc<TopMisses>, tiers: Tiers, fleet: FleetStatus) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/dashboard") }))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { Html(PAGE) }))
        .route("/dashboard/data", get(data))
        .with_state(Pages { telemetry, misses, tiers, fleet })
}

/// `/healthz`: always open, so that health checks need no credentials.
pub(crate) fn health() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}

async fn metrics(State(p): State<Pages>) -> impl IntoResponse {
    let mut text = p.telemetry.render_prometheus();
    let (tiers, in_flight) = tokio::task::spawn_blocking(move || (p.tiers)()).await.unwrap_or_default();
    render_tiers(&mut text, &tiers, in_flight);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// The tiers' counters in Prometheus' text format (`cachalot_cache_*`, label `tier`, and
/// `store` = `memory` or `disk`).
pub(crate) fn render_tiers(out: &mut String, tiers: &[TierReport], in_flight: u64) {
    use std::fmt::Write as _;
    type Pick = fn(&TierReport) -> Option<(u64, u64)>;
    let family = |out: &mut String, name: &str, kind: &str, help: &str, pick: Pick| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in tiers {
            let tier = t.name.replace('\\', "\\\\").replace('"', "\\\"");
            if let Some((memory, disk)) = pick(t) {
                let _ = writeln!(out, "{name}{{tier=\"{tier}\",store=\"memory\"}} {memory}");
                if t.disk {
                    let _ = writeln!(out, "{name}{{tier=\"{tier}\",store=\"disk\"}} {disk}");
                }
            }
        }
    };
    family(
        out,
        "cachalot_cache_hits_total",
        "counter",
        "Lookups a tier answered, by the store that held the object.",
        |t| Some((t.memory_hits, t.disk_hits)),
    );
    family(out, "cachalot_cache_objects", "gauge", "Objects held, by store.", |t| {
        Some((t.memory_objects, t.disk_objects))
    });
    family(out, "cachalot_cache_bytes", "gauge", "Bytes held, by store.", |t| Some((t.memory_bytes, t.disk_bytes)));
    family(out, "cachalot_cache_capacity_bytes", "gauge", "Capacity, by store.", |t| {
        Some((t.memory_capacity, t.disk_capacity))
    });
    family(
        out,
        "cachalot_cache_evictions_total",
        "counter",
        "Objects evicted (or refused by memory's admission), by store.",
        |t| Some((t.memory_evictions, t.disk_evictions)),
    );
    let single = |out: &mut String, name: &str, kind: &str, help: &str, pick: fn(&TierReport) -> Option<u64>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in tiers {
            let tier = t.name.replace('\\', "\\\\").replace('"', "\\\"");
            if let Some(v) = pick(t) {
                let _ = writeln!(out, "{name}{{tier=\"{tier}\"}} {v}");
            }
        }
    };
    single(out, "cachalot_cache_misses_total", "counter", "Lookups that found nothing in a tier.", |t| Some(t.misses));
    single(
        out,
        "cachalot_cache_disk_admission_rejections_total",
        "counter",
        "Objects the disk's admission policy refused.",
        |t| t.disk.then_some(t.disk_admission_rejections),
    );
    single(out, "cachalot_cache_disk_writes_total", "counter", "Objects written to disk.", |t| {
        t.disk.then_some(t.disk_writes)
    });
    single(
        out,
        "cachalot_cache_disk_write_errors_total",
        "counter",
        "Disk writes that failed (full disk, unwritable folder).",
        |t| t.disk.then_some(t.disk_write_errors),
    );
    single(
        out,
        "cachalot_cache_disk_damaged_files_total",
        "counter",
        "Damaged, partial or foreign cache files removed.",
        |t| t.disk.then_some(t.disk_damaged),
    );
    single(
        out,
        "cachalot_cache_disk_failing",
        "gauge",
        "1 while disk writes fail: the tier serves from memory and the origin.",
        |t| t.disk.then_some(u64::from(t.disk_failing)),
    );
    single(
        out,
        "cachalot_cache_disk_loading",
        "gauge",
        "1 while the disk index is rebuilt from the files found at start.",
        |t| t.disk.then_some(u64::from(t.disk_loading)),
    );
    let _ = writeln!(
        out,
        "# HELP cachalot_edge_in_flight_bytes Bytes of response bodies being buffered from upstream.\n# TYPE cachalot_edge_in_flight_bytes gauge\ncachalot_edge_in_flight_bytes {in_flight}"
    );
}

async fn data(State(p): State<Pages>) -> impl IntoResponse {
    let tiers = p.tiers.clone();
    let (tiers, _) = tokio::task::spawn_blocking(move || tiers()).await.unwrap_or_default();
    let mut data = dashboard_data(&p.telemetry, &p.misses, SystemTime::now());
    data["tiers"] = tiers_json(&tiers);
    data["fleet"] = (p.fleet)();
    let body = data.to_string();
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body)
}

fn tiers_json(tiers: &[TierReport]) -> Value {
    tiers
        .iter()
        .map(|t| {
            json!({"name": t.name, "memory_hits": t.memory_hits, "disk_hits": t.disk_hits, "misses": t.misses,
                   "memory_objects": t.memory_objects, "memory_bytes": t.memory_bytes, "memory_evictions": t.memory_evictions,
                   "disk": t.disk, "disk_objects": t.disk_objects, "disk_bytes": t.disk_bytes,
                   "disk_evictions": t.disk_evictions, "disk_admission_rejections": t.disk_admission_rejections,
                   "disk_failing": t.disk_failing, "disk_loading": t.disk_loading})
        })
        .collect()
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
    fn tier_metrics_name_each_store() {
        let tiers = vec![
            TierReport {
                name: "LHR50-C1".into(),
                memory_hits: 3,
                disk_hits: 2,
                disk: true,
                disk_failing: true,
                ..TierReport::default()
            },
            TierReport { name: "REC:eu-west-2".into(), memory_hits: 1, ..TierReport::default() },
        ];
        let mut out = String::new();
        render_tiers(&mut out, &tiers, 7);
        for line in [
            "cachalot_cache_hits_total{tier=\"LHR50-C1\",store=\"memory\"} 3",
            "cachalot_cache_hits_total{tier=\"LHR50-C1\",store=\"disk\"} 2",
            "cachalot_cache_hits_total{tier=\"REC:eu-west-2\",store=\"memory\"} 1",
            "cachalot_cache_disk_failing{tier=\"LHR50-C1\"} 1",
            "cachalot_edge_in_flight_bytes 7",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
        assert!(!out.contains("REC:eu-west-2\",store=\"disk\""), "no disk series without a disk");
    }

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
