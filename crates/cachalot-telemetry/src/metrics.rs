//! The metrics registry: Prometheus counters per (distribution, POP, behavior) and the
//! per-minute CloudWatch series per distribution, both fed by [`Metrics::observe`].
//!
//! **Names** follow `cachalot_<subsystem>_<name>_<unit>[_total]`:
//!
//! | Metric | Type | Labels | Meaning |
//! | --- | --- | --- | --- |
//! | `cachalot_edge_requests_total` | counter | d, p, b | viewer requests |
//! | `cachalot_edge_downloaded_bytes_total` | counter | d, p, b | `sc-bytes` of GET/HEAD/OPTIONS |
//! | `cachalot_edge_uploaded_bytes_total` | counter | d, p, b | `cs-bytes` of POST/PUT |
//! | `cachalot_edge_results_total` | counter | d, p, b, `result_type` | by `x-edge-result-type` |
//! | `cachalot_edge_responses_total` | counter | d, p, b, `status_class` | `1xx` … `5xx`, `000` |
//! | `cachalot_edge_error_responses_total` | counter | d, p, b, `status` | 401, 403, 404, 502, 503, 504 |
//! | `cachalot_edge_cacheable_requests_total` | counter | d, p, b | CacheHitRate's denominator |
//! | `cachalot_edge_cache_hits_total` | counter | d, p, b | CacheHitRate's numerator |
//! | `cachalot_edge_origin_latency_seconds` | histogram | d, p, b | first-byte latency from the origin |
//!
//! (d, p, b = `distribution`, `pop`, `behavior` — the behavior's path pattern.) The
//! definitions are in [`crate::outcome`]. Hit ratio = `cache_hits / cacheable_requests`.
//!
//! **Bounded cardinality.** At most `max_label_sets` (distribution, POP, behavior)
//! combinations get their own series; further combinations are counted under
//! `pop="other", behavior="other"` of their distribution (and under
//! `distribution="other"` once twice the cap is reached), and
//! `cachalot_metrics_overflow_observations_total` counts how often that happened.
//!
//! **Hot path.** Label sets are found in a sharded read-mostly map (a read lock on one of
//! 16 shards, no allocation once the set exists) and every counter is an atomic.

use crate::format::{LogRecord, ResultType};
use crate::outcome::{Outcome, StatusClass, TRACKED_ERROR_STATUSES};
use crate::series::{Datapoint, MinuteStats, Query, SeriesStore, StatisticsError};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Registry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Distinct (distribution, POP, behavior) label sets before overflow.
    pub max_label_sets: usize,
    /// Distributions with per-minute series.
    pub max_distributions: usize,
    /// How long per-minute series are kept (at least 24 h for CloudWatch parity).
    pub series_retention: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            max_label_sets: 2000,
            max_distributions: 1000,
            series_retention: crate::series::DEFAULT_RETENTION,
        }
    }
}

/// Upper bounds (seconds) of the origin latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The result types counted under their own label; others count as `Other`.
static RESULT_TYPES: [ResultType; 15] = [
    ResultType::Hit,
    ResultType::RefreshHit,
    ResultType::Miss,
    ResultType::LimitExceeded,
    ResultType::CapacityExceeded,
    ResultType::Error,
    ResultType::Redirect,
    ResultType::FunctionGeneratedResponse,
    ResultType::FunctionExecutionError,
    ResultType::FunctionThrottledError,
    ResultType::FunctionValidationError,
    ResultType::LambdaGeneratedResponse,
    ResultType::LambdaValidationError,
    ResultType::LambdaExecutionError,
    ResultType::LambdaLimitExceeded,
];
const OTHER_RESULT: usize = RESULT_TYPES.len();

/// Counters of one (distribution, POP, behavior).
#[derive(Debug)]
struct LabelSet {
    distribution: Box<str>,
    pop: Box<str>,
    behavior: Box<str>,
    requests: AtomicU64,
    bytes_downloaded: AtomicU64,
    bytes_uploaded: AtomicU64,
    results: [AtomicU64; OTHER_RESULT + 1],
    classes: [AtomicU64; 6],
    tracked: [AtomicU64; 6],
    cacheable: AtomicU64,
    hits: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

impl LabelSet {
    fn new(distribution: &str, pop: &str, behavior: &str) -> LabelSet {
        LabelSet {
            distribution: distribution.into(),
            pop: pop.into(),
            behavior: behavior.into(),
            requests: AtomicU64::new(0),
            bytes_downloaded: AtomicU64::new(0),
            bytes_uploaded: AtomicU64::new(0),
            results: Default::default(),
            classes: Default::default(),
            tracked: Default::default(),
            cacheable: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            latency_buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
        }
    }

    fn is(&self, distribution: &str, pop: &str, behavior: &str) -> bool {
        &*self.distribution == distribution && &*self.pop == pop && &*self.behavior == behavior
    }

    fn add(&self, r: &LogRecord, o: &Outcome) {
        let relaxed = Ordering::Relaxed;
        self.requests.fetch_add(1, relaxed);
        if o.bytes_downloaded > 0 {
            self.bytes_downloaded.fetch_add(o.bytes_downloaded, relaxed);
        }
        if o.bytes_uploaded > 0 {
            self.bytes_uploaded.fetch_add(o.bytes_uploaded, relaxed);
        }
        let ri = RESULT_TYPES.iter().position(|t| *t == r.result_type).unwrap_or(OTHER_RESULT);
        self.results[ri].fetch_add(1, relaxed);
        let ci = StatusClass::ALL.iter().position(|c| *c == o.status_class).unwrap_or(5);
        self.classes[ci].fetch_add(1, relaxed);
        if let Some(i) = o.tracked_error.and_then(|s| TRACKED_ERROR_STATUSES.iter().position(|&t| t == s)) {
            self.tracked[i].fetch_add(1, relaxed);
        }
        if o.cacheable {
            self.cacheable.fetch_add(1, relaxed);
        }
        if o.hit {
            self.hits.fetch_add(1, relaxed);
        }
        if let Some(d) = o.origin_latency {
            let secs = d.as_secs_f64();
            let bi = LATENCY_BUCKETS.iter().position(|&le| secs <= le).unwrap_or(LATENCY_BUCKETS.len());
            self.latency_buckets[bi].fetch_add(1, relaxed);
            self.latency_sum_us.fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), relaxed);
            self.latency_count.fetch_add(1, relaxed);
        }
    }
}

/// Counters of one label set, read at one moment (for dashboards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSetSnapshot {
    /// Distribution id (or `other`).
    pub distribution: String,
    /// POP id (or `other`).
    pub pop: String,
    /// Behavior path pattern (or `other`).
    pub behavior: String,
    /// Requests.
    pub requests: u64,
    /// Cacheable requests.
    pub cacheable: u64,
    /// Cache hits.
    pub hits: u64,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
    /// Requests by `x-edge-result-type`.
    pub results: Vec<(String, u64)>,
    /// Requests by status class (`2xx`, …).
    pub status_classes: Vec<(&'static str, u64)>,
}

const LABEL_SHARDS: usize = 16;
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

/// The registry (see the module docs).
pub struct Metrics {
    shards: [RwLock<FastMap<u64, Vec<Arc<LabelSet>>>>; LABEL_SHARDS],
    label_sets: AtomicUsize,
    overflow: AtomicU64,
    config: MetricsConfig,
    series: SeriesStore,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("label_sets", &self.label_sets).field("config", &self.config).finish()
    }
}

fn label_hash(distribution: &str, pop: &str, behavior: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one((distribution, pop, behavior))
}

impl Metrics {
    /// An empty registry.
    pub fn new(config: MetricsConfig) -> Metrics {
        let series = SeriesStore::new(config.series_retention, config.max_distributions);
        Metrics {
            shards: std::array::from_fn(|_| RwLock::new(FastMap::default())),
            label_sets: AtomicUsize::new(0),
            overflow: AtomicU64::new(0),
            config,
            series,
        }
    }

    /// Counts one request of `distribution_id` served by the behavior with path pattern
    /// `behavior`; the POP is the record's `x-edge-location`, the minute its timestamp.
    pub fn observe(&self, distribution_id: &str, behavior: &str, record: &LogRecord) {
        let outcome = Outcome::of(record);
        let pop = if record.edge_location.is_empty() { "-" } else { record.edge_location.as_str() };
        self.label_set(distribution_id, pop, behavior).add(record, &outcome);
        self.series.observe(distribution_id, record.timestamp, &outcome);
    }

    fn find(&self, hash: u64, distribution: &str, pop: &str, behavior: &str) -> Option<Arc<LabelSet>> {
        let shard = self.shards[(hash as usize) % LABEL_SHARDS].read().unwrap_or_else(|e| e.into_inner());
        shard.get(&hash)?.iter().find(|s| s.is(distribution, pop, behavior)).cloned()
    }

    fn insert(&self, hash: u64, distribution: &str, pop: &str, behavior: &str) -> Arc<LabelSet> {
        let mut shard = self.shards[(hash as usize) % LABEL_SHARDS].write().unwrap_or_else(|e| e.into_inner());
        let bucket = shard.entry(hash).or_default();
        if let Some(s) = bucket.iter().find(|s| s.is(distribution, pop, behavior)) {
            return s.clone();
        }
        let set = Arc::new(LabelSet::new(distribution, pop, behavior));
        bucket.push(set.clone());
        self.label_sets.fetch_add(1, Ordering::Relaxed);
        set
    }

    fn label_set(&self, distribution: &str, pop: &str, behavior: &str) -> Arc<LabelSet> {
        let hash = label_hash(distribution, pop, behavior);
        if let Some(set) = self.find(hash, distribution, pop, behavior) {
            return set;
        }
        let count = self.label_sets.load(Ordering::Relaxed);
        if count < self.config.max_label_sets {
            return self.insert(hash, distribution, pop, behavior);
        }
        self.overflow.fetch_add(1, Ordering::Relaxed);
        // One overflow set per distribution, until even those exceed the cap.
        let (d, p, b) = if count < self.config.max_label_sets.saturating_mul(2) {
            (distribution, "other", "other")
        } else {
            ("other", "other", "other")
        };
        let hash = label_hash(d, p, b);
        self.find(hash, d, p, b).unwrap_or_else(|| self.insert(hash, d, p, b))
    }

    fn all_sets(&self) -> Vec<Arc<LabelSet>> {
        let mut sets: Vec<Arc<LabelSet>> = Vec::new();
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            sets.extend(shard.values().flatten().cloned());
        }
        sets.sort_by(|a, b| (&a.distribution, &a.pop, &a.behavior).cmp(&(&b.distribution, &b.pop, &b.behavior)));
        sets
    }

    /// Every label set's counters.
    pub fn label_sets(&self) -> Vec<LabelSetSnapshot> {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.all_sets()
            .iter()
            .map(|s| LabelSetSnapshot {
                distribution: s.distribution.to_string(),
                pop: s.pop.to_string(),
                behavior: s.behavior.to_string(),
                requests: load(&s.requests),
                cacheable: load(&s.cacheable),
                hits: load(&s.hits),
                bytes_downloaded: load(&s.bytes_downloaded),
                results: result_labels()
                    .zip(&s.results)
                    .map(|(l, c)| (l.to_owned(), load(c)))
                    .filter(|x| x.1 > 0)
                    .collect(),
                status_classes: StatusClass::ALL.iter().map(|c| c.label()).zip(s.classes.iter().map(load)).collect(),
            })
            .collect()
    }

    /// Distributions that have per-minute series.
    pub fn distributions(&self) -> Vec<String> {
        self.series.distributions()
    }

    /// Per-minute counts of one distribution in `[start, end)` (for dashboards).
    pub fn minutes(
        &self,
        distribution_id: &str,
        start: std::time::SystemTime,
        end: std::time::SystemTime,
    ) -> Vec<MinuteStats> {
        self.series.minutes(distribution_id, start, end)
    }

    /// CloudWatch `GetMetricStatistics` for one distribution (see [`crate::series`] for
    /// what each statistic means). An unknown metric or distribution gives no datapoints,
    /// as on CloudWatch; invalid parameters give CloudWatch's error.
    pub fn statistics(&self, query: &Query<'_>) -> Result<Vec<Datapoint>, StatisticsError> {
        self.series.statistics(query, &[])
    }

    /// [`Metrics::statistics`] over this node's minutes and other nodes' (`(minute, data)`
    /// of the same distribution, as [`Metrics::export_minutes`] wrote them): a fleet's sums.
    pub fn statistics_with(
        &self,
        query: &Query<'_>,
        remote: &[(i64, String)],
    ) -> Result<Vec<Datapoint>, StatisticsError> {
        self.series.statistics(query, remote)
    }

    /// This node's per-minute counts from `from_minute` (Unix minutes) on, serialized for
    /// the other nodes of a fleet: `(distribution id, minute, data)`.
    pub fn export_minutes(&self, from_minute: i64) -> Vec<(String, i64, String)> {
        self.series.export(from_minute)
    }

    /// The registry in Prometheus' text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let sets = self.all_sets();
        let mut out = String::with_capacity(1024 + sets.len() * 2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        type Counter = fn(&LabelSet) -> &AtomicU64;
        let simple: [(&str, &str, Counter); 5] = [
            ("cachalot_edge_requests_total", "Viewer requests.", |s| &s.requests),
            (
                "cachalot_edge_downloaded_bytes_total",
                "Bytes sent to viewers (sc-bytes) for GET, HEAD and OPTIONS requests.",
                |s| &s.bytes_downloaded,
            ),
            (
                "cachalot_edge_uploaded_bytes_total",
                "Bytes received from viewers (cs-bytes) for POST and PUT requests.",
                |s| &s.bytes_uploaded,
            ),
            (
                "cachalot_edge_cacheable_requests_total",
                "GET, HEAD and OPTIONS requests with result Hit, RefreshHit or Miss and status below 400.",
                |s| &s.cacheable,
            ),
            (
                "cachalot_edge_cache_hits_total",
                "Cacheable requests served from cache (Hit, RefreshHit, or an Origin Shield hit).",
                |s| &s.hits,
            ),
        ];
        for (name, help, get) in simple {
            header(&mut out, name, help, "counter");
            for s in &sets {
                sample(&mut out, name, s, &[], load(get(s)));
            }
        }

        let name = "cachalot_edge_results_total";
        header(&mut out, name, "Viewer requests by x-edge-result-type.", "counter");
        for s in &sets {
            for (label, c) in result_labels().zip(&s.results) {
                let v = load(c);
                if v > 0 {
                    sample(&mut out, name, s, &[("result_type", label)], v);
                }
            }
        }

        let name = "cachalot_edge_responses_total";
        header(&mut out, name, "Viewer responses by status class (000: no response sent).", "counter");
        for s in &sets {
            for (class, c) in StatusClass::ALL.iter().zip(&s.classes) {
                sample(&mut out, name, s, &[("status_class", class.label())], load(c));
            }
        }

        let name = "cachalot_edge_error_responses_total";
        header(&mut out, name, "Viewer responses with the statuses CloudWatch tracks individually.", "counter");
        for s in &sets {
            for (status, c) in TRACKED_ERROR_STATUSES.iter().zip(&s.tracked) {
                sample(&mut out, name, s, &[("status", &status.to_string())], load(c));
            }
        }

        let name = "cachalot_edge_origin_latency_seconds";
        header(
            &mut out,
            name,
            "Time from receiving the request to the first byte, for requests served from the origin.",
            "histogram",
        );
        for s in &sets {
            let mut cumulative = 0;
            for (i, c) in s.latency_buckets.iter().enumerate() {
                cumulative += load(c);
                let le = LATENCY_BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                sample(&mut out, &format!("{name}_bucket"), s, &[("le", &le)], cumulative);
            }
            let sum = load(&s.latency_sum_us) as f64 / 1e6;
            labels_line(&mut out, &format!("{name}_sum"), s, &[]);
            let _ = writeln!(out, " {sum}");
            sample(&mut out, &format!("{name}_count"), s, &[], load(&s.latency_count));
        }

        header(&mut out, "cachalot_metrics_label_sets", "Distinct (distribution, pop, behavior) label sets.", "gauge");
        let _ = writeln!(out, "cachalot_metrics_label_sets {}", self.label_sets.load(Ordering::Relaxed));
        header(
            &mut out,
            "cachalot_metrics_overflow_observations_total",
            "Requests counted under an `other` label set because the label-set cap was reached.",
            "counter",
        );
        let _ = writeln!(out, "cachalot_metrics_overflow_observations_total {}", load(&self.overflow));
        header(
            &mut out,
            "cachalot_metrics_series_rejected_observations_total",
            "Requests missing from per-minute series because the distribution cap was reached.",
            "counter",
        );
        let _ = writeln!(out, "cachalot_metrics_series_rejected_observations_total {}", load(&self.series.rejected));
        out
    }
}

fn result_labels() -> impl Iterator<Item = &'static str> {
    RESULT_TYPES.iter().map(ResultType::as_str).chain(std::iter::once("Other"))
}

/// Appends `# HELP` and `# TYPE` lines.
pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn labels_line(out: &mut String, name: &str, s: &LabelSet, extra: &[(&str, &str)]) {
    out.push_str(name);
    out.push_str("{distribution=\"");
    escape_label(out, &s.distribution);
    out.push_str("\",pop=\"");
    escape_label(out, &s.pop);
    out.push_str("\",behavior=\"");
    escape_label(out, &s.behavior);
    out.push('"');
    for (k, v) in extra {
        let _ = write!(out, ",{k}=\"");
        escape_label(out, v);
        out.push('"');
    }
    out.push('}');
}

fn sample(out: &mut String, name: &str, s: &LabelSet, extra: &[(&str, &str)], value: u64) {
    labels_line(out, name, s, extra);
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn record(pop: &str, result: ResultType, status: u16) -> LogRecord {
        LogRecord {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            edge_location: pop.into(),
            method: "GET".into(),
            status: Some(status),
            sc_bytes: 1000,
            response_result_type: result.clone(),
            detailed_result_type: result.clone(),
            result_type: result,
            time_to_first_byte: Some(Duration::from_millis(40)),
            ..LogRecord::default()
        }
    }

    #[test]
    fn label_sets_are_capped_with_an_other_bucket() {
        let m = Metrics::new(MetricsConfig { max_label_sets: 2, ..MetricsConfig::default() });
        m.observe("E1", "/a/*", &record("LHR50-C1", ResultType::Hit, 200));
        m.observe("E1", "/b/*", &record("LHR50-C1", ResultType::Hit, 200));
        m.observe("E1", "/c/*", &record("LHR50-C1", ResultType::Miss, 200));
        m.observe("E1", "/d/*", &record("LHR50-C1", ResultType::Miss, 200));
        let sets = m.label_sets();
        assert_eq!(sets.len(), 3);
        let other = sets.iter().find(|s| s.behavior == "other").unwrap();
        assert_eq!((other.distribution.as_str(), other.requests), ("E1", 2));
        assert!(m.render_prometheus().contains("cachalot_metrics_overflow_observations_total 2"));
    }

    #[test]
    fn labels_are_escaped() {
        let m = Metrics::new(MetricsConfig::default());
        m.observe("E1", "/we\"ird\\path\n*", &record("LHR50-C1", ResultType::Hit, 200));
        let text = m.render_prometheus();
        assert!(text.contains(r#"behavior="/we\"ird\\path\n*""#), "{text}");
    }
}
