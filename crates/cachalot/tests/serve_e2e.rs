//! `cachalot serve` end to end: the real binary on loopback, driven by a plain
//! HTTP client and the real AWS CLI.

#[path = "serve/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::{Serve, TempDir, aws_run, copy_dir, header, http_get, serve_refused};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The README's quick start: the shipped example, Miss then Hit on the same POP.
#[test]
fn readme_quick_start_misses_then_hits() {
    let dir = TempDir::new("quickstart");
    copy_dir(&examples(), &dir.0.join("examples"));
    let serve = Serve::start(&["--config", "examples/cachalot.json", "--state", "state"], &dir.0);
    let (status, first, body) = http_get(serve.pop, "/", &[]);
    assert_eq!(status, 200, "{}", serve.log());
    assert!(String::from_utf8_lossy(&body).contains("Served through Cachalot"));
    assert_eq!(header(&first, "x-cache"), "Miss from cloudfront");
    assert_eq!(header(&first, "x-amz-cf-pop"), "LOCAL50-C1");
    let (_, second, _) = http_get(serve.pop, "/", &[]);
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront");
    assert_eq!(header(&second, "x-amz-cf-pop"), "LOCAL50-C1");
    let (status, img, _) = http_get(serve.pop, "/images/hero.svg", &[]);
    assert_eq!((status, header(&img, "content-type")), (200, "image/svg+xml"));
    assert!(serve.stop().success());
}

/// `serve --origin URL`: one distribution with Managed-CachingOptimized in front of an origin.
#[test]
fn origin_flag_puts_an_edge_in_front_of_a_url() {
    let dir = TempDir::new("origin-flag");
    let site = dir.0.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("a.txt"), "from the origin").unwrap();
    // The origin is another cachalot serving the folder: a real HTTP server with no extra tooling.
    let origin_config = dir.0.join("origin.json");
    std::fs::write(
        &origin_config,
        r#"{"Buckets": {"site": "site"}, "Distributions": [{"DistributionConfig": {"CallerReference": "o", "Comment": "", "Enabled": true,
            "Origins": {"Quantity": 1, "Items": [{"Id": "s", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "s", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}}}]}"#,
    )
    .unwrap();
    let origin = Serve::start(&["--config", "origin.json", "--state", "origin-state"], &dir.0);
    let url = format!("http://{}", origin.pop);
    let edge = Serve::start(&["--origin", &url, "--state", "edge-state"], &dir.0);
    let (status, first, body) = http_get(edge.pop, "/a.txt", &[]);
    assert_eq!((status, &body[..]), (200, &b"from the origin"[..]), "{}", edge.log());
    assert_eq!(header(&first, "x-cache"), "Miss from cloudfront");
    let (_, second, _) = http_get(edge.pop, "/a.txt", &[]);
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront");
}

/// A bad config: every problem at once, each with its JSON path and a hint, exit 2.
#[test]
fn bad_config_reports_every_problem_and_exits_2() {
    let dir = TempDir::new("bad-config");
    std::fs::write(
        dir.0.join("bad.json"),
        r#"{"Distributions": [{"DistributionConfig": {"CallerReference": "x", "Comment": "", "Enabled": true,
            "Origins": {"Quantity": 2, "Items": [{"Id": "o", "DomainName": "example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "sometimes"}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "nope", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}]}"#,
    )
    .unwrap();
    let expected = [
        "$.Distributions[0].DistributionConfig.Origins.Quantity [InconsistentQuantities]",
        "$.Distributions[0].DistributionConfig.Origins.Items[0].CustomOriginConfig.OriginProtocolPolicy",
        "$.Distributions[0].DistributionConfig.DefaultCacheBehavior.TargetOriginId [NoSuchOrigin]",
        "hint:",
        "has 3 errors",
    ];
    let stderr = serve_refused(&["--config", "bad.json", "--state", "state"], &dir.0, &expected);
    assert!(!stderr.contains("panicked"));
}

/// The control plane's "done" path: create a cache policy and a distribution with the AWS CLI,
/// see Miss then Hit, invalidate, see Miss again, restart, and find everything still there.
#[test]
fn aws_cli_creates_invalidates_and_state_survives_restart() {
    let Some(aws) = support::aws_cli() else {
        println!("SKIPPED: python3 is not installed; the AWS CLI end-to-end test did not run");
        return;
    };
    let dir = TempDir::new("aws-e2e");
    let site = dir.0.join("site");
    std::fs::create_dir_all(site.join("images")).unwrap();
    std::fs::write(site.join("images/hero.jpg"), vec![b'j'; 2048]).unwrap();
    std::fs::write(dir.0.join("node.json"), r#"{"Buckets": {"media": "site"}}"#).unwrap();
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let (pop_addr, admin_addr) = (serve.pop, serve.admin);
    let run = |args: &[&str]| aws_run(&aws, admin_addr, &dir.0, "text", args).trim().to_owned();
    // The seed's command, verbatim JSON.
    let policy_id = run(&[
        "cloudfront",
        "create-cache-policy",
        "--cache-policy-config",
        r#"{
  "Name": "static-assets-cache",
  "DefaultTTL": 86400,
  "MaxTTL": 31536000,
  "MinTTL": 1,
  "ParametersInCacheKeyAndForwardedToOrigin": {
    "EnableAcceptEncodingGzip": true,
    "EnableAcceptEncodingBrotli": true,
    "HeadersConfig": { "HeaderBehavior": "none" },
    "QueryStringsConfig": { "QueryStringBehavior": "none" },
    "CookiesConfig": { "CookieBehavior": "none" }
  }
}"#,
        "--query",
        "CachePolicy.Id",
    ]);
    let distribution = format!(
        r#"{{"CallerReference": "e2e", "Comment": "", "Enabled": true,
            "Origins": {{"Quantity": 1, "Items": [{{"Id": "media", "DomainName": "media.s3.amazonaws.com", "S3OriginConfig": {{"OriginAccessIdentity": ""}}}}]}},
            "DefaultCacheBehavior": {{"TargetOriginId": "media", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "{policy_id}"}}}}"#
    );
    let created = run(&[
        "cloudfront",
        "create-distribution",
        "--distribution-config",
        &distribution,
        "--query",
        "Distribution.[Id,DomainName]",
    ]);
    let mut parts = created.split_whitespace();
    let (id, domain) = (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned());
    run(&["cloudfront", "wait", "distribution-deployed", "--id", &id]);
    let host = [("host", domain.as_str())];
    let (status, h1, _) = http_get(pop_addr, "/images/hero.jpg", &host);
    assert_eq!(status, 200, "{}", serve.log());
    assert_eq!(header(&h1, "x-cache"), "Miss from cloudfront");
    assert_eq!(header(&http_get(pop_addr, "/images/hero.jpg", &host).1, "x-cache"), "Hit from cloudfront");
    let invalidation = run(&[
        "cloudfront",
        "create-invalidation",
        "--distribution-id",
        &id,
        "--paths",
        "/images/*",
        "--query",
        "Invalidation.Id",
    ]);
    run(&["cloudfront", "wait", "invalidation-completed", "--distribution-id", &id, "--id", &invalidation]);
    assert_eq!(header(&http_get(pop_addr, "/images/hero.jpg", &host).1, "x-cache"), "Miss from cloudfront");
    assert!(serve.stop().success());

    let serve = Serve::start_on(&["--config", "node.json", "--state", "state"], &dir.0, pop_addr, admin_addr);
    assert_eq!(run(&["cloudfront", "get-distribution", "--id", &id, "--query", "Distribution.DomainName"]), domain);
    assert_eq!(
        run(&["cloudfront", "get-cache-policy", "--id", &policy_id, "--query", "CachePolicy.CachePolicyConfig.Name"]),
        "static-assets-cache"
    );
    let (status, h, _) = http_get(pop_addr, "/images/hero.jpg", &host);
    assert_eq!((status, header(&h, "x-cache")), (200, "Miss from cloudfront"), "{}", serve.log());
}

/// Two distributions claiming one domain name: CloudFront's error, at the second one's path.
#[test]
fn a_domain_name_used_twice_is_refused_at_its_path() {
    let dir = TempDir::new("cname");
    let distribution = |id: &str| {
        format!(
            r#"{{"Id": "{id}", "DomainName": "dsame0000000001.cloudfront.net", "DistributionConfig": {{"CallerReference": "{id}", "Comment": "", "Enabled": true,
                "Origins": {{"Quantity": 1, "Items": [{{"Id": "o", "DomainName": "example.com",
                    "CustomOriginConfig": {{"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}}]}},
                "DefaultCacheBehavior": {{"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}}}}"#
        )
    };
    std::fs::write(
        dir.0.join("twice.json"),
        format!(r#"{{"Distributions": [{}, {}]}}"#, distribution("E1FIRST"), distribution("E2SECOND")),
    )
    .unwrap();
    let expected = ["$.Distributions[1].DomainName [CNAMEAlreadyExists]"];
    serve_refused(&["--config", "twice.json", "--state", "state"], &dir.0, &expected);
}

/// `probe` against a TLS POP with a self-signed certificate: refused as a TLS problem (exit 2,
/// not a cache fault) until `--insecure` is given; then the edge is diagnosed.
#[test]
fn probe_reaches_a_self_signed_tls_pop_with_insecure() {
    let dir = TempDir::new("probe-tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.0.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.0.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::create_dir_all(dir.0.join("site")).unwrap();
    std::fs::write(dir.0.join("site/a.css"), "body {}\n".repeat(100)).unwrap();
    let tls_port = support::free_port();
    std::fs::write(
        dir.0.join("tls.json"),
        format!(
            r#"{{"Pops": [{{"Id": "LOCAL50-C1", "Listen": "127.0.0.1:0", "TlsListen": "127.0.0.1:{tls_port}", "Certificate": "cert.pem", "PrivateKey": "key.pem"}}],
                "Buckets": {{"site": "site"}},
                "Distributions": [{{"DistributionConfig": {{"CallerReference": "tls", "Comment": "", "Enabled": true,
                    "Origins": {{"Quantity": 1, "Items": [{{"Id": "s", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {{"OriginAccessIdentity": ""}}}}]}},
                    "DefaultCacheBehavior": {{"TargetOriginId": "s", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}}}}]}}"#
        ),
    )
    .unwrap();
    let serve = Serve::start(&["--config", "tls.json", "--state", "state"], &dir.0);
    let url = format!("https://localhost:{tls_port}/a.css");
    let probe = |extra: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_cachalot")).args(["probe", &url, "--json"]).args(extra).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = probe(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("TLS") && stderr.contains("--insecure"), "{stderr}");
    let (code, stdout, stderr) = probe(&["--insecure"]);
    assert!(code == Some(0) || code == Some(1), "{stderr}\n{}", serve.log());
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(stdout.contains("Hit from cloudfront"), "{report}");
}

/// CPU seconds a process has used (utime + stime from /proc, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// Out of file descriptors, the listeners back off (one warning, no busy loop) and
/// answer again as soon as descriptors are free.
#[test]
fn running_out_of_descriptors_backs_off_and_recovers() {
    let dir = TempDir::new("emfile");
    let serve = Serve::start_with_fd_limit(&["--state", "state"], &dir.0, 64);
    let mut held = Vec::new();
    for _ in 0..120 {
        match std::net::TcpStream::connect(serve.pop) {
            Ok(c) => held.push(c),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(serve.child.id());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_seconds(serve.child.id()) - before;
    assert!(spent < 0.5, "the accept loop spun at the descriptor limit: {spent:.2} CPU seconds in 2 s");
    assert!(serve.log().contains("cannot accept connections"), "no warning was logged:\n{}", serve.log());
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(mut c) = std::net::TcpStream::connect(serve.admin) {
            use std::io::{Read as _, Write as _};
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = c.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the admin listener never answered again:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(serve.stop().success());
}

/// `kill -9` while access logs are being written: the next start publishes the lines
/// that had reached the disk (all requests older than a second), and leaves no
/// temporary file behind.
#[test]
fn access_log_lines_survive_kill_9() {
    let dir = TempDir::new("log-crash");
    copy_dir(&examples(), &dir.0.join("examples"));
    let mut serve = Serve::start(&["--config", "examples/cachalot.json", "--state", "state"], &dir.0);
    for i in 0..20 {
        let (status, _, _) = http_get(serve.pop, &format!("/?n={i}"), &[]);
        assert_eq!(status, 200);
    }
    std::thread::sleep(Duration::from_millis(2500));
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let logs = dir.0.join(".cachalot/logs/cloudfront");
    let names = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir).map_or_else(
            |_| Vec::new(),
            |d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        )
    };
    assert!(names(&logs).iter().any(|n| n.ends_with(".tmp")), "the crash left its temporary file: {:?}", names(&logs));
    let restarted =
        Serve::start_on(&["--config", "examples/cachalot.json", "--state", "state"], &dir.0, serve.pop, serve.admin);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let lines = loop {
        let published: Vec<String> = names(&logs).into_iter().filter(|n| n.ends_with(".gz")).collect();
        let lines: usize = published
            .iter()
            .map(|n| {
                let mut text = String::new();
                use std::io::Read as _;
                let _ =
                    flate2::read::GzDecoder::new(std::fs::File::open(logs.join(n)).unwrap()).read_to_string(&mut text);
                text.lines().filter(|l| !l.starts_with('#')).count()
            })
            .sum();
        if lines >= 20 || std::time::Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(lines, 20, "{}", restarted.log());
    assert!(!names(&logs).iter().any(|n| n.ends_with(".tmp")), "{:?}", names(&logs));
    assert!(restarted.stop().success());
}

/// A function the edge could not run stops `serve` with its position, instead of a 503 on
/// every request of its behavior.
#[test]
fn a_function_that_cannot_run_is_reported_at_its_path() {
    let dir = TempDir::new("bad-function");
    std::fs::write(dir.0.join("rewrite.js"), "function handler(event) {\n  return event.request?.uri;\n}\n").unwrap();
    std::fs::write(
        dir.0.join("config.json"),
        r#"{"Functions": [
            {"Name": "rewrite", "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-1.0"}, "CodeFile": "rewrite.js"},
            {"Name": "inline", "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-2.0"},
             "Code": "import fs from 'fs';\nfunction handler(e) { return e.request; }"},
            {"Name": "jwt", "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-2.0"},
             "Code": "import crypto from 'crypto';\nimport cf from 'cloudfront';\nasync function handler(e) { return e.request; }"}]}"#,
    )
    .unwrap();
    let expected = [
        "$.Functions[0].CodeFile [InvalidArgument]: function rewrite cannot run under cloudfront-js-1.0: optional chaining (`?.`) is not supported by cloudfront-js-1.0 (line 2, column 23)",
        "$.Functions[1].Code [InvalidArgument]: function inline cannot run under cloudfront-js-2.0: module 'fs' cannot be imported",
        "has 2 errors",
    ];
    let stderr = serve_refused(&["--config", "config.json", "--state", "state"], &dir.0, &expected);
    assert!(!stderr.contains("Functions[2]"), "{stderr}");
}
