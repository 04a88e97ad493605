//! The CloudFront REST-XML operations: routing, request parsing, responses.
//!
//! Handlers are synchronous functions of the control plane and one request;
//! the HTTP layer (`crate::http_layer`) runs them off the async runtime.

mod defaults;
mod distributions;
mod functions;
mod kvs;
mod policies;
mod private;

pub(crate) use kvs::{data_api as kvs_data_api, data_error_response as kvs_error_response};

use crate::control::Inner;
use crate::error::ApiError;
use crate::sigv4::SignedRequest;
use crate::xml::{self, schema::Schema};
use bytes::Bytes;
use cachalot_config::Diagnostics;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The API version prefix of every CloudFront path.
pub(crate) const PREFIX: &str = "/2020-05-31/";

/// One request, as the handlers see it.
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Path as sent (percent-encoded).
    pub(crate) raw_path: String,
    /// Query as sent, without `?`.
    pub(crate) raw_query: String,
    /// Path segments after the prefix, percent-decoded.
    pub(crate) segments: Vec<String>,
    /// Query parameters, percent-decoded.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Request {
    /// What its SigV4 signature covers.
    pub(crate) fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: self.method.as_str(),
            raw_path: &self.raw_path,
            raw_query: &self.raw_query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The first value of query parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `If-Match` must name the current ETag.
    pub(crate) fn check_if_match(&self, current: &str) -> Result<(), ApiError> {
        match self.header("if-match").map(str::trim) {
            None | Some("") => Err(ApiError::new(
                "InvalidIfMatchVersion",
                "The If-Match version is missing or not valid for the resource.",
            )),
            Some(v) if v.trim_matches('"') == current => Ok(()),
            Some(_) => Err(ApiError::new(
                "PreconditionFailed",
                "The precondition given in one or more of the request-header fields evaluated to false.",
            )),
        }
    }

    /// The body as model shape `shape` under root element `root`.
    pub(crate) fn xml_body(&self, root: &str, shape: &str) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::new("MissingBody", format!("this operation needs a <{root}> XML document")));
        }
        xml::parse(&self.body, root, shape).map_err(|e| ApiError::malformed(e.0))
    }

    /// `http://<host>` of this request, for `Location` headers.
    pub(crate) fn base_url(&self) -> String {
        match self.header("host") {
            Some(h) if !h.is_empty() => format!("http://{h}"),
            _ => "https://cloudfront.amazonaws.com".to_owned(),
        }
    }

    /// `MaxItems` (default 100, 1–1000).
    pub(crate) fn max_items(&self) -> Result<usize, ApiError> {
        match self.param("MaxItems") {
            None | Some("") => Ok(100),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(format!("MaxItems must be a number from 1 to 1000, not \"{s}\""))),
            },
        }
    }
}

/// A response ready to send.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// An XML document of model shape `shape`.
    pub(crate) fn xml(status: u16, root: &str, shape: &str, value: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "text/xml",
            body: xml::render(root, shape, value).into_bytes(),
        }
    }

    /// No body.
    pub(crate) fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), content_type: "text/xml", body: Vec::new() }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn etag(self, etag: &str) -> Self {
        self.header("etag", etag)
    }
}

/// Deserializes a JSON document (converted from XML) into a wire type; the
/// first problem becomes `MalformedInput` naming the field.
pub(crate) fn typed<T: DeserializeOwned>(value: &Value, root: &str) -> Result<T, ApiError> {
    let mut diags = Diagnostics::new();
    match cachalot_config::file::typed::<T>(Some(value), root, &mut diags) {
        Some(v) => Ok(v),
        None => {
            let msg = diags
                .items()
                .iter()
                .filter(|d| d.severity == cachalot_config::Severity::Error)
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect::<Vec<_>>()
                .join("; ");
            Err(ApiError::malformed(msg))
        }
    }
}

/// The errors among `diags` as one API error: the first one's code (CloudFront's, or
/// `InvalidArgument` for Cachalot's own kebab-case codes) and every message with its path.
pub(crate) fn errors_of(diags: &Diagnostics) -> Option<ApiError> {
    let errors: Vec<_> = diags.items().iter().filter(|d| d.severity == cachalot_config::Severity::Error).collect();
    let first = errors.first()?;
    let message = errors.iter().map(|d| format!("{}: {}", d.path, d.message)).collect::<Vec<_>>().join("; ");
    let code = if first.code.contains('-') { "InvalidArgument" } else { first.code.as_str() };
    Some(ApiError::new(code, message))
}

/// A required string member of a JSON document.
pub(crate) fn required_str<'a>(v: &'a Value, member: &str, root: &str) -> Result<&'a str, ApiError> {
    v.get(member).and_then(Value::as_str).ok_or_else(|| ApiError::malformed(format!("{root}.{member} is required")))
}

/// Checks every `{Quantity, Items}` pair in a document.
pub(crate) fn check_quantities(v: &Value, path: &str) -> Result<(), ApiError> {
    match v {
        Value::Object(map) => {
            if let Some(q) = map.get("Quantity") {
                let n = map.get("Items").and_then(Value::as_array).map_or(0, Vec::len);
                let declared = q.as_i64().or_else(|| q.as_str().and_then(|s| s.trim().parse().ok()));
                if declared != Some(n as i64) {
                    return Err(ApiError::new(
                        "InconsistentQuantities",
                        format!("{path}.Quantity is {q} but {path}.Items has {n} entries"),
                    ));
                }
            }
            for (k, child) in map {
                check_quantities(child, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                check_quantities(child, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One page of `items` (sorted by key): those after `marker`, at most `max`.
pub(crate) fn page<T: Clone>(items: &[(String, T)], marker: Option<&str>, max: usize) -> (Vec<T>, Option<String>) {
    let start = match marker.filter(|m| !m.is_empty()) {
        Some(m) => items.iter().position(|(k, _)| k.as_str() > m).unwrap_or(items.len()),
        None => 0,
    };
    let rest = &items[start..];
    let taken: Vec<T> = rest.iter().take(max).map(|(_, v)| v.clone()).collect();
    let next = (rest.len() > max).then(|| rest[max - 1].0.clone());
    (taken, next)
}

/// Whether a list answer repeats the request's `Marker` and says `IsTruncated`: the model's
/// distribution, distribution-id, invalidation and origin access lists have both members; the
/// function, key value store, policy, public key and key group lists have neither.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListEcho {
    /// `MaxItems`, `Quantity`, `NextMarker` and `Items` only.
    Nothing,
    /// `Marker` (empty on the first page) and `IsTruncated` as well.
    MarkerAndTruncation,
}

/// A CloudFront list answer of model shape `root`: the page of `items` (sorted by key) after the
/// request's `Marker`, at most `max`, with `MaxItems`, `Quantity`, `NextMarker` when more follow
/// and `Items` when the page has any (CloudFront leaves out an empty `Items`).
pub(crate) fn list_response(
    req: &Request,
    root: &str,
    items: &[(String, Value)],
    max: usize,
    echo: ListEcho,
) -> Response {
    let marker = req.param("Marker").unwrap_or_default();
    let (page_items, next) = page(items, Some(marker), max);
    let mut list = json!({"MaxItems": max, "Quantity": page_items.len()});
    if echo == ListEcho::MarkerAndTruncation {
        list["Marker"] = json!(marker);
        list["IsTruncated"] = json!(next.is_some());
    }
    if let Some(n) = next {
        list["NextMarker"] = json!(n);
    }
    if !page_items.is_empty() {
        list["Items"] = Value::Array(page_items);
    }
    Response::xml(200, root, root, &list)
}

/// Runs one CloudFront API request: authentication, then its operation.
pub(crate) fn handle(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    cp.authenticate(&req.signed())?;
    route(cp, req)
}

/// Routes one CloudFront API request.
pub(crate) fn route(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    if let Some(kind) = segs.first().and_then(|s| crate::state::PolicyKind::ALL.into_iter().find(|k| k.segment() == *s))
    {
        match (m, &segs[1..]) {
            ("POST", []) => return policies::create(cp, req, kind),
            ("GET", []) => return policies::list(cp, req, kind),
            ("GET", [id]) => return policies::get(cp, kind, id, false),
            ("GET", [id, "config"]) => return policies::get(cp, kind, id, true),
            ("PUT", [id]) => return policies::update(cp, req, kind, id),
            ("DELETE", [id]) => return policies::delete(cp, req, kind, id),
            _ => {}
        }
    }
    if let Some((kind, n)) = private::route_of(&segs)
        && let Some(answer) = private::route(cp, req, kind, &segs[n..])
    {
        return answer;
    }
    match (m, segs.as_slice()) {
        ("POST", ["distribution"]) => distributions::create(cp, req),
        ("GET", ["distribution"]) => distributions::list(cp, req),
        ("GET", ["distribution", id]) => distributions::get(cp, id, false),
        ("GET", ["distribution", id, "config"]) => distributions::get(cp, id, true),
        ("PUT", ["distribution", id, "config"]) => distributions::update(cp, req, id),
        ("DELETE", ["distribution", id]) => distributions::delete(cp, req, id),
        ("POST", ["distribution", id, "invalidation"]) => distributions::create_invalidation(cp, req, id),
        ("GET", ["distribution", id, "invalidation"]) => distributions::list_invalidations(cp, req, id),
        ("GET", ["distribution", id, "invalidation", inv]) => distributions::get_invalidation(cp, id, inv),
        ("GET", ["distributionsByKeyGroupId", id]) => private::list_distributions_by_key_group(cp, req, id),
        ("GET", [by, id]) if by.starts_with("distributionsBy") => distributions::list_by_policy(cp, req, by, id),
        ("GET", ["distributions", id, "monitoring-subscription"]) => distributions::get_monitoring(cp, id),
        ("POST", ["distributions", id, "monitoring-subscription"]) => distributions::create_monitoring(cp, req, id),
        ("DELETE", ["distributions", id, "monitoring-subscription"]) => distributions::delete_monitoring(cp, id),
        ("GET", ["tagging"]) => distributions::list_tags(cp, req),
        ("POST", ["tagging"]) => distributions::tag(cp, req),
        ("POST", ["function"]) => functions::create(cp, req),
        ("GET", ["function"]) => functions::list(cp, req),
        ("GET", ["function", name]) => functions::get_code(cp, req, name),
        ("PUT", ["function", name]) => functions::update(cp, req, name),
        ("DELETE", ["function", name]) => functions::delete(cp, req, name),
        ("GET", ["function", name, "describe"]) => functions::describe(cp, req, name),
        ("POST", ["function", name, "publish"]) => functions::publish(cp, req, name),
        ("POST", ["function", name, "test"]) => functions::test(cp, req, name),
        ("POST", ["key-value-store"]) => kvs::create(cp, req),
        ("GET", ["key-value-store"]) => kvs::list(cp, req),
        ("GET", ["key-value-store", name]) => kvs::describe(cp, name),
        ("PUT", ["key-value-store", name]) => kvs::update(cp, req, name),
        ("DELETE", ["key-value-store", name]) => kvs::delete(cp, req, name),
        _ => Err(unsupported(req)),
    }
}

/// The error for a request no handler takes: names the CloudFront operation
/// when the model has one at that method and path.
pub(super) fn unsupported(req: &Request) -> ApiError {
    let path = req.raw_path.as_str();
    for op in Schema::cloudfront().operations() {
        let (template, query) = op.uri.split_once('?').unwrap_or((op.uri.as_str(), ""));
        if op.method != req.method.as_str() || !template_matches(template, path) {
            continue;
        }
        let query_ok = query.is_empty() || query.split('&').all(|q| req.has_param(q.split('=').next().unwrap_or(q)));
        if query_ok {
            return ApiError::new(
                "UnsupportedOperation",
                format!("Cachalot does not implement {} yet; see docs/compat/api.md for what is supported", op.name),
            );
        }
    }
    ApiError::new("UnknownOperation", format!("no CloudFront operation matches {} {path}", req.method))
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
}
