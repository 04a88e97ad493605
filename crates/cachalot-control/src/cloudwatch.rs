//! CloudWatch's `GetMetricStatistics`, `GetMetricData` (with `MetricStat` queries) and `ListMetrics` for
//! namespace `AWS/CloudFront`, on the admin listener, over the three wire protocols clients
//! send them in: awsQuery (`POST /`, form body, XML answer), awsJson1_0 (`POST /` with
//! `X-Amz-Target`) and Smithy RPCv2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Operation>`).
//!
//! The numbers come from the telemetry registry, so they match `/metrics` and the access
//! logs. CloudWatch matches dimension sets exactly: CloudFront's distribution metrics have
//! `DistributionId` and `Region=Global`, and any other set (or namespace, or unit) gives
//! no datapoints, as on AWS.

use crate::control::Inner;
use crate::error::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use cachalot_telemetry::{Datapoint, Query, Statistic, StatisticsError, Telemetry};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;
/// The awsJson / RPCv2 service name.
const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// The awsQuery XML namespace.
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The operation served.
const OPERATION: &str = "GetMetricStatistics";

struct CloudWatch {
    control: Arc<Inner>,
    telemetry: Arc<Telemetry>,
}

pub(crate) fn router(control: Arc<Inner>, telemetry: Arc<Telemetry>) -> Router {
    Router::new()
        .route("/", post(query_or_json))
        .route(&format!("/service/{TARGET_PREFIX}/operation/{{operation}}"), post(cbor))
        .with_state(Arc::new(CloudWatch { control, telemetry }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Query,
    Json,
    Cbor,
}

/// A CloudWatch error: the awsQuery code (also sent in `x-amzn-query-error`) and the
/// awsJson / CBOR shape name.
#[derive(Debug)]
struct CwError {
    status: u16,
    code: &'static str,
    shape: &'static str,
    sender: bool,
    message: String,
}

impl CwError {
    fn new(code: &'static str, message: impl Into<String>) -> CwError {
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

    fn missing(name: &str) -> CwError {
        CwError::new("MissingParameter", format!("The parameter {name} is required."))
    }

    fn from_auth(e: ApiError) -> CwError {
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

    fn from_statistics(e: StatisticsError) -> CwError {
        let code = match e {
            StatisticsError::InvalidParameterValue(_) => "InvalidParameterValue",
            StatisticsError::InvalidParameterCombination(_) => "InvalidParameterCombination",
            StatisticsError::MissingParameter(_) => "MissingParameter",
        };
        CwError::new(code, e.to_string())
    }
}

/// A `GetMetricStatistics` call, whatever the protocol.
#[derive(Debug, Default)]
struct Input {
    namespace: Option<String>,
    metric: Option<String>,
    dimensions: Vec<(String, String)>,
    start: Option<f64>,
    end: Option<f64>,
    period: Option<i64>,
    statistics: Vec<String>,
    extended: Vec<String>,
    unit: Option<String>,
}

async fn query_or_json(
    State(cw): State<Arc<CloudWatch>>,
    headers: HeaderMap,
    uri: http::Uri,
    body: Body,
) -> axum::response::Response {
    let target = header(&headers, "x-amz-target").map(str::to_owned);
    let protocol = if target.is_some() { Protocol::Json } else { Protocol::Query };
    let result = async {
        let body = read_body(body).await?;
        cw.authenticate(&headers, uri.path(), uri.query().unwrap_or(""), &body)?;
        let input = match &target {
            Some(t) => {
                let op = t.strip_prefix(TARGET_PREFIX).and_then(|o| o.strip_prefix('.')).unwrap_or(t);
                if let Some(op) = tree_operation(op) {
                    let v: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
                        .map_err(|e| CwError::new("SerializationException", format!("the body is not JSON: {e}")))?;
                    return Ok(Answer::Tree(op, cw.tree_answer(op, &v)?));
                }
                if op != OPERATION {
                    return Err(CwError::new(
                        "UnknownOperationException",
                        format!(
                            "Cachalot serves {OPERATION}, {GET_METRIC_DATA} and {LIST_METRICS} of CloudWatch, not {op}"
                        ),
                    ));
                }
                let v: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
                    .map_err(|e| CwError::new("SerializationException", format!("the body is not JSON: {e}")))?;
                input_from_json(&v)?
            }
            None => {
                let form = form_to_json(&body);
                if let Some(op) = form.get("Action").and_then(Value::as_str).and_then(tree_operation) {
                    return Ok(Answer::Tree(op, cw.tree_answer(op, &form)?));
                }
                input_from_form(&body)?
            }
        };
        Ok(Answer::Statistics(cw.answer(&input)?))
    }
    .await;
    answer(protocol, result)
}

/// What an operation returns.
enum Answer {
    Statistics(Output),
    /// The operation's name and its response tree.
    Tree(&'static str, Node),
}

fn answer(protocol: Protocol, result: Result<Answer, CwError>) -> axum::response::Response {
    match result {
        Ok(Answer::Statistics(out)) => respond(protocol, Ok(out)),
        Ok(Answer::Tree(op, node)) => respond_node(protocol, op, node),
        Err(e) => respond(protocol, Err(e)),
    }
}

/// The operations answered with a [`Node`] tree.
fn tree_operation(name: &str) -> Option<&'static str> {
    [GET_METRIC_DATA, LIST_METRICS].into_iter().find(|op| *op == name)
}

async fn cbor(
    State(cw): State<Arc<CloudWatch>>,
    axum::extract::Path(operation): axum::extract::Path<String>,
    headers: HeaderMap,
    uri: http::Uri,
    body: Body,
) -> axum::response::Response {
    let result = async {
        let body = read_body(body).await?;
        cw.authenticate(&headers, uri.path(), uri.query().unwrap_or(""), &body)?;
        if operation != OPERATION && tree_operation(&operation).is_none() {
            return Err(CwError::new(
                "UnknownOperationException",
                format!(
                    "Cachalot serves {OPERATION}, {GET_METRIC_DATA} and {LIST_METRICS} of CloudWatch, not {operation}"
                ),
            ));
        }
        let value: ciborium::Value = if body.is_empty() {
            ciborium::Value::Map(Vec::new())
        } else {
            ciborium::from_reader(&body[..])
                .map_err(|e| CwError::new("SerializationException", format!("the body is not CBOR: {e}")))?
        };
        let v = cbor_to_json(value);
        if let Some(op) = tree_operation(&operation) {
            return Ok(Answer::Tree(op, cw.tree_answer(op, &v)?));
        }
        Ok(Answer::Statistics(cw.answer(&input_from_json(&v)?)?))
    }
    .await;
    answer(Protocol::Cbor, result)
}

async fn read_body(body: Body) -> Result<bytes::Bytes, CwError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| CwError::new("InvalidParameterValue", format!("the request body is larger than {MAX_BODY} bytes")))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

struct Output {
    label: String,
    datapoints: Vec<Datapoint>,
}

impl CloudWatch {
    fn authenticate(&self, headers: &HeaderMap, path: &str, query: &str, body: &[u8]) -> Result<(), CwError> {
        let signed = crate::sigv4::SignedRequest { method: "POST", raw_path: path, raw_query: query, headers, body };
        self.control.authenticate(&signed).map_err(CwError::from_auth)
    }

    fn answer(&self, input: &Input) -> Result<Output, CwError> {
        let namespace = input.namespace.as_deref().ok_or_else(|| CwError::missing("Namespace"))?;
        let metric = input.metric.as_deref().ok_or_else(|| CwError::missing("MetricName"))?;
        let start = input.start.ok_or_else(|| CwError::missing("StartTime"))?;
        let end = input.end.ok_or_else(|| CwError::missing("EndTime"))?;
        let period = input.period.ok_or_else(|| CwError::missing("Period"))?;
        if period < 1 {
            return Err(CwError::new("InvalidParameterValue", "The parameter Period must be greater than 0."));
        }
        let mut statistics = Vec::new();
        for (i, s) in input.statistics.iter().enumerate() {
            statistics.push(Statistic::from_name(s).ok_or_else(|| {
                CwError::new(
                    "InvalidParameterValue",
                    format!(
                        "The parameter Statistics.member.{} must be a value in the set [ Maximum, Minimum, Sum, SampleCount, Average ].",
                        i + 1
                    ),
                )
            })?);
        }
        let extended: Vec<&str> = input.extended.iter().map(String::as_str).collect();
        let label = metric.to_owned();
        let mut distribution = None;
        let mut global = false;
        let mut other_dimension = false;
        for (name, value) in &input.dimensions {
            match name.as_str() {
                "DistributionId" => distribution = Some(value.as_str()),
                "Region" => global = value == "Global",
                _ => other_dimension = true,
            }
        }
        let query = Query {
            distribution_id: distribution.unwrap_or(""),
            metric,
            start: epoch(start),
            end: epoch(end),
            period_seconds: u32::try_from(period).unwrap_or(u32::MAX),
            statistics: &statistics,
            extended_statistics: &extended,
        };
        // Parameters are checked even when the dimensions match nothing, as CloudWatch does.
        let datapoints = self.telemetry.metrics().statistics(&query).map_err(CwError::from_statistics)?;
        let matches = namespace == "AWS/CloudFront" && distribution.is_some() && global && !other_dimension;
        let unit_matches = |p: &Datapoint| input.unit.as_deref().is_none_or(|u| u == p.unit);
        let datapoints = if matches { datapoints.into_iter().filter(unit_matches).collect() } else { Vec::new() };
        Ok(Output { label, datapoints })
    }
}

fn epoch(secs: f64) -> SystemTime {
    if secs >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(secs.min(1e12))
    } else {
        UNIX_EPOCH - Duration::from_secs_f64((-secs).min(1e12))
    }
}

fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn timestamp_value(v: &Value, name: &str) -> Result<f64, CwError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| CwError::new("InvalidParameterValue", format!("bad {name}"))),
        Value::String(s) => crate::util::parse_iso8601(s)
            .or_else(|| s.parse().ok())
            .ok_or_else(|| CwError::new("InvalidParameterValue", format!("The parameter {name} is not a timestamp."))),
        _ => Err(CwError::new("InvalidParameterValue", format!("The parameter {name} is not a timestamp."))),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

fn input_from_json(v: &Value) -> Result<Input, CwError> {
    let text = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let dimensions = v
        .get("Dimensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.is_object())
        .map(|d| {
            let field = |f: &str| d.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("Name"), field("Value"))
        })
        .collect();
    Ok(Input {
        namespace: text("Namespace"),
        metric: text("MetricName"),
        dimensions,
        start: v.get("StartTime").map(|t| timestamp_value(t, "StartTime")).transpose()?,
        end: v.get("EndTime").map(|t| timestamp_value(t, "EndTime")).transpose()?,
        period: match v.get("Period") {
            None => None,
            Some(p) => Some(
                number(p)
                    .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
                    .map(|n| n as i64)
                    .ok_or_else(|| CwError::new("InvalidParameterValue", "The parameter Period must be an integer."))?,
            ),
        },
        statistics: strings(v.get("Statistics")),
        extended: strings(v.get("ExtendedStatistics")),
        unit: text("Unit"),
    })
}

/// A `GetMetricStatistics` query form: the same reader as the JSON protocols, once the form is
/// nested like their JSON.
fn input_from_form(body: &[u8]) -> Result<Input, CwError> {
    let form = form_to_json(body);
    match form.get("Action").and_then(Value::as_str) {
        Some(OPERATION) => input_from_json(&form),
        Some(other) => Err(CwError::new(
            "InvalidAction",
            format!("Cachalot serves {OPERATION}, {GET_METRIC_DATA} and {LIST_METRICS} of CloudWatch, not {other}"),
        )),
        None => Err(CwError::missing("Action")),
    }
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

fn respond(protocol: Protocol, result: Result<Output, CwError>) -> axum::response::Response {
    let request_id = crate::util::uuid();
    let (status, content_type, body, query_error) = match (protocol, result) {
        (Protocol::Query, Ok(out)) => (200, "text/xml", query_xml(&out, &request_id).into_bytes(), None),
        (Protocol::Json, Ok(out)) => {
            (200, "application/x-amz-json-1.0", json_body(&out).to_string().into_bytes(), None)
        }
        (Protocol::Cbor, Ok(out)) => (200, "application/cbor", cbor_body(&out), None),
        (p, Err(e)) => {
            let query_error = format!("{};{}", e.code, if e.sender { "Sender" } else { "Receiver" });
            let body = match p {
                Protocol::Query => query_error_xml(&e, &request_id).into_bytes(),
                Protocol::Json => json!({
                    "__type": format!("com.amazonaws.cloudwatch#{}", e.shape),
                    "message": e.message,
                })
                .to_string()
                .into_bytes(),
                Protocol::Cbor => {
                    let v = ciborium::Value::Map(vec![
                        (
                            ciborium::Value::Text("__type".into()),
                            ciborium::Value::Text(format!("com.amazonaws.cloudwatch#{}", e.shape)),
                        ),
                        (ciborium::Value::Text("message".into()), ciborium::Value::Text(e.message.clone())),
                    ]);
                    encode_cbor(&v)
                }
            };
            let content_type = match p {
                Protocol::Query => "text/xml",
                Protocol::Json => "application/x-amz-json-1.0",
                Protocol::Cbor => "application/cbor",
            };
            (e.status, content_type, body, Some(query_error))
        }
    };
    finish(protocol, status, content_type, body, &request_id, query_error)
}

/// The HTTP response: status, content type, request id, the protocol's marker header and, for
/// errors, `x-amzn-query-error`.
fn finish(
    protocol: Protocol,
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: &str,
    query_error: Option<String>,
) -> axum::response::Response {
    let mut response = axum::response::Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
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

/// The statistics of a datapoint, in CloudWatch's member order.
fn values(p: &Datapoint) -> [(&'static str, Option<f64>); 5] {
    [
        ("SampleCount", p.sample_count),
        ("Average", p.average),
        ("Sum", p.sum),
        ("Minimum", p.minimum),
        ("Maximum", p.maximum),
    ]
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn query_xml(out: &Output, request_id: &str) -> String {
    let mut x = format!(
        "<GetMetricStatisticsResponse xmlns=\"{XMLNS}\">\n  <GetMetricStatisticsResult>\n    <Label>{}</Label>\n    <Datapoints>\n",
        xml_escape(&out.label)
    );
    for p in &out.datapoints {
        x.push_str("      <member>\n");
        let ms = (epoch_secs(p.timestamp) * 1000.0).round() as i64;
        let _ = writeln!(x, "        <Timestamp>{}</Timestamp>", crate::util::iso8601(ms).replace(".000Z", "Z"));
        for (name, value) in values(p) {
            if let Some(v) = value {
                let _ = writeln!(x, "        <{name}>{v}</{name}>");
            }
        }
        let _ = writeln!(x, "        <Unit>{}</Unit>", p.unit);
        if !p.extended.is_empty() {
            x.push_str("        <ExtendedStatistics>\n");
            for (k, v) in &p.extended {
                let _ = writeln!(x, "          <entry><key>{}</key><value>{v}</value></entry>", xml_escape(k));
            }
            x.push_str("        </ExtendedStatistics>\n");
        }
        x.push_str("      </member>\n");
    }
    let _ = write!(
        x,
        "    </Datapoints>\n  </GetMetricStatisticsResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</GetMetricStatisticsResponse>\n"
    );
    x
}

fn query_error_xml(e: &CwError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        if e.sender { "Sender" } else { "Receiver" },
        e.code,
        xml_escape(&e.message)
    )
}

fn json_body(out: &Output) -> Value {
    let points: Vec<Value> = out
        .datapoints
        .iter()
        .map(|p| {
            let mut m = serde_json::Map::new();
            m.insert("Timestamp".into(), json!(epoch_secs(p.timestamp)));
            for (name, value) in values(p) {
                if let Some(v) = value {
                    m.insert(name.into(), json!(v));
                }
            }
            m.insert("Unit".into(), json!(p.unit));
            if !p.extended.is_empty() {
                let ext: serde_json::Map<String, Value> =
                    p.extended.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                m.insert("ExtendedStatistics".into(), Value::Object(ext));
            }
            Value::Object(m)
        })
        .collect();
    json!({"Label": out.label, "Datapoints": points})
}

fn cbor_body(out: &Output) -> Vec<u8> {
    use ciborium::Value as C;
    let text = |s: &str| C::Text(s.to_owned());
    let points = out
        .datapoints
        .iter()
        .map(|p| {
            let mut m = vec![(text("Timestamp"), C::Tag(1, Box::new(C::Float(epoch_secs(p.timestamp)))))];
            for (name, value) in values(p) {
                if let Some(v) = value {
                    m.push((text(name), C::Float(v)));
                }
            }
            m.push((text("Unit"), text(p.unit)));
            if !p.extended.is_empty() {
                let ext = p.extended.iter().map(|(k, v)| (text(k), C::Float(*v))).collect();
                m.push((text("ExtendedStatistics"), C::Map(ext)));
            }
            C::Map(m)
        })
        .collect();
    encode_cbor(&C::Map(vec![(text("Label"), text(&out.label)), (text("Datapoints"), C::Array(points))]))
}

fn encode_cbor(v: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

/// The operation that reads a batch of metrics (what Grafana's CloudWatch data source calls).
const GET_METRIC_DATA: &str = "GetMetricData";
/// The operation that lists the metrics there are (dimension pickers in dashboards).
const LIST_METRICS: &str = "ListMetrics";

/// A response tree, rendered in each protocol by [`node_json`], [`node_cbor`] and [`node_xml`].
enum Node {
    Str(String),
    Num(f64),
    /// Epoch seconds.
    Time(f64),
    List(Vec<Node>),
    Struct(Vec<(&'static str, Node)>),
}

fn node_json(n: &Node) -> Value {
    match n {
        Node::Str(s) => Value::String(s.clone()),
        Node::Num(v) | Node::Time(v) => json!(v),
        Node::List(items) => Value::Array(items.iter().map(node_json).collect()),
        Node::Struct(fields) => Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), node_json(v))).collect()),
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
    }
}

fn node_xml(out: &mut String, name: &str, n: &Node) {
    let _ = write!(out, "<{name}>");
    match n {
        Node::Str(s) => out.push_str(&xml_escape(s)),
        Node::Num(v) => {
            let _ = write!(out, "{v}");
        }
        Node::Time(v) => out.push_str(&crate::util::iso8601((v * 1000.0).round() as i64).replace(".000Z", "Z")),
        Node::List(items) => items.iter().for_each(|i| node_xml(out, "member", i)),
        Node::Struct(fields) => fields.iter().for_each(|(k, v)| node_xml(out, k, v)),
    }
    let _ = write!(out, "</{name}>");
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

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl CloudWatch {
    fn tree_answer(&self, op: &str, v: &Value) -> Result<Node, CwError> {
        if op == LIST_METRICS { Ok(self.list_metrics(v)) } else { self.get_metric_data(v) }
    }

    /// `ListMetrics`: every CloudFront metric of every distribution with traffic, filtered by
    /// `Namespace`, `MetricName` and `Dimensions` (a filter without `Value` matches any value).
    fn list_metrics(&self, v: &Value) -> Node {
        let text = |name: &str| v.get(name).and_then(Value::as_str);
        let namespace_ok = text("Namespace").is_none_or(|n| n == "AWS/CloudFront");
        let filters: Vec<(String, Option<String>)> = v
            .get("Dimensions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| {
                let name = d.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned();
                (name, d.get("Value").and_then(Value::as_str).map(str::to_owned))
            })
            .collect();
        let mut metrics = Vec::new();
        let names = cachalot_telemetry::CloudWatchMetric::ALL
            .iter()
            .map(|m| m.name())
            .chain(std::iter::once("OriginLatency".to_owned()));
        let names: Vec<String> = names.collect();
        for id in self.telemetry.metrics().distributions() {
            let dims = [("DistributionId", id.as_str()), ("Region", "Global")];
            let matches = filters
                .iter()
                .all(|(n, val)| dims.iter().any(|(dn, dv)| dn == n && val.as_deref().is_none_or(|v| v == *dv)));
            if !namespace_ok || !matches {
                continue;
            }
            for name in names.iter().filter(|n| text("MetricName").is_none_or(|m| m == n.as_str())) {
                let dimensions = dims
                    .iter()
                    .map(|(n, v)| {
                        Node::Struct(vec![("Name", Node::Str((*n).to_owned())), ("Value", Node::Str((*v).to_owned()))])
                    })
                    .collect();
                metrics.push(Node::Struct(vec![
                    ("Namespace", Node::Str("AWS/CloudFront".to_owned())),
                    ("MetricName", Node::Str(name.clone())),
                    ("Dimensions", Node::List(dimensions)),
                ]));
            }
        }
        Node::Struct(vec![("Metrics", Node::List(metrics))])
    }

    /// `GetMetricData` with `MetricStat` queries (metric math expressions are refused).
    fn get_metric_data(&self, v: &Value) -> Result<Node, CwError> {
        let start = v.get("StartTime").ok_or_else(|| CwError::missing("StartTime"))?;
        let end = v.get("EndTime").ok_or_else(|| CwError::missing("EndTime"))?;
        let (start, end) = (timestamp_value(start, "StartTime")?, timestamp_value(end, "EndTime")?);
        let queries = v
            .get("MetricDataQueries")
            .and_then(Value::as_array)
            .ok_or_else(|| CwError::missing("MetricDataQueries"))?;
        if queries.is_empty() || queries.len() > 500 {
            return Err(CwError::new("InvalidParameterValue", "MetricDataQueries must hold 1 to 500 queries."));
        }
        let ascending = v.get("ScanBy").and_then(Value::as_str) == Some("TimestampAscending");
        let mut results = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            let at = format!("MetricDataQueries.member.{}", i + 1);
            let id = q.get("Id").and_then(Value::as_str).ok_or_else(|| CwError::missing(&format!("{at}.Id")))?;
            if q.get("Expression").is_some_and(|e| !e.is_null()) {
                return Err(CwError::new(
                    "InvalidParameterValue",
                    format!("{at}: metric math expressions are not supported by Cachalot; use MetricStat"),
                ));
            }
            let stat = q.get("MetricStat").ok_or_else(|| CwError::missing(&format!("{at}.MetricStat")))?;
            let metric = &stat["Metric"];
            let name = stat
                .get("Stat")
                .and_then(Value::as_str)
                .ok_or_else(|| CwError::missing(&format!("{at}.MetricStat.Stat")))?;
            let (statistics, extended) = if Statistic::from_name(name).is_some() {
                (vec![name.to_owned()], Vec::new())
            } else {
                (Vec::new(), vec![name.to_owned()])
            };
            let input = Input {
                namespace: metric.get("Namespace").and_then(Value::as_str).map(str::to_owned),
                metric: metric.get("MetricName").and_then(Value::as_str).map(str::to_owned),
                dimensions: metric
                    .get("Dimensions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        let field = |f: &str| d.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
                        (field("Name"), field("Value"))
                    })
                    .collect(),
                start: Some(start),
                end: Some(end),
                period: stat.get("Period").and_then(number).map(|p| p as i64),
                statistics,
                extended,
                unit: stat.get("Unit").and_then(Value::as_str).map(str::to_owned),
            };
            let out = self.answer(&input)?;
            let mut points: Vec<(f64, f64)> = out
                .datapoints
                .iter()
                .filter_map(|p| {
                    let value = values(p).iter().find_map(|(_, v)| *v).or_else(|| p.extended.first().map(|e| e.1))?;
                    Some((epoch_secs(p.timestamp), value))
                })
                .collect();
            points.sort_by(|a, b| if ascending { a.0.total_cmp(&b.0) } else { b.0.total_cmp(&a.0) });
            if q.get("ReturnData").is_some_and(|r| r == &Value::Bool(false) || r == "false") {
                continue;
            }
            let label = q.get("Label").and_then(Value::as_str).map_or(out.label, str::to_owned);
            results.push(Node::Struct(vec![
                ("Id", Node::Str(id.to_owned())),
                ("Label", Node::Str(label)),
                ("Timestamps", Node::List(points.iter().map(|p| Node::Time(p.0)).collect())),
                ("Values", Node::List(points.iter().map(|p| Node::Num(p.1)).collect())),
                ("StatusCode", Node::Str("Complete".to_owned())),
            ]));
        }
        Ok(Node::Struct(vec![("MetricDataResults", Node::List(results)), ("Messages", Node::List(Vec::new()))]))
    }
}

/// Answers a call of `op` in `protocol`.
fn respond_node(protocol: Protocol, op: &str, node: Node) -> axum::response::Response {
    let request_id = crate::util::uuid();
    let (content_type, body) = match protocol {
        Protocol::Json => ("application/x-amz-json-1.0", node_json(&node).to_string().into_bytes()),
        Protocol::Cbor => ("application/cbor", encode_cbor(&node_cbor(&node))),
        Protocol::Query => {
            let mut x = format!("<{op}Response xmlns=\"{XMLNS}\">");
            node_xml(&mut x, &format!("{op}Result"), &node);
            let _ =
                write!(x, "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>");
            ("text/xml", x.into_bytes())
        }
    };
    finish(protocol, 200, content_type, body, &request_id, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_input_is_read_with_members_in_order() {
        let body = b"Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FCloudFront&MetricName=CacheHitRate\
&Dimensions.member.2.Name=Region&Dimensions.member.2.Value=Global\
&Dimensions.member.1.Name=DistributionId&Dimensions.member.1.Value=E1\
&StartTime=2024-05-01T12%3A00%3A00Z&EndTime=2024-05-01T13%3A00%3A00Z&Period=3600&Statistics.member.1=Average";
        let input = input_from_form(body).unwrap();
        assert_eq!(input.namespace.as_deref(), Some("AWS/CloudFront"));
        assert_eq!(input.dimensions, vec![("DistributionId".into(), "E1".into()), ("Region".into(), "Global".into())]);
        assert_eq!((input.start, input.end, input.period), (Some(1_714_564_800.0), Some(1_714_568_400.0), Some(3600)));
        assert_eq!(input.statistics, vec!["Average".to_owned()]);
        assert_eq!(input_from_form(b"Action=ListMetrics").unwrap_err().code, "InvalidAction");
        assert_eq!(input_from_form(b"Namespace=x").unwrap_err().code, "MissingParameter");
        assert_eq!(
            input_from_form(b"Action=GetMetricStatistics&Period=abc").unwrap_err().code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn query_forms_nest_like_json_and_hostile_indexes_are_dropped() {
        let v = form_to_json(
            b"Action=GetMetricData&MetricDataQueries.member.1.Id=a&MetricDataQueries.member.1.MetricStat.Period=60\
&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Name=Region\
&MetricDataQueries.member.99999999.Id=b&X.member.0=c&.&member=&%ff=1",
        );
        assert_eq!(v["Action"], "GetMetricData");
        let q = &v["MetricDataQueries"][0];
        assert_eq!((q["Id"].as_str(), number(&q["MetricStat"]["Period"])), (Some("a"), Some(60.0)));
        assert_eq!(q["MetricStat"]["Metric"]["Dimensions"][1]["Name"], "Region");
        assert_eq!(v["MetricDataQueries"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn cbor_input_reads_tagged_timestamps() {
        use ciborium::Value as C;
        let t = |s: &str| C::Text(s.into());
        let v = C::Map(vec![
            (t("MetricName"), t("Requests")),
            (t("StartTime"), C::Tag(1, Box::new(C::Float(1_714_564_800.0)))),
            (t("EndTime"), C::Tag(1, Box::new(C::Integer(1_714_568_400.into())))),
            (t("Period"), C::Integer(60.into())),
            (t("Statistics"), C::Array(vec![t("Sum")])),
        ]);
        let input = input_from_json(&cbor_to_json(v)).unwrap();
        assert_eq!((input.start, input.end, input.period), (Some(1_714_564_800.0), Some(1_714_568_400.0), Some(60)));
        assert_eq!(input.metric.as_deref(), Some("Requests"));
    }

    #[test]
    fn outputs_carry_every_statistic_asked_for() {
        let out = Output {
            label: "OriginLatency".into(),
            datapoints: vec![Datapoint {
                timestamp: UNIX_EPOCH + Duration::from_secs(1_714_564_800),
                unit: "Milliseconds",
                sample_count: None,
                average: None,
                sum: Some(3.0),
                minimum: None,
                maximum: None,
                extended: vec![("p99".into(), 12.5)],
            }],
        };
        let xml = query_xml(&out, "rid");
        assert!(xml.contains("<Timestamp>2024-05-01T12:00:00Z</Timestamp>"), "{xml}");
        assert!(xml.contains("<Sum>3</Sum>") && xml.contains("<entry><key>p99</key><value>12.5</value></entry>"));
        let j = json_body(&out);
        assert_eq!(j["Datapoints"][0]["Timestamp"], json!(1_714_564_800.0));
        assert_eq!(j["Datapoints"][0]["ExtendedStatistics"]["p99"], json!(12.5));
        let c: ciborium::Value = ciborium::from_reader(&cbor_body(&out)[..]).unwrap();
        assert_eq!(
            cbor_to_json(c),
            json!({"Label": "OriginLatency", "Datapoints": [{
            "Timestamp": 1_714_564_800.0, "Sum": 3.0, "Unit": "Milliseconds", "ExtendedStatistics": {"p99": 12.5}}]})
        );
    }
}
