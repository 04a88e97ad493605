//! `cachalot analyze` and `cachalot replay` run as a binary on scenario logs with known answers.

#[path = "doctor/support.rs"]
mod support;

use cachalot_doctor::{Cause, scenario};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{analyze_json, cachalot, cachalot_json, causes, dir, replay_json, scenario_log};

/// Runs `cachalot ARGS`, which must exit 0, and compares its stdout, with the folder `d`
/// written as `DIR`, with the snapshot `name`.
fn assert_text_snapshot(name: &str, d: &Path, args: &[&str]) {
    let (code, stdout, _) = cachalot(args);
    assert_eq!(code, 0);
    insta::assert_snapshot!(name, stdout.replace(&d.display().to_string(), "DIR"));
}

const SEED_CAUSES: [Cause; 5] =
    [Cause::QueryStringsInKey, Cause::CookiesInKey, Cause::AcceptOverKeyed, Cause::TtlTooShort, Cause::ColdPop];

#[test]
fn each_scenario_log_is_diagnosed_with_its_cause_only() {
    for cause in SEED_CAUSES {
        let d = dir(cause.id());
        let (s, config, log) = scenario_log(&d, cause, 1, "X");
        let v = analyze_json(&log, &["--config", &config.display().to_string()]);
        let faults: Vec<&str> = v["diagnosis"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["fault"] == true)
            .map(|d| d["cause"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = if cause == Cause::ColdPop { vec![] } else { vec![cause.id()] };
        assert_eq!(faults, expected, "{cause}");
        let measured = scenario::measured_hit_ratio(&s.records);
        assert!((v["hit_ratio"].as_f64().unwrap() - measured).abs() < 1e-9);
        std::fs::remove_dir_all(&d).ok();
    }
}

#[test]
fn text_report_snapshot_for_query_strings() {
    let d = dir("snap");
    let (_, _, log) = scenario_log(&d, Cause::QueryStringsInKey, 1, "Q");
    let l = log.display().to_string();
    assert_text_snapshot("analyze_query_strings_text", &d, &["analyze", &l, "--top", "5", "--threads", "2"]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn html_is_self_contained_and_written_to_output() {
    let d = dir("html");
    let (_, _, log) = scenario_log(&d, Cause::CookiesInKey, 1, "H");
    let out = d.join("report.html");
    let (code, stdout, _) =
        cachalot(&["analyze", &log.display().to_string(), "--format", "html", "--output", &out.display().to_string()]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg") && html.contains("cookies-in-key"));
    for external in ["src=\"http", "href=\"http", "<script src", "<link"] {
        assert!(!html.contains(external), "external asset: {external}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_lines_are_located_and_the_rest_analysed_stdin_and_globs_work() {
    let d = dir("bad");
    let s = scenario::generate(Cause::ColdPop, 1).unwrap();
    let mut text = Vec::new();
    cachalot_telemetry::format::write_header(&mut text);
    for (i, r) in s.records.iter().take(100).enumerate() {
        if i == 10 {
            text.extend_from_slice(b"this is not a log line\n");
        }
        cachalot_telemetry::format::write_record(&mut text, r);
    }
    text.extend_from_slice(b"2024-03-01\t10:00:00\tLHR50-C1\t12"); // truncated last line
    let plain = d.join("E1.2024-03-01-10.plain");
    std::fs::write(&plain, &text).unwrap();
    let (code, stdout, stderr) = cachalot(&["analyze", &format!("{}/E1.*", d.display()), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["lines"], 100);
    assert_eq!(v["bad_lines"], 2);
    assert_eq!(v["first_bad"][0]["line"], 13, "two header lines, ten records, then the bad line");
    assert!(stderr.contains(&format!("{}:13:", plain.display())), "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_cachalot"))
        .args(["analyze", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lines"], 100);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn unreadable_logs_and_bad_configs_exit_2() {
    let d = dir("unreadable");
    let (code, _, stderr) = cachalot(&["analyze", &d.join("nope.gz").display().to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nope.gz"), "{stderr}");
    let s = scenario::generate(Cause::ColdPop, 1).unwrap();
    let (_, log) = scenario::write(&d, &s.config, &s.records[..10], "E1.2024-03-01-10.a.gz").unwrap();
    let bad = d.join("bad.json");
    std::fs::write(&bad, "{\"Distributions\": [{\"DistributionConfig\": {\"CallerReference\": 5}}]}").unwrap();
    for command in ["analyze", "replay"] {
        let (code, _, stderr) =
            cachalot(&[command, &log.display().to_string(), "--config", &bad.display().to_string()]);
        assert_eq!(code, 2, "{command}");
        assert!(stderr.contains("bad.json: $.Distributions[0].DistributionConfig"), "{command}: {stderr}");
    }
    std::fs::remove_dir_all(&d).ok();
}

/// The scripted scenario's hit ratio is known without any model: replay under the config the
/// log was written for must land within one percentage point of it.
#[test]
fn replay_matches_a_known_answer_and_predicts_a_longer_ttl() {
    let d = dir("replay");
    let (config, records, expected) = scenario::scripted(8, 60, 4 * 3600, 3600);
    let (config_path, log) = scenario::write(&d, &config, &records, "E1.2024-03-01-10.scripted.gz").unwrap();
    let longer = d.join("longer.json");
    std::fs::write(&longer, config.replace("\"DefaultTTL\": 3600", "\"DefaultTTL\": 86400")).unwrap();
    let v = replay_json(&log, &longer, &["--baseline", &config_path.display().to_string()]);
    let base = &v["total"]["baseline"];
    let ratio = |t: &serde_json::Value| {
        100.0 * (t["requests"].as_f64().unwrap() - t["misses"].as_f64().unwrap()) / t["requests"].as_f64().unwrap()
    };
    assert!((ratio(base) - expected).abs() < 1.0, "baseline {} vs known {expected}", ratio(base));
    // One fetch per object per POP for the whole run with a one-day TTL.
    assert_eq!(v["total"]["candidate"]["misses"], 8 * 3);
    assert!(v["total"]["hit_ratio_change"].as_f64().unwrap() > 0.0);
    assert_eq!(v["pops"].as_object().unwrap().len(), 3);

    let (l, c) = (log.display().to_string(), config_path.display().to_string());
    assert_text_snapshot("replay_scripted_text", &d, &["replay", &l, "--config", &c]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn replay_cache_size_bounds_the_tiers() {
    let d = dir("size");
    let (config, records, _) = scenario::scripted(50, 60, 3600, 86_400);
    let (config_path, log) = scenario::write(&d, &config, &records, "E1.2024-03-01-10.s.gz").unwrap();
    let (l, c) = (log.display().to_string(), config_path.display().to_string());
    let run = |size: &[&str]| {
        let mut args = vec!["replay", l.as_str(), "--config", c.as_str(), "--format", "json"];
        args.extend_from_slice(size);
        let (_, stdout, _) = cachalot(&args);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["total"]["candidate"]["misses"].as_u64().unwrap()
    };
    // 50 objects of 50 kB cycled in order: a 1 MB LRU holds 20 and misses every time.
    assert_eq!(run(&[]), 50 * 3);
    assert_eq!(run(&["--cache-size", "1MB"]), records.len() as u64);
    let (code, _, stderr) = cachalot(&["replay", &l, "--config", &c, "--cache-size", "lots"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--cache-size lots"));
    std::fs::remove_dir_all(&d).ok();
}

/// A behavior that keys `User-Agent`: every browser refetches a still-fresh image, and the
/// diagnosis is `headers-in-key` (not the Accept cause).
#[test]
fn a_keyed_user_agent_is_diagnosed_as_headers_in_key() {
    use cachalot_telemetry::{LogRecord, ResultType};
    use std::time::{Duration, UNIX_EPOCH};
    let d = dir("user-agent");
    let config = scenario::config_for(Cause::AcceptOverKeyed).replace(r#""Accept""#, r#""User-Agent""#);
    assert!(config.contains("User-Agent"));
    let records: Vec<LogRecord> = (0..400u64)
        .map(|i| {
            // 10 images, 40 browsers, one request per second at one POP: every browser misses.
            let result = ResultType::Miss;
            LogRecord {
                timestamp: UNIX_EPOCH + Duration::from_secs(scenario::START_SECS + i),
                edge_location: "IAD89-C1".into(),
                sc_bytes: 20_000,
                method: "GET".into(),
                host: scenario::DOMAIN.into(),
                uri_stem: format!("/images/{}.jpg", i % 10),
                status: Some(200),
                user_agent: format!("Mozilla/5.0 browser-{}", i / 10),
                result_type: result.clone(),
                response_result_type: result.clone(),
                detailed_result_type: result,
                request_id: format!("req{i}"),
                host_header: scenario::DOMAIN.into(),
                protocol: "https".into(),
                content_type: "image/jpeg".into(),
                ..LogRecord::default()
            }
        })
        .collect();
    let (config_path, log) = scenario::write(&d, &config, &records, &scenario::log_file_name("UAKEYED")).unwrap();
    let v = analyze_json(&log, &["--config", &config_path.display().to_string()]);
    let causes = causes(&v);
    assert_eq!(causes.first(), Some(&"headers-in-key"), "{}", v["diagnosis"]);
    assert!(!causes.contains(&"accept-over-keyed"), "{causes:?}");
    std::fs::remove_dir_all(&d).ok();
}

/// The worst-URI table (misses and requests per path) does not depend on how many threads read.
#[test]
fn worst_uris_are_the_same_on_any_number_of_threads() {
    let d = dir("threads");
    let (_, _, log) = scenario_log(&d, Cause::QueryStringsInKey, 3, "THREADS");
    let run = |threads: &str| analyze_json(&log, &["--threads", threads, "--top", "50"])["top_misses"].clone();
    let one = run("1");
    assert!(one.as_array().is_some_and(|a| !a.is_empty()), "{one}");
    let total_requests: u64 = one.as_array().unwrap().iter().map(|u| u["requests"].as_u64().unwrap()).sum();
    let total_misses: u64 = one.as_array().unwrap().iter().map(|u| u["misses"].as_u64().unwrap()).sum();
    assert!(total_requests >= total_misses);
    assert_eq!(run("4"), one);
    std::fs::remove_dir_all(&d).ok();
}

fn format_fixture(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cachalot-doctor/tests/formats");
    root.join(name).display().to_string()
}

#[test]
fn every_log_format_through_the_binary_and_headerless_records_need_their_columns() {
    let json = |args: &[&str]| {
        let mut v = cachalot_json(args);
        v.as_object_mut().unwrap().remove("files");
        v
    };
    let legacy = json(&["analyze", &format_fixture("legacy.log.gz"), "--format", "json"]);
    let fields = std::fs::read_to_string(format_fixture("v2-plain-pipe.fields")).unwrap();
    let rt_config = format_fixture("realtime-config.json");
    // A folder of mixed formats is not what real logs look like; each format on its own, then replay.
    for args in [
        vec!["analyze", &format_fixture("v2.parquet"), "--format", "json"],
        vec!["analyze", &format_fixture("v2.json.gz"), "--format", "json"],
        vec!["analyze", &format_fixture("v2-plain-pipe.log"), "--fields", fields.trim(), "--format", "json"],
        vec!["analyze", &format_fixture("realtime.log.gz"), "--realtime-config", &rt_config, "--format", "json"],
    ] {
        assert_eq!(json(&args), legacy, "{args:?}");
    }
    // Without their columns, headerless records are an error naming the file, with a hint; exit 2.
    let plain = format_fixture("v2-plain-pipe.log");
    let (code, _, stderr) = cachalot(&["analyze", &plain, "--format", "json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&plain) && stderr.contains("plain") && stderr.contains("hint: pass --fields"), "{stderr}");
    let rt = format_fixture("realtime.log");
    let (code, _, stderr) = cachalot(&["analyze", &rt, "--fields", "timestamp,nope"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`nope` is not a"), "{stderr}");
    let (code, _, stderr) = cachalot(&["analyze", &rt, "--realtime-config", &plain]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--realtime-config") && stderr.contains("not valid JSON"), "{stderr}");
}
