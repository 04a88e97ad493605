//! Origin access control's use of SigV4: what the edge signs origin requests with, and the
//! check a private folder-backed bucket makes, as S3 does for a bucket policy that trusts
//! the CloudFront service principal. The algorithm is the `cachalot-sigv4` crate's (the one
//! the control plane verifies with); this module owns the node's credentials and S3's rules
//! (the path as sent, the payload hash from `x-amz-content-sha256`, 15 minutes of skew).

use cachalot_sigv4::{PathEncoding, Request};
use http::{HeaderMap, Method};

pub use cachalot_sigv4::{Credentials, EMPTY_SHA256};

/// Credentials made up for this process: what private folder-backed buckets trust when the
/// node has none of its own.
pub fn ephemeral_credentials() -> Credentials {
    let hex = |n: usize| (0..n).map(|_| char::from(b"0123456789ABCDEF"[fastrand::usize(..16)])).collect::<String>();
    Credentials { access_key_id: format!("AKIA{}", hex(16)), secret_access_key: hex(40), session_token: None }
}

/// Signs an S3 request in place at `epoch_secs` (see [`cachalot_sigv4::sign`]).
#[allow(clippy::too_many_arguments)]
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
    let at = i64::try_from(epoch_secs).unwrap_or(i64::MAX);
    cachalot_sigv4::sign(
        creds,
        region,
        service,
        method.as_str(),
        path_and_query,
        headers,
        payload_hash,
        PathEncoding::AsSent,
        at,
    );
}

/// Whether a request carries a valid SigV4 signature for `service` by `creds`, made within
/// 15 minutes of `now_secs` (S3's allowed skew).
pub fn verify(
    creds: &Credentials,
    service: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    now_secs: u64,
) -> bool {
    let Some(value) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Ok(auth) = cachalot_sigv4::parse_authorization(value) else { return false };
    if auth.access_key_id != creds.access_key_id || auth.scope.service != service {
        return false;
    }
    let Some(date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else { return false };
    let Some(at) = cachalot_sigv4::parse_amz_date(date) else { return false };
    let now = i64::try_from(now_secs).unwrap_or(i64::MAX);
    if !date.starts_with(auth.scope.date) || (now - at).abs() > cachalot_sigv4::MAX_SKEW_SECS {
        return false;
    }
    if !auth.signed_headers.contains(&"host") {
        return false;
    }
    let payload = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).unwrap_or(EMPTY_SHA256);
    let req = Request::from_path_and_query(method.as_str(), path_and_query, headers);
    cachalot_sigv4::signature_matches(&req, &auth, &creds.secret_access_key, date, payload, PathEncoding::AsSent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let creds = ephemeral_credentials();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("bucket.s3.amazonaws.com"));
        sign(&creds, "us-east-1", "s3", &Method::GET, "/a%20b.txt?x=1", &mut headers, EMPTY_SHA256, 1_700_000_000);
        assert!(verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/other.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_009_000), "too old");
        assert!(!verify(&creds, "monitoring", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&ephemeral_credentials(), "s3", &Method::GET, "/a%20b.txt?x=1", &headers, 1_700_000_100));
        assert!(!verify(&creds, "s3", &Method::GET, "/a%20b.txt?x=1", &HeaderMap::new(), 1_700_000_100));
    }
}
