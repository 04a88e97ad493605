//! Origin access control end to end, with `cachalot serve`: a private folder-backed bucket
//! and a private bucket on a real S3-compatible server (moto's server mode from the test
//! venv, with IAM authentication on) answer only requests an origin access control signed
//! with the node's credentials; the same origin without the control gets S3's 403.
//!
//! Source: <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html>.

#[path = "serve/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Serve, TempDir, aws_run, free_port, header, http_get, serve_refused};

/// A distribution serving `bucket` at `domain`, through origin access control `oac` (or none).
fn distribution(id: &str, domain: &str, bucket: &str, oac: Option<&str>) -> serde_json::Value {
    let mut origin = serde_json::json!({
        "Id": "s3", "DomainName": format!("{bucket}.s3.amazonaws.com"),
        "S3OriginConfig": {"OriginAccessIdentity": ""}
    });
    if let Some(oac) = oac {
        origin["OriginAccessControlId"] = serde_json::json!(oac);
    }
    serde_json::json!({
        "Id": id, "DomainName": domain,
        "DistributionConfig": {
            "CallerReference": id, "Comment": "", "Enabled": true,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}
        }
    })
}

fn oac() -> serde_json::Value {
    serde_json::json!([{"Id": "E2OACEXAMPLE01", "OriginAccessControlConfig": {
        "Name": "s3", "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}}])
}

#[test]
fn a_private_folder_bucket_serves_only_through_origin_access_control() {
    let dir = TempDir::new("private-folder");
    std::fs::create_dir_all(dir.0.join("site")).unwrap();
    std::fs::write(dir.0.join("site/index.html"), "private page").unwrap();
    let config = serde_json::json!({
        "Buckets": {"site": {"Folder": "site", "Private": true}},
        "OriginAccessControls": oac(),
        "Distributions": [
            distribution("E1WITHOAC00001", "d1withoac.cloudfront.net", "site", Some("E2OACEXAMPLE01")),
            distribution("E1WITHOUTOAC01", "d1nooac.cloudfront.net", "site", None),
        ]
    });
    std::fs::write(dir.0.join("cachalot.json"), config.to_string()).unwrap();
    let serve = Serve::start(&["--config", "cachalot.json", "--state", "state"], &dir.0);
    let (status, _, body) = http_get(serve.pop, "/index.html", &[("host", "d1withoac.cloudfront.net")]);
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "private page"), "{}", serve.log());
    let (status, headers, body) = http_get(serve.pop, "/index.html", &[("host", "d1nooac.cloudfront.net")]);
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "x-cache"), "Error from cloudfront");
    assert!(String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
    // A viewer's own Authorization does not open the bucket either.
    let forged =
        "AWS4-HMAC-SHA256 Credential=AKIAFORGED/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
    let (status, _, _) =
        http_get(serve.pop, "/index.html", &[("host", "d1nooac.cloudfront.net"), ("authorization", forged)]);
    assert_eq!(status, 403);
}

/// The test venv's python with moto installed (pip-installed from requirements-test.txt when missing).
fn venv_python() -> Option<PathBuf> {
    support::aws_cli()?;
    let py = support::test_venv().join("bin/python");
    if !Command::new(&py).args(["-c", "import moto.server"]).status().is_ok_and(|s| s.success()) {
        support::install_test_requirements("pip install -r requirements-test.txt (moto)");
    }
    Some(py)
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(py: &Path, port: u16) -> Moto {
    let child = Command::new(py.with_file_name("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "6")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto(child)
}

#[test]
fn a_private_bucket_on_an_s3_compatible_server_behind_the_edge() {
    let Some(py) = venv_python() else {
        println!("SKIPPED: python3 is not installed; the S3-compatible server was not started");
        return;
    };
    let dir = TempDir::new("private-moto");
    let port = free_port();
    let _moto = start_moto(&py, port);
    let endpoint = format!("http://127.0.0.1:{port}");
    let setup = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/private/moto_setup.py");
    let out = Command::new(&py).arg(setup).arg(&endpoint).output().unwrap();
    assert!(out.status.success(), "moto_setup.py: {}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8(out.stdout).unwrap();
    let (key_id, secret) = keys.trim().split_once(' ').unwrap();

    // Direct, unsigned: the bucket is private.
    let moto: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (status, _, _) = http_get(moto, "/clip.txt", &[("host", "media.s3.amazonaws.com")]);
    assert_eq!(status, 403, "the bucket must refuse anonymous requests");

    let mut logged = distribution("E3WITHOAC00001", "d3withoac.cloudfront.net", "media", Some("E2OACEXAMPLE01"));
    logged["DistributionConfig"]["Logging"] = serde_json::json!(
        {"Enabled": true, "IncludeCookies": false, "Bucket": "logs.s3.amazonaws.com", "Prefix": "edge/"}
    );
    let config = serde_json::json!({
        "OriginAddresses": {"media.s3.amazonaws.com": format!("127.0.0.1:{port}"),
                            "logs.s3.amazonaws.com": format!("127.0.0.1:{port}")},
        "OriginAccessControls": oac(),
        "Distributions": [
            logged,
            distribution("E3WITHOUTOAC01", "d3nooac.cloudfront.net", "media", None),
        ]
    });
    std::fs::write(dir.0.join("cachalot.json"), config.to_string()).unwrap();
    let serve = Serve::start_env(
        &["--config", "cachalot.json", "--state", "state"],
        &dir.0,
        &[("AWS_ACCESS_KEY_ID", key_id), ("AWS_SECRET_ACCESS_KEY", secret)],
    );
    let (status, headers, body) = http_get(serve.pop, "/clip.txt", &[("host", "d3withoac.cloudfront.net")]);
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, "from the S3-compatible server"),
        "{}",
        serve.log()
    );
    assert_eq!(header(&headers, "x-cache"), "Miss from cloudfront");
    let (status, headers, _) = http_get(serve.pop, "/clip.txt", &[("host", "d3nooac.cloudfront.net")]);
    assert_eq!(status, 403, "without the origin access control S3 refuses");
    assert_eq!(header(&headers, "x-cache"), "Error from cloudfront");
    let (status, _, _) = http_get(serve.pop, "/missing.txt", &[("host", "d3withoac.cloudfront.net")]);
    assert_eq!(status, 404, "S3's NoSuchKey reaches the viewer as 404");

    // The access logs of a log bucket Buckets does not map are put to S3 (here: the same server).
    let log = serve.log();
    assert!(serve.stop().success(), "{log}");
    let list = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/private/moto_list.py");
    let out = Command::new(&py).arg(list).args([&endpoint, key_id, secret, "logs"]).output().unwrap();
    assert!(out.status.success(), "moto_list.py: {}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8(out.stdout).unwrap();
    assert!(
        keys.lines().any(|k| k.starts_with("edge/E3WITHOAC00001.") && k.ends_with(".gz")),
        "no log file in the S3 log bucket: {keys:?}"
    );
    let spooled: Vec<_> = std::fs::read_dir(dir.0.join("state/log-spool/logs/edge"))
        .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().ends_with(".gz")).collect())
        .unwrap_or_default();
    assert!(spooled.is_empty(), "delivered files are removed from the spool: {spooled:?}");
}

#[test]
fn a_config_asking_for_an_unenforced_protection_is_refused_at_load_unless_the_node_serves_it() {
    let dir = TempDir::new("unenforced");
    let mut d = distribution("E4WAF000000001", "d4waf.cloudfront.net", "site", None);
    d["DistributionConfig"]["WebACLId"] =
        serde_json::json!("arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1");
    std::fs::create_dir_all(dir.0.join("site")).unwrap();
    std::fs::write(dir.0.join("site/a.txt"), "a").unwrap();
    let mut config = serde_json::json!({"Buckets": {"site": "site"}, "Distributions": [d]});
    std::fs::write(dir.0.join("cachalot.json"), config.to_string()).unwrap();
    serve_refused(
        &["--config", "cachalot.json", "--state", "state", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
        &dir.0,
        &["unenforced-protection", "WebACLId"],
    );
    config["UnenforcedProtections"] = serde_json::json!("serve");
    std::fs::write(dir.0.join("cachalot.json"), config.to_string()).unwrap();
    let serve = Serve::start(&["--config", "cachalot.json", "--state", "state"], &dir.0);
    let (status, _, _) = http_get(serve.pop, "/a.txt", &[("host", "d4waf.cloudfront.net")]);
    assert_eq!(status, 200);
    assert!(serve.log().contains("is NOT enforced"), "{}", serve.log());
}

/// Runs the AWS CLI at `admin`; returns its JSON output (what is not JSON, such as a signed
/// URL, as a string).
fn aws(cli: &Path, admin: std::net::SocketAddr, args: &[&str]) -> serde_json::Value {
    let text = aws_run(cli, admin, Path::new("."), "json", args);
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.trim().to_owned()))
}

#[test]
fn keys_and_groups_made_through_the_api_guard_a_distribution_made_through_the_api() {
    let Some(cli) = support::aws_cli() else {
        println!("SKIPPED: python3 is not installed; the AWS CLI did not run");
        return;
    };
    let dir = TempDir::new("private-api");
    std::fs::create_dir_all(dir.0.join("site")).unwrap();
    std::fs::write(dir.0.join("site/a.txt"), "members only").unwrap();
    std::fs::write(dir.0.join("cachalot.json"), r#"{"Buckets": {"site": "site"}}"#).unwrap();
    let mut key_ids = Vec::new();
    for k in ["k1", "k2"] {
        let private = dir.0.join(format!("{k}.pem"));
        assert!(
            Command::new("openssl")
                .args(["genrsa", "-traditional", "-out"])
                .arg(&private)
                .arg("2048")
                .output()
                .unwrap()
                .status
                .success()
        );
        let public =
            Command::new("openssl").arg("rsa").arg("-in").arg(&private).arg("-pubout").output().unwrap().stdout;
        let config =
            serde_json::json!({"CallerReference": k, "Name": k, "EncodedKey": String::from_utf8(public).unwrap()});
        std::fs::write(dir.0.join(format!("{k}.json")), config.to_string()).unwrap();
    }
    let serve = Serve::start(&["--config", "cachalot.json", "--state", "state"], &dir.0);
    for k in ["k1", "k2"] {
        let spec = format!("file://{}", dir.0.join(format!("{k}.json")).display());
        let out = aws(&cli, serve.admin, &["cloudfront", "create-public-key", "--public-key-config", &spec]);
        key_ids.push(out["PublicKey"]["Id"].as_str().unwrap().to_owned());
    }
    let group = aws(
        &cli,
        serve.admin,
        &[
            "cloudfront",
            "create-key-group",
            "--key-group-config",
            &serde_json::json!({"Name": "members", "Items": [key_ids[0]]}).to_string(),
        ],
    );
    let group_id = group["KeyGroup"]["Id"].as_str().unwrap().to_owned();
    let mut d = distribution("unused", "unused", "site", None)["DistributionConfig"].clone();
    d["DefaultCacheBehavior"]["TrustedKeyGroups"] =
        serde_json::json!({"Enabled": true, "Quantity": 1, "Items": [group_id]});
    aws(&cli, serve.admin, &["cloudfront", "create-distribution", "--distribution-config", &d.to_string()]);

    let url = format!("http://{}/a.txt", serve.pop);
    let expires =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600).to_string();
    let key_file = format!("file://{}", dir.0.join("k1.pem").display());
    let signed = aws(
        &cli,
        serve.admin,
        &[
            "cloudfront",
            "sign",
            "--url",
            &url,
            "--key-pair-id",
            &key_ids[0],
            "--private-key",
            &key_file,
            "--date-less-than",
            &expires,
        ],
    );
    let signed = signed.as_str().unwrap().trim_start_matches(&format!("http://{}", serve.pop)).to_owned();
    let (status, _, body) = http_get(serve.pop, &signed, &[]);
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "members only"), "{}", serve.log());
    assert_eq!(http_get(serve.pop, "/a.txt", &[]).0, 403, "unsigned");

    // The key leaves the group: its signatures are refused from then on.
    let etag = group["ETag"].as_str().unwrap();
    let replaced = serde_json::json!({"Name": "members", "Items": [key_ids[1]]}).to_string();
    aws(
        &cli,
        serve.admin,
        &["cloudfront", "update-key-group", "--id", &group_id, "--if-match", etag, "--key-group-config", &replaced],
    );
    let (status, _, body) = http_get(serve.pop, &signed, &[]);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("<Code>InvalidKey</Code>"));
}
