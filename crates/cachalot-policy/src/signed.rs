//! Signed URLs and signed cookies: what a behavior with `TrustedKeyGroups` (or legacy
//! `TrustedSigners`) demands of a request before it is served.
//!
//! CloudFront's rules (Developer Guide, `private-content-signed-urls`,
//! `private-content-creating-signed-url-canned-policy`, `…-custom-policy`,
//! `private-content-signed-cookies`; the pages are
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html> and
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-cookies.html>):
//!
//! - A **canned policy** is `Expires`, `Signature` and `Key-Pair-Id` in the query (or the
//!   `CloudFront-Expires`, `CloudFront-Signature`, `CloudFront-Key-Pair-Id` cookies). The
//!   signed message is `{"Statement":[{"Resource":"<URL>","Condition":{"DateLessThan":{"AWS:EpochTime":<Expires>}}}]}`
//!   with no whitespace, where `<URL>` is the request's URL without the signing parameters.
//! - A **custom policy** is `Policy` (the policy JSON), `Signature` and `Key-Pair-Id`; the
//!   message is the policy JSON itself. One statement; `Resource` may use `*` and `?`;
//!   conditions `DateLessThan` (required), `DateGreaterThan`, `IpAddress.AWS:SourceIp` (CIDR).
//! - `Policy` and `Signature` use CloudFront's URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`.
//! - Signatures are RSA (PKCS#1 v1.5) or ECDSA P-256 (DER) over SHA-1, or SHA-256 when the
//!   request says `Hash-Algorithm=SHA256` (`CloudFront-Hash-Algorithm` as a cookie).
//!   Keys are RSA 2048 or ECDSA P-256 (`API_PublicKey`).
//! - Refusals are 403 with an XML body: `MissingKey` ("Missing Key-Pair-Id query parameter or
//!   cookie value"), `InvalidKey` ("Unknown Key"), `MalformedSignature` ("Could not unencode
//!   Signature"), `MalformedPolicy` ("Malformed Policy"), otherwise `AccessDenied` ("Access
//!   denied"); spellings as real CloudFront answers them (AWS knowledge center,
//!   `cloudfront-troubleshoot-signed-url-cookies`, and captured responses).
//! - The signing parameters are CloudFront's, not the origin's: they are taken out of the
//!   query before the cache key is built and before the request is forwarded (§2.2, §16 of `docs/cloudfront-rules.md`), so
//!   every signed URL for one object shares one cache entry.
//!
//! Everything here is pure; the caller passes the time and caches verified signatures.

use base64::Engine as _;
use cachalot_config::model::{KeyAlgorithm, PublicKey};
use http::HeaderMap;
use serde_json::Value;
use std::net::IpAddr;

/// The query parameters (and, prefixed `CloudFront-`, cookies) that carry a signature.
pub const SIGNING_PARAMETERS: [&str; 5] = ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"];

/// Why a request is refused, as CloudFront words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Key-Pair-Id` (or `CloudFront-Key-Pair-Id`), or an empty one.
    MissingKey,
    /// The key id is not trusted by the behavior.
    InvalidKey,
    /// The signature is not CloudFront base64.
    MalformedSignature,
    /// The policy is not base64 JSON of CloudFront's shape.
    MalformedPolicy,
    /// A bad signature, an expired or not-yet-valid policy, another IP or resource.
    AccessDenied,
}

impl Refusal {
    /// The `<Code>` of the error document.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingKey => "MissingKey",
            Refusal::InvalidKey => "InvalidKey",
            Refusal::MalformedSignature => "MalformedSignature",
            Refusal::MalformedPolicy => "MalformedPolicy",
            Refusal::AccessDenied => "AccessDenied",
        }
    }

    /// The `<Message>` of the error document.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingKey => "Missing Key-Pair-Id query parameter or cookie value",
            Refusal::InvalidKey => "Unknown Key",
            Refusal::MalformedSignature => "Could not unencode Signature",
            Refusal::MalformedPolicy => "Malformed Policy",
            Refusal::AccessDenied => "Access denied",
        }
    }

    /// The whole body CloudFront sends (403, `Content-Type: text/xml`).
    pub fn body(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code(),
            self.message()
        )
    }
}

/// The hash a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-1, the default.
    Sha1,
    /// SHA-256 (`Hash-Algorithm=SHA256`).
    Sha256,
}

/// What a viewer presented, decoded but not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Presented {
    /// `Key-Pair-Id`.
    pub key_id: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The signed message: the canned policy rebuilt from the request, or the custom policy.
    pub message: Vec<u8>,
    /// The hash the signature is made over.
    pub hash: Hash,
    /// The policy's conditions.
    pub policy: Policy,
    /// The signature came in cookies (else in the query).
    pub from_cookies: bool,
}

/// A policy statement's conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Resource`; `None` matches every URL.
    pub resource: Option<String>,
    /// `DateLessThan` (epoch seconds): valid before this.
    pub date_less_than: u64,
    /// `DateGreaterThan` (epoch seconds): valid from after this.
    pub date_greater_than: Option<u64>,
    /// `IpAddress.AWS:SourceIp`: network and prefix length.
    pub source_ip: Option<(IpAddr, u8)>,
}

/// The request as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// Viewer used HTTPS.
    pub https: bool,
    /// The viewer's `Host`.
    pub host: &'a str,
    /// The path as received.
    pub path: &'a str,
    /// The query as received, without `?`.
    pub query: Option<&'a str>,
    /// The viewer's headers (for `Cookie`).
    pub headers: &'a HeaderMap,
    /// The viewer's address.
    pub client_ip: IpAddr,
}

impl SignedRequest<'_> {
    /// `scheme://host/path[?query]` with the signing parameters taken out: what a policy's
    /// `Resource` is compared with and what a canned policy signs.
    pub fn resource_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match strip_signing_parameters(self.query) {
            Some(q) => format!("{scheme}://{}{}?{q}", self.host, self.path),
            None => format!("{scheme}://{}{}", self.host, self.path),
        }
    }
}

/// The query without CloudFront's signing parameters (`None` when nothing is left).
pub fn strip_signing_parameters(query: Option<&str>) -> Option<String> {
    let query = query?;
    if !query.split('&').any(|p| is_signing_parameter(param_name(p))) {
        return (!query.is_empty()).then(|| query.to_owned());
    }
    let kept: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !is_signing_parameter(param_name(p))).collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

fn param_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(n, _)| n)
}

fn is_signing_parameter(name: &str) -> bool {
    SIGNING_PARAMETERS.contains(&name)
}

/// The first value of query parameter `name` (raw, not percent-decoded: CloudFront's base64
/// alphabet needs no escaping).
fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|p| p.split_once('=').filter(|(n, _)| *n == name).map(|(_, v)| v))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().split_once('=').filter(|(n, _)| *n == name).map(|(_, v)| v.trim_matches('"')))
}

/// CloudFront's URL-safe base64 (`-` `_` `~` for `+` `=` `/`), standard base64 accepted too.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            other => other,
        })
        .filter(|c| !c.is_whitespace())
        .collect();
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    lenient.decode(standard.trim_end_matches('=')).ok()
}

/// CloudFront's URL-safe base64 of `bytes`.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// The canned policy CloudFront rebuilds for `url` and `expires`.
pub fn canned_policy(url: &str, expires: u64) -> String {
    format!(
        "{{\"Statement\":[{{\"Resource\":\"{url}\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}"
    )
}

/// Reads what the request presents: signing query parameters when it has any, else the
/// `CloudFront-*` cookies. Decodes without verifying anything.
pub fn present(req: &SignedRequest<'_>) -> Result<Presented, Refusal> {
    let in_query = req.query.is_some_and(|q| q.split('&').any(|p| is_signing_parameter(param_name(p))));
    let get = |name: &str| -> Option<&str> {
        if in_query { query_param(req.query, name) } else { cookie(req.headers, &format!("CloudFront-{name}")) }
    };
    let key_id = get("Key-Pair-Id").filter(|k| !k.is_empty()).ok_or(Refusal::MissingKey)?;
    let hash = match get("Hash-Algorithm") {
        None | Some("SHA1") => Hash::Sha1,
        Some("SHA256") => Hash::Sha256,
        Some(_) => return Err(Refusal::AccessDenied),
    };
    let signature = get("Signature").ok_or(Refusal::AccessDenied)?;
    let signature = decode_base64(signature).filter(|s| !s.is_empty()).ok_or(Refusal::MalformedSignature)?;
    let (message, policy) = match (get("Policy"), get("Expires")) {
        (Some(encoded), _) => {
            let message = decode_base64(encoded).ok_or(Refusal::MalformedPolicy)?;
            let policy = parse_policy(&message).ok_or(Refusal::MalformedPolicy)?;
            (message, policy)
        }
        (None, Some(expires)) => {
            let expires: u64 = expires.parse().map_err(|_| Refusal::AccessDenied)?;
            let url = req.resource_url();
            let message = canned_policy(&url, expires).into_bytes();
            let policy =
                Policy { resource: Some(url), date_less_than: expires, date_greater_than: None, source_ip: None };
            (message, policy)
        }
        (None, None) => return Err(Refusal::AccessDenied),
    };
    Ok(Presented { key_id: key_id.to_owned(), signature, message, hash, policy, from_cookies: !in_query })
}

/// For signed cookies with a custom policy: the raw cookie values that decide whether the
/// request is signed (key id, hash, policy and signature), joined; `None` when the query
/// carries signing parameters (they take precedence) or there is no `CloudFront-Policy`
/// cookie. Two requests with the same text present the same policy and signature, so a
/// verification can be remembered under it; the policy's resource still has to match each URL.
pub fn custom_cookie_memo_key(req: &SignedRequest<'_>) -> Option<String> {
    if req.query.is_some_and(|q| q.split('&').any(|p| is_signing_parameter(param_name(p)))) {
        return None;
    }
    let policy = cookie(req.headers, "CloudFront-Policy")?;
    let key_id = cookie(req.headers, "CloudFront-Key-Pair-Id").unwrap_or("");
    let hash = cookie(req.headers, "CloudFront-Hash-Algorithm").unwrap_or("");
    let signature = cookie(req.headers, "CloudFront-Signature").unwrap_or("");
    Some(format!("{key_id}\n{hash}\n{policy}\n{signature}"))
}

/// Reads a custom policy: one statement with `DateLessThan` and optional `Resource`,
/// `DateGreaterThan` and `IpAddress`.
pub fn parse_policy(json: &[u8]) -> Option<Policy> {
    let v: Value = serde_json::from_slice(json).ok()?;
    let statements = v.get("Statement")?.as_array()?;
    let [statement] = statements.as_slice() else { return None };
    let resource = match statement.get("Resource") {
        None => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return None,
    };
    let condition = statement.get("Condition")?;
    let epoch = |name: &str| -> Option<Option<u64>> {
        match condition.get(name) {
            None => Some(None),
            Some(c) => c.get("AWS:EpochTime").and_then(Value::as_u64).map(Some),
        }
    };
    let date_less_than = epoch("DateLessThan")??;
    let date_greater_than = epoch("DateGreaterThan")?;
    let source_ip = match condition.get("IpAddress") {
        None => None,
        Some(ip) => Some(parse_cidr(ip.get("AWS:SourceIp")?.as_str()?)?),
    };
    Some(Policy { resource, date_less_than, date_greater_than, source_ip })
}

/// `192.0.2.0/24`, `2001:db8::/32`, or a single address.
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.trim().split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u8>().ok()?)),
        None => (text.trim().parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

/// Whether `ip` lies in `network/len` (an IPv4 viewer mapped into IPv6 counts as IPv4).
pub fn in_network(ip: IpAddr, network: IpAddr, len: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else literally.
pub fn resource_matches(pattern: &str, url: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = url.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, si));
            pi += 1;
        } else if let Some((bp, bs)) = backtrack {
            pi = bp + 1;
            si = bs + 1;
            backtrack = Some((bp, bs + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Checks a verified policy's conditions for this request at `now` (epoch seconds).
pub fn check_policy(policy: &Policy, req: &SignedRequest<'_>, now_secs: u64) -> Result<(), Refusal> {
    check_time_and_address(policy, req.client_ip, now_secs)?;
    if let Some(resource) = &policy.resource
        && !resource_matches(resource, &req.resource_url())
    {
        return Err(Refusal::AccessDenied);
    }
    Ok(())
}

/// The conditions of a verified policy that change from one request to the next for the
/// same URL: the time window and the viewer's address. A policy already matched against a
/// URL needs only these when that exact URL comes again.
pub fn check_time_and_address(policy: &Policy, client_ip: IpAddr, now_secs: u64) -> Result<(), Refusal> {
    if now_secs >= policy.date_less_than {
        return Err(Refusal::AccessDenied);
    }
    if policy.date_greater_than.is_some_and(|t| now_secs <= t) {
        return Err(Refusal::AccessDenied);
    }
    if let Some((network, len)) = policy.source_ip
        && !in_network(client_ip, network, len)
    {
        return Err(Refusal::AccessDenied);
    }
    Ok(())
}

/// Verifies `signature` over `message` with `key` (RSA PKCS#1 v1.5 or ECDSA P-256 DER).
pub fn verify_signature(key: &PublicKey, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
    match key.algorithm {
        KeyAlgorithm::Rsa2048 => {
            let alg: &dyn ring::signature::VerificationAlgorithm = match hash {
                Hash::Sha1 => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                Hash::Sha256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            };
            ring::signature::UnparsedPublicKey::new(alg, &key.key).verify(message, signature).is_ok()
        }
        // ring verifies P-256 over SHA-256 several times faster; it takes uncompressed points only.
        KeyAlgorithm::EcdsaP256 if hash == Hash::Sha256 && key.key.first() == Some(&4) => {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &key.key)
                .verify(message, signature)
                .is_ok()
        }
        KeyAlgorithm::EcdsaP256 => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
            use sha2::Digest as _;
            let Ok(verifying) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.key) else { return false };
            let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else { return false };
            let digest: Vec<u8> = match hash {
                Hash::Sha1 => sha1::Sha1::digest(message).to_vec(),
                Hash::Sha256 => sha2::Sha256::digest(message).to_vec(),
            };
            verifying.verify_prehash(&digest, &sig).is_ok()
        }
    }
}

/// The whole check without a cache: present, find the key, verify, check conditions.
pub fn check(
    req: &SignedRequest<'_>,
    key_for: impl Fn(&str) -> Option<std::sync::Arc<PublicKey>>,
    now_secs: u64,
) -> Result<Presented, Refusal> {
    let presented = present(req)?;
    let key = key_for(&presented.key_id).ok_or(Refusal::InvalidKey)?;
    if !verify_signature(&key, presented.hash, &presented.message, &presented.signature) {
        return Err(Refusal::AccessDenied);
    }
    check_policy(&presented.policy, req, now_secs)?;
    Ok(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_safe_base64_round_trips_and_accepts_standard() {
        let bytes: Vec<u8> = (0..=255).collect();
        let encoded = encode_base64(&bytes);
        assert!(!encoded.contains(['+', '=', '/']));
        assert_eq!(decode_base64(&encoded).unwrap(), bytes);
        let standard = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode_base64(&standard).unwrap(), bytes);
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn signing_parameters_leave_the_query_in_order() {
        let q = Some("b=2&Expires=1&a=1&Signature=x&Key-Pair-Id=K&Hash-Algorithm=SHA256");
        assert_eq!(strip_signing_parameters(q).as_deref(), Some("b=2&a=1"));
        assert_eq!(strip_signing_parameters(Some("Policy=p&Signature=s&Key-Pair-Id=K")), None);
        assert_eq!(strip_signing_parameters(Some("size=large")).as_deref(), Some("size=large"));
        assert_eq!(strip_signing_parameters(None), None);
    }

    #[test]
    fn wildcards_and_networks() {
        assert!(resource_matches("http*://d1.cloudfront.net/*", "https://d1.cloudfront.net/a/b.jpg?x=1"));
        assert!(resource_matches("https://d1.cloudfront.net/a/?.jpg", "https://d1.cloudfront.net/a/b.jpg"));
        assert!(!resource_matches("https://d1.cloudfront.net/a/?.jpg", "https://d1.cloudfront.net/a/bb.jpg"));
        assert!(!resource_matches("https://d1.cloudfront.net/a/*", "https://d1.cloudfront.net/b/a"));
        assert!(resource_matches("*", ""));
        let (net, len) = parse_cidr("192.0.2.0/24").unwrap();
        assert!(in_network("192.0.2.77".parse().unwrap(), net, len));
        assert!(in_network("::ffff:192.0.2.77".parse().unwrap(), net, len));
        assert!(!in_network("192.0.3.1".parse().unwrap(), net, len));
        let (net, len) = parse_cidr("2001:db8::/32").unwrap();
        assert!(in_network("2001:db8::1".parse().unwrap(), net, len));
        assert!(!in_network("192.0.2.1".parse().unwrap(), net, len));
        assert_eq!(parse_cidr("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 32)));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
    }

    #[test]
    fn policies_are_read_strictly() {
        let ok = br#"{"Statement":[{"Resource":"https://d/*","Condition":{"DateLessThan":{"AWS:EpochTime":200},"DateGreaterThan":{"AWS:EpochTime":100},"IpAddress":{"AWS:SourceIp":"10.0.0.0/8"}}}]}"#;
        let p = parse_policy(ok).unwrap();
        assert_eq!((p.date_less_than, p.date_greater_than), (200, Some(100)));
        for bad in [
            &b"not json"[..],
            br#"{"Statement":[]}"#,
            br#"{"Statement":[{"Condition":{}}]}"#,
            br#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":"soon"}}}]}"#,
            br#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"x"}}}]}"#,
        ] {
            assert_eq!(parse_policy(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn custom_cookie_memo_key_names_everything_the_check_reads() {
        let mut headers = HeaderMap::new();
        let req = |headers: &HeaderMap, query: Option<&'static str>| {
            custom_cookie_memo_key(&SignedRequest {
                https: true,
                host: "d1.cloudfront.net",
                path: "/a.jpg",
                query,
                headers,
                client_ip: "192.0.2.1".parse().unwrap(),
            })
        };
        // Canned cookies sign one URL: nothing to remember them by.
        headers.insert(
            "cookie",
            "CloudFront-Expires=9; CloudFront-Signature=s; CloudFront-Key-Pair-Id=K".parse().unwrap(),
        );
        assert_eq!(req(&headers, None), None);
        headers
            .insert("cookie", "CloudFront-Policy=p; CloudFront-Signature=s; CloudFront-Key-Pair-Id=K".parse().unwrap());
        let plain = req(&headers, None).unwrap();
        // Signing parameters in the query take precedence over cookies.
        assert_eq!(req(&headers, Some("Signature=x")), None);
        assert_eq!(req(&headers, Some("size=large")).as_deref(), Some(plain.as_str()));
        // Each of key, hash, policy and signature changes the key.
        for other in [
            "CloudFront-Policy=p; CloudFront-Signature=t; CloudFront-Key-Pair-Id=K",
            "CloudFront-Policy=q; CloudFront-Signature=s; CloudFront-Key-Pair-Id=K",
            "CloudFront-Policy=p; CloudFront-Signature=s; CloudFront-Key-Pair-Id=L",
            "CloudFront-Policy=p; CloudFront-Signature=s; CloudFront-Key-Pair-Id=K; CloudFront-Hash-Algorithm=SHA256",
        ] {
            headers.insert("cookie", other.parse().unwrap());
            assert_ne!(req(&headers, None).as_deref(), Some(plain.as_str()), "{other}");
        }
    }

    #[test]
    fn time_and_address_are_checked_without_the_resource() {
        let policy = Policy {
            resource: Some("https://d1.cloudfront.net/only-this".to_owned()),
            date_less_than: 200,
            date_greater_than: Some(100),
            source_ip: parse_cidr("10.0.0.0/8"),
        };
        let inside = "10.1.2.3".parse().unwrap();
        assert_eq!(check_time_and_address(&policy, inside, 150), Ok(()));
        assert_eq!(check_time_and_address(&policy, inside, 200), Err(Refusal::AccessDenied));
        assert_eq!(check_time_and_address(&policy, inside, 100), Err(Refusal::AccessDenied));
        assert_eq!(check_time_and_address(&policy, "192.0.2.1".parse().unwrap(), 150), Err(Refusal::AccessDenied));
    }

    #[test]
    fn canned_policy_is_byte_exact() {
        assert_eq!(
            canned_policy("https://d111111abcdef8.cloudfront.net/image.jpg", 1_357_034_400),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }
}
