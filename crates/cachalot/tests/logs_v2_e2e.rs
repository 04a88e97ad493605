//! Standard logging (v2) end to end: the real binary, configured with the real AWS CLI (or the
//! config file), real traffic, and the files read by other implementations (Python's `gzip` and
//! `json`, pyarrow for parquet).
//!
//! Behaviour checked against "Configure standard logging (v2)"
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>):
//! chosen fields in the chosen order, the v2-only fields, output formats, the suffix path's
//! variables and Hive-compatible names, and CloudWatch Logs' delivery API errors.

#[path = "serve/support.rs"]
mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Serve, TempDir, header, http_get};

/// The four distributions, one per output format.
const FORMATS: [(&str, &str, &str); 4] = [
    ("json", "E1V2JSONAAAAAA", "djson.cloudfront.net"),
    ("plain", "E1V2PLAINAAAAA", "dplain.cloudfront.net"),
    ("w3c", "E1V2WTHREECAAA", "dw3c.cloudfront.net"),
    ("parquet", "E1V2PARQUETAAA", "dparquet.cloudfront.net"),
];

/// A config with one distribution per format, served from a folder-backed S3 origin, and the
/// bucket `v2-logs` mapped to `logs/`; `extra` adds top-level keys.
fn config(extra: &str) -> String {
    let distributions: Vec<String> = FORMATS
        .iter()
        .map(|(_, id, domain)| {
            format!(
                r#"{{"Id": "{id}", "DomainName": "{domain}", "DistributionConfig": {{
                  "CallerReference": "{id}", "Comment": "", "Enabled": true,
                  "Origins": {{"Quantity": 1, "Items": [{{"Id": "site", "DomainName": "site.s3.amazonaws.com",
                    "S3OriginConfig": {{"OriginAccessIdentity": ""}}}}]}},
                  "DefaultCacheBehavior": {{"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}},
                  "CacheBehaviors": {{"Quantity": 1, "Items": [{{"PathPattern": "/images/*", "TargetOriginId": "site",
                    "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}]}},
                  "Logging": {{"Enabled": false, "IncludeCookies": true, "Bucket": "", "Prefix": ""}}
                }}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"Buckets": {{"site": "site", "v2-logs": "logs"}}, "Distributions": [{}]{extra}}}"#,
        distributions.join(",")
    )
}

fn site(dir: &Path) {
    std::fs::create_dir_all(dir.join("site/images")).unwrap();
    std::fs::write(dir.join("site/index.html"), "<h1>v2</h1>").unwrap();
    std::fs::write(dir.join("site/images/a.svg"), "<svg/>").unwrap();
}

/// The venv's python with boto3, pyarrow and moto (installed from requirements-test.txt when missing).
fn python() -> Option<PathBuf> {
    let aws = support::aws_cli()?;
    let python = aws.parent().unwrap().join("python");
    let has = Command::new(&python)
        .args(["-c", "import pyarrow, boto3, moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        let ok = Command::new(aws.parent().unwrap().join("pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../requirements-test.txt"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip install -r requirements-test.txt failed");
    }
    Some(python)
}

/// `aws logs <args>` against the admin listener; the parsed JSON output.
fn aws_logs(aws: &Path, admin: SocketAddr, args: &[&str]) -> Value {
    let out = Command::new(aws)
        .arg("logs")
        .args(args)
        .args(["--endpoint-url", &format!("http://{admin}"), "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "aws logs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Sends `n` requests to the distribution at `domain` (pages and images alternating); the request ids.
fn traffic(pop: SocketAddr, domain: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let path = if i % 2 == 0 { format!("/index.html?n={i}") } else { format!("/images/a.svg?n={i}") };
            let (status, headers, _) = http_get(pop, &path, &[("Host", domain), ("Cookie", "session=abc")]);
            assert_eq!(status, 200);
            header(&headers, "x-amz-cf-id").to_owned()
        })
        .collect()
}

/// Every v2 file under `logs`, read by Python: relative path → what was read.
fn read_logs(python: &Path, logs: &Path) -> BTreeMap<String, Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logs_v2/read_logs.py");
    let out = Command::new(python).arg(script).arg(logs).arg("json").output().unwrap();
    assert!(out.status.success(), "read_logs.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The records of one format's files as (field name, value) rows.
fn rows(files: &BTreeMap<String, Value>, format: &str, fields: &[&str], delimiter: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (path, file) in files.iter().filter(|(p, _)| p.starts_with(&format!("{format}/"))) {
        match format {
            "json" => {
                for pairs in file["json"].as_array().unwrap() {
                    out.push(
                        pairs
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
                            .collect(),
                    );
                }
            }
            "parquet" => {
                let columns: Vec<String> =
                    file["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
                for row in file["rows"].as_array().unwrap() {
                    let values = row.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or("-").to_owned());
                    out.push(columns.iter().cloned().zip(values).collect());
                }
            }
            _ => {
                let lines: Vec<&str> = file["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
                let data = if format == "w3c" {
                    assert_eq!(lines[0], "#Version: 1.0", "{path}");
                    assert_eq!(lines[1], format!("#Fields: {}", fields.join(" ")), "{path}");
                    &lines[2..]
                } else {
                    &lines[..]
                };
                for line in data {
                    let values: Vec<&str> = line.split(delimiter).collect();
                    assert_eq!(values.len(), fields.len(), "{path}: {line}");
                    out.push(
                        fields.iter().map(|f| (*f).to_owned()).zip(values.iter().map(|v| (*v).to_owned())).collect(),
                    );
                }
            }
        }
    }
    out
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse().unwrap())
}

/// `aws logs put-delivery-source`, `put-delivery-destination` and `create-delivery` (the commands
/// of the CloudFront guide) configure one delivery per output format; under traffic each file holds
/// one record per request with the chosen fields in the chosen order (v2-only fields included),
/// under `<prefix>/DistributionId=…/year=…/month=…/day=…/hour=…/` with CloudFront's file names,
/// and `/metrics` counts the same records per format.
#[test]
fn aws_cli_configures_v2_logs_in_every_format() {
    let (Some(aws), Some(python)) = (support::aws_cli(), python()) else {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    };
    let dir = TempDir::new("logs-v2");
    site(&dir.0);
    // A location database placing the test's viewer (loopback) in Germany, for `c-country`.
    let geo = cachalot_test::mmdb::ipv4_database(
        "GeoLite2-Country",
        &[(
            "127.0.0.1".parse().unwrap(),
            32,
            serde_json::json!({"country": {"iso_code": "DE", "names": {"en": "Germany"}}}),
        )],
    );
    std::fs::write(dir.0.join("geo.mmdb"), geo).unwrap();
    std::fs::write(dir.0.join("cachalot.json"), config(r#", "GeoIpDatabase": "geo.mmdb""#)).unwrap();
    let serve = Serve::start(&["--config", "cachalot.json", "--state", "state", "--log-flush", "1"], &dir.0);
    let chosen: BTreeMap<&str, (Vec<&str>, &str)> = [
        (
            "json",
            (
                vec![
                    "x-edge-request-id",
                    "timestamp(ms)",
                    "cs-uri-stem",
                    "cache-behavior-path-pattern",
                    "sc-status",
                    "cs(Cookie)",
                ],
                "\t",
            ),
        ),
        ("plain", (vec!["cs-uri-stem", "x-edge-request-id", "DistributionId", "origin-fbl", "c-country"], ",")),
        ("w3c", (vec!["date", "time", "x-edge-request-id", "cs(Host)", "x-edge-result-type", "asn"], " ")),
        (
            "parquet",
            (vec!["x-edge-request-id", "sc-bytes", "cs-uri-query", "cache-behavior-path-pattern", "timestamp"], "\t"),
        ),
    ]
    .into_iter()
    .collect();
    for (format, id, _) in FORMATS {
        let source = aws_logs(
            &aws,
            serve.admin,
            &[
                "put-delivery-source",
                "--name",
                &format!("cf-{format}"),
                "--resource-arn",
                &format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
                "--log-type",
                "ACCESS_LOGS",
            ],
        );
        assert_eq!(source["deliverySource"]["service"], "cloudfront", "{source}");
        let destination = aws_logs(
            &aws,
            serve.admin,
            &[
                "put-delivery-destination",
                "--name",
                &format!("s3-{format}"),
                "--output-format",
                format,
                "--delivery-destination-configuration",
                &format!("destinationResourceArn=arn:aws:s3:::v2-logs/{format}"),
            ],
        );
        assert_eq!(destination["deliveryDestination"]["deliveryDestinationType"], "S3", "{destination}");
        let arn = destination["deliveryDestination"]["arn"].as_str().unwrap().to_owned();
        let (fields, delimiter) = &chosen[format];
        let mut args = vec!["create-delivery", "--delivery-source-name", &format!("cf-{format}")]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend(["--delivery-destination-arn".to_owned(), arn]);
        args.push("--record-fields".to_owned());
        args.extend(fields.iter().map(|f| (*f).to_owned()));
        args.extend(["--field-delimiter".to_owned(), (*delimiter).to_owned()]);
        args.extend([
            "--s3-delivery-configuration".to_owned(),
            r#"{"suffixPath": "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}", "enableHiveCompatiblePath": true}"#.to_owned(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let delivery = aws_logs(&aws, serve.admin, &args);
        let got: Vec<&str> =
            delivery["delivery"]["recordFields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(&got, fields, "{delivery}");
    }
    let listed = aws_logs(&aws, serve.admin, &["describe-deliveries"]);
    assert_eq!(listed["deliveries"].as_array().unwrap().len(), 4, "{listed}");

    const N: usize = 24;
    let sent: BTreeMap<&str, Vec<String>> =
        FORMATS.iter().map(|(format, _, domain)| (*format, traffic(serve.pop, domain, N))).collect();
    let logs = dir.0.join("logs");
    let deadline = Instant::now() + Duration::from_secs(30);
    let files = loop {
        let files = read_logs(&python, &logs);
        let complete = FORMATS.iter().all(|(format, _, _)| {
            let (fields, delimiter) = &chosen[format];
            rows(&files, format, fields, delimiter).len() >= N
        });
        if complete || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let metrics = support::http_get(serve.admin, "/metrics", &[]).2;
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    for (format, id, domain) in FORMATS {
        let (fields, delimiter) = &chosen[format];
        let records = rows(&files, format, fields, delimiter);
        assert_eq!(records.len(), N, "{format}: one record per request\n{}", serve.log());
        let expected_columns: Vec<String> = if format == "parquet" {
            fields.iter().map(|f| f.replace(['-', '('], "_").replace(')', "").to_ascii_lowercase()).collect()
        } else {
            fields.iter().map(|f| (*f).to_owned()).collect()
        };
        let ids: BTreeSet<String> = records
            .iter()
            .map(|r| {
                let names: Vec<&String> = r.iter().map(|(k, _)| k).collect();
                assert_eq!(names, expected_columns.iter().collect::<Vec<_>>(), "{format}: fields in the chosen order");
                r.iter()
                    .find(|(k, _)| k.starts_with("x") && k.ends_with("request_id") || k == "x-edge-request-id")
                    .unwrap()
                    .1
                    .clone()
            })
            .collect();
        assert_eq!(ids, sent[format].iter().cloned().collect::<BTreeSet<_>>(), "{format}: every request once");
        let value =
            |r: &Vec<(String, String)>, k: &str| r.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        match format {
            "json" => {
                for r in &records {
                    assert_eq!(value(r, "cs(Cookie)"), "session=abc", "IncludeCookies is the distribution's");
                    let pattern = value(r, "cache-behavior-path-pattern");
                    let stem = value(r, "cs-uri-stem");
                    assert_eq!(pattern, if stem.starts_with("/images/") { "/images/*" } else { "*" }, "{r:?}");
                    assert_eq!(value(r, "timestamp(ms)").len(), 13, "{r:?}");
                }
            }
            "plain" => {
                for r in &records {
                    assert_eq!(value(r, "DistributionId"), id);
                    assert_eq!(value(r, "c-country"), "DE", "the viewer's country from GeoIpDatabase");
                }
            }
            "w3c" => {
                for r in &records {
                    assert_eq!(value(r, "cs(Host)"), domain);
                }
            }
            _ => {
                for r in &records {
                    assert!(value(r, "cs_uri_query").starts_with("n="), "{r:?}");
                    assert!(value(r, "timestamp").contains('.'), "{r:?}");
                }
            }
        }
        // Keys: <prefix>/DistributionId=<id>/year=…/month=…/day=…/hour=…/<id>.<YYYY-MM-DD-HH>.<8 hex>.<ext>
        for path in files.keys().filter(|p| p.starts_with(&format!("{format}/"))) {
            let parts: Vec<&str> = path.split('/').collect();
            assert_eq!(parts.len(), 7, "{path}");
            assert_eq!(parts[1], format!("DistributionId={id}"), "{path}");
            for (part, name) in parts[2..6].iter().zip(["year=", "month=", "day=", "hour="]) {
                assert!(part.starts_with(name), "{path}");
            }
            let hour = format!("{}-{}-{}-{}", &parts[2][5..], &parts[3][6..], &parts[4][4..], &parts[5][5..]);
            let extension = if format == "parquet" { "parquet" } else { "gz" };
            let name: Vec<&str> = parts[6].split('.').collect();
            assert_eq!((name[0], name[1], name[3]), (id, hour.as_str(), extension), "{path}");
            assert!(name[2].len() == 8 && name[2].bytes().all(|b| b.is_ascii_hexdigit()), "{path}");
        }
        let written = metric(&metrics, &format!("cachalot_logs_format_written_lines_total{{format=\"{format}\"}}"));
        assert_eq!(written, N as u64, "/metrics counts {format}'s records");
    }
    assert!(serve.stop().success());
}

/// boto3 meets the delivery API's documented errors (ValidationException, ResourceNotFoundException,
/// ConflictException, ServiceQuotaExceededException); the resources survive a restart; with access
/// keys configured an unsigned or wrongly signed call is refused.
#[test]
fn delivery_api_errors_and_persistence() {
    let (Some(aws), Some(python)) = (support::aws_cli(), python()) else {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    };
    let dir = TempDir::new("logs-v2-api");
    site(&dir.0);
    std::fs::write(dir.0.join("cachalot.json"), config("")).unwrap();
    let serve = Serve::start(&["--config", "cachalot.json", "--state", "state"], &dir.0);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logs_v2/errors.py");
    let out =
        Command::new(&python).arg(&script).arg(format!("http://{}", serve.admin)).arg(FORMATS[0].1).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}\n{}", String::from_utf8_lossy(&out.stderr), serve.log());
    assert!(stdout.contains("all checks passed"), "{stdout}");

    aws_logs(
        &aws,
        serve.admin,
        &[
            "put-delivery-source",
            "--name",
            "kept",
            "--resource-arn",
            &format!("arn:aws:cloudfront::123456789012:distribution/{}", FORMATS[1].1),
            "--log-type",
            "ACCESS_LOGS",
        ],
    );
    let (pop, admin) = (serve.pop, serve.admin);
    assert!(serve.stop().success());
    let serve = Serve::start_on(&["--config", "cachalot.json", "--state", "state"], &dir.0, pop, admin);
    let kept = aws_logs(&aws, serve.admin, &["get-delivery-source", "--name", "kept"]);
    assert_eq!(
        kept["deliverySource"]["resourceArns"][0],
        format!("arn:aws:cloudfront::123456789012:distribution/{}", FORMATS[1].1)
    );
    let destinations = aws_logs(&aws, serve.admin, &["describe-delivery-destinations"]);
    assert_eq!(
        destinations["deliveryDestinations"].as_array().unwrap().len(),
        149,
        "the quota's destinations, less the one deleted"
    );
    assert!(serve.stop().success());

    // With access keys, a wrong secret is refused.
    std::fs::write(
        dir.0.join("keys.json"),
        config(r#", "AccessKeys": [{"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": "right"}]"#),
    )
    .unwrap();
    let serve = Serve::start(&["--config", "keys.json", "--state", "state2"], &dir.0);
    let out = Command::new(&aws)
        .args([
            "logs",
            "describe-deliveries",
            "--endpoint-url",
            &format!("http://{}", serve.admin),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("InvalidSignatureException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(serve.stop().success());
}

/// Deliveries from the config file; `kill -9` mid-traffic: the next start publishes every record
/// that had reached the disk (requests older than a second), as plain text and as parquet, and
/// leaves no temporary file.
#[test]
fn v2_records_survive_kill_9() {
    let Some(python) = python() else {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    };
    let dir = TempDir::new("logs-v2-crash");
    site(&dir.0);
    let deliveries = r#",
      "DeliverySources": [
        {"name": "cf-plain", "resourceArn": "arn:aws:cloudfront::123456789012:distribution/E1V2PLAINAAAAA", "logType": "ACCESS_LOGS"},
        {"name": "cf-parquet", "resourceArn": "arn:aws:cloudfront::123456789012:distribution/E1V2PARQUETAAA", "logType": "ACCESS_LOGS"}
      ],
      "DeliveryDestinations": [
        {"name": "s3-plain", "outputFormat": "plain", "deliveryDestinationConfiguration": {"destinationResourceArn": "arn:aws:s3:::v2-logs/plain"}},
        {"name": "s3-parquet", "outputFormat": "parquet", "deliveryDestinationConfiguration": {"destinationResourceArn": "arn:aws:s3:::v2-logs/parquet"}}
      ],
      "Deliveries": [
        {"deliverySourceName": "cf-plain", "deliveryDestinationArn": "arn:aws:logs:us-east-1:123456789012:delivery-destination:s3-plain",
         "recordFields": ["x-edge-request-id", "cs-uri-stem"], "s3DeliveryConfiguration": {"suffixPath": "{yyyy}/{MM}/{dd}/{HH}"}},
        {"deliverySourceName": "cf-parquet", "deliveryDestinationName": "s3-parquet", "recordFields": ["x-edge-request-id", "sc-status"]}
      ]"#;
    std::fs::write(dir.0.join("cachalot.json"), config(deliveries)).unwrap();
    // Files are published only at the hour or on a clean stop: everything is in temporary files.
    let args = ["--config", "cachalot.json", "--state", "state", "--log-flush", "3600"];
    let mut serve = Serve::start(&args, &dir.0);
    let plain = traffic(serve.pop, FORMATS[1].2, 20);
    let parquet = traffic(serve.pop, FORMATS[3].2, 20);
    std::thread::sleep(Duration::from_millis(2500));
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let logs = dir.0.join("logs");
    let temporary = |root: &Path| -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else if e.file_name().to_string_lossy().ends_with(".tmp") {
                    out.push(e.path());
                }
            }
        }
        out
    };
    assert_eq!(temporary(&logs).len(), 2, "the crash left one temporary file per delivery");
    let restarted = Serve::start_on(&args, &dir.0, serve.pop, serve.admin);
    let deadline = Instant::now() + Duration::from_secs(20);
    let files = loop {
        let files = read_logs(&python, &logs);
        if (rows(&files, "plain", &["x-edge-request-id", "cs-uri-stem"], "\t").len() >= 20
            && rows(&files, "parquet", &[], "").len() >= 20)
            || Instant::now() > deadline
        {
            break files;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let got_plain: BTreeSet<String> = rows(&files, "plain", &["x-edge-request-id", "cs-uri-stem"], "\t")
        .into_iter()
        .map(|r| r[0].1.clone())
        .collect();
    assert_eq!(got_plain, plain.into_iter().collect(), "{}", restarted.log());
    let got_parquet: BTreeSet<String> = rows(&files, "parquet", &[], "").into_iter().map(|r| r[0].1.clone()).collect();
    assert_eq!(got_parquet, parquet.into_iter().collect(), "{}", restarted.log());
    assert!(temporary(&logs).is_empty(), "{:?}", temporary(&logs));
    // The default suffix under a prefix is none: plain files sit under plain/<yyyy>/<MM>/<dd>/<HH>/,
    // parquet files right under parquet/.
    assert!(files.keys().filter(|p| p.starts_with("plain/")).all(|p| p.split('/').count() == 6), "{:?}", files.keys());
    assert!(
        files.keys().filter(|p| p.starts_with("parquet/")).all(|p| p.split('/').count() == 2),
        "{:?}",
        files.keys()
    );
    assert!(restarted.stop().success());
}

/// The moto S3 server from the test venv, stopped on drop.
struct Moto(std::process::Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts moto's S3 server with IAM authentication on (after the six unsigned calls of
/// `private/moto_setup.py`, which makes the bucket `logs` and an access key allowed `s3:*`).
/// Returns the server, its endpoint and the key.
fn moto(python: &Path) -> (Moto, String, (String, String)) {
    let port = support::free_port();
    let child = Command::new(python.with_file_name("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "6")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    let server = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let setup = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/private/moto_setup.py");
    let out = Command::new(python).arg(setup).arg(&endpoint).output().unwrap();
    assert!(out.status.success(), "moto_setup.py: {}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = keys.trim().split_once(' ').unwrap();
    (server, endpoint, (id.to_owned(), secret.to_owned()))
}

/// `s3_bucket.py` on `bucket`: `create`, or `download` into `folder` (the keys are returned).
fn s3_bucket(python: &Path, endpoint: &str, key: &(String, String), bucket: &str, action: &[&Path]) -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logs_v2/s3_bucket.py");
    let mut command = Command::new(python);
    command.arg(script).args([endpoint, &key.0, &key.1, bucket]);
    match action {
        [] => command.arg("create"),
        folders => command.arg("download").args(folders),
    };
    let out = command.output().unwrap();
    assert!(out.status.success(), "s3_bucket.py {bucket}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Published log files left under `folder` (temporary files excluded).
fn published(folder: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                stack.push(e.path());
            } else if !name.starts_with('.') {
                out.push(e.path());
            }
        }
    }
    out
}

/// A v2 destination bucket that `Buckets` does not map is S3 (here moto's server, at the address
/// `OriginAddresses` gives): the files are put with SigV4 `PutObject` under the delivery's
/// prefix and Hive-compatible suffix, json and parquet read back from S3 record for record. A
/// bucket that does not exist yet refuses them: they wait in the spool and are delivered, none
/// lost, once it exists; the rest at a clean stop.
#[test]
fn v2_logs_of_an_unmapped_bucket_are_put_to_s3() {
    let Some(python) = python() else {
        eprintln!("SKIPPED: python3 is not installed; the S3-compatible server was not started");
        return;
    };
    let (_moto, endpoint, key) = moto(&python);
    let address = endpoint.trim_start_matches("http://");
    let dir = TempDir::new("logs-v2-s3");
    site(&dir.0);
    let extra = format!(
        r#",
      "OriginAddresses": {{"logs.s3.amazonaws.com": "{address}", "late.s3.amazonaws.com": "{address}"}},
      "DeliverySources": [
        {{"name": "cf-json", "resourceArn": "arn:aws:cloudfront::123456789012:distribution/E1V2JSONAAAAAA", "logType": "ACCESS_LOGS"}},
        {{"name": "cf-parquet", "resourceArn": "arn:aws:cloudfront::123456789012:distribution/E1V2PARQUETAAA", "logType": "ACCESS_LOGS"}}
      ],
      "DeliveryDestinations": [
        {{"name": "s3-json", "outputFormat": "json", "deliveryDestinationConfiguration": {{"destinationResourceArn": "arn:aws:s3:::logs/json"}}}},
        {{"name": "s3-parquet", "outputFormat": "parquet", "deliveryDestinationConfiguration": {{"destinationResourceArn": "arn:aws:s3:::late/parquet"}}}}
      ],
      "Deliveries": [
        {{"deliverySourceName": "cf-json", "deliveryDestinationName": "s3-json", "recordFields": ["x-edge-request-id", "cs-uri-stem"],
          "s3DeliveryConfiguration": {{"suffixPath": "{{DistributionId}}/{{yyyy}}/{{MM}}/{{dd}}/{{HH}}", "enableHiveCompatiblePath": true}}}},
        {{"deliverySourceName": "cf-parquet", "deliveryDestinationName": "s3-parquet", "recordFields": ["x-edge-request-id", "sc-status"]}}
      ]"#
    );
    std::fs::write(dir.0.join("cachalot.json"), config(&extra)).unwrap();
    let serve = Serve::start_env(
        &["--config", "cachalot.json", "--state", "state", "--log-flush", "1"],
        &dir.0,
        &[("AWS_ACCESS_KEY_ID", &key.0), ("AWS_SECRET_ACCESS_KEY", &key.1)],
    );
    let mut json = traffic(serve.pop, FORMATS[0].2, 10);
    let mut parquet = traffic(serve.pop, FORMATS[3].2, 10);
    let download = |bucket: &str| {
        let folder = dir.0.join("downloaded").join(bucket);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let keys = s3_bucket(&python, &endpoint, &key, bucket, &[&folder]);
        (keys, read_logs(&python, &folder))
    };
    // The json files reach S3 while the bucket `late` refuses the parquet ones.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, files) = download("logs");
        let refused = serve.log().contains("cannot put access logs to S3 bucket late");
        if rows(&files, "json", &[], "").len() >= json.len() && refused || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(serve.log().contains("cannot put access logs to S3 bucket late"), "{}", serve.log());
    assert!(!published(&dir.0.join("state/log-spool/late")).is_empty(), "refused files wait in the spool");
    s3_bucket(&python, &endpoint, &key, "late", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&download("late").1, "parquet", &[], "").len() < parquet.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(serve.log().contains("access logs reach S3 bucket late again"), "{}", serve.log());
    // Records of the last second are delivered at a clean stop.
    json.extend(traffic(serve.pop, FORMATS[0].2, 5));
    parquet.extend(traffic(serve.pop, FORMATS[3].2, 5));
    let log = serve.log();
    assert!(serve.stop().success(), "{log}");

    let (json_keys, json_files) = download("logs");
    let got: Vec<String> = rows(&json_files, "json", &[], "").into_iter().map(|r| r[0].1.clone()).collect();
    assert_eq!(got.len(), json.len(), "one record per request: {got:?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), json.iter().cloned().collect(), "{log}");
    for k in json_keys.iter().filter(|k| k.starts_with("json/")) {
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 7, "{k}");
        assert_eq!(parts[1], "DistributionId=E1V2JSONAAAAAA", "{k}");
        assert!(parts[2].starts_with("year=") && parts[5].starts_with("hour="), "{k}");
        assert!(parts[6].starts_with("E1V2JSONAAAAAA.") && parts[6].ends_with(".gz"), "{k}");
    }
    let (parquet_keys, parquet_files) = download("late");
    let got: Vec<Vec<(String, String)>> = rows(&parquet_files, "parquet", &[], "");
    assert_eq!(got.len(), parquet.len(), "one record per request: {got:?}");
    for r in &got {
        let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x_edge_request_id", "sc_status"], "{r:?}");
        assert_eq!(r[1].1, "200", "{r:?}");
    }
    let ids: BTreeSet<String> = got.into_iter().map(|r| r[0].1.clone()).collect();
    assert_eq!(ids, parquet.iter().cloned().collect(), "{log}");
    assert!(
        parquet_keys.iter().all(|k| k.starts_with("parquet/E1V2PARQUETAAA.") && k.ends_with(".parquet")),
        "{parquet_keys:?}"
    );
    let left = published(&dir.0.join("state/log-spool"));
    assert!(left.is_empty(), "delivered files leave the spool: {left:?}");
}
