//! Turns what a handler returned into a [`Request`] or [`Response`], enforcing CloudFront's rules.
//!
//! Any breach (wrong types, a changed `method`, a disallowed or read-only header,
//! a bad status, invalid base64, an oversized body…) is a validation error, which
//! the edge answers with 502.

use crate::event::{
    Body, EventType, MultiValueMap, Request, Response, ResponseCookies, SetCookie, is_disallowed_header,
    read_only_headers,
};
use crate::tree::{Map, Value};
use base64::Engine as _;

/// Longest URI plus query string CloudFront accepts from a function.
const MAX_TARGET_LEN: usize = 8192;

/// What a handler returned, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Returned {
    Request(Request),
    Response(Response),
}

/// Validates a viewer-request handler's return value against the event's request.
pub(crate) fn viewer_request_result(value: &Value, input: &Request, max_body: usize) -> Result<Returned, String> {
    let obj =
        value.as_object().ok_or_else(|| format!("the handler must return an object, got {}", type_name(value)))?;
    if obj.contains_key("statusCode") {
        return response(obj, None, EventType::ViewerRequest, max_body).map(Returned::Response);
    }
    request(obj, input).map(Returned::Request)
}

/// Validates a viewer-response handler's return value against the event's response.
pub(crate) fn viewer_response_result(value: &Value, input: &Response, max_body: usize) -> Result<Response, String> {
    let obj =
        value.as_object().ok_or_else(|| format!("the handler must return an object, got {}", type_name(value)))?;
    if !obj.contains_key("statusCode") {
        return Err("a viewer-response handler must return the response (an object with statusCode)".into());
    }
    response(obj, Some(input), EventType::ViewerResponse, max_body)
}

fn request(obj: &Map, input: &Request) -> Result<Request, String> {
    let method = match obj.get("method") {
        None | Some(Value::Null) => input.method.clone(),
        Some(Value::String(m)) if *m == input.method => m.clone(),
        Some(_) => return Err("request.method is read-only".into()),
    };
    let uri = match obj.get("uri") {
        None | Some(Value::Null) => input.uri.clone(),
        Some(Value::String(u)) => u.clone(),
        Some(other) => return Err(format!("request.uri must be a string, got {}", type_name(other))),
    };
    if !uri.starts_with('/') {
        return Err(format!("request.uri must start with '/', got {uri:?}"));
    }
    if let Some(c) = uri.chars().find(|c| c.is_control() || *c == ' ') {
        return Err(format!("request.uri contains an invalid character {c:?}"));
    }
    let query_assigned = matches!(obj.get("querystring"), Some(Value::String(_)));
    let querystring = match obj.get("querystring") {
        None | Some(Value::Null) => MultiValueMap::new(),
        Some(Value::String(s)) => MultiValueMap::from_query_string(s.strip_prefix('?').unwrap_or(s)),
        Some(Value::Object(map)) => multi_value_map(map, &input.querystring, "request.querystring")?,
        Some(other) => return Err(format!("request.querystring must be an object, got {}", type_name(other))),
    };
    for (name, value) in querystring.pairs() {
        if let Some(c) = name.chars().chain(value.chars()).find(|c| c.is_control() || *c == ' ' || *c == '#') {
            return Err(format!("request.querystring[{name:?}] contains an invalid character {c:?}"));
        }
    }
    let headers = headers(obj.get("headers"), &input.headers, EventType::ViewerRequest, "request.headers")?;
    let cookies = match obj.get("cookies") {
        None | Some(Value::Null) => MultiValueMap::new(),
        Some(Value::Object(map)) => multi_value_map(map, &input.cookies, "request.cookies")?,
        Some(other) => return Err(format!("request.cookies must be an object, got {}", type_name(other))),
    };
    let out =
        Request { method, uri, querystring, headers, cookies, raw_query: input.raw_query.clone(), query_assigned };
    let target_len = out.uri.len() + out.query_string().len() + 1;
    if target_len >= MAX_TARGET_LEN {
        return Err(format!("the URI and query string are {target_len} characters, over the {MAX_TARGET_LEN} limit"));
    }
    Ok(out)
}

fn response(obj: &Map, input: Option<&Response>, event_type: EventType, max_body: usize) -> Result<Response, String> {
    let status_code = match obj.get("statusCode") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("response.statusCode must be an integer from 100 to 599, got {n}"))?,
        Some(Value::String(s)) => s
            .parse::<u64>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("response.statusCode must be an integer from 100 to 599, got {s:?}"))?,
        other => {
            return Err(format!("response.statusCode must be a number, got {}", other.map_or("undefined", type_name)));
        }
    };
    let status_description = match obj.get("statusDescription") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.chars().any(char::is_control) => Some(s.clone()),
        Some(other) => return Err(format!("response.statusDescription must be a string, got {}", type_name(other))),
    };
    let empty = MultiValueMap::new();
    let input_headers = input.map_or(&empty, |r| &r.headers);
    let headers = headers(obj.get("headers"), input_headers, event_type, "response.headers")?;
    let cookies = match obj.get("cookies") {
        None | Some(Value::Null) => ResponseCookies::new(),
        Some(Value::Object(map)) => response_cookies(map, input.map(|r| &r.cookies))?,
        Some(other) => return Err(format!("response.cookies must be an object, got {}", type_name(other))),
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Body::Text(s.clone())),
        Some(Value::Object(b)) => {
            let data = match b.get("data") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => return Err(format!("response.body.data must be a string, got {}", type_name(other))),
            };
            match b.get("encoding").and_then(Value::as_str).unwrap_or("text") {
                "text" => Some(Body::Text(data)),
                "base64" => {
                    base64::engine::general_purpose::STANDARD
                        .decode(&data)
                        .map_err(|e| format!("response.body.data is not valid base64: {e}"))?;
                    Some(Body::Base64(data))
                }
                other => return Err(format!("response.body.encoding must be \"text\" or \"base64\", got {other:?}")),
            }
        }
        Some(other) => return Err(format!("response.body must be a string or an object, got {}", type_name(other))),
    };
    if let Some(b) = &body {
        let size = b.to_bytes().len();
        if size > max_body {
            return Err(format!("response.body is {size} bytes, over the {max_body}-byte limit"));
        }
    }
    Ok(Response { status_code: status_code as u16, status_description, headers, cookies, body })
}

fn headers(
    value: Option<&Value>,
    input: &MultiValueMap,
    event_type: EventType,
    path: &str,
) -> Result<MultiValueMap, String> {
    let mut out = match value {
        None | Some(Value::Null) => MultiValueMap::new(),
        Some(Value::Object(map)) => multi_value_map(map, input, path)?,
        Some(other) => return Err(format!("{path} must be an object, got {}", type_name(other))),
    };
    for (name, values) in out.iter() {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("{path} has an invalid header name {name:?}"));
        }
        if is_disallowed_header(name) {
            return Err(format!("{path}[{name:?}] is a disallowed header"));
        }
        if let Some(v) = values.iter().find(|v| v.chars().any(|c| c == '\r' || c == '\n' || c == '\0')) {
            return Err(format!("{path}[{name:?}] has an invalid value {v:?}"));
        }
    }
    for &name in read_only_headers(event_type) {
        let before = input.get_all(name);
        let after = out.get_all(name);
        if after.is_empty() && !before.is_empty() {
            // Removing a read-only header has no effect.
            out.set(name, before.to_vec());
        } else if before != after {
            return Err(format!("{path}[{name:?}] is read-only"));
        }
    }
    Ok(out)
}

/// Reads a `{name: {value, multiValue?}}` map. A changed `multiValue` wins; otherwise a
/// changed `value` replaces the first of the original values.
pub(crate) fn multi_value_map(map: &Map, input: &MultiValueMap, path: &str) -> Result<MultiValueMap, String> {
    let mut out = MultiValueMap::new();
    for (raw_name, entry) in map {
        let name = if path.ends_with("headers") { raw_name.to_ascii_lowercase() } else { raw_name.clone() };
        let entry = entry.as_object().ok_or_else(|| format!("{path}[{raw_name:?}] must be an object with a value"))?;
        let value = entry.get("value").map(|v| scalar_text(v, || format!("{path}[{raw_name:?}].value"))).transpose()?;
        let original = input.get_all(&name);
        let values = match entry.get("multiValue") {
            None | Some(Value::Null) => match value {
                Some(v) => vec![v],
                None => return Err(format!("{path}[{raw_name:?}] has no value")),
            },
            Some(Value::Array(items)) => {
                let mut multi = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let v = item
                        .get("value")
                        .ok_or_else(|| format!("{path}[{raw_name:?}].multiValue[{i}] has no value"))?;
                    multi.push(scalar_text(v, || format!("{path}[{raw_name:?}].multiValue[{i}].value"))?);
                }
                if multi.as_slice() == original && original.len() > 1 {
                    let mut kept = original.to_vec();
                    if let Some(v) = value {
                        kept[0] = v;
                    }
                    kept
                } else {
                    multi
                }
            }
            Some(other) => {
                return Err(format!("{path}[{raw_name:?}].multiValue must be an array, got {}", type_name(other)));
            }
        };
        for v in values {
            out.append(name.clone(), v);
        }
    }
    Ok(out)
}

pub(crate) fn response_cookies(map: &Map, input: Option<&ResponseCookies>) -> Result<ResponseCookies, String> {
    let mut out = ResponseCookies::new();
    for (name, entry) in map {
        // Formatted only for error messages (this runs for every cookie).
        let path = || format!("response.cookies[{name:?}]");
        let entry = entry.as_object().ok_or_else(|| format!("{} must be an object with a value", path()))?;
        let one = |o: &Map, p: &dyn Fn() -> String| -> Result<SetCookie, String> {
            let value =
                o.get("value").map(|v| scalar_text(v, || format!("{}.value", p()))).transpose()?.unwrap_or_default();
            let attributes = match o.get("attributes") {
                None | Some(Value::Null) => String::new(),
                Some(v) => scalar_text(v, || format!("{}.attributes", p()))?,
            };
            Ok(SetCookie { value, attributes })
        };
        let first = one(entry, &path)?;
        let original = input.map_or(&[][..], |c| c.get_all(name));
        let values = match entry.get("multiValue") {
            None | Some(Value::Null) => vec![first],
            Some(Value::Array(items)) => {
                let mut multi = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let o = item.as_object().ok_or_else(|| format!("{}.multiValue[{i}] must be an object", path()))?;
                    multi.push(one(o, &|| format!("{}.multiValue[{i}]", path()))?);
                }
                if multi.as_slice() == original && original.len() > 1 {
                    let mut kept = original.to_vec();
                    kept[0] = first;
                    kept
                } else {
                    multi
                }
            }
            Some(other) => return Err(format!("{}.multiValue must be an array, got {}", path(), type_name(other))),
        };
        for c in values.iter().flat_map(|c| [&c.value, &c.attributes]) {
            if c.chars().any(|ch| ch == '\r' || ch == '\n' || ch == '\0') {
                return Err(format!("{} has an invalid value {c:?}", path()));
            }
        }
        out.set(name.clone(), values);
    }
    Ok(out)
}

/// Values must be strings; numbers and booleans are accepted as their text.
fn scalar_text(v: &Value, path: impl FnOnce() -> String) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{} must be a string, got {}", path(), type_name(other))),
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> Request {
        let headers: Vec<(&str, &[u8])> = vec![("host", b"example.com"), ("x-m", b"1"), ("x-m", b"2")];
        Request::from_http("GET", "/a?q=1", headers)
    }

    fn req(v: serde_json::Value) -> Result<Returned, String> {
        viewer_request_result(&Value::from(&v), &input(), 40 * 1024)
    }

    #[test]
    fn an_unchanged_request_round_trips() {
        let r = input();
        assert_eq!(req(r.to_event_json()), Ok(Returned::Request(r)));
    }

    #[test]
    fn method_and_read_only_headers_cannot_change() {
        let mut v = input().to_event_json();
        v["method"] = json!("POST");
        assert!(req(v).unwrap_err().contains("method is read-only"));
        let mut v = input().to_event_json();
        v["headers"]["host"] = json!({"value": "evil.com"});
        assert!(req(v).unwrap_err().contains("read-only"));
        let mut v = input().to_event_json();
        v["headers"]["via"] = json!({"value": "1.1 x"});
        assert!(req(v).unwrap_err().contains("read-only"));
    }

    #[test]
    fn disallowed_headers_cannot_be_added() {
        let mut v = input().to_event_json();
        v["headers"]["x-amz-cf-pop"] = json!({"value": "x"});
        assert!(req(v).unwrap_err().contains("disallowed"));
    }

    #[test]
    fn changed_value_replaces_only_the_first_of_several() {
        let mut v = input().to_event_json();
        v["headers"]["x-m"]["value"] = json!("one");
        let Ok(Returned::Request(r)) = req(v) else { panic!("expected a request") };
        assert_eq!(r.headers.get_all("x-m"), ["one", "2"]);
        let mut v = input().to_event_json();
        v["headers"]["x-m"]["multiValue"] = json!([{"value": "a"}, {"value": "b"}, {"value": "c"}]);
        let Ok(Returned::Request(r)) = req(v) else { panic!("expected a request") };
        assert_eq!(r.headers.get_all("x-m"), ["a", "b", "c"]);
    }

    #[test]
    fn querystring_may_be_a_string() {
        let mut v = input().to_event_json();
        v["querystring"] = json!("b=2&a=1");
        let Ok(Returned::Request(r)) = req(v) else { panic!("expected a request") };
        assert_eq!(r.query_string(), "b=2&a=1");
    }

    #[test]
    fn an_assigned_query_string_is_forwarded_even_with_the_received_parameters() {
        // Received `?a=0&b=2&a=1`; the function sorts it into `a=0&a=1&b=2`, which parses to the
        // same parameters: what it assigned is forwarded, not the order received.
        let received = Request::from_http("GET", "/p?a=0&b=2&a=1", Vec::<(&str, &[u8])>::new());
        let mut v = received.to_event_json();
        v["querystring"] = json!("a=0&a=1&b=2");
        let Ok(Returned::Request(r)) = viewer_request_result(&Value::from(&v), &received, 1024) else {
            panic!("expected a request")
        };
        assert_eq!(r.query_string(), "a=0&a=1&b=2");
        assert_eq!(r.raw_query.as_deref(), Some("a=0&b=2&a=1"), "rawQueryString() still gives what was received");
        // Left alone, the query is forwarded as received.
        let v = received.to_event_json();
        let Ok(Returned::Request(r)) = viewer_request_result(&Value::from(&v), &received, 1024) else {
            panic!("expected a request")
        };
        assert_eq!(r.query_string(), "a=0&b=2&a=1");
    }

    #[test]
    fn responses_are_checked() {
        assert!(req(json!({"statusCode": 302, "headers": {"location": {"value": "/x"}}})).is_ok());
        assert!(req(json!({"statusCode": 99})).unwrap_err().contains("100 to 599"));
        assert!(
            req(json!({"statusCode": 200, "body": {"encoding": "base64", "data": "!!"}}))
                .unwrap_err()
                .contains("base64")
        );
        let big = "x".repeat(41 * 1024);
        assert!(req(json!({"statusCode": 200, "body": big})).unwrap_err().contains("limit"));
        assert!(req(json!("nope")).unwrap_err().contains("must return an object"));
        assert!(req(json!({"uri": "nope"})).unwrap_err().contains("start with '/'"));
    }
}
