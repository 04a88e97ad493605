//! `cachalot analyze` and `cachalot replay` on logs as they are found in the wild: old and
//! short layouts, empty and junk files, byte-order marks, truncated gzip, odd values.

#[path = "doctor/support.rs"]
mod support;

use cachalot_doctor::{Cause, scenario};
use cachalot_telemetry::ResultType;
use cachalot_telemetry::format::{self, LogRecord};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};
use support::{analyze_json, cachalot, causes, dir, replay_json, scenario_config, write_file};

fn record(secs: u64, path: &str, result: ResultType, status: Option<u16>) -> LogRecord {
    LogRecord {
        timestamp: UNIX_EPOCH + Duration::from_secs(scenario::START_SECS + secs),
        edge_location: "FRA56-P5".into(),
        sc_bytes: 2_000,
        method: "GET".into(),
        host: scenario::DOMAIN.into(),
        uri_stem: path.into(),
        status,
        user_agent: "Mozilla/5.0".into(),
        result_type: result.clone(),
        response_result_type: result.clone(),
        detailed_result_type: result,
        request_id: format!("r{secs}"),
        host_header: "www.example.com".into(),
        protocol: "https".into(),
        content_type: "text/html".into(),
        content_length: Some(1_500),
        ..LogRecord::default()
    }
}

/// [`record`] of a JPEG image, answered 200.
fn image(secs: u64, path: &str, result: ResultType) -> LogRecord {
    LogRecord { content_type: "image/jpeg".into(), ..record(secs, path, result, Some(200)) }
}

fn log_text(records: &[LogRecord]) -> Vec<u8> {
    let mut text = Vec::new();
    format::write_header(&mut text);
    for r in records {
        format::write_record(&mut text, r);
    }
    text
}

/// Writes `records` as a plain log with its header to `dir/name`.
fn write_log(dir: &Path, name: &str, records: &[LogRecord]) -> PathBuf {
    write_file(dir, name, log_text(records))
}

/// A log in CloudFront's first layout (12 fields, 2011) has no result type: the hit ratio is
/// "no data", said why, and `null` in JSON — never 0 %.
#[test]
fn a_ratio_with_nothing_to_count_is_no_data_and_says_why() {
    let d = dir("no-data");
    let old = write_file(
        &d,
        "E2011.2011-05-01-10.log",
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query\n\
         2011-05-01\t10:00:01\tFRA2\t4260\t192.0.2.10\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0\t-\n\
         2011-05-01\t10:00:02\tFRA2\t4260\t192.0.2.11\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0\t-\n",
    );
    let v = analyze_json(&old, &[]);
    assert_eq!(v["lines"], 2);
    assert!(v["hit_ratio"].is_null(), "{}", v["hit_ratio"]);
    assert!(v["no_data"].as_str().unwrap().contains("x-edge-result-type"), "{}", v["no_data"]);
    assert!(v["by_pop"][0]["hit_ratio"].is_null());
    let (_, text, _) = cachalot(&["analyze", &old.display().to_string()]);
    assert!(text.contains("Hit ratio: no data (the logs have no x-edge-result-type column"), "{text}");
    assert!(!text.contains("0.0%"), "{text}");

    let empty = write_file(&d, "empty.log", "");
    let v = analyze_json(&empty, &[]);
    assert!(v["hit_ratio"].is_null());
    assert_eq!(v["no_data"], "the input holds no log line");

    let junk = write_file(&d, "junk.log", "hello\nthis is not\na log\n");
    // Junk is no log at all: the format cannot be told, which is an error naming the file
    // (never a ratio of 0.0 %).
    let (code, stdout, stderr) = cachalot(&["analyze", &junk.display().to_string(), "--format", "json"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains("junk.log") && stderr.contains("not a CloudFront log"), "{stderr}");
    assert!(!stdout.contains("0.0"), "{stdout}");
    std::fs::remove_dir_all(&d).ok();
}

/// Records with 31 fields under the 33-field header (written before the range fields were
/// added) carry every field the analysis reads: they are used and counted, not dropped.
#[test]
fn lines_shorter_than_their_header_are_used_and_counted() {
    let d = dir("short");
    let mut text = Vec::new();
    format::write_header(&mut text);
    for i in 0..10u64 {
        let result = if i == 0 { ResultType::Miss } else { ResultType::Hit };
        let line = format::record_line(&record(i, "/a.css", result, Some(200)));
        let cut: Vec<&str> = line.trim_end().split('\t').take(31).collect();
        text.extend_from_slice(cut.join("\t").as_bytes());
        text.push(b'\n');
    }
    let log = write_file(&d, "short.log", &text);
    let v = analyze_json(&log, &[]);
    assert_eq!((v["lines"].as_u64(), v["bad_lines"].as_u64()), (Some(10), Some(0)), "{v}");
    assert_eq!(v["short_lines"], 10);
    assert_eq!(v["first_short"]["line"], 3);
    assert_eq!(v["hit_ratio"], 90.0);
    let (_, text, _) = cachalot(&["analyze", &log.display().to_string()]);
    assert!(text.contains("10 line(s) had fewer fields than their header and were used"), "{text}");
    let config = scenario_config(&d, Cause::ColdPop);
    let v = replay_json(&log, &config, &[]);
    assert_eq!((v["requests"].as_u64(), v["short_lines"].as_u64()), (Some(10), Some(10)), "{v}");
    std::fs::remove_dir_all(&d).ok();
}

/// Requests outside CacheHitRate's definition are shown by result type, with why they do
/// not count, so a 92 % ratio over 35 % of hits among all requests is explained.
#[test]
fn result_types_and_what_is_not_cacheable_are_shown() {
    let d = dir("result-types");
    let mut records = vec![record(0, "/app.js", ResultType::Miss, Some(200))];
    for i in 1..10 {
        records.push(record(i, "/app.js", ResultType::Hit, Some(200)));
    }
    for i in 10..30 {
        records.push(record(i, "/login", ResultType::LambdaGeneratedResponse, Some(200)));
    }
    records.push(LogRecord { method: "POST".into(), ..record(31, "/api", ResultType::Miss, Some(200)) });
    records.push(record(32, "/gone", ResultType::Error, Some(404)));
    let log = write_log(&d, "types.log", &records);
    let v = analyze_json(&log, &[]);
    assert_eq!(v["hit_ratio"], 90.0);
    let types: Vec<(String, u64)> = v["by_result_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap().to_owned(), t["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(types[0], ("LambdaGeneratedResponse".to_owned(), 20), "{types:?}");
    assert!(types.contains(&("Hit".to_owned(), 9)) && types.contains(&("Error".to_owned(), 1)), "{types:?}");
    assert_eq!(v["not_cacheable"], serde_json::json!({"total": 22, "method": 1, "result_type": 21, "status": 0}));
    let (_, text, _) = cachalot(&["analyze", &log.display().to_string()]);
    assert!(text.contains("LambdaGeneratedResponse"), "{text}");
    assert!(
        text.contains("22 requests are not cacheable (1 other method, 21 other result type, 0 error status)"),
        "{text}"
    );
    assert!(text.contains("hits are 28.1%"), "{text}");
    std::fs::remove_dir_all(&d).ok();
}

/// `000` (no response sent) is a status of its own, printed as logged.
#[test]
fn status_000_is_printed_as_000() {
    let d = dir("000");
    let records = [record(0, "/a", ResultType::Miss, Some(200)), record(1, "/b", ResultType::Error, None)];
    let log = write_log(&d, "s.log", &records);
    let v = analyze_json(&log, &[]);
    let keys: Vec<&str> = v["by_status"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"000") && !keys.contains(&"0"), "{keys:?}");
    std::fs::remove_dir_all(&d).ok();
}

/// A file saved with a UTF-8 byte-order mark reads like any other.
#[test]
fn a_byte_order_mark_does_not_break_a_file() {
    let d = dir("bom");
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend(log_text(&[record(0, "/a", ResultType::Miss, Some(200)), record(1, "/a", ResultType::Hit, Some(200))]));
    let log = write_file(&d, "bom.log", &text);
    let v = analyze_json(&log, &[]);
    assert_eq!((v["lines"].as_u64(), v["bad_lines"].as_u64()), (Some(2), Some(0)), "{}", v["first_bad"]);
    std::fs::remove_dir_all(&d).ok();
}

/// A truncated `.gz` is reported once, where it was cut; its incomplete last line is not
/// also reported as a malformed line.
#[test]
fn a_truncated_gzip_reports_its_last_line_once() {
    use std::io::Write as _;
    let d = dir("gz");
    let records: Vec<LogRecord> =
        (0..3000).map(|i| record(i, &format!("/p{i}"), ResultType::Miss, Some(200))).collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&log_text(&records)).unwrap();
    let gz = enc.finish().unwrap();
    let log = write_file(&d, "cut.gz", &gz[..gz.len() / 2]);
    let (code, stdout, stderr) = cachalot(&["analyze", &log.display().to_string(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["bad_lines"], 0, "{}", v["first_bad"]);
    assert_eq!(v["truncated"].as_array().unwrap().len(), 1);
    assert_eq!(stderr.matches(&format!("{}:", log.display())).count(), 1, "{stderr}");
    std::fs::remove_dir_all(&d).ok();
}

/// A `%0A` in a URI decodes to a line break; the text table writes it back as `%0A` so
/// every row stays one line.
#[test]
fn a_line_break_in_a_uri_does_not_break_the_text_table() {
    let d = dir("newline");
    let mut records = vec![];
    for i in 0..5 {
        records.push(record(i, "/evil\nline", ResultType::Miss, Some(200)));
    }
    let log = write_log(&d, "nl.log", &records);
    let raw = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    assert!(raw.contains("/evil%0Aline"), "the writer encodes it");
    let (code, text, _) = cachalot(&["analyze", &log.display().to_string()]);
    assert_eq!(code, 0);
    assert!(text.contains("/evil%0Aline"), "{text}");
    assert!(!text.lines().any(|l| l.trim_start().starts_with("line")), "{text}");
    std::fs::remove_dir_all(&d).ok();
}

/// `--top 0` and `--threads 0` are usage errors, not a silent one-row table or a default.
#[test]
fn top_and_threads_must_be_at_least_one() {
    let d = dir("flags");
    let log = write_log(&d, "a.log", &[record(0, "/a", ResultType::Miss, Some(200))]);
    let config = scenario_config(&d, Cause::ColdPop);
    let l = log.display().to_string();
    let c = config.display().to_string();
    for args in [
        vec!["analyze", l.as_str(), "--top", "0"],
        vec!["analyze", l.as_str(), "--threads", "0"],
        vec!["replay", l.as_str(), "--config", c.as_str(), "--threads", "0"],
    ] {
        let (code, stdout, stderr) = cachalot(&args);
        assert_eq!(code, 2, "{args:?}: {stdout}");
        assert!(stderr.contains("0 is not in 1.."), "{args:?}: {stderr}");
    }
    let v = analyze_json(&log, &["--top", "1"]);
    assert_eq!(v["by_pop"].as_array().unwrap().len(), 1);
    std::fs::remove_dir_all(&d).ok();
}

/// `replay` without `--baseline` compares the log (whose caches were already warm) with a
/// simulation that starts as warm as the log shows: the same config predicts the same
/// ratio, and the JSON carries hit ratios, not only counts.
#[test]
fn replay_without_baseline_compares_like_with_like() {
    let d = dir("warm");
    // Twenty objects, every one already cached when the log starts (its first request hits),
    // requested by two POPs every ten seconds; the TTL is a day, so every request hits.
    let mut records = Vec::new();
    for t in 0..30u64 {
        for o in 0..20 {
            for pop in ["FRA56-P5", "LHR50-C1"] {
                let r = image(t * 10, &format!("/images/o{o}.jpg"), ResultType::Hit);
                records.push(LogRecord { edge_location: pop.into(), ..r });
            }
        }
    }
    let log = write_log(&d, "warm.log", &records);
    let config = scenario_config(&d, Cause::ColdPop);
    let v = replay_json(&log, &config, &[]);
    assert_eq!(v["total"]["baseline"]["hit_ratio"], 100.0, "{v}");
    assert_eq!(v["total"]["candidate"]["hit_ratio"], 100.0, "{v}");
    assert_eq!(v["total"]["hit_ratio_change"], 0.0);
    assert_eq!(v["pops"]["LHR50-C1"]["candidate"]["hit_ratio"], 100.0);
    assert_eq!(v["warm_objects"], 40);
    assert!(v["comparison"].as_str().unwrap().contains("as warm as the log"), "{}", v["comparison"]);
    let (_, text, _) = cachalot(&["replay", &log.display().to_string(), "--config", &config.display().to_string()]);
    assert!(text.contains("compared:") && text.contains("+0.0 pp"), "{text}");
    std::fs::remove_dir_all(&d).ok();
}

/// With `--config`, an object refetched within the behavior's TTL because the origin's
/// `Cache-Control` keeps it for less (`max-age=5`) has expired, and one never served from
/// cache (`no-store`) is uncacheable: neither is "evicted or invalidated".
#[test]
fn origin_cache_control_misses_are_not_evictions_with_a_config() {
    let d = dir("origin-cc");
    let mut records = Vec::new();
    for t in 0..120u64 {
        for o in 0..4 {
            // max-age=5: fetched at 0, 5, 10, …; hits in between.
            let result = if t % 5 == 0 { ResultType::Miss } else { ResultType::Hit };
            records.push(image(t, &format!("/images/short{o}.jpg"), result));
        }
        records.push(image(t, "/images/no-store.jpg", ResultType::Miss));
    }
    let log = write_log(&d, "cc.log", &records);
    let config = scenario_config(&d, Cause::ColdPop);
    assert!(std::fs::read_to_string(&config).unwrap().contains("\"DefaultTTL\": 86400"));
    let v = analyze_json(&log, &["--config", &config.display().to_string()]);
    let classes = &v["miss_classes"];
    assert_eq!(classes["evicted"], 0, "{classes}");
    assert_eq!(classes["expiry"], 4 * 23, "{classes}");
    // Every request for the no-store path, its first included: nothing there is ever reused.
    assert_eq!(classes["uncacheable"], 120, "{classes}");
    let causes = causes(&v);
    assert!(causes.contains(&"ttl-too-short") && causes.contains(&"uncacheable"), "{causes:?}");
    std::fs::remove_dir_all(&d).ok();
}

/// The same input gives the same report, with `--config` or without, on one thread or four,
/// in one process or another (hash maps are seeded per process): here two copies of a path are
/// fetched in the same second, so which one a later miss "should have hit" must not depend on
/// iteration order.
#[test]
fn analyze_is_deterministic() {
    let d = dir("determinism");
    let config = scenario::config_for(Cause::QueryStringsInKey)
        .replace("\"CookieBehavior\": \"none\"", "\"CookieBehavior\": \"all\"");
    let mut records = Vec::new();
    for p in 0..60u64 {
        let path = format!("/images/p{p}.jpg");
        // Two variants fetched in one second, then one differing from both.
        for (t, query, cookie) in [(0, "a=1", "s=1"), (0, "a=2", "s=1"), (1, "a=1", "s=2"), (2, "a=2", "s=2")] {
            let r = image(p * 10 + t, &path, ResultType::Miss);
            records.push(LogRecord { query: query.into(), cookie: cookie.into(), ..r });
        }
    }
    records.sort_by_key(|r| r.timestamp);
    let log = write_log(&d, "det.log", &records);
    let config_path = write_file(&d, "config.json", config);
    let c = config_path.display().to_string();
    for extra in [vec![], vec!["--config", c.as_str()]] {
        let runs: Vec<String> = ["1", "4", "1", "4", "1", "4"]
            .iter()
            .map(|threads| {
                let mut args = extra.clone();
                args.extend(["--threads", threads]);
                let v = analyze_json(&log, &args);
                serde_json::to_string(&(&v["miss_classes"], &v["diagnosis"], &v["fragmentation"])).unwrap()
            })
            .collect();
        assert!(runs.iter().all(|r| *r == runs[0]), "{extra:?}: reports differ between runs:\n{}", runs.join("\n"));
    }
    std::fs::remove_dir_all(&d).ok();
}
