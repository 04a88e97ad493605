//! Per-minute series per distribution, and CloudWatch's `GetMetricStatistics` over them.
//!
//! **What a datapoint is.** CloudFront publishes its distribution metrics at one-minute
//! granularity. Here every metric except `OriginLatency` has exactly one value per minute
//! that had traffic (the minute's request count, byte count, or rate in percent);
//! `OriginLatency` keeps every request served from the origin as a sample (in a histogram
//! with 1/32-octave buckets, ≤ 1.6 % relative error, exact count/sum/min/max), so its
//! percentiles mean "of requests". For a period covering several minutes:
//!
//! - `SampleCount` = minutes with a value (`OriginLatency`: requests);
//! - `Sum` = sum of the minute values; `Average` = `Sum / SampleCount` (so the `Average` of
//!   a rate over five minutes is the mean of the five per-minute rates, as CloudWatch
//!   computes it from one-minute datapoints);
//! - `Minimum` / `Maximum` = extremes of the minute values (of the samples for latency);
//! - `pNN` = nearest-rank percentile of the minute values (of the samples for latency).
//!
//! A minute with no requests has no datapoint for any metric; a minute with no cacheable
//! request has no `CacheHitRate` datapoint. Data is kept for [`DEFAULT_RETENTION`] (26 h)
//! after the newest minute seen; older minutes are evicted, so memory is bounded.
//!
//! **Hot path.** Each distribution has several shards, each a small mutex-protected map of
//! the current minutes; a thread always uses the same shard, so threads rarely contend.
//! Completed minutes move to a per-distribution archive that queries read.

use crate::civil;
use crate::outcome::{Outcome, StatusClass, TRACKED_ERROR_STATUSES};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

/// How long minutes are kept after the newest one seen.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(26 * 3600);

/// Most datapoints one `GetMetricStatistics` call may return (CloudWatch's limit).
pub const MAX_DATAPOINTS: u64 = 1440;

const SHARDS: usize = 8;

/// The `AWS/CloudFront` distribution metrics served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloudWatchMetric {
    /// `Requests` (Sum, None).
    Requests,
    /// `BytesDownloaded` (Sum, None).
    BytesDownloaded,
    /// `BytesUploaded` (Sum, None).
    BytesUploaded,
    /// `TotalErrorRate` (Average, Percent).
    TotalErrorRate,
    /// `4xxErrorRate` (Average, Percent).
    ErrorRate4xx,
    /// `5xxErrorRate` (Average, Percent).
    ErrorRate5xx,
    /// `401ErrorRate`, `403ErrorRate`, … (Average, Percent): the status.
    StatusErrorRate(u16),
    /// `CacheHitRate` (Average, Percent).
    CacheHitRate,
    /// `OriginLatency` (percentiles, Milliseconds).
    OriginLatency,
}

impl CloudWatchMetric {
    /// Every metric, in CloudFront's console order.
    pub const ALL: [CloudWatchMetric; 13] = [
        CloudWatchMetric::Requests,
        CloudWatchMetric::BytesDownloaded,
        CloudWatchMetric::BytesUploaded,
        CloudWatchMetric::TotalErrorRate,
        CloudWatchMetric::ErrorRate4xx,
        CloudWatchMetric::ErrorRate5xx,
        CloudWatchMetric::StatusErrorRate(401),
        CloudWatchMetric::StatusErrorRate(403),
        CloudWatchMetric::StatusErrorRate(404),
        CloudWatchMetric::StatusErrorRate(502),
        CloudWatchMetric::StatusErrorRate(503),
        CloudWatchMetric::StatusErrorRate(504),
        CloudWatchMetric::CacheHitRate,
    ];

    /// The metric with this `MetricName`.
    pub fn from_name(name: &str) -> Option<CloudWatchMetric> {
        Some(match name {
            "Requests" => CloudWatchMetric::Requests,
            "BytesDownloaded" => CloudWatchMetric::BytesDownloaded,
            "BytesUploaded" => CloudWatchMetric::BytesUploaded,
            "TotalErrorRate" => CloudWatchMetric::TotalErrorRate,
            "4xxErrorRate" => CloudWatchMetric::ErrorRate4xx,
            "5xxErrorRate" => CloudWatchMetric::ErrorRate5xx,
            "CacheHitRate" => CloudWatchMetric::CacheHitRate,
            "OriginLatency" => CloudWatchMetric::OriginLatency,
            other => {
                let code: u16 = other.strip_suffix("ErrorRate")?.parse().ok()?;
                if !TRACKED_ERROR_STATUSES.contains(&code) {
                    return None;
                }
                CloudWatchMetric::StatusErrorRate(code)
            }
        })
    }

    /// The `MetricName`.
    pub fn name(self) -> String {
        match self {
            CloudWatchMetric::Requests => "Requests".into(),
            CloudWatchMetric::BytesDownloaded => "BytesDownloaded".into(),
            CloudWatchMetric::BytesUploaded => "BytesUploaded".into(),
            CloudWatchMetric::TotalErrorRate => "TotalErrorRate".into(),
            CloudWatchMetric::ErrorRate4xx => "4xxErrorRate".into(),
            CloudWatchMetric::ErrorRate5xx => "5xxErrorRate".into(),
            CloudWatchMetric::StatusErrorRate(code) => format!("{code}ErrorRate"),
            CloudWatchMetric::CacheHitRate => "CacheHitRate".into(),
            CloudWatchMetric::OriginLatency => "OriginLatency".into(),
        }
    }

    /// CloudWatch's unit name.
    pub fn unit(self) -> &'static str {
        match self {
            CloudWatchMetric::Requests | CloudWatchMetric::BytesDownloaded | CloudWatchMetric::BytesUploaded => "None",
            CloudWatchMetric::OriginLatency => "Milliseconds",
            _ => "Percent",
        }
    }
}

/// A basic statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistic {
    /// `SampleCount`.
    SampleCount,
    /// `Average`.
    Average,
    /// `Sum`.
    Sum,
    /// `Minimum`.
    Minimum,
    /// `Maximum`.
    Maximum,
}

impl Statistic {
    /// Parses CloudWatch's spelling.
    pub fn from_name(name: &str) -> Option<Statistic> {
        Some(match name {
            "SampleCount" => Statistic::SampleCount,
            "Average" => Statistic::Average,
            "Sum" => Statistic::Sum,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ => return None,
        })
    }
}

/// One `GetMetricStatistics` datapoint; only the statistics asked for are set.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// Start of the period.
    pub timestamp: SystemTime,
    /// CloudWatch unit (`None`, `Percent`, `Milliseconds`).
    pub unit: &'static str,
    /// `SampleCount`.
    pub sample_count: Option<f64>,
    /// `Average`.
    pub average: Option<f64>,
    /// `Sum`.
    pub sum: Option<f64>,
    /// `Minimum`.
    pub minimum: Option<f64>,
    /// `Maximum`.
    pub maximum: Option<f64>,
    /// Extended statistics, named as requested (`p99`, `p99.9`).
    pub extended: Vec<(String, f64)>,
}

/// A rejected query, named after CloudWatch's error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatisticsError {
    /// `InvalidParameterValue`.
    InvalidParameterValue(String),
    /// `InvalidParameterCombination`.
    InvalidParameterCombination(String),
    /// `MissingParameter`.
    MissingParameter(String),
}

impl StatisticsError {
    /// CloudWatch's error code.
    pub fn code(&self) -> &'static str {
        match self {
            StatisticsError::InvalidParameterValue(_) => "InvalidParameterValue",
            StatisticsError::InvalidParameterCombination(_) => "InvalidParameterCombination",
            StatisticsError::MissingParameter(_) => "MissingParameter",
        }
    }
}

impl fmt::Display for StatisticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatisticsError::InvalidParameterValue(m)
            | StatisticsError::InvalidParameterCombination(m)
            | StatisticsError::MissingParameter(m) => write!(f, "{}: {m}", self.code()),
        }
    }
}

impl std::error::Error for StatisticsError {}

/// A latency histogram in microseconds: exact below 32 µs, then 32 buckets per octave.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FineHistogram {
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
    /// (bucket, count), sorted by bucket.
    buckets: Vec<(u16, u32)>,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

fn bucket_of(us: u64) -> u16 {
    if us < SUB {
        return us as u16;
    }
    let e = 63 - us.leading_zeros();
    let sub = (us >> (e - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(e - SUB_BITS) * SUB + sub) as u16
}

/// The middle of a bucket's range.
fn bucket_value(i: u16) -> u64 {
    let i = u64::from(i);
    if i < SUB {
        return i;
    }
    let k = i - SUB;
    let shift = (k / SUB) as u32;
    let lower = u128::from(SUB + k % SUB) << shift;
    let upper = u128::from(SUB + k % SUB + 1) << shift;
    u64::try_from((lower + upper - 1) / 2).unwrap_or(u64::MAX)
}

impl FineHistogram {
    fn add(&mut self, us: u64) {
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        let b = bucket_of(us);
        match self.buckets.binary_search_by_key(&b, |&(k, _)| k) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(1),
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
    }

    fn merge(&mut self, other: &FineHistogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min_us < self.min_us {
            self.min_us = other.min_us;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut a, mut b) = (self.buckets.iter().peekable(), other.buckets.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(ka, ca)), Some(&&(kb, cb))) => {
                    if ka == kb {
                        merged.push((ka, ca.saturating_add(cb)));
                        a.next();
                        b.next();
                    } else if ka < kb {
                        merged.push((ka, ca));
                        a.next();
                    } else {
                        merged.push((kb, cb));
                        b.next();
                    }
                }
                (Some(&&x), None) | (None, Some(&&x)) => {
                    merged.push(x);
                    a.next();
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
    }

    /// Nearest-rank percentile in microseconds.
    fn percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        if p <= 0.0 {
            return Some(self.min_us);
        }
        if p >= 100.0 {
            return Some(self.max_us);
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        // The extremes are known exactly.
        if rank <= 1 {
            return Some(self.min_us);
        }
        if rank >= self.count {
            return Some(self.max_us);
        }
        let mut seen = 0u64;
        for &(b, c) in &self.buckets {
            seen += u64::from(c);
            if seen >= rank {
                return Some(bucket_value(b).clamp(self.min_us, self.max_us));
            }
        }
        Some(self.max_us)
    }
}

/// One distribution's counts for one minute (serialized as is between the nodes of a fleet).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MinuteAgg {
    requests: u64,
    bytes_downloaded: u64,
    bytes_uploaded: u64,
    errors_4xx: u64,
    errors_5xx: u64,
    tracked: [u64; 6],
    cacheable: u64,
    hits: u64,
    latency: FineHistogram,
}

impl MinuteAgg {
    fn add(&mut self, o: &Outcome) {
        self.requests += 1;
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(o.bytes_downloaded);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(o.bytes_uploaded);
        match o.status_class {
            StatusClass::ClientError => self.errors_4xx += 1,
            StatusClass::ServerError => self.errors_5xx += 1,
            _ => {}
        }
        if let Some(i) = o.tracked_error.and_then(|s| TRACKED_ERROR_STATUSES.iter().position(|&t| t == s)) {
            self.tracked[i] += 1;
        }
        self.cacheable += u64::from(o.cacheable);
        self.hits += u64::from(o.hit);
        if let Some(d) = o.origin_latency {
            self.latency.add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        }
    }

    fn merge(&mut self, o: &MinuteAgg) {
        self.requests += o.requests;
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(o.bytes_downloaded);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(o.bytes_uploaded);
        self.errors_4xx += o.errors_4xx;
        self.errors_5xx += o.errors_5xx;
        for (a, b) in self.tracked.iter_mut().zip(o.tracked) {
            *a += b;
        }
        self.cacheable += o.cacheable;
        self.hits += o.hits;
        self.latency.merge(&o.latency);
    }

    /// The minute's single value for a per-minute metric.
    fn value(&self, metric: CloudWatchMetric) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        let pct = |n: u64, d: u64| if d == 0 { None } else { Some(n as f64 * 100.0 / d as f64) };
        match metric {
            CloudWatchMetric::Requests => Some(self.requests as f64),
            CloudWatchMetric::BytesDownloaded => Some(self.bytes_downloaded as f64),
            CloudWatchMetric::BytesUploaded => Some(self.bytes_uploaded as f64),
            CloudWatchMetric::TotalErrorRate => pct(self.errors_4xx + self.errors_5xx, self.requests),
            CloudWatchMetric::ErrorRate4xx => pct(self.errors_4xx, self.requests),
            CloudWatchMetric::ErrorRate5xx => pct(self.errors_5xx, self.requests),
            CloudWatchMetric::StatusErrorRate(code) => {
                let i = TRACKED_ERROR_STATUSES.iter().position(|&t| t == code)?;
                pct(self.tracked[i], self.requests)
            }
            CloudWatchMetric::CacheHitRate => pct(self.hits, self.cacheable),
            CloudWatchMetric::OriginLatency => None,
        }
    }

    fn snapshot(&self, minute: i64) -> MinuteStats {
        MinuteStats {
            minute_start: civil::from_unix_seconds(minute * 60),
            requests: self.requests,
            bytes_downloaded: self.bytes_downloaded,
            bytes_uploaded: self.bytes_uploaded,
            errors_4xx: self.errors_4xx,
            errors_5xx: self.errors_5xx,
            tracked_errors: TRACKED_ERROR_STATUSES.into_iter().zip(self.tracked).collect(),
            cacheable: self.cacheable,
            hits: self.hits,
            origin_latency_count: self.latency.count,
            origin_latency_sum_ms: self.latency.sum_us as f64 / 1000.0,
        }
    }
}

/// One distribution's counts for one minute (for dashboards).
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteStats {
    /// Start of the minute.
    pub minute_start: SystemTime,
    /// Requests.
    pub requests: u64,
    /// Bytes downloaded (GET/HEAD/OPTIONS `sc-bytes`).
    pub bytes_downloaded: u64,
    /// Bytes uploaded (POST/PUT `cs-bytes`).
    pub bytes_uploaded: u64,
    /// Responses 400–499.
    pub errors_4xx: u64,
    /// Responses 500–599.
    pub errors_5xx: u64,
    /// Responses with 401, 403, 404, 502, 503, 504.
    pub tracked_errors: Vec<(u16, u64)>,
    /// Cacheable requests (CacheHitRate's denominator).
    pub cacheable: u64,
    /// Cache hits (CacheHitRate's numerator).
    pub hits: u64,
    /// Requests with an origin latency sample.
    pub origin_latency_count: u64,
    /// Sum of origin latencies in milliseconds.
    pub origin_latency_sum_ms: f64,
}

#[derive(Default)]
struct Archive {
    minutes: BTreeMap<i64, MinuteAgg>,
    newest: Option<i64>,
}

struct DistSeries {
    shards: Box<[Mutex<BTreeMap<i64, MinuteAgg>>]>,
    archive: Mutex<Archive>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop metrics; the data stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|s| *s)
}

impl DistSeries {
    fn new() -> DistSeries {
        DistSeries {
            shards: (0..SHARDS).map(|_| Mutex::new(BTreeMap::new())).collect(),
            archive: Mutex::new(Archive::default()),
        }
    }

    fn observe(&self, minute: i64, outcome: &Outcome, retention: i64) {
        let mut shard = lock(&self.shards[thread_slot() % SHARDS]);
        shard.entry(minute).or_default().add(outcome);
        let newest = shard.last_key_value().map_or(minute, |(k, _)| *k);
        // Minutes before the previous one are complete (up to stragglers): archive them.
        if shard.first_key_value().is_some_and(|(k, _)| *k < newest - 1) {
            let keep = shard.split_off(&(newest - 1));
            let done = std::mem::replace(&mut *shard, keep);
            drop(shard);
            let mut archive = lock(&self.archive);
            let newest = archive.newest.map_or(newest, |n| n.max(newest));
            archive.newest = Some(newest);
            for (k, agg) in done {
                if k >= newest - retention {
                    archive.minutes.entry(k).or_default().merge(&agg);
                }
            }
            let cutoff = newest - retention;
            if archive.minutes.first_key_value().is_some_and(|(k, _)| *k < cutoff) {
                archive.minutes = archive.minutes.split_off(&cutoff);
            }
        }
    }

    /// Merged minutes in `[from, to)`.
    fn collect(&self, from: i64, to: i64) -> BTreeMap<i64, MinuteAgg> {
        let mut out: BTreeMap<i64, MinuteAgg> = BTreeMap::new();
        if from >= to {
            return out;
        }
        {
            let archive = lock(&self.archive);
            for (k, v) in archive.minutes.range(from..to) {
                out.insert(*k, v.clone());
            }
        }
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for (k, v) in shard.range(from..to) {
                out.entry(*k).or_default().merge(v);
            }
        }
        out
    }
}

/// All distributions' per-minute series.
pub(crate) struct SeriesStore {
    dists: RwLock<HashMap<Box<str>, Arc<DistSeries>>>,
    retention_minutes: i64,
    max_distributions: usize,
    /// Observations not recorded because `max_distributions` was reached.
    pub(crate) rejected: AtomicU64,
}

impl SeriesStore {
    pub(crate) fn new(retention: Duration, max_distributions: usize) -> SeriesStore {
        let minutes = i64::try_from(retention.as_secs().div_ceil(60)).unwrap_or(i64::MAX / 2).max(1);
        SeriesStore {
            dists: RwLock::new(HashMap::new()),
            retention_minutes: minutes,
            max_distributions,
            rejected: AtomicU64::new(0),
        }
    }

    fn get(&self, distribution_id: &str) -> Option<Arc<DistSeries>> {
        self.dists.read().unwrap_or_else(|e| e.into_inner()).get(distribution_id).cloned()
    }

    pub(crate) fn observe(&self, distribution_id: &str, at: SystemTime, outcome: &Outcome) {
        let series = match self.get(distribution_id) {
            Some(s) => s,
            None => {
                let mut dists = self.dists.write().unwrap_or_else(|e| e.into_inner());
                if !dists.contains_key(distribution_id) && dists.len() >= self.max_distributions {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                dists.entry(distribution_id.into()).or_insert_with(|| Arc::new(DistSeries::new())).clone()
            }
        };
        let minute = civil::unix_seconds(at).div_euclid(60);
        series.observe(minute, outcome, self.retention_minutes);
    }

    pub(crate) fn distributions(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.dists.read().unwrap_or_else(|e| e.into_inner()).keys().map(|k| k.to_string()).collect();
        ids.sort();
        ids
    }

    pub(crate) fn minutes(&self, distribution_id: &str, start: SystemTime, end: SystemTime) -> Vec<MinuteStats> {
        let Some(series) = self.get(distribution_id) else { return Vec::new() };
        let from = civil::unix_seconds(start).div_euclid(60);
        let to = ceil_minute(end);
        series.collect(from, to).iter().map(|(k, v)| v.snapshot(*k)).collect()
    }

    /// This node's minutes from `from_minute` on, each serialized, for the fleet store:
    /// `(distribution id, minute, data)`.
    pub(crate) fn export(&self, from_minute: i64) -> Vec<(String, i64, String)> {
        let dists: Vec<(String, Arc<DistSeries>)> = self
            .dists
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut out = Vec::new();
        for (id, series) in dists {
            for (minute, agg) in series.collect(from_minute, i64::MAX) {
                if let Ok(data) = serde_json::to_string(&agg) {
                    out.push((id.clone(), minute, data));
                }
            }
        }
        out
    }

    /// `GetMetricStatistics` over this node's minutes and `remote` ones (other nodes' of
    /// the same distribution: `(minute, data)` as [`SeriesStore::export`] wrote them).
    pub(crate) fn statistics(
        &self,
        q: &Query<'_>,
        remote: &[(i64, String)],
    ) -> Result<Vec<Datapoint>, StatisticsError> {
        let plan = validate(q)?;
        let Some(metric) = CloudWatchMetric::from_name(q.metric) else { return Ok(Vec::new()) };
        let local = self.get(q.distribution_id);
        if local.is_none() && remote.is_empty() {
            return Ok(Vec::new());
        }
        let period_minutes = i64::from(q.period_seconds / 60);
        let mut minutes = local.map(|s| s.collect(plan.first_minute, plan.end_minute)).unwrap_or_default();
        for (minute, data) in remote.iter().filter(|(m, _)| (plan.first_minute..plan.end_minute).contains(m)) {
            if let Ok(agg) = serde_json::from_str::<MinuteAgg>(data) {
                minutes.entry(*minute).or_default().merge(&agg);
            }
        }
        let mut out = Vec::new();
        let mut bucket_start = plan.first_minute;
        while bucket_start < plan.end_minute {
            let bucket_end = (bucket_start + period_minutes).min(plan.end_minute);
            let range = minutes.range(bucket_start..bucket_end);
            let point = if metric == CloudWatchMetric::OriginLatency {
                let mut h = FineHistogram::default();
                for (_, agg) in range {
                    h.merge(&agg.latency);
                }
                latency_datapoint(&h, q, &plan)
            } else {
                let values: Vec<f64> = range.filter_map(|(_, agg)| agg.value(metric)).collect();
                values_datapoint(values, q, &plan)
            };
            if let Some(mut p) = point {
                p.timestamp = civil::from_unix_seconds(bucket_start * 60);
                p.unit = metric.unit();
                out.push(p);
            }
            bucket_start += period_minutes;
        }
        Ok(out)
    }
}

fn ceil_minute(t: SystemTime) -> i64 {
    let secs = civil::unix_seconds(t);
    let floor = secs.div_euclid(60);
    // `end` is exclusive, so a minute starting before it is included; sub-second
    // precision is dropped, as CloudWatch works in whole seconds.
    if secs.rem_euclid(60) == 0 { floor } else { floor + 1 }
}

/// A `GetMetricStatistics` query on one distribution (dimensions `DistributionId`,
/// `Region=Global`).
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// `DistributionId` dimension.
    pub distribution_id: &'a str,
    /// `MetricName`.
    pub metric: &'a str,
    /// `StartTime` (inclusive; rounded down to the minute).
    pub start: SystemTime,
    /// `EndTime` (exclusive).
    pub end: SystemTime,
    /// `Period` in seconds: a positive multiple of 60.
    pub period_seconds: u32,
    /// `Statistics`.
    pub statistics: &'a [Statistic],
    /// `ExtendedStatistics` (`p0.0` … `p100`).
    pub extended_statistics: &'a [&'a str],
}

struct Plan {
    first_minute: i64,
    end_minute: i64,
    percentiles: Vec<f64>,
}

fn validate(q: &Query<'_>) -> Result<Plan, StatisticsError> {
    use StatisticsError::*;
    if q.statistics.is_empty() && q.extended_statistics.is_empty() {
        return Err(MissingParameter("Must specify either Statistics or ExtendedStatistics".into()));
    }
    if !q.statistics.is_empty() && !q.extended_statistics.is_empty() {
        return Err(InvalidParameterCombination(
            "Parameters Statistics and ExtendedStatistics are mutually exclusive".into(),
        ));
    }
    if q.statistics.len() > 5 {
        return Err(InvalidParameterValue("The collection Statistics must not have a size greater than 5".into()));
    }
    if q.extended_statistics.len() > 10 {
        return Err(InvalidParameterValue(
            "The collection ExtendedStatistics must not have a size greater than 10".into(),
        ));
    }
    if q.period_seconds == 0 || !q.period_seconds.is_multiple_of(60) {
        return Err(InvalidParameterValue(format!(
            "The parameter Period must be a multiple of 60 for this metric; got {}",
            q.period_seconds
        )));
    }
    let percentiles = q
        .extended_statistics
        .iter()
        .map(|s| {
            s.strip_prefix('p')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|p| (0.0..=100.0).contains(p) && !s.contains(['e', 'E', '+', '-']))
                .ok_or_else(|| {
                    InvalidParameterValue(format!("The value {s} for parameter ExtendedStatistics is not valid"))
                })
        })
        .collect::<Result<Vec<f64>, _>>()?;
    let first_minute = civil::unix_seconds(q.start).div_euclid(60);
    let end_minute = ceil_minute(q.end);
    if end_minute <= first_minute || q.end <= q.start {
        return Err(InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime".into()));
    }
    let period_minutes = i64::from(q.period_seconds / 60);
    let buckets = (end_minute - first_minute + period_minutes - 1) / period_minutes;
    if buckets > MAX_DATAPOINTS as i64 {
        return Err(InvalidParameterCombination(format!(
            "You have requested up to {buckets} datapoints, which exceeds the limit of {MAX_DATAPOINTS}"
        )));
    }
    Ok(Plan { first_minute, end_minute, percentiles })
}

fn empty_point() -> Datapoint {
    Datapoint {
        timestamp: SystemTime::UNIX_EPOCH,
        unit: "None",
        sample_count: None,
        average: None,
        sum: None,
        minimum: None,
        maximum: None,
        extended: Vec::new(),
    }
}

fn fill_basic(p: &mut Datapoint, stats: &[Statistic], count: f64, sum: f64, min: f64, max: f64) {
    for s in stats {
        match s {
            Statistic::SampleCount => p.sample_count = Some(count),
            Statistic::Average => p.average = Some(sum / count),
            Statistic::Sum => p.sum = Some(sum),
            Statistic::Minimum => p.minimum = Some(min),
            Statistic::Maximum => p.maximum = Some(max),
        }
    }
}

fn values_datapoint(mut values: Vec<f64>, q: &Query<'_>, plan: &Plan) -> Option<Datapoint> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let sum: f64 = values.iter().sum();
    let mut p = empty_point();
    fill_basic(&mut p, q.statistics, n as f64, sum, values[0], values[n - 1]);
    for (name, pct) in q.extended_statistics.iter().zip(&plan.percentiles) {
        let rank = ((pct / 100.0) * n as f64).ceil().max(1.0) as usize;
        p.extended.push(((*name).to_owned(), values[rank.min(n) - 1]));
    }
    Some(p)
}

fn latency_datapoint(h: &FineHistogram, q: &Query<'_>, plan: &Plan) -> Option<Datapoint> {
    if h.count == 0 {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let mut p = empty_point();
    fill_basic(&mut p, q.statistics, h.count as f64, ms(h.sum_us), ms(h.min_us), ms(h.max_us));
    for (name, pct) in q.extended_statistics.iter().zip(&plan.percentiles) {
        if let Some(v) = h.percentile(*pct) {
            p.extended.push(((*name).to_owned(), ms(v)));
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_values_stay_within_their_bucket() {
        for us in [0u64, 1, 31, 32, 33, 63, 64, 65, 1000, 82_000, 1 << 40, u64::MAX] {
            let b = bucket_of(us);
            let v = bucket_value(b);
            assert_eq!(bucket_of(v), b, "{us}");
            let err = (v as f64 - us as f64).abs() / (us.max(1) as f64);
            assert!(err <= 1.0 / 32.0, "{us} → {v}");
        }
    }

    #[test]
    fn histogram_percentiles_are_close_to_exact() {
        let mut h = FineHistogram::default();
        let mut other = FineHistogram::default();
        for i in 1..=1000u64 {
            if i % 2 == 0 { h.add(i * 1000) } else { other.add(i * 1000) }
        }
        h.merge(&other);
        assert_eq!(h.count, 1000);
        assert_eq!(h.percentile(0.0), Some(1000));
        assert_eq!(h.percentile(100.0), Some(1_000_000));
        let p90 = h.percentile(90.0).unwrap() as f64;
        assert!((p90 - 900_000.0).abs() / 900_000.0 < 0.02, "{p90}");
        let p50 = h.percentile(50.0).unwrap() as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.02, "{p50}");
    }

    #[test]
    fn metric_names_round_trip() {
        for m in CloudWatchMetric::ALL.into_iter().chain([CloudWatchMetric::OriginLatency]) {
            assert_eq!(CloudWatchMetric::from_name(&m.name()), Some(m));
        }
        assert_eq!(CloudWatchMetric::from_name("418ErrorRate"), None);
        assert_eq!(CloudWatchMetric::from_name("Nope"), None);
    }
}
