//! AWS Signature Version 4 for origin requests: what an origin access control adds to
//! a request for S3 (`Authorization`, `x-amz-date`, `x-amz-content-sha256`), and the
//! check a private folder-backed bucket makes, as S3 does for a bucket policy that
//! trusts the CloudFront service principal.
//!
//! Algorithm: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>;
//! S3's specifics (the payload hash header, paths not encoded twice):
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
//! The control plane verifies SigV4 for its API with its own module; both compute the
//! same canonical request and could share one implementation in a crate below both.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

/// Credentials requests are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials (`x-amz-security-token`).
    pub session_token: Option<String>,
}

impl Credentials {
    /// Credentials made up for this process: what private folder-backed buckets trust when
    /// the node has none of its own.
    pub fn ephemeral() -> Self {
        let hex = |n: usize| (0..n).map(|_| char::from(b"0123456789ABCDEF"[fastrand::usize(..16)])).collect::<String>();
        Credentials { access_key_id: format!("AKIA{}", hex(16)), secret_access_key: hex(40), session_token: None }
    }
}

/// SHA-256 of the empty body, the payload hash of GET and HEAD.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `x-amz-date` form of `epoch_secs`.
pub fn amz_date(epoch_secs: u64) -> String {
    let days = epoch_secs / 86_400;
    let secs = epoch_secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The canonical query: parameters sorted, each name and value URI-encoded once.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (reencode(k), reencode(v))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Decodes and encodes again with SigV4's unreserved set, so `%20`, `+`-free and raw
/// spellings of one value sign the same way.
fn reencode(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let decoded = percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    percent_encoding::percent_encode(&decoded, KEEP).to_string()
}

/// The canonical path of an S3 request: as sent (S3 paths are encoded once by the client).
fn canonical_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    values.join(",")
}

/// The signature of a request, for `signed_headers` (lower-case, sorted) at `date`
/// (`YYYYMMDDTHHMMSSZ`).
#[allow(clippy::too_many_arguments)]
fn signature(
    creds: &Credentials,
    region: &str,
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    signed_headers: &[String],
    payload_hash: &str,
    date: &str,
) -> String {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut canonical = format!("{method}\n{}\n{}\n", canonical_path(path), canonical_query(query));
    for h in signed_headers {
        canonical.push_str(&format!("{h}:{}\n", header_text(headers, h)));
    }
    canonical.push_str(&format!("\n{}\n{payload_hash}", signed_headers.join(";")));
    let day = &date[..8.min(date.len())];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let key = [day, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{}", creds.secret_access_key).into_bytes(), |k, part| hmac(&k, part.as_bytes()));
    hex(&hmac(&key, to_sign.as_bytes()))
}

/// Signs a request in place: sets `x-amz-date`, `x-amz-content-sha256`, the session
/// token when there is one, and `Authorization` over `host` and every `x-amz-*` header.
pub fn sign(
    creds: &Credentials,
    region: &str,
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &mut HeaderMap,
    payload_hash: &str,
    epoch_secs: u64,
) {
    let date = amz_date(epoch_secs);
    headers.remove(http::header::AUTHORIZATION);
    for (name, value) in [
        ("x-amz-date", Some(date.as_str())),
        ("x-amz-content-sha256", Some(payload_hash)),
        ("x-amz-security-token", creds.session_token.as_deref()),
    ] {
        match value.and_then(|v| HeaderValue::from_str(v).ok()) {
            Some(v) => {
                headers.insert(name, v);
            }
            None => {
                headers.remove(name);
            }
        }
    }
    let mut signed: Vec<String> =
        headers.keys().map(|k| k.as_str().to_owned()).filter(|k| k == "host" || k.starts_with("x-amz-")).collect();
    signed.sort();
    signed.dedup();
    let sig = signature(creds, region, service, method, path_and_query, headers, &signed, payload_hash, &date);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        creds.access_key_id,
        &date[..8],
        signed.join(";")
    );
    if let Ok(v) = HeaderValue::from_str(&auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
}

/// Whether a request carries a valid SigV4 signature for `service` by `creds`, made
/// within 15 minutes of `now_secs` (S3's allowed skew).
pub fn verify(
    creds: &Credentials,
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    now_secs: u64,
) -> bool {
    let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else { return false };
    let mut credential = None;
    let mut signed_headers = None;
    let mut given = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => given = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(given)) = (credential, signed_headers, given) else {
        return false;
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, day, region, svc, "aws4_request"] = scope.as_slice() else { return false };
    if *key_id != creds.access_key_id || *svc != service {
        return false;
    }
    let Some(date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else { return false };
    if !date.starts_with(day) || !within_skew(date, now_secs) {
        return false;
    }
    let signed: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if !signed.iter().any(|h| h == "host") {
        return false;
    }
    let payload = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).unwrap_or(EMPTY_SHA256);
    let expected = signature(creds, region, service, method, path_and_query, headers, &signed, payload, date);
    // Constant-time comparison: the signature is a secret-derived value.
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn within_skew(date: &str, now_secs: u64) -> bool {
    parse_amz_date(date).is_some_and(|at| at.abs_diff(now_secs) <= 900)
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`.
fn parse_amz_date(date: &str) -> Option<u64> {
    let b = date.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example (IAM `ListUsers`, 2015-08-30T12:36:00Z, `AKIDEXAMPLE`):
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.
    #[test]
    fn matches_the_documented_example() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
        headers.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let signed: Vec<String> = ["content-type", "host", "x-amz-date"].iter().map(|s| s.to_string()).collect();
        let sig = signature(
            &creds,
            "us-east-1",
            "iam",
            &Method::GET,
            "/?Action=ListUsers&Version=2010-05-08",
            &headers,
            &signed,
            EMPTY_SHA256,
            "20150830T123600Z",
        );
        assert_eq!(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("20240229T000000Z").map(amz_date).as_deref(), Some("20240229T000000Z"));
        assert_eq!(parse_amz_date("2015-08-30"), None);
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let creds = Credentials::ephemeral();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("bucket.s3.amazonaws.com"));
        sign(&creds, "us-east-1", "s3", &Method::GET, "/a%20b.txt?x=1", &mut headers, EMPTY_SHA256, 1_700_000_000);
        assert!(verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/other.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_009_000), "too old");
        assert!(!verify(&Credentials::ephemeral(), "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &HeaderMap::new(), 1_700_000_100));
    }
}
