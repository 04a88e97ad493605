//! Adapters that connect the library crates inside `serve`: the control plane
//! drives the edge through [`EdgeBridge`] and runs TestFunction through
//! [`FunctionRunner`]; the edge reports each request to telemetry through
//! [`TelemetryObserver`].

use crate::dashboard::TopMisses;
use arc_swap::ArcSwap;
use cachalot_config::Snapshot;
use cachalot_control::{EdgeLink, FunctionTestError, FunctionTestRequest, FunctionTestResult, FunctionTester};
use cachalot_functions::{Limits, Runtime};
use cachalot_policy::invalidation::InvalidationPath;
use cachalot_proxy::{Edge, Observer, RequestSummary};
use cachalot_telemetry::outcome::Outcome;
use cachalot_telemetry::{DistributionCtx, LogRecord, RecordExtras, Telemetry};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The data plane as the control plane sees it.
pub(crate) struct EdgeBridge {
    pub(crate) edge: Edge,
    pub(crate) observer: Arc<TelemetryObserver>,
}

impl EdgeLink for EdgeBridge {
    fn publish(&self, snapshot: Arc<Snapshot>) {
        // Telemetry first, so the first request of a new distribution finds its log destination.
        self.observer.update(&snapshot);
        self.edge.publish(snapshot);
    }

    fn invalidate(&self, distribution_id: &str, paths: &[String]) -> Result<(), String> {
        let parsed = paths.iter().map(|p| InvalidationPath::parse(p)).collect::<Result<Vec<_>, _>>()?;
        let removed = self.edge.invalidate(distribution_id, &parsed);
        tracing::info!("invalidation of {} path(s) on {distribution_id} removed {removed} object(s)", paths.len());
        Ok(())
    }

    fn fleet(&self, view: &cachalot_control::FleetView) {
        let regional_caches = view
            .regional_caches
            .iter()
            .map(|(region, hosts)| {
                let parents = hosts
                    .iter()
                    .map(|(node_id, address)| cachalot_proxy::FleetParent {
                        node_id: node_id.clone(),
                        address: address.clone(),
                    })
                    .collect();
                (region.clone(), parents)
            })
            .collect();
        self.edge.set_fleet(cachalot_proxy::FleetView {
            node_id: view.node_id.clone(),
            secret: view.secret.clone(),
            regional_caches,
        });
    }
}

/// TestFunction on the same engine as the edge and `cachalot function test`.
pub(crate) struct FunctionRunner;

impl FunctionTester for FunctionRunner {
    fn test(&self, r: &FunctionTestRequest) -> Result<FunctionTestResult, FunctionTestError> {
        let runtime = if r.runtime == "cloudfront-js-1.0" { Runtime::Js1 } else { Runtime::Js2 };
        let out = cachalot_functions::test_function(
            &r.name,
            runtime,
            &r.code,
            &r.event_object,
            r.key_value_stores.clone(),
            Limits::default(),
            // TestFunction runs now, as CloudFront's does: what `Date` reads in the function.
            std::time::SystemTime::now(),
        )
        .map_err(|e| FunctionTestError::InvalidEvent(e.to_string()))?;
        Ok(FunctionTestResult {
            compute_utilization: out.compute_utilization,
            execution_logs: out.function_execution_logs,
            error_message: out.function_error_message,
            output: out.function_output,
        })
    }
}

/// Turns the edge's request summaries into access log lines, metrics and the dashboard's
/// missed-path counts.
pub(crate) struct TelemetryObserver {
    telemetry: Arc<Telemetry>,
    /// Bucket name → folder (absolute), from the config file's `Buckets`.
    buckets: BTreeMap<String, String>,
    distributions: ArcSwap<HashMap<Arc<str>, DistributionCtx>>,
    misses: Arc<TopMisses>,
    /// Log buckets `Buckets` does not map (a legacy `Logging.Bucket` or a v2 delivery
    /// destination's) are S3 buckets: their files are written under `<spool>/<bucket>/` and
    /// put to S3 by [`LogUploader`].
    spool: Option<(PathBuf, Arc<LogUploader>)>,
}

impl TelemetryObserver {
    pub(crate) fn new(telemetry: Arc<Telemetry>, buckets: BTreeMap<String, String>, misses: Arc<TopMisses>) -> Self {
        TelemetryObserver { telemetry, buckets, distributions: ArcSwap::default(), misses, spool: None }
    }

    /// Writes the logs of unmapped (S3) log buckets under `folder`, for `uploader` to put to S3.
    pub(crate) fn with_s3_logs(mut self, folder: PathBuf, uploader: Arc<LogUploader>) -> Self {
        self.spool = Some((folder, uploader));
        self
    }

    /// Rebuilds the per-distribution contexts (log folder, prefix, IncludeCookies) from a snapshot.
    pub(crate) fn update(&self, snapshot: &Snapshot) {
        let mut map = HashMap::new();
        for d in &snapshot.distributions {
            let ctx = match DistributionCtx::from_config(d, &self.buckets) {
                Ok(ctx) => ctx,
                Err(e) if self.spool.is_some() && d.logging.is_some() => {
                    let (folder, uploader) =
                        self.spool.as_ref().map(|(f, u)| (f.clone(), u.clone())).unwrap_or_default();
                    let bucket = d.logging.as_ref().map(|l| l.bucket.clone()).unwrap_or_default();
                    let mut buckets = self.buckets.clone();
                    buckets.insert(bucket.clone(), folder.join(&bucket).to_string_lossy().into_owned());
                    uploader.add(&bucket, folder.join(&bucket));
                    DistributionCtx::from_config(d, &buckets).unwrap_or_else(|_| {
                        tracing::warn!("{e}: its access logs are not written");
                        DistributionCtx::new(&d.id)
                    })
                }
                Err(e) => {
                    tracing::warn!("{e}: its access logs are not written (add the bucket to `Buckets`)");
                    DistributionCtx::new(&d.id)
                }
            };
            if let Some(dest) = ctx.log_destination() {
                match std::fs::create_dir_all(dest.directory()) {
                    // Files a crashed run left there are published now.
                    Ok(()) => self.telemetry.sink().watch(&dest.directory()),
                    Err(e) => {
                        tracing::warn!("cannot create the log folder {} of {}: {e}", dest.directory().display(), d.id)
                    }
                }
            }
            let mut ctx = ctx;
            for delivery in snapshot.log_deliveries.iter().filter(|l| l.distribution_id == d.id) {
                let folder = match (self.buckets.get(&delivery.bucket), &self.spool) {
                    (Some(folder), _) => PathBuf::from(folder),
                    // An S3 bucket: files are written to the spool, then put to S3 by the uploader.
                    (None, Some((spool, uploader))) => {
                        let folder = spool.join(&delivery.bucket);
                        uploader.add(&delivery.bucket, folder.clone());
                        folder
                    }
                    (None, None) => {
                        tracing::warn!(
                            "delivery {} of {} writes to bucket `{}`, which `Buckets` does not map to a folder: its v2 logs are not written",
                            delivery.id,
                            d.id,
                            delivery.bucket
                        );
                        continue;
                    }
                };
                let dest = cachalot_telemetry::LogDestination::v2(folder, delivery.clone());
                match std::fs::create_dir_all(dest.directory()) {
                    // Every hour has a folder of its own: files a crashed run left in any are published now.
                    Ok(()) => self.telemetry.sink().watch_tree(&dest.directory()),
                    Err(e) => tracing::warn!(
                        "cannot create the log folder {} of delivery {}: {e}",
                        dest.directory().display(),
                        delivery.id
                    ),
                }
                ctx = ctx.with_delivery(dest);
            }
            map.insert(Arc::from(d.id.as_str()), ctx);
        }
        self.distributions.store(Arc::new(map));
    }
}

impl Observer for TelemetryObserver {
    fn observe(&self, s: RequestSummary) {
        // Requests no distribution answered (unknown Host) are not CloudFront requests: no line.
        let Some(id) = s.distribution_id.clone() else { return };
        let distributions = self.distributions.load();
        let Some(ctx) = distributions.get(&id) else { return };
        let behavior = s.behavior.clone();
        let extras = RecordExtras {
            origin_fbl: s.origin_latency_ms.map(Duration::from_millis),
            country: s.country.clone().unwrap_or_default(),
            ..RecordExtras::default()
        };
        let record = log_record(s);
        let outcome = Outcome::of(&record);
        if outcome.cacheable && !outcome.hit {
            let mut variant = std::hash::DefaultHasher::new();
            (&record.query, &record.cookie).hash(&mut variant);
            self.misses.note(&id, &record.uri_stem, variant.finish());
        }
        self.telemetry.record_with(ctx, behavior.as_deref().unwrap_or("*"), record, &extras);
    }
}

/// One summary as CloudFront's standard log line.
fn log_record(s: RequestSummary) -> LogRecord {
    LogRecord {
        timestamp: UNIX_EPOCH + Duration::from_millis(s.end_ms),
        edge_location: s.pop.to_string(),
        sc_bytes: s.response_bytes,
        client_ip: Some(s.client_ip),
        method: s.method.as_str().to_owned(),
        host: s.distribution_domain.as_deref().unwrap_or_default().to_owned(),
        uri_stem: s.uri_stem,
        status: Some(s.status),
        referer: s.referer.unwrap_or_default(),
        user_agent: s.user_agent.unwrap_or_default(),
        query: s.query.unwrap_or_default(),
        cookie: s.cookie.unwrap_or_default(),
        result_type: s.result.into(),
        request_id: s.request_id,
        host_header: s.host_header,
        protocol: s.protocol.to_owned(),
        cs_bytes: s.request_bytes,
        time_taken: Duration::from_millis(s.time_taken_ms),
        forwarded_for: s.x_forwarded_for.unwrap_or_default(),
        ssl_protocol: s.ssl_protocol.unwrap_or_default().to_owned(),
        ssl_cipher: s.ssl_cipher.unwrap_or_default(),
        response_result_type: s.response_result.into(),
        protocol_version: s.protocol_version.to_owned(),
        fle_status: String::new(),
        fle_encrypted_fields: None,
        client_port: Some(s.client_port),
        time_to_first_byte: Some(Duration::from_millis(s.first_byte_ms)),
        detailed_result_type: s.detailed.into(),
        content_type: s.content_type.unwrap_or_default(),
        content_length: s.content_length,
        range_start: s.range.map(|r| r.0),
        range_end: s.range.map(|r| r.1),
    }
}

/// Delivers access log files (legacy and v2) to S3 log buckets with `PutObject`: every
/// published file under a spooled bucket's folder is put under its path (prefix and v2
/// suffix path included), then removed.
/// A file S3 refuses stays and is tried again on the next pass.
#[derive(Default)]
pub(crate) struct LogUploader {
    buckets: parking_lot::Mutex<BTreeMap<String, PathBuf>>,
    failing: parking_lot::Mutex<std::collections::BTreeSet<String>>,
}

impl LogUploader {
    fn add(&self, bucket: &str, folder: PathBuf) {
        self.buckets.lock().entry(bucket.to_owned()).or_insert(folder);
    }

    /// One pass: puts every published file; returns how many were delivered.
    pub(crate) async fn deliver(&self, edge: &cachalot_proxy::Edge) -> usize {
        let buckets = self.buckets.lock().clone();
        let mut delivered = 0;
        for (bucket, folder) in buckets {
            for file in published_files(&folder) {
                let Ok(key) = file.strip_prefix(&folder).map(|k| k.to_string_lossy().replace('\\', "/")) else {
                    continue;
                };
                let Ok(body) = std::fs::read(&file) else { continue };
                let content_type = if file.extension().is_some_and(|e| e == "parquet") {
                    "application/vnd.apache.parquet"
                } else {
                    "application/x-gzip"
                };
                match edge.put_object(&bucket, &key, body.into(), content_type).await {
                    Ok(200) => {
                        let _ = std::fs::remove_file(&file);
                        delivered += 1;
                        if self.failing.lock().remove(&bucket) {
                            tracing::info!("access logs reach S3 bucket {bucket} again");
                        }
                    }
                    outcome => {
                        if self.failing.lock().insert(bucket.clone()) {
                            let why = match outcome {
                                Ok(status) => format!("S3 answered {status}"),
                                Err(e) => e.to_string(),
                            };
                            tracing::warn!(
                                "cannot put access logs to S3 bucket {bucket} ({why}); kept in {} and retried",
                                folder.display()
                            );
                        }
                    }
                }
            }
        }
        delivered
    }
}

/// Published files under `folder`, recursively: not hidden (temporary files are), gzip text
/// (legacy and v2 `json`, `plain`, `w3c`) or v2 `parquet`.
fn published_files(folder: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_dir() {
                stack.push(path);
            } else if !hidden && path.extension().is_some_and(|e| e == "gz" || e == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
