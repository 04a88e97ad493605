//! Private content at the edge: signed URLs and cookies signed by the real AWS CLI
//! (`aws cloudfront sign`) and botocore's `CloudFrontSigner`, with keys made by `openssl`
//! in the test; key groups changing under a running edge; geo restriction with a
//! MaxMind-format database the test writes itself.
//!
//! Sources: <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/georestrictions.html>.

use crate::harness::*;
use cachalot_test::{ClientReply, Reply, TestOrigin, get};
use std::path::{Path, PathBuf};
use std::process::Command;

const HOST: &str = "d111111abcdef8.cloudfront.net";

/// The test venv's python (the AWS CLI, botocore and `rsa`), or `None` (the test says it skipped).
fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("CACHALOT_AWS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aws-venv"));
    let py = venv.join("bin/python");
    let ready = venv.join("bin/aws").is_file()
        && Command::new(&py).args(["-c", "import botocore, rsa, awscli"]).status().is_ok_and(|s| s.success());
    if ready {
        return Some(py);
    }
    let status = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().ok()?;
    assert!(status.success());
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../requirements-test.txt"))
        .status()
        .ok()?;
    assert!(status.success(), "pip install -r requirements-test.txt failed");
    Some(py)
}

/// The venv's python and two fresh key pairs named after `test`, or `None` when python3
/// is missing (the test then says it skipped).
fn signers(test: &str) -> Option<(PathBuf, Keys)> {
    let Some(py) = venv_python() else {
        println!("SKIPPED: python3 is not installed; signed URLs were not tested with the AWS CLI");
        return None;
    };
    Some((py, Keys::generate(test)))
}

/// An origin that answers `object <path>`.
async fn object_origin() -> TestOrigin {
    TestOrigin::start_with(|r| Reply::ok(format!("object {}", r.path()))).await
}

struct Keys {
    dir: PathBuf,
}

impl Keys {
    /// Two RSA 2048 key pairs made by openssl (`k1`, `k2`).
    fn generate(name: &str) -> Keys {
        let dir = std::env::temp_dir().join(format!("cachalot-private-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for k in ["k1", "k2"] {
            let private = dir.join(format!("{k}.pem"));
            run(Command::new("openssl").args(["genrsa", "-traditional", "-out"]).arg(&private).arg("2048"));
            run(Command::new("openssl")
                .arg("rsa")
                .arg("-in")
                .arg(&private)
                .arg("-pubout")
                .arg("-out")
                .arg(dir.join(format!("{k}.pub"))));
        }
        Keys { dir }
    }

    fn private(&self, k: &str) -> PathBuf {
        self.dir.join(format!("{k}.pem"))
    }

    fn public(&self, k: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{k}.pub"))).unwrap()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `aws cloudfront sign`, verbatim.
fn aws_sign(py: &Path, key: &Path, key_id: &str, url: &str, expires: u64, ip: Option<&str>) -> String {
    let aws = py.with_file_name("aws");
    let mut cmd = Command::new(aws);
    cmd.args(["cloudfront", "sign", "--url", url, "--key-pair-id", key_id, "--private-key"])
        .arg(format!("file://{}", key.display()))
        .args(["--date-less-than", &expires.to_string()]);
    if let Some(ip) = ip {
        cmd.args(["--ip-address", ip]);
    }
    run(cmd.env("AWS_DEFAULT_REGION", "us-east-1").env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "x"))
}

/// botocore's `CloudFrontSigner` through `private/sign.py`.
fn botocore_sign(py: &Path, args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/private/sign.py");
    run(Command::new(py).arg(script).args(args))
}

fn config(origin: &TestOrigin, keys: &Keys, group_items: &[&str]) -> String {
    config_with(origin, keys, group_items, ["k1", "k2"])
}

/// [`config`] with the key files behind `K1EXAMPLEKEY01` and `K2EXAMPLEKEY02`.
fn config_with(origin: &TestOrigin, keys: &Keys, group_items: &[&str], files: [&str; 2]) -> String {
    let pem = |k: &str| serde_json::to_string(&keys.public(k)).unwrap();
    let items = group_items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(",");
    cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
           "TrustedKeyGroups": {"Enabled": true, "Quantity": 1, "Items": ["9c2b6f2e-0c7d-4b61-9f0a-1a2b3c4d5e6f"]}"#,
        &format!(
            r#""PublicKeys": [
                 {{"Id": "K1EXAMPLEKEY01", "PublicKeyConfig": {{"CallerReference": "k1", "Name": "k1", "EncodedKey": {}}}}},
                 {{"Id": "K2EXAMPLEKEY02", "PublicKeyConfig": {{"CallerReference": "k2", "Name": "k2", "EncodedKey": {}}}}}],
               "KeyGroups": [{{"Id": "9c2b6f2e-0c7d-4b61-9f0a-1a2b3c4d5e6f", "KeyGroupConfig": {{"Name": "signers", "Items": [{items}]}}}}]"#,
            pem(files[0]),
            pem(files[1])
        ),
    )
}

/// `http://host/path?query` → `/path?query`.
fn target(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

fn assert_refused(r: &ClientReply, code: &str) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-cache"), "Error from cloudfront");
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
}

#[tokio::test]
async fn signed_urls_and_cookies_from_the_aws_cli_and_botocore() {
    let Some((py, keys)) = signers("urls") else { return };
    let origin = object_origin().await;
    let h = start(&config(&origin, &keys, &["K1EXAMPLEKEY01", "K2EXAMPLEKEY02"]), &[]).await;
    let now = START_MS / 1000;
    let url = format!("http://{HOST}/private/a.txt");

    // Canned policy from the AWS CLI: served, and the signing parameters never reach the origin.
    let signed = aws_sign(&py, &keys.private("k1"), "K1EXAMPLEKEY01", &url, now + 3600, None);
    let r = get(h.pop(0), target(&signed), &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"object /private/a.txt"[..]), "{signed}");
    assert_eq!(r.header("x-cache"), "Miss from cloudfront");
    let seen = origin.requests();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].path_and_query.contains("Signature") && !seen[0].path_and_query.contains("Key-Pair-Id"),
        "{}",
        seen[0].path_and_query
    );
    // Another signature for the same object shares its cache entry.
    let other = aws_sign(&py, &keys.private("k2"), "K2EXAMPLEKEY02", &url, now + 7200, None);
    let r = get(h.pop(0), target(&other), &[]).await;
    assert_eq!((r.status.as_u16(), r.header("x-cache")), (200, "Hit from cloudfront"));
    // Unsigned, tampered, unknown key, another object.
    assert_refused(&get(h.pop(0), "/private/a.txt", &[]).await, "MissingKey");
    let tampered = signed.replace("Signature=", "Signature=AAAA");
    assert_refused(&get(h.pop(0), target(&tampered), &[]).await, "AccessDenied");
    let unknown = signed.replace("K1EXAMPLEKEY01", "K9UNKNOWNKEY99");
    assert_refused(&get(h.pop(0), target(&unknown), &[]).await, "InvalidKey");
    let elsewhere = signed.replace("/private/a.txt", "/private/b.txt");
    assert_refused(&get(h.pop(0), target(&elsewhere), &[]).await, "AccessDenied");

    // Custom policy with an IP range (the viewer is 127.0.0.1).
    let inside = aws_sign(&py, &keys.private("k1"), "K1EXAMPLEKEY01", &url, now + 3600, Some("127.0.0.0/8"));
    assert_eq!(get(h.pop(0), target(&inside), &[]).await.status, 200, "{inside}");
    let outside = aws_sign(&py, &keys.private("k1"), "K1EXAMPLEKEY01", &url, now + 3600, Some("192.0.2.0/24"));
    assert_refused(&get(h.pop(0), target(&outside), &[]).await, "AccessDenied");
    // Custom policy with a wildcard resource, from botocore.
    let wild = botocore_sign(
        &py,
        &[
            keys.private("k2").to_str().unwrap(),
            "K2EXAMPLEKEY02",
            "url",
            &format!("http://{HOST}/private/deep/c.txt"),
            &(now + 3600).to_string(),
            &format!("http*://{HOST}/private/*"),
        ],
    );
    let r = get(h.pop(0), target(&wild), &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"object /private/deep/c.txt"[..]), "{wild}");
    // Signed cookies (custom policy) from botocore's signer.
    let cookies = botocore_sign(
        &py,
        &[
            keys.private("k1").to_str().unwrap(),
            "K1EXAMPLEKEY01",
            "cookies",
            &url,
            &(now + 3600).to_string(),
            &format!("http://{HOST}/private/*"),
        ],
    );
    let r = get(h.pop(0), "/private/cookie.txt", &[("cookie", &cookies)]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"object /private/cookie.txt"[..]), "{cookies}");
    // Remembered: the same cookies serve another URL their resource covers; the URL they
    // served before is not opened to a viewer without them, nor with a signature altered.
    let r = get(h.pop(0), "/private/other.txt", &[("cookie", &cookies)]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"object /private/other.txt"[..]));
    assert_refused(&get(h.pop(0), "/private/cookie.txt", &[]).await, "MissingKey");
    let altered = cookies.replace("CloudFront-Signature=", "CloudFront-Signature=AAAA");
    assert_ne!(altered, cookies);
    assert_refused(&get(h.pop(0), "/private/cookie.txt", &[("cookie", &altered)]).await, "AccessDenied");

    // Expired: the clock passes the canned policy's Expires (and the cookies' policy).
    h.advance(3601);
    assert_refused(&get(h.pop(0), target(&signed), &[]).await, "AccessDenied");
    assert_refused(&get(h.pop(0), "/private/cookie.txt", &[("cookie", &cookies)]).await, "AccessDenied");
    assert_eq!(get(h.pop(0), target(&other), &[]).await.status, 200, "the later Expires still holds");

    // A key removed from the key group is refused from the next snapshot on.
    h.edge.publish(cachalot_test::snapshot_from_json(&config(&origin, &keys, &["K2EXAMPLEKEY02"])));
    let fresh = aws_sign(&py, &keys.private("k1"), "K1EXAMPLEKEY01", &url, now + 9000, None);
    assert_refused(&get(h.pop(0), target(&fresh), &[]).await, "InvalidKey");
    assert_eq!(get(h.pop(0), target(&other), &[]).await.status, 200);
    // Same key id, other key material: a signature verified before is verified again, and fails.
    h.edge.publish(cachalot_test::snapshot_from_json(&config_with(&origin, &keys, &["K2EXAMPLEKEY02"], ["k1", "k1"])));
    assert_refused(&get(h.pop(0), target(&other), &[]).await, "AccessDenied");

    let logged = h.summaries(18).await;
    let refused: Vec<_> = logged.iter().filter(|s| s.status == 403).collect();
    assert!(refused.iter().all(|s| s.result.as_str() == "Error"), "refusals are logged as Error");
}

/// `GET path` from viewer address `from` (any 127.0.0.0/8 address on loopback).
async fn get_from(from: &str, pop: std::net::SocketAddr, path: &str) -> ClientReply {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(pop).await.unwrap();
    let req = http::Request::get(path)
        .header("host", HOST)
        .header("cloudfront-viewer-country", "XX")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, body) = exchange(stream, req).await;
    ClientReply { status: parts.status, headers: parts.headers, body: body.unwrap_or_default() }
}

fn geo_config(origin: &TestOrigin, restriction: &str) -> String {
    cachalot_test::single_origin_config(
        &origin.authority(),
        // Managed-CachingDisabled with an origin request policy that forwards CloudFront-Viewer-Country.
        r#""CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "OriginRequestPolicyId": "0a0a0a0a-1111-2222-3333-444444444444""#,
        r#""OriginRequestPolicies": [{"Id": "0a0a0a0a-1111-2222-3333-444444444444", "OriginRequestPolicyConfig": {
             "Name": "country", "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": {"Quantity": 1, "Items": ["CloudFront-Viewer-Country"]}},
             "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}}]"#,
    )
    .replace(r#""Enabled": true,"#, &format!(r#""Enabled": true, "Restrictions": {{"GeoRestriction": {restriction}}},"#))
}

#[tokio::test]
async fn geo_restriction_with_a_database_the_test_builds() {
    let db = cachalot_test::mmdb::ipv4_database(
        "GeoLite2-Country",
        &[
            (
                "127.0.0.1".parse().unwrap(),
                32,
                serde_json::json!({"country": {"iso_code": "DE", "names": {"en": "Germany"}}}),
            ),
            (
                "127.0.0.2".parse().unwrap(),
                32,
                serde_json::json!({"country": {"iso_code": "FR", "names": {"en": "France"}}}),
            ),
        ],
    );
    let geo = std::sync::Arc::new(cachalot_proxy::GeoDatabase::from_bytes(db).unwrap());
    let origin = TestOrigin::start_with(|r| {
        Reply::ok(format!(
            "country {}",
            r.headers.get("cloudfront-viewer-country").and_then(|v| v.to_str().ok()).unwrap_or("-")
        ))
    })
    .await;
    for (restriction, allowed, blocked) in [
        (r#"{"RestrictionType": "whitelist", "Quantity": 1, "Items": ["DE"]}"#, "127.0.0.1", "127.0.0.2"),
        (r#"{"RestrictionType": "blacklist", "Quantity": 1, "Items": ["DE"]}"#, "127.0.0.2", "127.0.0.1"),
    ] {
        let settings =
            cachalot_proxy::EdgeSettings { geo: Some(geo.clone()), ..cachalot_proxy::EdgeSettings::default() };
        let h = start_settings(cachalot_test::snapshot_from_json(&geo_config(&origin, restriction)), settings).await;
        let ok = get_from(allowed, h.pop(0), "/page").await;
        assert_eq!(ok.status, 200, "{restriction} from {allowed}: {}", String::from_utf8_lossy(&ok.body));
        // The edge's own CloudFront-Viewer-Country replaces the viewer's.
        let country = if allowed == "127.0.0.1" { "DE" } else { "FR" };
        assert_eq!(ok.body, format!("country {country}"));
        let refused = get_from(blocked, h.pop(0), "/page").await;
        assert_eq!(refused.status, 403, "{restriction} from {blocked}");
        assert_eq!(refused.header("x-cache"), "Error from cloudfront");
        assert!(String::from_utf8_lossy(&refused.body).contains("block access from your country"));
        let logged = h.summaries(2).await;
        assert_eq!(logged.iter().find(|s| s.status == 403).unwrap().detailed.as_str(), "ClientGeoBlocked");
    }
}

#[tokio::test]
async fn protections_the_edge_does_not_enforce_are_refused_unless_the_node_serves_them() {
    let origin = TestOrigin::start_with(|_| Reply::ok("public")).await;
    let config = managed(&origin, CACHING_OPTIMIZED).replace(
        r#""Enabled": true,"#,
        r#""Enabled": true, "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1","#,
    );
    let snapshot = cachalot_test::snapshot_from_json(&config);
    assert_eq!(snapshot.distributions[0].unenforced[0].field, "WebACLId");
    let refusing = start_settings(snapshot.clone(), cachalot_proxy::EdgeSettings::default()).await;
    let r = get(refusing.pop(0), "/page", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("x-cache")), (403, "Error from cloudfront"));
    assert!(origin.requests().is_empty(), "nothing reaches the origin");
    let serving = cachalot_proxy::EdgeSettings { serve_unenforced: true, ..cachalot_proxy::EdgeSettings::default() };
    let serving = start_settings(snapshot, serving).await;
    assert_eq!(get(serving.pop(0), "/page", &[]).await.status, 200);
}

#[tokio::test]
async fn a_signed_url_for_the_root_is_checked_as_requested_not_as_the_default_root_object() {
    let Some((py, keys)) = signers("root") else { return };
    let origin = object_origin().await;
    let config = config(&origin, &keys, &["K1EXAMPLEKEY01"])
        .replace(r#""Enabled": true,"#, r#""Enabled": true, "DefaultRootObject": "index.html","#);
    let h = start(&config, &[]).await;
    let signed =
        aws_sign(&py, &keys.private("k1"), "K1EXAMPLEKEY01", &format!("http://{HOST}/"), START_MS / 1000 + 60, None);
    let r = get(h.pop(0), target(&signed), &[]).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"object /index.html"[..]), "{signed}");
}
