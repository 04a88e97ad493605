//! AWS Signature Version 4 verification for the admin listener: what the CloudFront API, the
//! key value store data API, CloudWatch and the monitoring pages share (through
//! `Inner::authenticate`). The canonical request and signature come from the `cachalot-sigv4`
//! crate (checked there against AWS's own signer); this module owns the admin listener's
//! policy: which keys, services and clock skew are accepted, and AWS's error codes.
//!
//! Rebuilds the canonical request exactly as the AWS SDKs do for a non-S3
//! service (path segments encoded once more, query sorted, signed headers
//! lower-cased and trimmed, payload hash from `x-amz-content-sha256` or the
//! body, `UNSIGNED-PAYLOAD` accepted), derives the signing key from the
//! configured secret and compares signatures in constant time. The
//! `X-Amz-Date` may be at most 15 minutes from the server's clock.
//!
//! Refusals use the codes AWS answers with: `MissingAuthenticationToken`
//! (no signature), `IncompleteSignature` (an unreadable `Authorization`),
//! `InvalidClientTokenId` (unknown access key), `SignatureDoesNotMatch`
//! (wrong signature, wrong scope or a stale/future date) and `AccessDenied`
//! (signature schemes Cachalot cannot verify, such as SigV4A).

use crate::error::ApiError;
use cachalot_config::file::AccessKey;
use cachalot_sigv4::{AuthorizationError, PathEncoding, Request};
use http::HeaderMap;

pub(crate) use cachalot_sigv4::{MAX_SKEW_SECS, constant_time_eq};

/// What a request is signed over.
pub(crate) struct SignedRequest<'a> {
    pub(crate) method: &'a str,
    /// Path exactly as sent (percent-encoded).
    pub(crate) raw_path: &'a str,
    /// Query string exactly as sent, without `?`.
    pub(crate) raw_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

impl SignedRequest<'_> {
    fn signed_part(&self) -> Request<'_> {
        Request { method: self.method, path: self.raw_path, query: self.raw_query, headers: self.headers }
    }
}

/// Verifies `req` against `keys`; `now` is seconds since the epoch.
pub(crate) fn verify(req: &SignedRequest<'_>, keys: &[AccessKey], now: i64) -> Result<(), ApiError> {
    let auth = header(req.headers, "authorization");
    if auth.is_none() && req.raw_query.contains("X-Amz-Signature=") {
        return Err(ApiError::new("AccessDenied", "query-string (presigned) authentication is not supported"));
    }
    let Some(auth) = auth else {
        return Err(ApiError::new("MissingAuthenticationToken", "Missing Authentication Token"));
    };
    let auth = match cachalot_sigv4::parse_authorization(auth) {
        Ok(a) => a,
        Err(AuthorizationError::Sigv4a) => {
            return Err(ApiError::new(
                "AccessDenied",
                "SigV4A signatures cannot be verified by Cachalot; use a SigV4 (AWS4-HMAC-SHA256) client or run without access keys",
            ));
        }
        Err(e) => return Err(ApiError::new("IncompleteSignature", e.to_string())),
    };
    let Some(key) = keys.iter().find(|k| k.access_key_id == auth.access_key_id) else {
        return Err(ApiError::new("InvalidClientTokenId", "The security token included in the request is invalid."));
    };
    let Some(amz_date) = header(req.headers, "x-amz-date").or_else(|| header(req.headers, "date")) else {
        return Err(ApiError::new("IncompleteSignature", "the request has no X-Amz-Date header"));
    };
    let Some(when) = cachalot_sigv4::parse_amz_date(amz_date) else {
        return Err(ApiError::new("IncompleteSignature", format!("X-Amz-Date {amz_date} is not yyyyMMddTHHmmssZ")));
    };
    if (now - when).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new(
            "SignatureDoesNotMatch",
            format!("Signature expired: {amz_date} is more than 15 minutes away from the server's time"),
        ));
    }
    if !amz_date.starts_with(auth.scope.date) {
        return Err(ApiError::new("SignatureDoesNotMatch", "the credential scope date does not match X-Amz-Date"));
    }
    // `monitoring` and `logs`: the CloudWatch and CloudWatch Logs APIs served on the same listener.
    if !matches!(auth.scope.service, "cloudfront" | "cloudfront-keyvaluestore" | "monitoring" | "logs") {
        return Err(ApiError::new(
            "SignatureDoesNotMatch",
            format!("Credential should be scoped to correct service: 'cloudfront', not '{}'", auth.scope.service),
        ));
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(ApiError::new("SignatureDoesNotMatch", "the host header must be signed"));
    }
    let payload_hash = match header(req.headers, "x-amz-content-sha256") {
        Some(cachalot_sigv4::UNSIGNED_PAYLOAD) => cachalot_sigv4::UNSIGNED_PAYLOAD.to_owned(),
        Some(h) => {
            if !h.eq_ignore_ascii_case(&cachalot_sigv4::payload_hash(req.body)) {
                return Err(ApiError::new(
                    "SignatureDoesNotMatch",
                    "x-amz-content-sha256 does not match the body that was received",
                ));
            }
            h.to_ascii_lowercase()
        }
        None => cachalot_sigv4::payload_hash(req.body),
    };
    let part = req.signed_part();
    if !cachalot_sigv4::signature_matches(
        &part,
        &auth,
        &key.secret_access_key,
        amz_date,
        &payload_hash,
        PathEncoding::EncodeAgain,
    ) {
        return Err(ApiError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Signs a request the way an SDK does (for tests).
#[cfg(test)]
pub(crate) fn sign(req: &SignedRequest<'_>, key: &AccessKey, amz_date: &str, region: &str) -> String {
    let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let payload = cachalot_sigv4::payload_hash(req.body);
    let canonical = cachalot_sigv4::canonical_request(&req.signed_part(), &names, &payload, PathEncoding::EncodeAgain);
    let date = &amz_date[..8];
    let scope = cachalot_sigv4::Scope { date, region, service: "cloudfront" };
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{date}/{region}/cloudfront/aws4_request, SignedHeaders={}, Signature={}",
        key.access_key_id,
        names.join(";"),
        cachalot_sigv4::signature(&key.secret_access_key, amz_date, &scope, &canonical)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn key() -> AccessKey {
        AccessKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    #[test]
    fn signed_requests_verify_and_tampering_is_caught() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:9400"));
        h.insert("x-amz-date", HeaderValue::from_static("20240501T120000Z"));
        let body = b"<CachePolicyConfig/>";
        let auth = {
            let req = SignedRequest {
                method: "POST",
                raw_path: "/2020-05-31/cache-policy",
                raw_query: "",
                headers: &h,
                body,
            };
            sign(&req, &key(), "20240501T120000Z", "us-east-1")
        };
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        let now = 1_714_564_800;
        let ok =
            SignedRequest { method: "POST", raw_path: "/2020-05-31/cache-policy", raw_query: "", headers: &h, body };
        assert_eq!(verify(&ok, &[key()], now), Ok(()));
        let tampered = SignedRequest { body: b"<Other/>", headers: &h, ..ok };
        assert_eq!(verify(&tampered, &[key()], now).unwrap_err().code, "SignatureDoesNotMatch");
        assert_eq!(verify(&ok, &[key()], now + 16 * 60).unwrap_err().code, "SignatureDoesNotMatch");
        let other = AccessKey { access_key_id: "OTHER".into(), secret_access_key: "x".into() };
        assert_eq!(verify(&ok, &[other], now).unwrap_err().code, "InvalidClientTokenId");
        let bare = HeaderMap::new();
        let unsigned = SignedRequest { headers: &bare, ..ok };
        assert_eq!(verify(&unsigned, &[key()], now).unwrap_err().code, "MissingAuthenticationToken");
    }
}
