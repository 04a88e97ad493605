//! AWS Signature Version 4: the one implementation Cachalot signs and verifies with.
//!
//! The control plane verifies the signatures of the CloudFront, key value store and
//! CloudWatch APIs and of the monitoring pages; the edge signs origin requests for origin
//! access control and `PutObject` of logs, and a private folder-backed bucket verifies
//! them as S3 would. All of them build the canonical request here.
//!
//! Algorithm: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>;
//! S3's differences (the path is not encoded a second time, the `x-amz-content-sha256`
//! header): <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
//!
//! The canonicaliser is written here rather than taken from AWS's `aws-sigv4` crate because
//! that crate only signs: its canonical request is private, so verifying with it means
//! signing again over a reconstructed request, which costs more and folds header whitespace
//! differently from botocore (`docs/adr/0004-sigv4-verification.md`). The tests below check
//! every request `aws-sigv4` signs verifies here.
//!
//! Pure: no I/O and no clock; times are arguments.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The only algorithm verified (`AWS4-ECDSA-P256-SHA256`, SigV4A, is not).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The SigV4A algorithm name, recognised so that it can be refused by name.
pub const ALGORITHM_SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";

/// SHA-256 of the empty body: the payload hash of a request without one.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload hash a client sends when it does not sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The largest difference AWS allows between `X-Amz-Date` and its own clock (15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Credentials a request is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials (`x-amz-security-token`).
    pub session_token: Option<String>,
}

/// How the path enters the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// Every service but S3: the path as sent is URI-encoded once more (`%20` → `%2520`).
    EncodeAgain,
    /// S3: the path as sent (clients encode it once).
    AsSent,
}

/// What a request is signed over.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method (`GET`).
    pub method: &'a str,
    /// Path exactly as sent (percent-encoded).
    pub path: &'a str,
    /// Query string exactly as sent, without `?`.
    pub query: &'a str,
    /// Headers as received (or about to be sent).
    pub headers: &'a HeaderMap,
}

impl<'a> Request<'a> {
    /// A request for a path and query as one string (`/a/b?x=1`).
    pub fn from_path_and_query(method: &'a str, path_and_query: &'a str, headers: &'a HeaderMap) -> Request<'a> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        Request { method, path, query, headers }
    }
}

/// The credential scope: `<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `YYYYMMDD`.
    pub date: &'a str,
    /// Region (`us-east-1`).
    pub region: &'a str,
    /// Service signing name (`cloudfront`, `s3`, `monitoring`).
    pub service: &'a str,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// Access key id of the credential.
    pub access_key_id: &'a str,
    /// The credential's scope.
    pub scope: Scope<'a>,
    /// Signed header names, lower-case, in the order given (`host;x-amz-date`).
    pub signed_headers: Vec<&'a str>,
    /// Hex signature as given.
    pub signature: &'a str,
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationError {
    /// SigV4A (`AWS4-ECDSA-P256-SHA256`), which this module cannot verify.
    Sigv4a,
    /// Another scheme than SigV4.
    UnsupportedAlgorithm(String),
    /// `Credential`, `SignedHeaders` or `Signature` is missing.
    MissingParts,
    /// The credential is not `<key>/<date>/<region>/<service>/aws4_request`.
    MalformedCredential(String),
}

impl std::fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthorizationError::Sigv4a => write!(f, "SigV4A ({ALGORITHM_SIGV4A}) signatures cannot be verified"),
            AuthorizationError::UnsupportedAlgorithm(a) => write!(f, "unsupported signature algorithm {a}"),
            AuthorizationError::MissingParts => {
                write!(f, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
            }
            AuthorizationError::MalformedCredential(c) => {
                write!(f, "malformed credential {c}: expected KEY/YYYYMMDD/REGION/SERVICE/aws4_request")
            }
        }
    }
}

impl std::error::Error for AuthorizationError {}

/// Reads an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthorizationError> {
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm == ALGORITHM_SIGV4A {
        return Err(AuthorizationError::Sigv4a);
    }
    if algorithm != ALGORITHM {
        return Err(AuthorizationError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(AuthorizationError::MissingParts);
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(AuthorizationError::MalformedCredential(credential.to_owned()));
    };
    Ok(Authorization {
        access_key_id,
        scope: Scope { date, region, service },
        signed_headers: signed_headers.split(';').collect(),
        signature,
    })
}

/// The canonical request over `signed` headers (lower-case names, as the client listed them).
pub fn canonical_request(req: &Request<'_>, signed: &[&str], payload_hash: &str, path: PathEncoding) -> String {
    let raw_path = if req.path.is_empty() { "/" } else { req.path };
    let canonical_path = match path {
        PathEncoding::EncodeAgain => encode(raw_path.as_bytes(), false),
        PathEncoding::AsSent => raw_path.to_owned(),
    };
    let mut pairs: Vec<(String, String)> = req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(form_decode(k).as_bytes(), true), encode(form_decode(v).as_bytes(), true))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_path);
    out.push('\n');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out.push('\n');
    for name in signed {
        out.push_str(name);
        out.push(':');
        for (i, value) in req.headers.get_all(*name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Values are trimmed and runs of whitespace fold to one space (botocore's rule).
            let text = String::from_utf8_lossy(value.as_bytes());
            for (j, word) in text.split_whitespace().enumerate() {
                if j > 0 {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The hex signature of `canonical` made at `amz_date` (`YYYYMMDDTHHMMSSZ`) within `scope`
/// with `secret`: the string to sign, the derived signing key, and its HMAC.
pub fn signature(secret: &str, amz_date: &str, scope: &Scope<'_>, canonical: &str) -> String {
    let Scope { date, region, service } = scope;
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = [*date, *region, *service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |k, part| hmac(&k, part.as_bytes()));
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// Whether `auth`'s signature is the one `secret` makes over `req` at `amz_date`, compared
/// in constant time.
pub fn signature_matches(
    req: &Request<'_>,
    auth: &Authorization<'_>,
    secret: &str,
    amz_date: &str,
    payload_hash: &str,
    path: PathEncoding,
) -> bool {
    let canonical = canonical_request(req, &auth.signed_headers, payload_hash, path);
    let expected = signature(secret, amz_date, &auth.scope, &canonical);
    constant_time_eq(expected.as_bytes(), auth.signature.to_ascii_lowercase().as_bytes())
}

/// Signs a request in place as an SDK does: sets `x-amz-date`, `x-amz-content-sha256`, the
/// session token when there is one, and `Authorization` over `host` and every `x-amz-*`
/// header. `epoch_secs` is the signing time.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    creds: &Credentials,
    scope_region: &str,
    service: &str,
    method: &str,
    path_and_query: &str,
    headers: &mut HeaderMap,
    payload_hash: &str,
    path: PathEncoding,
    epoch_secs: i64,
) {
    let date = format_amz_date(epoch_secs);
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
    let mut signed: Vec<&str> =
        headers.keys().map(|k| k.as_str()).filter(|k| *k == "host" || k.starts_with("x-amz-")).collect();
    signed.sort_unstable();
    signed.dedup();
    let req = Request::from_path_and_query(method, path_and_query, headers);
    let canonical = canonical_request(&req, &signed, payload_hash, path);
    let scope = Scope { date: date.get(..8).unwrap_or(&date), region: scope_region, service };
    let auth = format!(
        "{ALGORITHM} Credential={}/{}/{scope_region}/{service}/aws4_request, SignedHeaders={}, Signature={}",
        creds.access_key_id,
        scope.date,
        signed.join(";"),
        signature(&creds.secret_access_key, &date, &scope, &canonical)
    );
    if let Ok(v) = HeaderValue::from_str(&auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (years outside 0..=9999 are clamped).
pub fn format_amz_date(epoch_secs: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(epoch_secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (y, m, d) = at.to_calendar_date();
    let (hh, mm, ss) = at.to_hms();
    format!("{:04}{:02}{:02}T{hh:02}{mm:02}{ss:02}Z", y.clamp(0, 9999), u8::from(m), d)
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let at = time::PrimitiveDateTime::parse(s, FORMAT).ok()?;
    Some(at.assume_utc().unix_timestamp())
}

/// Whether two byte strings are equal, in time that depends on their length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Lower-case hex SHA-256 of `body`: a payload hash.
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// A query component decoded as form data (`+` is a space, `%XX` a byte; invalid UTF-8
/// replaced), as the SDKs read the query they sign.
fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// SigV4 URI encoding: unreserved characters kept, `/` kept unless `encode_slash`,
/// everything else `%XX`.
fn encode(bytes: &[u8], encode_slash: bool) -> String {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(UPPER[usize::from(b >> 4)]));
            out.push(char::from(UPPER[usize::from(b & 15)]));
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC-SHA256 takes keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return Vec::new() };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests;
