//! The admin listener of the real `cachalot serve`: its monitoring pages behind the access keys
//! (or on a listener of their own), and `TestFunction` through the AWS CLI on the real functions
//! runtime. Clients are real: Python's urllib answering the Basic challenge, botocore signing
//! with SigV4, Prometheus' own parser, the AWS CLI.

#[path = "serve/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Serve, TempDir, aws_run, free_port, header, http_get};

const KEY_ID: &str = "AKIDADMINPAGES";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn node_config(dir: &Path, extra: &str) {
    let keys = format!(r#""AccessKeys": [{{"AccessKeyId": "{KEY_ID}", "SecretAccessKey": "{SECRET}"}}]"#);
    std::fs::write(dir.join("node.json"), format!("{{{keys}{extra}}}")).unwrap();
}

/// The venv's python (AWS CLI, boto3, prometheus_client), or `None` when python3 is missing.
fn python() -> Option<PathBuf> {
    let python = support::aws_cli()?.parent()?.join("python");
    let has = Command::new(&python).args(["-c", "import prometheus_client"]).output().is_ok_and(|o| o.status.success());
    if !has {
        let pip = python.parent()?.join("pip");
        assert!(Command::new(pip).args(["install", "-q", "prometheus_client"]).status().unwrap().success());
    }
    Some(python)
}

/// With `AccessKeys`, `/metrics` and `/dashboard` answer 401 with a Basic challenge, and serve a
/// client that answers it with an access key, or that signs with SigV4; `/healthz` stays open.
#[test]
fn monitoring_pages_ask_for_an_access_key_when_keys_are_configured() {
    let dir = TempDir::new("admin-pages");
    node_config(&dir.0, "");
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    for page in ["/metrics", "/dashboard", "/dashboard/data", "/"] {
        let (status, headers, _) = http_get(serve.admin, page, &[]);
        assert_eq!(status, 401, "{page} without credentials\n{}", serve.log());
        assert!(header(&headers, "www-authenticate").starts_with("Basic realm="), "{page}: {headers:?}");
    }
    let (status, _, body) = http_get(serve.admin, "/healthz", &[]);
    assert_eq!((status, &body[..]), (200, &b"ok\n"[..]));

    let Some(python) = python() else {
        println!("SKIPPED: python3 is not installed; the urllib / botocore clients did not run");
        return;
    };
    let script = format!(
        r#"
import urllib.error, urllib.request
import botocore.auth, botocore.awsrequest, botocore.credentials
from prometheus_client.parser import text_string_to_metric_families
url = "http://{admin}"

def basic(user, password, path):
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, user, password)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
    try:
        with opener.open(url + path) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""

status, text = basic("{KEY_ID}", "{SECRET}", "/metrics")
families = [f.name for f in text_string_to_metric_families(text)]
print("basic", status, len(families) > 0)
print("dashboard", basic("{KEY_ID}", "{SECRET}", "/dashboard")[0])
print("wrong", basic("{KEY_ID}", "not-the-secret", "/metrics")[0])
print("unknown", basic("AKIDNOBODY", "{SECRET}", "/metrics")[0])

def signed(secret):
    request = botocore.awsrequest.AWSRequest(method="GET", url=url + "/metrics")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("{KEY_ID}", secret), "cloudfront", "us-east-1").add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers))) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

print("sigv4", signed("{SECRET}"), signed("wrong"))
"#,
        admin = serve.admin
    );
    let out = Command::new(&python).args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["basic 200 True", "dashboard 200", "wrong 401", "unknown 401", "sigv4 200 403"],
        "{}",
        serve.log()
    );
}

/// `--metrics ADDR` (or `"Metrics"` in the config) moves the pages to a listener of their own,
/// where no credentials are asked; the admin listener then serves only the APIs.
#[test]
fn a_metrics_listener_of_its_own_serves_the_pages_without_credentials() {
    let dir = TempDir::new("admin-metrics-listener");
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    node_config(&dir.0, &format!(r#", "Metrics": "{metrics}""#));
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let (status, headers, body) = http_get(metrics, "/metrics", &[]);
    assert_eq!(status, 200, "{}", serve.log());
    assert!(header(&headers, "content-type").starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&body).contains("# TYPE"), "{}", String::from_utf8_lossy(&body));
    assert_eq!(http_get(metrics, "/dashboard", &[]).0, 200);
    assert_eq!(http_get(metrics, "/healthz", &[]).0, 200);
    assert_eq!(http_get(serve.admin, "/metrics", &[]).0, 404, "the admin listener keeps only the APIs");
    assert_eq!(http_get(serve.admin, "/dashboard", &[]).0, 404);

    let other = free_port();
    let moved = Serve::start(&["--metrics", &format!("127.0.0.1:{other}"), "--state", "state-2"], &dir.0);
    let addr = format!("127.0.0.1:{other}").parse().unwrap();
    assert_eq!(http_get(addr, "/metrics", &[]).0, 200, "{}", moved.log());
    assert_eq!(http_get(moved.admin, "/metrics", &[]).0, 404);
}

/// `aws cloudfront test-function` on the real runtime: a function that logs nothing still
/// answers `FunctionExecutionLogs` (empty), as CloudFront's TestResult does
/// (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_TestResult.html>).
#[test]
fn test_function_answers_empty_execution_logs() {
    let Some(aws) = support::aws_cli() else {
        println!("SKIPPED: python3 is not installed; the AWS CLI test-function check did not run");
        return;
    };
    let dir = TempDir::new("admin-test-function");
    let serve = Serve::start(&["--state", "state"], &dir.0);
    std::fs::write(dir.0.join("fn.js"), "function handler(event) { return event.request; }").unwrap();
    std::fs::write(
        dir.0.join("event.json"),
        r#"{"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": "198.51.100.11"},
            "request": {"method": "GET", "uri": "/index.html", "querystring": {}, "headers": {}, "cookies": {}}}"#,
    )
    .unwrap();
    let aws = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&aws_run(&aws, serve.admin, &dir.0, "json", args)).unwrap()
    };
    let created = aws(&[
        "cloudfront",
        "create-function",
        "--name",
        "quiet",
        "--function-config",
        "Comment=,Runtime=cloudfront-js-2.0",
        "--function-code",
        "fileb://fn.js",
    ]);
    let etag = created["ETag"].as_str().unwrap().to_owned();
    let result = aws(&[
        "cloudfront",
        "test-function",
        "--name",
        "quiet",
        "--if-match",
        &etag,
        "--event-object",
        "fileb://event.json",
    ]);
    let test = &result["TestResult"];
    assert_eq!(test["FunctionExecutionLogs"], serde_json::json!([]), "{result}");
    assert_eq!(test["FunctionErrorMessage"], "", "{result}");
    assert!(test["FunctionOutput"].as_str().unwrap().contains("/index.html"), "{result}");
}
