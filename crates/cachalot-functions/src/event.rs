//! The event a function receives and the request/response it returns, as Rust data.
//!
//! Shapes follow CloudFront's event structure (version `1.0`): header, query
//! string and cookie maps hold every value of a name in order, the first being
//! what JavaScript sees as `value`. Header names are lower case here; use
//! [`wire_header_name`] when writing them to the network.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Which event a function runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Before the cache lookup.
    ViewerRequest,
    /// Before the response goes to the viewer.
    ViewerResponse,
}

impl EventType {
    /// `viewer-request` or `viewer-response`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewerRequest => "viewer-request",
            Self::ViewerResponse => "viewer-response",
        }
    }
}

/// Names mapped to one or more values, in order (headers, query strings, request cookies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiValueMap {
    entries: Vec<(String, Vec<String>)>,
}

impl MultiValueMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> &[String] {
        self.entries.iter().find(|(n, _)| n == name).map_or(&[], |(_, v)| v.as_slice())
    }

    /// True when `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n == name)
    }

    /// Adds a value after any existing values of `name`.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into()),
            None => self.entries.push((name, vec![value.into()])),
        }
    }

    /// Replaces every value of `name` with `values` (removes it when empty).
    pub fn set(&mut self, name: impl Into<String>, values: Vec<String>) {
        let name = name.into();
        if values.is_empty() {
            self.remove(&name);
            return;
        }
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = values,
            None => self.entries.push((name, values)),
        }
    }

    /// Removes `name`; returns its values.
    pub fn remove(&mut self, name: &str) -> Vec<String> {
        match self.entries.iter().position(|(n, _)| n == name) {
            Some(i) => self.entries.remove(i).1,
            None => Vec::new(),
        }
    }

    /// Names and their values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Every (name, value) pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().flat_map(|(n, vs)| vs.iter().map(move |v| (n.as_str(), v.as_str())))
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no names.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses a raw query string (no leading `?`); values stay percent-encoded, as CloudFront passes them.
    pub fn from_query_string(query: &str) -> Self {
        let mut map = Self::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            map.append(name, value);
        }
        map
    }

    /// Formats as a raw query string (`a=1&b=2`), without the leading `?`.
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        for (name, value) in self.pairs() {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value);
        }
        out
    }

    /// Parses `Cookie` header values (`a=1; b=2`).
    pub fn from_cookie_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut map = Self::new();
        for header in values {
            for part in header.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let (name, value) = part.split_once('=').unwrap_or((part, ""));
                map.append(name.trim(), value.trim());
            }
        }
        map
    }

    /// Formats as one `Cookie` header value.
    pub fn to_cookie_header(&self) -> String {
        self.pairs().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub(crate) fn to_event_json(&self) -> Value {
        let mut out = Map::with_capacity(self.entries.len());
        for (name, values) in &self.entries {
            let mut entry = Map::new();
            entry.insert("value".into(), Value::String(values.first().cloned().unwrap_or_default()));
            if values.len() > 1 {
                entry.insert("multiValue".into(), values.iter().map(|v| json!({ "value": v })).collect());
            }
            out.insert(name.clone(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

/// One `Set-Cookie` value: the cookie's value and its attributes (`Secure; Path=/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetCookie {
    /// Cookie value.
    pub value: String,
    /// Everything after the first `;`, trimmed (empty when none).
    pub attributes: String,
}

/// Response cookies by name, each with one or more `Set-Cookie` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseCookies {
    entries: Vec<(String, Vec<SetCookie>)>,
}

impl ResponseCookies {
    /// No cookies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `Set-Cookie` header values.
    pub fn from_set_cookie_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut cookies = Self::new();
        for header in values {
            let (pair, attributes) = header.split_once(';').unwrap_or((header, ""));
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            cookies.append(name.trim(), SetCookie { value: value.trim().into(), attributes: attributes.trim().into() });
        }
        cookies
    }

    /// Adds a cookie value after any existing values of `name`.
    pub fn append(&mut self, name: impl Into<String>, cookie: SetCookie) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(cookie),
            None => self.entries.push((name, vec![cookie])),
        }
    }

    /// The values of `name`.
    pub fn get_all(&self, name: &str) -> &[SetCookie] {
        self.entries.iter().find(|(n, _)| n == name).map_or(&[], |(_, v)| v.as_slice())
    }

    /// Names and values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[SetCookie])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// True when there are no cookies.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One `Set-Cookie` header value per cookie value (`name=value; attributes`).
    pub fn to_set_cookie_headers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, values) in &self.entries {
            for c in values {
                if c.attributes.is_empty() {
                    out.push(format!("{name}={}", c.value));
                } else {
                    out.push(format!("{name}={}; {}", c.value, c.attributes));
                }
            }
        }
        out
    }

    pub(crate) fn set(&mut self, name: String, values: Vec<SetCookie>) {
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, values));
    }

    pub(crate) fn to_event_json(&self) -> Value {
        let mut out = Map::with_capacity(self.entries.len());
        for (name, values) in &self.entries {
            let first = values.first().cloned().unwrap_or_default();
            let mut entry = Map::new();
            entry.insert("value".into(), Value::String(first.value));
            entry.insert("attributes".into(), Value::String(first.attributes));
            if values.len() > 1 {
                entry.insert(
                    "multiValue".into(),
                    values.iter().map(|c| json!({ "value": c.value, "attributes": c.attributes })).collect(),
                );
            }
            out.insert(name.clone(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

/// The viewer's request as a function sees and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`… (read-only for functions).
    pub method: String,
    /// Path, starting with `/`, without the query string.
    pub uri: String,
    /// Query parameters; values are percent-encoded as received.
    pub querystring: MultiValueMap,
    /// Headers by lower-case name (without `Cookie`, without disallowed headers).
    pub headers: MultiValueMap,
    /// Cookies from the `Cookie` header.
    pub cookies: MultiValueMap,
    /// The query string exactly as received, without `?` (`None` when the target had no `?`);
    /// what `request.rawQueryString()` returns. Functions cannot change it.
    pub raw_query: Option<String>,
    /// A function assigned `request.querystring` a string: the query forwarded is the one that
    /// string parses to, even when it holds the same parameters as the one received in another
    /// order (a function that sorts `?a=0&b=2&a=1` into `a=0&a=1&b=2` must be obeyed, or the
    /// two orders stay two cache entries).
    pub(crate) query_assigned: bool,
}

impl Request {
    /// Builds the event's request from HTTP parts: `target` is the request target
    /// (`/path?query`), `headers` are name/value pairs in arrival order. Header names are
    /// lower-cased, `Cookie` headers become `cookies`, disallowed headers are left out and
    /// values that are not UTF-8 are read as ISO-8859-1.
    pub fn from_http<'a>(method: &str, target: &str, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let (uri, raw_query) = match target.split_once('?') {
            Some((uri, query)) => (uri, Some(query)),
            None => (target, None),
        };
        let mut header_map = MultiValueMap::new();
        let mut cookie_values = Vec::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value = header_value_text(value);
            if name == "cookie" {
                cookie_values.push(value);
            } else if !is_disallowed_header(&name) {
                header_map.append(name, value);
            }
        }
        Self {
            method: method.to_owned(),
            uri: if uri.is_empty() { "/".into() } else { uri.to_owned() },
            querystring: MultiValueMap::from_query_string(raw_query.unwrap_or("")),
            headers: header_map,
            cookies: MultiValueMap::from_cookie_headers(cookie_values.iter().map(String::as_str)),
            raw_query: raw_query.map(str::to_owned),
            query_assigned: false,
        }
    }

    /// The request target to forward: `uri` plus `?query` when there is one.
    pub fn target(&self) -> String {
        let query = self.query_string();
        if query.is_empty() { self.uri.clone() } else { format!("{}?{query}", self.uri) }
    }

    /// The query string to forward, without `?`: the one received when `querystring` still
    /// holds exactly what it parses to and no function assigned it a string (CloudFront
    /// forwards unchanged values as received), else `querystring` formatted.
    pub fn query_string(&self) -> String {
        if !self.query_assigned
            && let Some(raw) = &self.raw_query
            && MultiValueMap::from_query_string(raw) == self.querystring
        {
            return raw.clone();
        }
        self.querystring.to_query_string()
    }

    pub(crate) fn to_event_json(&self) -> Value {
        json!({
            "method": self.method,
            "uri": self.uri,
            "querystring": self.querystring.to_event_json(),
            "headers": self.headers.to_event_json(),
            "cookies": self.cookies.to_event_json(),
        })
    }
}

/// A body a function sets on a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text, sent as its UTF-8 bytes.
    Text(String),
    /// Base64 text, sent decoded (validated when the function returns).
    Base64(String),
}

impl Body {
    /// The bytes to send.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Text(s) => s.as_bytes().to_vec(),
            Self::Base64(s) => base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_default(),
        }
    }

    pub(crate) fn to_event_json(&self) -> Value {
        match self {
            Self::Text(s) => json!({ "encoding": "text", "data": s }),
            Self::Base64(s) => json!({ "encoding": "base64", "data": s }),
        }
    }
}

/// A response: generated by a viewer-request function, or the one a viewer-response function edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status_code: u16,
    /// Reason phrase, when set.
    pub status_description: Option<String>,
    /// Headers by lower-case name (without `Set-Cookie`).
    pub headers: MultiValueMap,
    /// Cookies to set.
    pub cookies: ResponseCookies,
    /// Body set by the function; `None` keeps the original body (viewer-response) or sends none.
    pub body: Option<Body>,
}

impl Response {
    /// Builds the event's response from HTTP parts (`Set-Cookie` headers become `cookies`).
    pub fn from_http<'a>(
        status_code: u16,
        status_description: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut header_map = MultiValueMap::new();
        let mut set_cookies = Vec::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value = header_value_text(value);
            if name == "set-cookie" {
                set_cookies.push(value);
            } else if !is_disallowed_header(&name) {
                header_map.append(name, value);
            }
        }
        Self {
            status_code,
            status_description: status_description.map(str::to_owned),
            headers: header_map,
            cookies: ResponseCookies::from_set_cookie_headers(set_cookies.iter().map(String::as_str)),
            body: None,
        }
    }

    pub(crate) fn to_event_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("statusCode".into(), json!(self.status_code));
        if let Some(d) = &self.status_description {
            out.insert("statusDescription".into(), json!(d));
        }
        out.insert("headers".into(), self.headers.to_event_json());
        out.insert("cookies".into(), self.cookies.to_event_json());
        if let Some(body) = &self.body {
            out.insert("body".into(), body.to_event_json());
        }
        Value::Object(out)
    }
}

/// `event.context` (the event type is implied by which entry point is called).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    /// `dXXXX.cloudfront.net` of the distribution.
    pub distribution_domain_name: String,
    /// `E…` distribution id.
    pub distribution_id: String,
    /// The request id (the `x-amz-cf-id` value).
    pub request_id: String,
}

/// Input of a viewer-request function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerRequestEvent {
    /// Distribution and request ids.
    pub context: EventContext,
    /// The viewer's IP address (`event.viewer.ip`).
    pub viewer_ip: String,
    /// The viewer's request.
    pub request: Request,
}

/// Input of a viewer-response function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerResponseEvent {
    /// Distribution and request ids.
    pub context: EventContext,
    /// The viewer's IP address.
    pub viewer_ip: String,
    /// The viewer's request (after any viewer-request function).
    pub request: Request,
    /// The response about to be sent.
    pub response: Response,
}

/// The event as JSON text (what the engine builds as objects; kept to check that it does).
#[cfg(test)]
pub(crate) fn event_json(
    event_type: EventType,
    context: &EventContext,
    viewer_ip: &str,
    request: &Request,
    response: Option<&Response>,
) -> String {
    let mut w = String::with_capacity(1024);
    w.push_str("{\"version\":\"1.0\",\"context\":{\"distributionDomainName\":");
    push_json_str(&mut w, &context.distribution_domain_name);
    w.push_str(",\"distributionId\":");
    push_json_str(&mut w, &context.distribution_id);
    w.push_str(",\"eventType\":");
    push_json_str(&mut w, event_type.as_str());
    w.push_str(",\"requestId\":");
    push_json_str(&mut w, &context.request_id);
    w.push_str("},\"viewer\":{\"ip\":");
    push_json_str(&mut w, viewer_ip);
    w.push_str("},\"request\":{\"method\":");
    push_json_str(&mut w, &request.method);
    w.push_str(",\"uri\":");
    push_json_str(&mut w, &request.uri);
    w.push_str(",\"querystring\":");
    push_multi_value_map(&mut w, &request.querystring);
    w.push_str(",\"headers\":");
    push_multi_value_map(&mut w, &request.headers);
    w.push_str(",\"cookies\":");
    push_multi_value_map(&mut w, &request.cookies);
    w.push('}');
    if let Some(r) = response {
        w.push_str(",\"response\":");
        w.push_str(&r.to_event_json().to_string());
    }
    w.push('}');
    w
}

#[cfg(test)]
fn push_multi_value_map(w: &mut String, map: &MultiValueMap) {
    w.push('{');
    for (i, (name, values)) in map.entries.iter().enumerate() {
        if i > 0 {
            w.push(',');
        }
        push_json_str(w, name);
        w.push_str(":{\"value\":");
        push_json_str(w, values.first().map_or("", String::as_str));
        if values.len() > 1 {
            w.push_str(",\"multiValue\":[");
            for (j, v) in values.iter().enumerate() {
                if j > 0 {
                    w.push(',');
                }
                w.push_str("{\"value\":");
                push_json_str(w, v);
                w.push('}');
            }
            w.push(']');
        }
        w.push('}');
    }
    w.push('}');
}

#[cfg(test)]
fn push_json_str(w: &mut String, s: &str) {
    w.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        w.push_str(&s[start..i]);
        match escape {
            Some(e) => w.push_str(e),
            None => w.push_str(&format!("\\u{:04x}", c as u32)),
        }
        start = i + c.len_utf8();
    }
    w.push_str(&s[start..]);
    w.push('"');
}

/// A header value as text: UTF-8 when valid, else ISO-8859-1 (what CloudFront does).
fn header_value_text(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => value.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Writes a lower-case header name the way CloudFront sends it: each hyphen-separated
/// word capitalised (`x-custom-header` → `X-Custom-Header`).
pub fn wire_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start_of_word = true;
    for c in name.chars() {
        if start_of_word {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start_of_word = c == '-';
    }
    out
}

const DISALLOWED_HEADERS: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "upgrade",
    "x-accel-buffering",
    "x-accel-charset",
    "x-accel-limit-rate",
    "x-accel-redirect",
    "x-amzn-auth",
    "x-amzn-cf-billing",
    "x-amzn-cf-id",
    "x-amzn-cf-xff",
    "x-amzn-errortype",
    "x-amzn-fle-profile",
    "x-amzn-header-count",
    "x-amzn-header-order",
    "x-amzn-lambda-integration-tag",
    "x-amzn-requestid",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
];

/// True for headers functions never see and cannot add (lower-case name).
pub fn is_disallowed_header(name: &str) -> bool {
    DISALLOWED_HEADERS.contains(&name) || name.starts_with("x-amz-cf-") || name.starts_with("x-edge-")
}

/// Headers a function may read but not add or change, per event (lower-case names).
pub fn read_only_headers(event_type: EventType) -> &'static [&'static str] {
    match event_type {
        EventType::ViewerRequest => &["content-length", "host", "transfer-encoding", "via"],
        EventType::ViewerResponse => &["warning", "via"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_capitalised_per_word() {
        assert_eq!(wire_header_name("x-custom-header"), "X-Custom-Header");
        assert_eq!(wire_header_name("accept"), "Accept");
        assert_eq!(wire_header_name("cloudfront-viewer-country"), "Cloudfront-Viewer-Country");
    }

    #[test]
    fn request_from_http_splits_query_cookies_and_drops_disallowed_headers() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"example.com"),
            ("Accept", b"text/html"),
            ("Cookie", b"a=1; b=2"),
            ("Connection", b"keep-alive"),
            ("X-Amz-Cf-Id", b"abc"),
            ("X-Multi", b"one"),
            ("x-multi", b"two"),
        ];
        let r = Request::from_http("GET", "/p?x=1&y&x=2", headers);
        assert_eq!(r.uri, "/p");
        assert_eq!(r.querystring.get_all("x"), ["1", "2"]);
        assert_eq!(r.querystring.get("y"), Some(""));
        assert_eq!(r.cookies.get("b"), Some("2"));
        assert!(
            !r.headers.contains("connection") && !r.headers.contains("x-amz-cf-id") && !r.headers.contains("cookie")
        );
        assert_eq!(r.headers.get_all("x-multi"), ["one", "two"]);
        let json = r.to_event_json();
        assert_eq!(json["headers"]["x-multi"]["multiValue"][1]["value"], "two");
        assert_eq!(json["headers"]["accept"], json!({"value": "text/html"}));
        let text = event_json(EventType::ViewerRequest, &EventContext::default(), "1.2.3.4", &r, None);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["request"], json);
        assert_eq!(parsed["context"]["eventType"], "viewer-request");
    }

    #[test]
    fn event_text_escapes_strings() {
        let headers: Vec<(&str, &[u8])> = vec![("x-odd", b"a\"b\\c\x01\xe9")];
        let r = Request::from_http("GET", "/\u{e9}", headers);
        let text = event_json(EventType::ViewerRequest, &EventContext::default(), "", &r, None);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["request"]["headers"]["x-odd"]["value"], "a\"b\\c\u{1}\u{e9}");
    }

    #[test]
    fn set_cookie_headers_round_trip() {
        let c = ResponseCookies::from_set_cookie_headers(["id=1; Secure; Path=/", "id=2", "x=y"]);
        assert_eq!(c.get_all("id")[0].attributes, "Secure; Path=/");
        assert_eq!(c.to_set_cookie_headers(), ["id=1; Secure; Path=/", "id=2", "x=y"]);
    }
}
