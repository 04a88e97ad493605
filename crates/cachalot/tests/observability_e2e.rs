//! Observability end to end: the real `cachalot serve` under concurrent load, read back by
//! real consumers — its gzip access logs (one line per request, GoAccess), `/metrics`
//! (Python's prometheus_client), CloudWatch `GetMetricStatistics` (the AWS CLI running the
//! seed's command, and boto3 over all three wire protocols) and the dashboard (headless
//! Chromium).

#[path = "serve/support.rs"]
mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{Serve, TempDir, aws_env, header, http_get, prometheus_sum};

const DISTRIBUTION: &str = "E2OBSERVE1TEST";
const DOMAIN: &str = "d2observe0test.cloudfront.net";

/// A two-POP node whose distribution logs to `logs/cf/`, serving `site/`.
fn node(dir: &Path) -> (SocketAddr, Serve) {
    support::write_site(dir, (0..20).map(|i| (format!("f{i}.txt"), format!("file {i} ").repeat(40))));
    let distribution =
        support::logged_site_distribution(DISTRIBUTION, DOMAIN, "cf/", "658327ea-f89d-4fab-a63d-7e88639e58f6");
    let second = support::write_two_pop_node(dir, &format!(r#""Distributions": [{distribution}]"#));
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], dir);
    (second, serve)
}

/// Sends `threads` × `per_thread` requests over both POPs (20 objects, some 404s, some with
/// cookies) and returns every `x-amz-cf-id` received.
fn traffic(pops: [SocketAddr; 2], threads: usize, per_thread: usize) -> Vec<String> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..per_thread {
                    let n = t * per_thread + i;
                    let path = if n.is_multiple_of(25) { format!("/missing-{n}") } else { format!("/f{}.txt", n % 20) };
                    let cookie = format!("session=s{n}");
                    let mut headers = vec![("host", DOMAIN)];
                    if n.is_multiple_of(3) {
                        headers.push(("cookie", cookie.as_str()));
                    }
                    let (status, h, _) = http_get(pops[n % 4 / 3], &path, &headers);
                    assert!(status == 200 || status == 404, "{path}: {status}");
                    ids.push(header(&h, "x-amz-cf-id").to_owned());
                }
                ids
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

fn get_text(addr: SocketAddr, path: &str) -> String {
    let (status, _, body) = http_get(addr, path, &[]);
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8(body).unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn available(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Under concurrent load every request gets exactly one line in the gzip files written by a
/// clean shutdown; `/metrics` counts the same requests; GoAccess reads the files.
#[test]
fn every_request_has_exactly_one_log_line_and_metrics_agree() {
    let dir = TempDir::new("observe-logs");
    let (second, serve) = node(&dir.0);
    let ids = traffic([serve.pop, second], 8, 60);
    let total = ids.len() as u64;
    let unique: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), ids.len(), "x-amz-cf-id values repeat");

    let metrics = get_text(serve.admin, "/metrics");
    assert_eq!(prometheus_sum(&metrics, "cachalot_edge_requests_total"), total, "{metrics}");
    let cacheable = prometheus_sum(&metrics, "cachalot_edge_cacheable_requests_total");
    let hits = prometheus_sum(&metrics, "cachalot_edge_cache_hits_total");
    // 20 objects on 2 POPs: at most 40 cacheable misses (404s are errors, not cacheable).
    assert!(cacheable > 0 && hits + 40 >= cacheable, "cacheable {cacheable}, hits {hits}");
    assert!(metrics.contains(&format!("distribution=\"{DISTRIBUTION}\"")) && metrics.contains("pop=\"LOCAL51-C1\""));
    if let Some(python) = python() {
        // A real Prometheus parser reads the exposition and finds the same total.
        let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\n\
            total = 0\nfor family in text_string_to_metric_families(sys.stdin.read()):\n    \
            for s in family.samples:\n        if s.name == 'cachalot_edge_requests_total':\n            total += s.value\n\
            print(int(total))\n";
        let out = run_with_stdin(Command::new(python).args(["-c", script]), metrics.as_bytes());
        assert_eq!(out.trim(), total.to_string());
    }

    assert!(serve.stop().success());
    let files = files_under(&dir.0.join("logs/cf"));
    assert!(!files.is_empty(), "no log files were written");
    let mut plain = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!("{DISTRIBUTION}.")) && name.ends_with(".gz"), "{name}");
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap()).read_to_end(&mut plain).unwrap();
    }
    let text = String::from_utf8(plain.clone()).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len() as u64, total, "one line per request");
    assert!(lines.iter().all(|f| f.len() == 33), "33 fields on every line");
    let logged: HashSet<&str> = lines.iter().map(|f| f[14]).collect();
    assert_eq!(logged, unique, "the logged x-edge-request-id values are the x-amz-cf-id values sent");
    assert!(lines.iter().all(|f| f[12] == "-"), "IncludeCookies=false blanks cs(Cookie)");
    assert!(lines.iter().all(|f| f[6] == DOMAIN && f[15] == DOMAIN));
    let pops: HashSet<&str> = lines.iter().map(|f| f[2]).collect();
    assert_eq!(pops, HashSet::from(["LOCAL50-C1", "LOCAL51-C1"]));
    assert!(lines.iter().any(|f| f[8] == "404" && f[13] == "Error"));

    if available("goaccess") {
        let report = dir.0.join("goaccess.json");
        let mut cmd = Command::new("goaccess");
        cmd.args(["-", "--log-format=CLOUDFRONT", "--no-global-config", "-o"]).arg(&report);
        run_with_stdin(&mut cmd, &plain);
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(json["general"]["valid_requests"].as_u64(), Some(total), "{}", json["general"]);
    } else {
        assert!(!in_ci(), "goaccess is not installed");
        println!("SKIPPED: goaccess not installed; the GoAccess part did not run");
    }
}

fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The venv's python, with the AWS CLI, boto3 and prometheus_client.
fn python() -> Option<PathBuf> {
    let aws = support::aws_cli()?;
    let python = aws.parent().unwrap().join("python");
    let has = Command::new(&python).args(["-c", "import prometheus_client"]).output().is_ok_and(|o| o.status.success());
    if !has {
        let pip = aws.parent().unwrap().join("pip");
        let ok = Command::new(pip).args(["install", "-q", "prometheus_client"]).status().is_ok_and(|s| s.success());
        assert!(ok, "pip install prometheus_client failed");
    }
    Some(python)
}

/// The seed's `aws cloudwatch get-metric-statistics` command, verbatim but for
/// `--endpoint-url`, answers with the edge's CacheHitRate; boto3 gets the same numbers
/// over awsJson1_0, awsQuery and RPCv2 CBOR, and CloudWatch's errors.
#[test]
fn cloudwatch_answers_the_seed_command_over_every_protocol() {
    let Some(aws) = support::aws_cli() else {
        assert!(!in_ci(), "python3 is missing");
        println!("SKIPPED: python3 is not installed");
        return;
    };
    let dir = TempDir::new("observe-cloudwatch");
    let (second, serve) = node(&dir.0);
    let total = traffic([serve.pop, second], 4, 50).len() as u64;
    let metrics = get_text(serve.admin, "/metrics");
    let cacheable = prometheus_sum(&metrics, "cachalot_edge_cacheable_requests_total") as f64;
    let hits = prometheus_sum(&metrics, "cachalot_edge_cache_hits_total") as f64;
    let expected_ratio = 100.0 * hits / cacheable;
    let endpoint = format!("http://{}", serve.admin);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let start = iso(now - 24 * 3600);
    let end = iso(now + 60);
    let last_hour = iso(now - 3600);
    let seed_with = |period: &str, output: &str| -> String {
        let mut cmd = Command::new(&aws);
        cmd.args(["--endpoint-url", &endpoint]);
        cmd.args(["cloudwatch", "get-metric-statistics", "--region", "us-east-1"]);
        cmd.args(["--namespace", "AWS/CloudFront", "--metric-name", "CacheHitRate"]);
        cmd.args(["--dimensions", &format!("Name=DistributionId,Value={DISTRIBUTION}"), "Name=Region,Value=Global"]);
        // Per-minute points over 24 hours would exceed CloudWatch's 1,440-datapoint limit.
        let from = if period == "60" { &last_hour } else { &start };
        cmd.args(["--start-time", from, "--end-time", &end]);
        cmd.args(["--period", period, "--statistics", "Average", "--output", output]);
        aws_env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let averages = |period: &str| -> Vec<f64> {
        let json: serde_json::Value = serde_json::from_str(&seed_with(period, "json")).unwrap();
        assert_eq!(json["Label"], "CacheHitRate");
        json["Datapoints"].as_array().unwrap().iter().map(|p| p["Average"].as_f64().unwrap()).collect()
    };
    let hourly = averages("3600");
    let minutes = averages("60");
    // The traffic took a few seconds: one or two minutes, in one or two hours.
    assert!(!hourly.is_empty() && hourly.len() <= 2 && !minutes.is_empty() && minutes.len() <= 2, "{hourly:?}");
    if minutes.len() == 1 {
        // One minute: its rate is the edge's hit ratio, and the hour's average is that minute.
        assert!((minutes[0] - expected_ratio).abs() < 1e-6, "{minutes:?} vs {expected_ratio}");
    }
    if hourly.len() == 1 {
        // The hour's Average is the mean of its per-minute rates.
        let mean = minutes.iter().sum::<f64>() / minutes.len() as f64;
        assert!((hourly[0] - mean).abs() < 1e-6, "{hourly:?} vs {minutes:?}");
    }
    let table = seed_with("3600", "table");
    assert!(
        table.contains("GetMetricStatistics") && table.contains("CacheHitRate") && table.contains("Percent"),
        "{table}"
    );

    let python = aws.parent().unwrap().join("python");
    let script = format!(
        r#"
import datetime, gzip, json, os, sys
import boto3, botocore
data = sys.argv[1]
src = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01", "service-2.json.gz")
model = json.load(gzip.open(src))
start = datetime.datetime.fromtimestamp({now} - 3600, datetime.timezone.utc)
end = datetime.datetime.fromtimestamp({now} + 60, datetime.timezone.utc)
dims = [{{"Name": "DistributionId", "Value": "{DISTRIBUTION}"}}, {{"Name": "Region", "Value": "Global"}}]
for protocol in ["json", "query", "smithy-rpc-v2-cbor"]:
    folder = os.path.join(data, protocol, "cloudwatch", "2010-08-01")
    os.makedirs(folder, exist_ok=True)
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    json.dump(model, open(os.path.join(folder, "service-2.json"), "w"))
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, os.path.join(data, protocol))
    cw = boto3.Session(botocore_session=session).client("cloudwatch", region_name="us-east-1", endpoint_url="{endpoint}")
    requests = cw.get_metric_statistics(Namespace="AWS/CloudFront", MetricName="Requests", Dimensions=dims,
        StartTime=start, EndTime=end, Period=60, Statistics=["Sum", "SampleCount"])
    total = sum(p["Sum"] for p in requests["Datapoints"])
    latency = cw.get_metric_statistics(Namespace="AWS/CloudFront", MetricName="OriginLatency", Dimensions=dims,
        StartTime=start, EndTime=end, Period=3600, ExtendedStatistics=["p50", "p99"])
    p99 = [p["ExtendedStatistics"]["p99"] for p in latency["Datapoints"]]
    other = cw.get_metric_statistics(Namespace="AWS/CloudFront", MetricName="Requests", Dimensions=dims[:1],
        StartTime=start, EndTime=end, Period=60, Statistics=["Sum"])
    try:
        cw.get_metric_statistics(Namespace="AWS/CloudFront", MetricName="Requests", Dimensions=dims,
            StartTime=start, EndTime=end, Period=60, Statistics=["Sum"], ExtendedStatistics=["p99"])
        error = "none"
    except botocore.exceptions.ClientError as e:
        error = e.response["Error"]["Code"]
    reply = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{{"Id": "requests", "MetricStat": {{
        "Metric": {{"Namespace": "AWS/CloudFront", "MetricName": "Requests", "Dimensions": dims}},
        "Period": 60, "Stat": "Sum"}}}}])
    result = reply["MetricDataResults"][0]
    ordered = result["Timestamps"] == sorted(result["Timestamps"], reverse=True)
    listed = cw.list_metrics(Namespace="AWS/CloudFront", Dimensions=[{{"Name": "DistributionId", "Value": "{DISTRIBUTION}"}}])
    names = sorted(m["MetricName"] for m in listed["Metrics"])
    print(protocol, int(total), len(p99) > 0 and all(v >= 0 for v in p99), len(other["Datapoints"]), error,
          result["Id"], int(sum(result["Values"])), result["StatusCode"], ordered, len(names),
          "CacheHitRate" in names and "OriginLatency" in names)
"#,
        endpoint = endpoint
    );
    let mut cmd = Command::new(python);
    cmd.args(["-c", &script]).arg(dir.0.join("models"));
    aws_env(&mut cmd);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "boto3 failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["json", "query", "smithy-rpc-v2-cbor"]
            .map(|p| format!("{p} {total} True 0 InvalidParameterCombination requests {total} Complete True 14 True"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "{}",
        serve.log()
    );
}

fn iso(secs: u64) -> String {
    let days = secs / 86_400;
    let (y, m, d) = civil(days as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// The dashboard in headless Chromium shows the traffic: totals, both POPs, the result
/// types and the most-missed path. The screenshot is kept under `target/test-artifacts/`.
#[test]
fn dashboard_shows_live_traffic_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|c| available(c)) else {
        assert!(!in_ci(), "chromium is not installed");
        println!("SKIPPED: chromium not installed");
        return;
    };
    let dir = TempDir::new("observe-dashboard");
    let (second, serve) = node(&dir.0);
    // Each object misses once per POP, so every /fN.txt is among the top missed paths.
    let total = traffic([serve.pop, second], 4, 30).len();
    let url = format!("http://{}/dashboard", serve.admin);
    let chrome = |extra: &[&str]| {
        let out = Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
            .arg(format!("--user-data-dir={}", dir.0.join("chromium").display()))
            .args(["--virtual-time-budget=8000", "--window-size=1400,1100"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = chrome(&["--dump-dom"]);
    let metrics = get_text(serve.admin, "/metrics");
    let requests = prometheus_sum(&metrics, "cachalot_edge_requests_total");
    assert!(requests >= total as u64);
    assert!(dom.contains("data-loaded=\"true\""), "the page did not load its data:\n{dom}");
    assert!(dom.contains(&format!("id=\"total-requests\">{requests}<")), "total requests not shown:\n{dom}");
    for expected in [
        "data-pop=\"LOCAL50-C1\"",
        "data-pop=\"LOCAL51-C1\"",
        "data-result=\"Hit\"",
        "data-result=\"Miss\"",
        "data-result=\"Error\"",
        "data-path=\"/f0.txt\"",
        "Fragmentation: ",
        "Key variants",
        &format!("data-distribution=\"{DISTRIBUTION}\""),
    ] {
        assert!(dom.contains(expected), "{expected} missing from the dashboard:\n{dom}");
    }
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chrome(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot too small: {} bytes", png.len());
}
