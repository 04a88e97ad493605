//! What reaches the origin (§2.6): keyed values, what the origin request policy
//! forwards, CloudFront's always-sent headers and the origin's custom headers —
//! and nothing else.

use crate::key::{NormalizedEncoding, push_selected_query, selected_cookies};
use crate::request::ViewerRequest;
use cachalot_config::model::{CacheSettings, HeaderForwarding, NameRule, Origin, OriginKind, OriginRequestSettings};
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// Headers that never travel hop to hop, plus those CloudFront replaces itself.
const NEVER_COPIED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
    "user-agent",
    "cookie",
    "accept-encoding",
    "x-forwarded-for",
    "via",
    "x-amz-cf-id",
    "content-length",
    "x-real-ip",
    "x-forwarded-proto",
];

/// Request headers that describe a body; sent whenever the request has one.
const BODY_HEADERS: &[&str] = &["content-type", "content-md5", "content-encoding", "content-language"];

/// Identity of this edge, for `Via` and `X-Amz-Cf-Id`.
#[derive(Debug, Clone, Copy)]
pub struct EdgeIdentity<'a> {
    /// 32 lower-case hex characters naming the edge host (`<hex>.cloudfront.net`).
    pub host_id: &'a str,
    /// The request id (`X-Amz-Cf-Id`).
    pub request_id: &'a str,
}

/// The request to send to an origin.
#[derive(Debug, Clone)]
pub struct OriginRequest {
    /// Path (with OriginPath prefixed) and forwarded query string.
    pub path_and_query: String,
    /// The `Host` header value.
    pub host: String,
    /// All headers to send, `Host` included.
    pub headers: HeaderMap,
}

/// Whether the viewer's `name` header (lower-case) reaches the origin.
pub fn forwards_header(cache: &CacheSettings, orp: &OriginRequestSettings, name: &str) -> bool {
    if cache.forward_all_headers {
        return true;
    }
    if let NameRule::Only(names) = &cache.headers
        && names.iter().any(|n| n == name)
    {
        return true;
    }
    match &orp.headers {
        HeaderForwarding::None => false,
        HeaderForwarding::Only(names) => names.iter().any(|n| n == name),
        HeaderForwarding::AllExcept(names) => !names.iter().any(|n| n == name),
        HeaderForwarding::AllViewer => true,
        HeaderForwarding::AllViewerAndCloudFront(extra) => {
            !name.starts_with("cloudfront-") || extra.iter().any(|n| n == name)
        }
    }
}

/// Builds the origin request for a viewer request.
///
/// `path` is the (possibly function-rewritten) viewer path; `conditional` adds the
/// edge's own revalidation headers (stored ETag / Last-Modified) when refreshing.
pub fn origin_request(
    req: &ViewerRequest<'_>,
    cache: &CacheSettings,
    orp: &OriginRequestSettings,
    origin: &Origin,
    encoding: NormalizedEncoding,
    edge: EdgeIdentity<'_>,
    has_body: bool,
) -> OriginRequest {
    let mut path_and_query = String::with_capacity(origin.origin_path.len() + req.path.len() + 16);
    path_and_query.push_str(&origin.origin_path);
    path_and_query.push_str(req.path);
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        let forward = NameRule::forward_union(
            &NameRule::forward_union(&cache.query_strings, &cache.legacy_forward_query),
            &orp.query_strings,
        );
        let start = path_and_query.len();
        path_and_query.push('?');
        push_selected_query(&mut path_and_query, q, &forward);
        if path_and_query.len() == start + 1 {
            path_and_query.truncate(start);
        }
    }

    let mut headers = HeaderMap::with_capacity(16);
    for (name, value) in req.headers {
        let n = name.as_str();
        if NEVER_COPIED.contains(&n) {
            continue;
        }
        let body_header = has_body && BODY_HEADERS.contains(&n);
        if body_header || forwards_header(cache, orp, n) {
            headers.append(name.clone(), value.clone());
        }
    }

    let host_forwarded = forwards_header(cache, orp, "host") && !matches!(origin.kind, OriginKind::S3 { .. });
    let host = match req.header("host") {
        Some(h) if host_forwarded => h.to_owned(),
        _ => origin.domain_name.clone(),
    };
    if let Ok(v) = HeaderValue::from_str(&host) {
        headers.insert(header::HOST, v);
    }

    let ua =
        if forwards_header(cache, orp, "user-agent") { req.headers.get(header::USER_AGENT).cloned() } else { None };
    headers.insert(header::USER_AGENT, ua.unwrap_or_else(|| HeaderValue::from_static("Amazon CloudFront")));

    match encoding.origin_value() {
        Some(v) => {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        }
        None => {
            if forwards_header(cache, orp, "accept-encoding") {
                for v in req.headers.get_all(header::ACCEPT_ENCODING) {
                    headers.append(header::ACCEPT_ENCODING, v.clone());
                }
            }
        }
    }

    let cookie_rule = NameRule::forward_union(&cache.cookies, &orp.cookies);
    let cookies = selected_cookies(req, &cookie_rule);
    if !cookies.is_empty() {
        let joined = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        if let Ok(v) = HeaderValue::from_str(&joined) {
            headers.insert(header::COOKIE, v);
        }
    }

    let ip = req.client_ip.to_string();
    let xff = match req.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{},{ip}", prev.trim()),
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    let own_via = format!("1.1 {}.cloudfront.net (CloudFront)", edge.host_id);
    let via = match req.headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.is_empty() => format!("{prev}, {own_via}"),
        _ => own_via,
    };
    if let Ok(v) = HeaderValue::from_str(&via) {
        headers.insert(header::VIA, v);
    }
    if let Ok(v) = HeaderValue::from_str(edge.request_id) {
        headers.insert(HeaderName::from_static("x-amz-cf-id"), v);
    }
    for (name, value) in &origin.custom_headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.insert(n, v);
        }
    }
    OriginRequest { path_and_query, host, headers }
}

/// Hop-by-hop headers never relayed from an origin to viewers.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// An origin response's headers as viewers get them (§2.4, §6.1): hop-by-hop headers
/// and `Content-Length` removed (the edge frames the body itself), `Set-Cookie`
/// removed unless cookies are forwarded (or `strip_set_cookie`: the origin's
/// `no-cache="Set-Cookie"`), and `Vary` limited to what the edge keys or forwards.
pub fn viewer_response_headers(
    origin: &HeaderMap,
    cache: &CacheSettings,
    orp: &OriginRequestSettings,
    strip_set_cookie: bool,
) -> HeaderMap {
    let cookies_forwarded = !cache.cookies.is_none() || !orp.cookies.is_none();
    let mut out = HeaderMap::with_capacity(origin.len());
    for (name, value) in origin {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n == "content-length" {
            continue;
        }
        if n == "set-cookie" && (!cookies_forwarded || strip_set_cookie) {
            continue;
        }
        if n == "vary" {
            let forwards = |h: &str| {
                forwards_header(cache, orp, h)
                    || (h == "user-agent" && forwards_header(cache, orp, "cloudfront-is-mobile-viewer"))
            };
            if let Some(kept) = value.to_str().ok().and_then(|v| crate::range::filter_vary(v, forwards))
                && let Ok(v) = HeaderValue::from_str(&kept)
            {
                out.append(name.clone(), v);
            }
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachalot_config::model::OriginProtocolPolicy;
    use http::Method;

    fn cache() -> CacheSettings {
        CacheSettings {
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            ..CacheSettings::path_only(0, 86400, 31536000)
        }
    }

    fn origin() -> Origin {
        Origin {
            id: "o".into(),
            domain_name: "origin.example".into(),
            origin_path: "/prod".into(),
            custom_headers: vec![("X-Secret".into(), "s3cr3t".into())],
            kind: OriginKind::Custom { http_port: 80, https_port: 443, protocol: OriginProtocolPolicy::HttpOnly },
            connection_attempts: 3,
            connection_timeout_secs: 10,
            read_timeout_secs: 30,
            keepalive_timeout_secs: 5,
            response_completion_timeout_secs: None,
            shield_region: None,
            access_control: None,
        }
    }

    fn viewer_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("host", "www.example.com"),
            ("user-agent", "curl/8"),
            ("cookie", "session=abc; theme=dark"),
            ("authorization", "Bearer x"),
            ("accept", "image/webp"),
            ("x-custom", "1"),
            ("x-secret", "viewer"),
            ("x-forwarded-for", "10.0.0.1"),
        ] {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn nothing_unkeyed_reaches_the_origin() {
        let h = viewer_headers();
        let req = ViewerRequest::new(&Method::GET, "/a.jpg", Some("utm=1"), &h);
        let edge = EdgeIdentity { host_id: "0123456789abcdef0123456789abcdef", request_id: "rid" };
        let out = origin_request(
            &req,
            &cache(),
            &OriginRequestSettings::none(),
            &origin(),
            NormalizedEncoding::Identity,
            edge,
            false,
        );
        assert_eq!(out.path_and_query, "/prod/a.jpg");
        assert_eq!(out.host, "origin.example");
        assert_eq!(out.headers["user-agent"], "Amazon CloudFront");
        assert_eq!(out.headers["accept-encoding"], "identity");
        assert_eq!(out.headers["x-secret"], "s3cr3t");
        assert_eq!(out.headers["x-forwarded-for"], "10.0.0.1,127.0.0.1");
        for absent in ["cookie", "authorization", "accept", "x-custom"] {
            assert!(!out.headers.contains_key(absent), "{absent} leaked");
        }
    }

    #[test]
    fn keyed_and_policy_values_are_forwarded() {
        let h = viewer_headers();
        let req = ViewerRequest::new(&Method::GET, "/a.jpg", Some("utm=1&w=2"), &h);
        let mut c = cache();
        c.headers = NameRule::Only(vec!["accept".into()]);
        c.query_strings = NameRule::Only(vec!["w".into()]);
        let orp = OriginRequestSettings {
            headers: HeaderForwarding::Only(vec!["x-custom".into(), "host".into()]),
            cookies: NameRule::Only(vec!["theme".into()]),
            query_strings: NameRule::None,
        };
        let edge = EdgeIdentity { host_id: "0123456789abcdef0123456789abcdef", request_id: "rid" };
        let out = origin_request(&req, &c, &orp, &origin(), NormalizedEncoding::Gzip, edge, false);
        assert_eq!(out.path_and_query, "/prod/a.jpg?w=2");
        assert_eq!(out.host, "www.example.com");
        assert_eq!(out.headers["accept"], "image/webp");
        assert_eq!(out.headers["x-custom"], "1");
        assert_eq!(out.headers["cookie"], "theme=dark");
        assert_eq!(out.headers["accept-encoding"], "gzip");
    }
}
