//! Validators (§3.4, §6.3): the edge revalidating an expired copy with the origin
//! (conditional headers, validator comparison between tiers, the `304` merge) and
//! viewers revalidating their copy with the edge (`If-None-Match`,
//! `If-Modified-Since`, `If-Range`).

use http::{HeaderMap, HeaderValue, header};

/// The conditional headers that revalidate a stored copy with these `stored` headers:
/// its `ETag` as `If-None-Match`, its `Last-Modified` as `If-Modified-Since`.
pub fn revalidation_headers(stored: &HeaderMap) -> impl Iterator<Item = (header::HeaderName, HeaderValue)> + '_ {
    let etag = stored.get(header::ETAG).map(|v| (header::IF_NONE_MATCH, v.clone()));
    let lm = stored.get(header::LAST_MODIFIED).map(|v| (header::IF_MODIFIED_SINCE, v.clone()));
    etag.into_iter().chain(lm)
}

/// Whether two copies carry the same validators (a tier answering a revalidating
/// tier below it: equal validators mean the lower copy is still good).
pub fn validators_match(a: &HeaderMap, b: &HeaderMap) -> bool {
    match (a.get(header::ETAG), b.get(header::ETAG)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => {
            let lm = a.get(header::LAST_MODIFIED);
            lm.is_some() && lm == b.get(header::LAST_MODIFIED)
        }
        _ => false,
    }
}

/// The stored headers updated by a `304 Not Modified`'s (RFC 9111 §4.3.4): every
/// header the 304 carries replaces the stored one, except the body's framing.
pub fn merge_not_modified(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let mut headers = stored.clone();
    for name in not_modified.keys() {
        if matches!(name.as_str(), "content-length" | "content-encoding" | "transfer-encoding" | "content-range") {
            continue;
        }
        headers.remove(name);
        for v in not_modified.get_all(name) {
            headers.append(name.clone(), v.clone());
        }
    }
    headers
}

/// Whether the viewer's conditional headers match an object with `status` and
/// `headers` (RFC 9110 §13.1.2–13.1.3): the edge then answers `304`.
pub fn viewer_not_modified(request: &HeaderMap, status: u16, headers: &HeaderMap) -> bool {
    if status != 200 {
        return false;
    }
    if let Some(inm) = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let Some(etag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok()) else { return false };
        let weak = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        let ours = weak(etag);
        return inm.split(',').any(|t| t.trim() == "*" || weak(t) == ours);
    }
    if let Some(ims) = request.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()) {
        let (Ok(since), Some(Ok(modified))) = (
            httpdate::parse_http_date(ims),
            headers.get(header::LAST_MODIFIED).and_then(|v| v.to_str().ok()).map(httpdate::parse_http_date),
        ) else {
            return false;
        };
        return modified <= since;
    }
    false
}

/// `If-Range` (RFC 9110 §13.1.5): a range applies only while the validator still
/// matches, compared strongly.
pub fn if_range_matches(request: &HeaderMap, headers: &HeaderMap) -> bool {
    let Some(v) = request.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else { return true };
    if v.starts_with('"') {
        return headers.get(header::ETAG).and_then(|e| e.to_str().ok()) == Some(v);
    }
    headers.get(header::LAST_MODIFIED).and_then(|lm| lm.to_str().ok()) == Some(v)
}

/// Headers a `304` carries to the viewer (RFC 9110 §15.4.5).
pub const NOT_MODIFIED_HEADERS: &[header::HeaderName] = &[
    header::CACHE_CONTROL,
    header::CONTENT_LOCATION,
    header::DATE,
    header::ETAG,
    header::EXPIRES,
    header::VARY,
    header::LAST_MODIFIED,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn revalidation_and_merge() {
        let stored = headers(&[("etag", "\"v1\""), ("content-length", "4"), ("cache-control", "max-age=60")]);
        let sent: Vec<_> = revalidation_headers(&stored).collect();
        assert_eq!(sent, [(header::IF_NONE_MATCH, HeaderValue::from_static("\"v1\""))]);
        let merged =
            merge_not_modified(&stored, &headers(&[("cache-control", "max-age=120"), ("content-length", "0")]));
        assert_eq!(merged["cache-control"], "max-age=120");
        assert_eq!(merged["content-length"], "4", "a 304 does not reframe the stored body");
        assert!(validators_match(&stored, &headers(&[("etag", "\"v1\"")])));
        assert!(!validators_match(&stored, &headers(&[("etag", "\"v2\"")])));
        assert!(!validators_match(&headers(&[]), &headers(&[])), "no validators: nothing to compare");
    }

    #[test]
    fn viewer_conditionals() {
        let obj = headers(&[("etag", "\"abc\""), ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert!(viewer_not_modified(&headers(&[("if-none-match", "W/\"abc\"")]), 200, &obj));
        assert!(!viewer_not_modified(&headers(&[("if-none-match", "\"abc\"")]), 404, &obj));
        assert!(viewer_not_modified(&headers(&[("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT")]), 200, &obj));
        assert!(if_range_matches(&headers(&[("if-range", "\"abc\"")]), &obj));
        assert!(!if_range_matches(&headers(&[("if-range", "\"xyz\"")]), &obj));
    }
}
