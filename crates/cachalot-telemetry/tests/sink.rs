//! The log sink end to end: files on disk, names, completeness, exactly-once under load.

use cachalot_telemetry::parse::LogReader;
use cachalot_telemetry::{
    DistributionCtx, LogDestination, LogRecord, ResultType, SinkConfig, Telemetry, TelemetryConfig,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

mod common;
use common::{TempDir, files_under};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// 2024-03-01T11:00:00Z, an hour boundary.
const BOUNDARY: u64 = 1_709_290_800;

fn record(dist_domain: &str, request_id: String, secs: u64) -> LogRecord {
    LogRecord {
        timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        edge_location: "LHR50-C1".into(),
        sc_bytes: 1234,
        client_ip: Some("203.0.113.9".parse().unwrap()),
        method: "GET".into(),
        host: dist_domain.into(),
        uri_stem: "/index.html".into(),
        status: Some(200),
        user_agent: "load test".into(),
        cookie: "session=1".into(),
        result_type: ResultType::Hit,
        request_id,
        protocol: "https".into(),
        time_taken: Duration::from_millis(3),
        response_result_type: ResultType::Hit,
        detailed_result_type: ResultType::Hit,
        ..LogRecord::default()
    }
}

/// Splits `<DistributionId>.YYYY-MM-DD-HH.<unique>.gz`.
fn name_parts(path: &Path) -> (String, String, String) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let stem = name.strip_suffix(".gz").unwrap_or_else(|| panic!("not a .gz: {name}"));
    let parts: Vec<&str> = stem.split('.').collect();
    assert_eq!(parts.len(), 3, "{name}");
    assert_eq!(parts[1].len(), 13, "{name}");
    assert!(parts[2].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{name}");
    (parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned())
}

#[test]
fn every_record_is_written_exactly_once_under_load() {
    let dir = TempDir::new("sink-load");
    let telemetry = Arc::new(
        Telemetry::new(TelemetryConfig {
            // Frequent flushes so each hour gets several files while records keep coming.
            sink: SinkConfig { flush_interval: Duration::from_millis(20), ..SinkConfig::default() },
            ..TelemetryConfig::default()
        })
        .unwrap(),
    );
    let dists =
        [("E2LOADTESTAAAA", "d1111.cloudfront.net", "nested/prefix/"), ("E2LOADTESTBBBB", "d2222.cloudfront.net", "")];
    let ctxs: Vec<DistributionCtx> = dists
        .iter()
        .map(|(id, _, prefix)| DistributionCtx::new(id).with_logs(LogDestination::new(&dir.0, prefix, id), false))
        .collect();
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 10_000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let telemetry = &telemetry;
            let ctxs = &ctxs;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let d = (i as usize + t) % 2;
                    // 30 minutes either side of the hour boundary.
                    let secs = BOUNDARY - 1800 + i * 3600 / PER_THREAD;
                    telemetry.record(&ctxs[d], "*", record(dists[d].1, format!("t{t}-{i}"), secs));
                }
            });
        }
    });
    telemetry.shutdown();

    let stats = telemetry.sink().stats();
    let total = THREADS as u64 * PER_THREAD;
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(stats.written.load(std::sync::atomic::Ordering::Relaxed), total);

    let files = files_under(&dir.0);
    let mut seen: HashSet<String> = HashSet::new();
    let mut files_per_hour: BTreeMap<(String, String), usize> = BTreeMap::new();
    for path in &files {
        let (dist, hour, _) = name_parts(path);
        let (_, domain, prefix) = dists.iter().find(|(id, _, _)| *id == dist).expect("known distribution");
        assert_eq!(path.parent().unwrap(), dir.0.join(prefix.trim_end_matches('/')).as_path());
        *files_per_hour.entry((dist.clone(), hour.clone())).or_default() += 1;
        // A complete gzip file starting with the two header lines.
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
        assert!(text.starts_with("#Version: 1.0\n#Fields: date time x-edge-location "), "{}", path.display());
        for r in LogReader::open(path).unwrap() {
            let r = r.unwrap();
            assert_eq!(&r.host, domain);
            assert_eq!(r.cookie, "", "cookies are not logged unless IncludeCookies");
            let secs = r.timestamp.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
            let expected_hour = if secs < BOUNDARY { "2024-03-01-10" } else { "2024-03-01-11" };
            assert_eq!(hour, expected_hour);
            assert!(seen.insert(r.request_id.clone()), "duplicate {}", r.request_id);
        }
    }
    assert_eq!(seen.len() as u64, total, "every record exactly once");
    assert_eq!(files_per_hour.len(), 4, "2 distributions × 2 hours: {files_per_hour:?}");

    // The metrics saw the same requests as the files.
    let requests: u64 = telemetry.metrics().label_sets().iter().map(|s| s.requests).sum();
    assert_eq!(requests, total);
}

#[test]
fn flush_publishes_complete_files_and_cookies_follow_the_flag() {
    let dir = TempDir::new("sink-flush");
    let telemetry = Telemetry::new(TelemetryConfig::default()).unwrap();
    let with = DistributionCtx::new("E3COOKIES").with_logs(LogDestination::new(&dir.0, "c", "E3COOKIES"), true);
    let without =
        DistributionCtx::new("E3NOCOOKIES").with_logs(LogDestination::new(&dir.0, "n/", "E3NOCOOKIES"), false);
    telemetry.record(&with, "*", record("d.cloudfront.net", "a".into(), BOUNDARY));
    telemetry.record(&without, "*", record("d.cloudfront.net", "b".into(), BOUNDARY));
    telemetry.flush();
    let files = files_under(&dir.0);
    assert_eq!(files.len(), 2, "{files:?}");
    let cookies: HashMap<String, String> = files
        .iter()
        .flat_map(|f| LogReader::open(f).unwrap())
        .map(|r| r.unwrap())
        .map(|r| (r.request_id, r.cookie))
        .collect();
    assert_eq!(cookies["a"], "session=1");
    assert_eq!(cookies["b"], "");
    // A second flush with new records makes a second file for the same hour.
    telemetry.record(&with, "*", record("d.cloudfront.net", "c".into(), BOUNDARY + 1));
    telemetry.shutdown();
    let files = files_under(&dir.0);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| !f.file_name().unwrap().to_string_lossy().starts_with('.')), "no temp file left");
    // After shutdown, records are counted as dropped, never written or blocking.
    telemetry.record(&with, "*", record("d.cloudfront.net", "late".into(), BOUNDARY));
    assert_eq!(telemetry.sink().stats().dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(telemetry.render_prometheus().contains("cachalot_logs_dropped_lines_total 1"));
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let dir = TempDir::new("sink-full");
    let telemetry = Telemetry::new(TelemetryConfig {
        sink: SinkConfig { capacity: 1, ..SinkConfig::default() },
        ..Default::default()
    })
    .unwrap();
    let ctx = DistributionCtx::new("E4FULL").with_logs(LogDestination::new(&dir.0, "", "E4FULL"), false);
    for i in 0..2000 {
        telemetry.record(&ctx, "*", record("d.cloudfront.net", format!("r{i}"), BOUNDARY));
    }
    telemetry.shutdown();
    let stats = telemetry.sink().stats();
    let written = stats.written.load(std::sync::atomic::Ordering::Relaxed);
    let dropped = stats.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(written + dropped, 2000);
    let in_files: usize = files_under(&dir.0).iter().map(|f| LogReader::open(f).unwrap().count()).sum();
    assert_eq!(in_files as u64, written);
}

#[test]
fn distribution_ctx_from_config_maps_the_bucket() {
    let json = r#"{
      "Buckets": {"my-logs": "/srv/logs"},
      "Distributions": [{
        "Id": "E1LOGGING", "DomainName": "d1.cloudfront.net",
        "DistributionConfig": {
          "CallerReference": "x", "Comment": "", "Enabled": true,
          "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
          "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
          "Logging": {"Enabled": true, "IncludeCookies": true, "Bucket": "my-logs.s3.amazonaws.com", "Prefix": "cf"}
        }
      }]
    }"#;
    let (file, diags) = cachalot_config::file::parse(json);
    assert!(!diags.has_errors(), "{diags:?}");
    let resources =
        cachalot_config::validate::Resources { distributions: file.distributions.clone(), ..Default::default() };
    let (snapshot, diags) =
        cachalot_config::validate::build_snapshot(&resources, &cachalot_config::validate::Paths::config_file());
    assert!(!diags.has_errors(), "{diags:?}");
    let dist = snapshot.distribution("E1LOGGING").unwrap();
    let ctx = DistributionCtx::from_config(dist, &file.buckets).unwrap();
    let dest = ctx.log_destination().unwrap();
    assert_eq!(dest.directory(), PathBuf::from("/srv/logs/cf"));
    assert_eq!(dest.distribution_id(), "E1LOGGING");
    let err = DistributionCtx::from_config(dist, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.bucket, "my-logs");
}

/// A writer killed mid-file (`kill -9`, power loss) leaves `.<name>.tmp` with a gzip
/// stream cut short: the next sink publishes its complete lines and removes it, but
/// never touches a file a live writer still holds.
#[test]
fn files_left_by_a_crashed_writer_are_published() {
    use flate2::write::GzEncoder;
    use std::io::Write as _;
    let dir = TempDir::new("sink-recover");
    let logs = dir.0.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let name = "E1EXAMPLE.2024-03-01-11.ABCDEF12.gz";
    let orphan = logs.join(format!(".{name}.tmp"));
    {
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut header = Vec::new();
        cachalot_telemetry::format::write_header(&mut header);
        gz.write_all(&header).unwrap();
        for i in 0..3 {
            let mut line = Vec::new();
            cachalot_telemetry::format::write_record(
                &mut line,
                &record("d1.cloudfront.net", format!("id-{i}"), BOUNDARY),
            );
            gz.write_all(&line).unwrap();
        }
        gz.write_all(b"2024-03-01\t11:00:00\tLHR50-C1\ttruncated line without its end").unwrap();
        gz.flush().unwrap();
        // No gzip trailer: the stream was cut where the crash happened.
        std::fs::write(&orphan, gz.get_ref()).unwrap();
    }
    let live = logs.join(".E1EXAMPLE.2024-03-01-11.LIVE0001.gz.tmp");
    std::fs::write(&live, b"being written").unwrap();
    let holder = std::fs::File::open(&live).unwrap();
    holder.try_lock().unwrap();

    let telemetry = Telemetry::new(TelemetryConfig::default()).unwrap();
    telemetry.sink().watch(&logs);
    telemetry.sink().flush();
    assert!(!orphan.exists(), "the orphan was not taken");
    assert!(live.exists(), "a live writer's file was touched");
    let ids: Vec<String> = LogReader::open(logs.join(name)).unwrap().map(|r| r.unwrap().request_id).collect();
    assert_eq!(ids, ["id-0", "id-1", "id-2"], "complete lines only, none twice");
    assert_eq!(telemetry.sink().stats().recovered.load(std::sync::atomic::Ordering::Relaxed), 3);
    drop(holder);
}
