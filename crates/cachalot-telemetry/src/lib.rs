//! Cachalot's telemetry: CloudFront standard access logs (writer **and** parser) and the
//! metrics registry (Prometheus text, per-minute CloudWatch series).
//!
//! **Owns**
//! - [`format`]: the 33-field [`LogRecord`], CloudFront's value encoding, the header lines
//!   — an API boundary read by Athena, GoAccess and `cachalot analyze`;
//! - [`parse`]: a streaming reader of CloudFront's real files (gzip or plain, any
//!   `#Fields:` layout), shared with the doctor;
//! - [`sink`]: the background writer of `<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz`;
//! - [`outcome`]: the one definition of how a request counts (errors, cacheable, hit);
//! - [`metrics`] and [`series`]: Prometheus counters and `GetMetricStatistics`;
//! - [`generate`]: a deterministic generator of realistic logs for benchmarks and fixtures;
//! - [`rng`]: the seeded pseudo-random generator both of them draw from.
//!
//! **Must not**: depend on the proxy or the control plane (only `cachalot-config` is
//! used), block a request on disk I/O, read the clock on the request path (the record's
//! timestamp is the time; only the writer thread reads the clock, to schedule flushes), or
//! panic on any input.
//!
//! # How the proxy calls it
//!
//! One [`Telemetry`] per process; one [`DistributionCtx`] per distribution (rebuilt when a
//! new config snapshot is published); one [`Telemetry::record`] per request, after the last
//! byte was sent. That one call feeds the log file and the metrics, so they always agree.
//!
//! ```
//! use cachalot_telemetry::{DistributionCtx, LogDestination, LogRecord, ResultType, Telemetry, TelemetryConfig};
//! use std::time::{Duration, SystemTime};
//!
//! let folder = std::env::temp_dir().join(format!("cachalot-doc-{}", std::process::id()));
//! let telemetry = Telemetry::new(TelemetryConfig::default())?;
//! // Usually `DistributionCtx::from_config(&distribution, &config_file.buckets)`.
//! let ctx = DistributionCtx::new("E1EXAMPLE")
//!     .with_logs(LogDestination::new(&folder, "cf-logs/", "E1EXAMPLE"), false);
//!
//! // Per request: the proxy fills the record (time passed in, never read here)…
//! let record = LogRecord {
//!     timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
//!     edge_location: "LHR50-C1".into(),
//!     method: "GET".into(),
//!     uri_stem: "/index.html".into(),
//!     status: Some(200),
//!     result_type: ResultType::Hit,
//!     response_result_type: ResultType::Hit,
//!     detailed_result_type: ResultType::Hit,
//!     ..LogRecord::default()
//! };
//! // …and records it once, with the matched behavior's path pattern.
//! telemetry.record(&ctx, "*", record);
//!
//! assert!(telemetry.render_prometheus().contains("cachalot_edge_requests_total"));
//! telemetry.shutdown(); // on SIGTERM/SIGINT: every queued line is in a published file
//! # std::fs::remove_dir_all(&folder).ok();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How the doctor reads logs
//!
//! ```no_run
//! use cachalot_telemetry::parse::LogReader;
//! use cachalot_telemetry::{Field, outcome};
//!
//! let mut reader = LogReader::open("E1EXAMPLE.2024-01-01-10.ABC.gz")?;
//! let (mut cacheable, mut hits) = (0u64, 0u64);
//! while let Some(line) = reader.next_line() {
//!     let line = match line {
//!         Ok(line) => line,
//!         Err(e) => { eprintln!("warning: {e}"); continue } // file:line: what is wrong
//!     };
//!     let result = line.result_type(Field::EdgeResultType);
//!     let status = line.status().unwrap_or(None);
//!     if outcome::is_cacheable_request(line.raw(Field::Method), status, &result) {
//!         cacheable += 1;
//!         hits += u64::from(outcome::is_cache_hit(&result, &line.result_type(Field::EdgeDetailedResultType)));
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

mod civil;
pub mod format;
pub mod generate;
pub mod metrics;
pub mod outcome;
pub mod parse;
pub mod rng;
pub mod series;
pub mod sink;
pub mod v2;

pub use format::{Field, LogRecord, ResultType};
pub use metrics::{Metrics, MetricsConfig};
pub use series::{CloudWatchMetric, Datapoint, Query, Statistic, StatisticsError};
pub use sink::{FileFormat, LogDestination, LogSink, SinkConfig};
pub use v2::RecordExtras;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Settings of [`Telemetry`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// Log sink settings.
    pub sink: SinkConfig,
    /// Metrics registry settings.
    pub metrics: MetricsConfig,
}

/// What telemetry needs to know about one distribution.
#[derive(Debug, Clone)]
pub struct DistributionCtx {
    id: Arc<str>,
    log: Option<Arc<LogDestination>>,
    include_cookies: bool,
    /// Standard logging (v2) deliveries.
    v2: Vec<Arc<LogDestination>>,
}

/// A distribution's `Logging.Bucket` has no entry in the config's `Buckets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedBucket {
    /// The distribution.
    pub distribution_id: String,
    /// The bucket name.
    pub bucket: String,
}

impl std::fmt::Display for UnmappedBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "distribution {} logs to bucket `{}`, which `Buckets` does not map to a folder",
            self.distribution_id, self.bucket
        )
    }
}

impl std::error::Error for UnmappedBucket {}

impl DistributionCtx {
    /// A distribution without standard logging (metrics only).
    pub fn new(distribution_id: &str) -> DistributionCtx {
        DistributionCtx { id: distribution_id.into(), log: None, include_cookies: false, v2: Vec::new() }
    }

    /// Enables standard logging into `dest`; `include_cookies` is `Logging.IncludeCookies`.
    pub fn with_logs(mut self, dest: LogDestination, include_cookies: bool) -> DistributionCtx {
        self.log = Some(Arc::new(dest));
        self.include_cookies = include_cookies;
        self
    }

    /// From the validated config: logging as the distribution's `Logging` says, into the
    /// folder `buckets` (the config file's `Buckets`) maps its bucket to.
    pub fn from_config(
        distribution: &cachalot_config::model::Distribution,
        buckets: &BTreeMap<String, String>,
    ) -> Result<DistributionCtx, UnmappedBucket> {
        let ctx = DistributionCtx::new(&distribution.id);
        let Some(logging) = &distribution.logging else { return Ok(ctx) };
        let folder = buckets.get(&logging.bucket).ok_or_else(|| UnmappedBucket {
            distribution_id: distribution.id.clone(),
            bucket: logging.bucket.clone(),
        })?;
        let dest = LogDestination::new(Path::new(folder), &logging.prefix, &distribution.id);
        Ok(ctx.with_logs(dest, logging.include_cookies))
    }

    /// Adds a standard logging (v2) delivery (a destination made with [`LogDestination::v2`]).
    pub fn with_delivery(mut self, dest: LogDestination) -> DistributionCtx {
        self.v2.push(Arc::new(dest));
        self
    }

    /// The v2 deliveries' destinations.
    pub fn deliveries(&self) -> impl Iterator<Item = &LogDestination> {
        self.v2.iter().map(|d| &**d)
    }

    /// The distribution id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where its log files go, when logging is enabled.
    pub fn log_destination(&self) -> Option<&LogDestination> {
        self.log.as_deref()
    }
}

/// Reads one counter of a file format's counters.
type PerFormat = fn(&sink::FormatStats) -> &std::sync::atomic::AtomicU64;

/// Logs and metrics for the whole process (see the crate docs for how to call it).
#[derive(Debug)]
pub struct Telemetry {
    metrics: Metrics,
    sink: LogSink,
}

impl Telemetry {
    /// Starts the log writer thread and an empty registry.
    pub fn new(config: TelemetryConfig) -> io::Result<Telemetry> {
        Ok(Telemetry { metrics: Metrics::new(config.metrics), sink: LogSink::start(config.sink)? })
    }

    /// Records one finished request of the distribution `ctx`, served by the behavior whose
    /// path pattern is `behavior`: counts it in the metrics and, when the distribution logs,
    /// queues its log line (the cookie is blanked unless the distribution includes cookies).
    /// Never blocks on I/O.
    pub fn record(&self, ctx: &DistributionCtx, behavior: &str, record: LogRecord) {
        self.record_with(ctx, behavior, record, &RecordExtras::default());
    }

    /// [`Telemetry::record`] with the values only standard logging (v2) writes: each v2
    /// delivery of the distribution gets one record in its format, with its fields.
    pub fn record_with(&self, ctx: &DistributionCtx, behavior: &str, mut record: LogRecord, extras: &RecordExtras) {
        self.metrics.observe(&ctx.id, behavior, &record);
        for dest in &ctx.v2 {
            let Some(delivery) = dest.delivery() else { continue };
            let mut line = Vec::with_capacity(64 + delivery.fields.len() * 16);
            let cookie = if delivery.include_cookies { None } else { Some(std::mem::take(&mut record.cookie)) };
            let view = v2::RecordView { record: &record, distribution_id: &ctx.id, behavior, extras };
            v2::write_record(&mut line, delivery.format, &delivery.fields, &delivery.delimiter, &view);
            if let Some(cookie) = cookie {
                record.cookie = cookie;
            }
            self.sink.submit(dest, record.timestamp, line);
        }
        if let Some(dest) = &ctx.log {
            if !ctx.include_cookies {
                record.cookie.clear();
            }
            let mut line = Vec::with_capacity(512);
            format::write_record(&mut line, &record);
            self.sink.submit(dest, record.timestamp, line);
        }
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The log sink.
    pub fn sink(&self) -> &LogSink {
        &self.sink
    }

    /// Everything in Prometheus' text format: request metrics and the log sink's counters.
    pub fn render_prometheus(&self) -> String {
        let mut out = self.metrics.render_prometheus();
        let stats = self.sink.stats();
        let counters = [
            ("cachalot_logs_accepted_lines_total", "Access log lines queued for writing.", &stats.accepted),
            (
                "cachalot_logs_dropped_lines_total",
                "Access log lines dropped because the queue was full.",
                &stats.dropped,
            ),
            ("cachalot_logs_written_lines_total", "Access log lines in published files.", &stats.written),
            ("cachalot_logs_lost_lines_total", "Access log lines lost to I/O errors.", &stats.lost),
            ("cachalot_logs_files_total", "Access log files published.", &stats.files),
            ("cachalot_logs_write_errors_total", "I/O errors while writing access logs.", &stats.write_errors),
        ];
        for (name, help, value) in counters {
            metrics::header(&mut out, name, help, "counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let per_format: [(&str, &str, PerFormat); 3] = [
            (
                "cachalot_logs_format_written_lines_total",
                "Access log records in published files, by file format.",
                |f| &f.written,
            ),
            ("cachalot_logs_format_files_total", "Access log files published, by file format.", |f| &f.files),
            ("cachalot_logs_format_bytes_total", "Bytes of access log files published, by file format.", |f| &f.bytes),
        ];
        for (name, help, get) in per_format {
            metrics::header(&mut out, name, help, "counter");
            for format in FileFormat::ALL {
                let value = get(&stats.formats[format.index()]).load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{format=\"{}\"}} {value}", format.label());
            }
        }
        out
    }

    /// Publishes every queued log line now and waits for it.
    pub fn flush(&self) {
        self.sink.flush();
    }

    /// Publishes every queued log line and stops the writer (call on SIGTERM/SIGINT).
    pub fn shutdown(&self) {
        self.sink.shutdown();
    }
}
