//! CloudWatch's three wire protocols, on both sides of a call: a request in awsQuery (a form),
//! awsJson1_0 or Smithy RPCv2 CBOR becomes one JSON input (query forms nested like the JSON
//! the other protocols send), and one response tree, or error, is rendered back in the
//! caller's protocol with its content type, request id and marker headers.

use super::operations::Operation;
use crate::error::ApiError;
use axum::body::Body;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The awsJson / RPCv2 service name.
pub(super) const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// The awsQuery XML namespace.
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// How a call reached the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// awsQuery: a form, answered in XML.
    Query,
    /// awsJson1_0.
    Json,
    /// Smithy RPCv2 CBOR.
    Cbor,
}

/// A CloudWatch error: the awsQuery code (also sent in `x-amzn-query-error`) and the
/// awsJson / CBOR shape name.
#[derive(Debug)]
pub(super) struct CwError {
    status: u16,
    pub(super) code: &'static str,
    shape: &'static str,
    sender: bool,
    message: String,
}

impl CwError {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> CwError {
        let shape = match code {
            "InvalidParameterValue" => "InvalidParameterValueException",
            "MissingParameter" => "MissingRequiredParameterException",
            "InvalidParameterCombination" => "InvalidParameterCombinationException",
            "InvalidAction" => "InvalidAction",
            "UnknownOperationException" => "UnknownOperationException",
            "SerializationException" => "SerializationException",
            _ => "InternalServiceFault",
        };
        let (status, sender) = if shape == "InternalServiceFault" { (500, false) } else { (400, true) };
        CwError { status, code, shape, sender, message: message.into() }
    }

    pub(super) fn missing(name: &str) -> CwError {
        CwError::new("MissingParameter", format!("The parameter {name} is required."))
    }

    pub(super) fn from_auth(e: ApiError) -> CwError {
        // SigV4 refusals keep their AWS code; the shapes are not modelled, so the code is the shape.
        let code: &'static str = match e.code.as_str() {
            "MissingAuthenticationToken" => "MissingAuthenticationToken",
            "IncompleteSignature" => "IncompleteSignature",
            "InvalidClientTokenId" => "InvalidClientTokenId",
            "SignatureDoesNotMatch" => "SignatureDoesNotMatch",
            _ => "AccessDenied",
        };
        CwError { status: 403, code, shape: code, sender: true, message: e.message }
    }

    fn fault(&self) -> &'static str {
        if self.sender { "Sender" } else { "Receiver" }
    }
}

/// An operation's answer, rendered in each protocol by [`node_json`], [`node_cbor`] and [`node_xml`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Str(String),
    Num(f64),
    /// Epoch seconds.
    Time(f64),
    List(Vec<Node>),
    /// Members in the model's order.
    Struct(Vec<(&'static str, Node)>),
    /// A map shape (`ExtendedStatistics`): an object in JSON and CBOR, `entry`/`key`/`value` in XML.
    Map(Vec<(String, Node)>),
}

/// The operation a call names and its input as JSON.
pub(super) fn read(protocol: Protocol, named: Option<&str>, body: &[u8]) -> Result<(Operation, Value), CwError> {
    match protocol {
        Protocol::Query => {
            let form = form_to_json(body);
            let action = form.get("Action").and_then(Value::as_str).ok_or_else(|| CwError::missing("Action"))?;
            let operation =
                Operation::from_name(action).ok_or_else(|| CwError::new("InvalidAction", not_served(action)))?;
            Ok((operation, form))
        }
        Protocol::Json => {
            let target = named.unwrap_or_default();
            let name = target.strip_prefix(TARGET_PREFIX).and_then(|o| o.strip_prefix('.')).unwrap_or(target);
            let operation = Operation::from_name(name)
                .ok_or_else(|| CwError::new("UnknownOperationException", not_served(name)))?;
            let input = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
                .map_err(|e| CwError::new("SerializationException", format!("the body is not JSON: {e}")))?;
            Ok((operation, input))
        }
        Protocol::Cbor => {
            let name = named.unwrap_or_default();
            let operation = Operation::from_name(name)
                .ok_or_else(|| CwError::new("UnknownOperationException", not_served(name)))?;
            let value: ciborium::Value = if body.is_empty() {
                ciborium::Value::Map(Vec::new())
            } else {
                ciborium::from_reader(body)
                    .map_err(|e| CwError::new("SerializationException", format!("the body is not CBOR: {e}")))?
            };
            Ok((operation, cbor_to_json(value)))
        }
    }
}

fn not_served(name: &str) -> String {
    let served: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    let (last, rest) = served.split_last().map_or(("", &[][..]), |(l, r)| (*l, r));
    format!("Cachalot serves {} and {last} of CloudWatch, not {name}", rest.join(", "))
}

/// The one response builder: `result` (the answer of `operation`, or an error) in `protocol`.
pub(super) fn respond(
    protocol: Protocol,
    operation: Option<Operation>,
    result: Result<Node, CwError>,
) -> axum::response::Response {
    let request_id = crate::util::uuid();
    let content_type = match protocol {
        Protocol::Query => "text/xml",
        Protocol::Json => "application/x-amz-json-1.0",
        Protocol::Cbor => "application/cbor",
    };
    let (status, body, query_error) = match result {
        Ok(node) => (200, render(protocol, operation, &node, &request_id), None),
        Err(e) => {
            let body = match protocol {
                Protocol::Query => query_error_xml(&e, &request_id).into_bytes(),
                Protocol::Json => {
                    json!({"__type": format!("com.amazonaws.cloudwatch#{}", e.shape), "message": e.message})
                        .to_string()
                        .into_bytes()
                }
                Protocol::Cbor => {
                    let text = |s: &str| ciborium::Value::Text(s.to_owned());
                    encode_cbor(&ciborium::Value::Map(vec![
                        (text("__type"), text(&format!("com.amazonaws.cloudwatch#{}", e.shape))),
                        (text("message"), text(&e.message)),
                    ]))
                }
            };
            (e.status, body, Some(format!("{};{}", e.code, e.fault())))
        }
    };
    let mut response = axum::response::Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if protocol == Protocol::Cbor {
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    if let Some(v) = query_error.and_then(|q| HeaderValue::from_str(&q).ok()) {
        headers.insert("x-amzn-query-error", v);
    }
    response
}

/// The body of a successful answer of `operation` in `protocol`.
pub(super) fn render(protocol: Protocol, operation: Option<Operation>, node: &Node, request_id: &str) -> Vec<u8> {
    match protocol {
        Protocol::Json => node_json(node).to_string().into_bytes(),
        Protocol::Cbor => encode_cbor(&node_cbor(node)),
        Protocol::Query => {
            let op = operation.map_or("", Operation::name);
            let mut x = format!("<{op}Response xmlns=\"{XMLNS}\">");
            node_xml(&mut x, &format!("{op}Result"), node);
            let _ =
                write!(x, "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>");
            x.into_bytes()
        }
    }
}

fn query_error_xml(e: &CwError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        e.fault(),
        e.code,
        xml_escape(&e.message)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn node_json(n: &Node) -> Value {
    match n {
        Node::Str(s) => Value::String(s.clone()),
        Node::Num(v) | Node::Time(v) => json!(v),
        Node::List(items) => Value::Array(items.iter().map(node_json).collect()),
        Node::Struct(fields) => Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), node_json(v))).collect()),
        Node::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), node_json(v))).collect()),
    }
}

fn node_cbor(n: &Node) -> ciborium::Value {
    use ciborium::Value as C;
    match n {
        Node::Str(s) => C::Text(s.clone()),
        Node::Num(v) => C::Float(*v),
        Node::Time(v) => C::Tag(1, Box::new(C::Float(*v))),
        Node::List(items) => C::Array(items.iter().map(node_cbor).collect()),
        Node::Struct(fields) => C::Map(fields.iter().map(|(k, v)| (C::Text((*k).to_owned()), node_cbor(v))).collect()),
        Node::Map(entries) => C::Map(entries.iter().map(|(k, v)| (C::Text(k.clone()), node_cbor(v))).collect()),
    }
}

fn node_xml(out: &mut String, name: &str, n: &Node) {
    let _ = write!(out, "<{name}>");
    match n {
        Node::Str(s) => out.push_str(&xml_escape(s)),
        Node::Num(v) => {
            let _ = write!(out, "{v}");
        }
        Node::Time(v) => out.push_str(&crate::util::iso8601_seconds((v * 1000.0).round() as i64)),
        Node::List(items) => items.iter().for_each(|i| node_xml(out, "member", i)),
        Node::Struct(fields) => fields.iter().for_each(|(k, v)| node_xml(out, k, v)),
        Node::Map(entries) => {
            for (k, v) in entries {
                let _ = write!(out, "<entry><key>{}</key>", xml_escape(k));
                node_xml(out, "value", v);
                out.push_str("</entry>");
            }
        }
    }
    let _ = write!(out, "</{name}>");
}

fn encode_cbor(v: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

/// CBOR → JSON for the input: text keys, epoch timestamps (tag 1) as numbers.
fn cbor_to_json(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Integer(i) => i64::try_from(i).map(Value::from).unwrap_or(Value::Null),
        C::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        C::Text(s) => Value::String(s),
        C::Bool(b) => Value::Bool(b),
        C::Tag(_, inner) => cbor_to_json(*inner),
        C::Array(items) => Value::Array(items.into_iter().map(cbor_to_json).collect()),
        C::Map(entries) => Value::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A query-protocol form as the JSON the other protocols send: `A.member.2.B=v` becomes
/// `{"A": [_, {"B": "v"}]}` (values stay strings; readers accept numbers as strings).
fn form_to_json(body: &[u8]) -> Value {
    let decode = |s: &[u8]| {
        let plus: Vec<u8> = s.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        percent_encoding::percent_decode(&plus).decode_utf8_lossy().into_owned()
    };
    let mut root = Value::Object(Default::default());
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let key = decode(kv.next().unwrap_or_default());
        let value = decode(kv.next().unwrap_or_default());
        let segments: Vec<&str> = key.split('.').collect();
        let mut at = &mut root;
        let mut i = 0;
        while i < segments.len() {
            let last = i + 1 == segments.len();
            if segments[i] == "member" && i + 1 < segments.len() {
                // Lists are 1-based; cap the index so a hostile form cannot allocate much.
                let Ok(n) = segments[i + 1].parse::<usize>() else { break };
                if n == 0 || n > 1000 {
                    break;
                }
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let Value::Array(items) = at else { break };
                while items.len() < n {
                    items.push(Value::Null);
                }
                at = &mut items[n - 1];
                i += 2;
                if i == segments.len() {
                    *at = Value::String(value.clone());
                }
                continue;
            }
            if !at.is_object() {
                *at = Value::Object(Default::default());
            }
            let Value::Object(map) = at else { break };
            let entry = map.entry(segments[i].to_owned()).or_insert(Value::Null);
            if last {
                *entry = Value::String(value.clone());
            }
            at = entry;
            i += 1;
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_forms_nest_like_json_and_hostile_indexes_are_dropped() {
        let v = form_to_json(
            b"Action=GetMetricData&MetricDataQueries.member.1.Id=a&MetricDataQueries.member.1.MetricStat.Period=60\
&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Name=Region\
&MetricDataQueries.member.99999999.Id=b&X.member.0=c&.&member=&%ff=1",
        );
        assert_eq!(v["Action"], "GetMetricData");
        let q = &v["MetricDataQueries"][0];
        assert_eq!((q["Id"].as_str(), q["MetricStat"]["Period"].as_str()), (Some("a"), Some("60")));
        assert_eq!(q["MetricStat"]["Metric"]["Dimensions"][1]["Name"], "Region");
        assert_eq!(v["MetricDataQueries"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn unknown_operations_are_refused_in_each_protocol() {
        let err = read(Protocol::Json, Some("GraniteServiceVersion20100801.PutMetricData"), b"{}").unwrap_err();
        assert_eq!(err.code, "UnknownOperationException");
        assert!(
            err.message.contains("GetMetricStatistics, GetMetricData and ListMetrics of CloudWatch, not PutMetricData"),
            "{}",
            err.message
        );
        assert_eq!(read(Protocol::Cbor, Some("PutMetricAlarm"), b"").unwrap_err().code, "UnknownOperationException");
        assert_eq!(read(Protocol::Query, None, b"Action=PutMetricData").unwrap_err().code, "InvalidAction");
    }
}
