//! The Deliver step: viewer responses from cached objects (with viewer
//! conditionals), relayed origin responses, and CloudFront-generated pages —
//! each with CloudFront's own headers.

use crate::body::{EdgeBody, Segment};
use crate::edge::Pop;
use crate::summary::Layer;
use bytes::Bytes;
use cachalot_cache::{CachedObject, ObjectBody};
use cachalot_policy::ResultType;
use cachalot_policy::range::{RangeDecision, decide};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

pub(crate) static X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub(crate) static X_AMZ_CF_POP: HeaderName = HeaderName::from_static("x-amz-cf-pop");
pub(crate) static X_AMZ_CF_ID: HeaderName = HeaderName::from_static("x-amz-cf-id");

/// Adds `x-cache`, `via`, `x-amz-cf-pop`, `x-amz-cf-id` and (when non-zero) `age`.
pub(crate) fn cloudfront_headers(
    headers: &mut HeaderMap,
    result: ResultType,
    pop: &Pop,
    request_id: &str,
    age: Option<u64>,
) {
    headers.insert(X_CACHE.clone(), HeaderValue::from_static(result.x_cache()));
    match headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.is_empty() => {
            let joined = format!("{prev}, {}", pop.via.to_str().unwrap_or(""));
            if let Ok(v) = HeaderValue::from_str(&joined) {
                headers.insert(header::VIA, v);
            }
        }
        _ => {
            headers.insert(header::VIA, pop.via.clone());
        }
    }
    headers.insert(X_AMZ_CF_POP.clone(), pop.pop_header.clone());
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(X_AMZ_CF_ID.clone(), v);
    }
    match age {
        Some(a) if a > 0 => {
            headers.insert(header::AGE, HeaderValue::from(a));
        }
        _ => {
            headers.remove(header::AGE);
        }
    }
}

/// A `304 Not Modified` for `obj`.
pub(crate) fn not_modified_response(obj: &CachedObject) -> Response<EdgeBody> {
    let mut headers = HeaderMap::new();
    for name in cachalot_policy::conditional::NOT_MODIFIED_HEADERS {
        for v in obj.headers.get_all(name) {
            headers.append(name.clone(), v.clone());
        }
    }
    let mut resp = Response::new(EdgeBody::empty());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    *resp.headers_mut() = headers;
    resp
}

/// The body of `obj` (`None`: all of it), whole in memory or read from its file.
pub(crate) fn object_body(obj: &CachedObject, range: Option<(u64, u64)>) -> EdgeBody {
    match (&obj.body, range) {
        (ObjectBody::Memory(b), None) => EdgeBody::full(b.clone()),
        (ObjectBody::Memory(b), Some((start, end))) => EdgeBody::full(b.slice(start as usize..=end as usize)),
        (ObjectBody::File(_), None) => {
            EdgeBody::object(obj.body.clone(), vec![Segment::Range(0, None)], obj.body.len())
        }
        (ObjectBody::File(_), Some((start, end))) => {
            EdgeBody::object(obj.body.clone(), vec![Segment::Range(start, Some(end + 1))], Some(end - start + 1))
        }
    }
}

/// The full response for `obj` (`head`: headers only, with the object's length when known).
pub(crate) fn object_response(obj: &CachedObject, head: bool) -> Response<EdgeBody> {
    let body = if head { EdgeBody::empty() } else { object_body(obj, None) };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(obj.status).unwrap_or(StatusCode::BAD_GATEWAY);
    *resp.headers_mut() = obj.headers.clone();
    if let Some(len) = obj.body.len().filter(|n| head || *n == 0) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// The response for `obj` to a viewer request: `304` when the viewer's validators
/// match, `206`/`416` for satisfiable/unsatisfiable ranges, else the whole object.
/// Ranges of a body on disk read only the blocks they touch; a body whose length is not
/// known yet (a chunked origin response still arriving) is sent whole, as CloudFront does.
/// Returns the response and the served byte range, if any.
pub(crate) fn object_for_viewer(
    obj: &CachedObject,
    request: &HeaderMap,
    head: bool,
    conditionals: bool,
) -> (Response<EdgeBody>, Option<(u64, u64)>) {
    if conditionals && cachalot_policy::conditional::viewer_not_modified(request, obj.status, &obj.headers) {
        return (not_modified_response(obj), None);
    }
    let range = request.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (Some(range), Some(len)) = (
        range.filter(|_| obj.status == 200 && cachalot_policy::conditional::if_range_matches(request, &obj.headers)),
        obj.body.len(),
    ) else {
        return (object_response(obj, head), None);
    };
    match decide(range, len) {
        RangeDecision::Full => (object_response(obj, head), None),
        RangeDecision::Unsatisfiable => {
            let mut resp = Response::new(EdgeBody::empty());
            *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            for name in [header::CONTENT_TYPE, header::ETAG, header::LAST_MODIFIED, header::DATE] {
                if let Some(v) = obj.headers.get(&name) {
                    resp.headers_mut().insert(name, v.clone());
                }
            }
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            (resp, None)
        }
        RangeDecision::Partial(ranges) if ranges.len() == 1 => {
            let (start, end) = ranges[0];
            let mut resp = Response::new(if head { EdgeBody::empty() } else { object_body(obj, Some((start, end))) });
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            *resp.headers_mut() = obj.headers.clone();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            (resp, Some((start, end)))
        }
        RangeDecision::Partial(ranges) => {
            let boundary = format!("CloudFrontBoundary{:016x}", fastrand::u64(..));
            let content_type =
                obj.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("binary/octet-stream");
            let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
            let mut total = 0u64;
            for (start, end) in &ranges {
                let part = format!(
                    "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {start}-{end}/{len}\r\n\r\n"
                );
                total += part.len() as u64 + (end - start + 1);
                segments.push(Segment::Bytes(Bytes::from(part)));
                segments.push(Segment::Range(*start, Some(end + 1)));
            }
            let closing = format!("\r\n--{boundary}--\r\n");
            total += closing.len() as u64;
            segments.push(Segment::Bytes(Bytes::from(closing)));
            let body = if head { EdgeBody::empty() } else { EdgeBody::object(obj.body.clone(), segments, Some(total)) };
            let mut resp = Response::new(body);
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            *resp.headers_mut() = obj.headers.clone();
            if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}")) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(total));
            let first = ranges.first().map(|r| r.0).unwrap_or(0);
            let last = ranges.last().map(|r| r.1).unwrap_or(0);
            (resp, Some((first, last)))
        }
    }
}

/// A CloudFront-generated HTML error page.
pub(crate) fn error_page(status: u16, sentence: &str, request_id: &str) -> Response<EdgeBody> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n\
<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n\
{sentence}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\n\
Request ID: {request_id}\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
    );
    let mut resp = Response::new(EdgeBody::full(Bytes::from(body)));
    *resp.status_mut() = code;
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static("CloudFront"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

/// An HTTP → HTTPS redirect.
pub(crate) fn redirect(status: u16, location: &str) -> Response<EdgeBody> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    let reason = code.canonical_reason().unwrap_or("Moved Permanently");
    let body = format!(
        "<html>\n<head><title>{status} {reason}</title></head>\n<body>\n<center><h1>{status} {reason}</h1></center>\n<hr><center>CloudFront</center>\n</body>\n</html>\n"
    );
    let mut resp = Response::new(EdgeBody::full(Bytes::from(body)));
    *resp.status_mut() = code;
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static("CloudFront"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    resp
}

/// What `Server-Timing` reports (§6.2).
pub(crate) struct Timing<'a> {
    pub(crate) result: ResultType,
    pub(crate) hit_layer: Layer,
    pub(crate) upstream_layer: Layer,
    pub(crate) origin_latency_ms: Option<u64>,
    pub(crate) pop: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) downstream_ms: u64,
    pub(crate) origin_timing: Option<&'a str>,
}

/// The `Server-Timing` value: CloudFront's metrics, with the origin's merged on misses.
pub(crate) fn server_timing(t: &Timing<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    match t.result {
        ResultType::Hit => parts.push(format!("cdn-hit-layer;desc=\"{}\"", t.hit_layer.server_timing())),
        _ => {
            parts.push(format!("cdn-upstream-layer;desc=\"{}\"", t.upstream_layer.server_timing()));
            if let Some(fbl) = t.origin_latency_ms {
                parts.push(format!("cdn-upstream-fbl;dur={fbl}"));
            }
        }
    }
    parts.push(
        match t.result {
            ResultType::Hit => "cdn-cache-hit",
            ResultType::RefreshHit => "cdn-cache-refresh",
            _ => "cdn-cache-miss",
        }
        .to_owned(),
    );
    parts.push(format!("cdn-pop;desc=\"{}\"", t.pop));
    parts.push(format!("cdn-rid;desc=\"{}\"", t.request_id));
    parts.push(format!("cdn-downstream-fbl;dur={}", t.downstream_ms));
    if let Some(origin) = t.origin_timing.filter(|o| !o.is_empty()) {
        parts.push(origin.to_owned());
    }
    parts.join(",")
}

/// Approximate bytes of a response head on the wire (status line and headers).
pub(crate) fn head_bytes(headers: &HeaderMap) -> u64 {
    17 + headers.iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum::<u64>() + 2
}
