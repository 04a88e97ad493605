//! Running a function once on a TestFunction event and reporting like TestFunction does.
//!
//! Shared by `cachalot function test` and the control plane's TestFunction
//! operation so both print exactly what the edge would do.

use crate::event::{EventContext, MultiValueMap, Request, Response, ResponseCookies, is_disallowed_header};
use crate::output::{multi_value_map, response_cookies};
use crate::{
    CompileError, Function, FunctionError, FunctionErrorKind, KeyValueStore, Limits, Runtime, ViewerRequestEvent,
    ViewerRequestOutcome, ViewerResponseEvent,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::SystemTime;

/// The TestFunction API's `TestResult`, serialised with its PascalCase field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestResult {
    /// The function tested (minimal: name, status, runtime).
    pub function_summary: FunctionSummary,
    /// Share of the time budget used, 0–100, as a string.
    pub compute_utilization: String,
    /// `console.log` output.
    pub function_execution_logs: Vec<String>,
    /// Empty on success, else why the function failed.
    pub function_error_message: String,
    /// JSON text of `{"request": …}` or `{"response": …}`; empty on failure.
    pub function_output: String,
}

impl TestResult {
    /// True when the function failed (`FunctionErrorMessage` is set).
    pub fn failed(&self) -> bool {
        !self.function_error_message.is_empty()
    }
}

/// `FunctionSummary` as TestFunction returns it, reduced to what is known locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionSummary {
    /// Function name.
    pub name: String,
    /// `UNPUBLISHED` for a local test.
    pub status: String,
    /// Runtime and comment.
    pub function_config: FunctionConfigSummary,
}

/// `FunctionSummary.FunctionConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfigSummary {
    /// Comment (empty).
    pub comment: String,
    /// `cloudfront-js-1.0` or `cloudfront-js-2.0`.
    pub runtime: String,
}

/// The test event itself is unusable (TestFunction answers `InvalidArgument`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestError {
    /// Not JSON, or not shaped like a CloudFront Functions event.
    #[error("invalid test event: {0}")]
    InvalidEvent(String),
}

/// The first sentence of TestFunction's `FunctionErrorMessage` for a function that failed or
/// could not be loaded (followed by the error, `TypeError: …` or `SyntaxError: …`).
pub const ERROR_MESSAGE_PREFIX: &str =
    "The CloudFront function associated with the CloudFront distribution is invalid or could not run.";

/// Compiles `code` and runs it once on `event_json` (a TestFunction event: `version`,
/// `context.eventType`, `viewer`, `request`, and `response` for viewer-response).
/// Failures of the function (including code that does not compile) are reported in the
/// result; only an unusable event is an error.
/// The invocation starts at `now` (what `Date` reads in the function): the caller owns the clock.
pub fn test_function(
    name: &str,
    runtime: Runtime,
    code: &str,
    event_json: &[u8],
    key_value_stores: Vec<Arc<KeyValueStore>>,
    limits: Limits,
    now: SystemTime,
) -> Result<TestResult, TestError> {
    let event: Value = serde_json::from_slice(event_json).map_err(|e| TestError::InvalidEvent(e.to_string()))?;
    let parsed = parse_event(&event)?;
    let mut result = TestResult {
        function_summary: FunctionSummary {
            name: name.to_owned(),
            status: "UNPUBLISHED".into(),
            function_config: FunctionConfigSummary { comment: String::new(), runtime: runtime.as_str().into() },
        },
        compute_utilization: "0".into(),
        function_execution_logs: Vec::new(),
        function_error_message: String::new(),
        function_output: String::new(),
    };
    let function = match Function::compile(name, runtime, code, key_value_stores, limits) {
        Ok(f) => f,
        Err(e) => {
            result.function_error_message = compile_error_message(&e);
            return Ok(result);
        }
    };
    let outcome = match parsed {
        TestEvent::Request(event) => function.viewer_request_at(&event, now).map(|inv| {
            let output = match &inv.outcome {
                ViewerRequestOutcome::Continue { request, .. } => json!({ "request": request.to_event_json() }),
                ViewerRequestOutcome::Respond(response) => json!({ "response": response.to_event_json() }),
            };
            (output, inv.compute_utilization, inv.logs)
        }),
        TestEvent::Response(event) => function
            .viewer_response_at(&event, now)
            .map(|inv| (json!({ "response": inv.outcome.to_event_json() }), inv.compute_utilization, inv.logs)),
    };
    match outcome {
        Ok((output, utilization, logs)) => {
            result.function_output = output.to_string();
            result.compute_utilization = utilization.to_string();
            result.function_execution_logs = logs;
        }
        Err(FunctionError { kind, message, logs, compute_utilization }) => {
            result.function_error_message = failure_message(kind, &message);
            result.compute_utilization = compute_utilization.to_string();
            result.function_execution_logs = logs;
        }
    }
    Ok(result)
}

/// `FunctionErrorMessage` for a failed invocation: what CloudFront writes, the prefix and the
/// JavaScript error (`… could not run. TypeError: …`). Failures that are not JavaScript errors
/// (throttling, an invalid result) are named by their kind after the prefix.
fn failure_message(kind: FunctionErrorKind, message: &str) -> String {
    match kind {
        FunctionErrorKind::Execution => format!("{ERROR_MESSAGE_PREFIX} {message}"),
        FunctionErrorKind::Throttled | FunctionErrorKind::Validation => {
            format!("{ERROR_MESSAGE_PREFIX} {kind}: {message}")
        }
    }
}

/// `FunctionErrorMessage` for code that does not load: the prefix and the error
/// (`… could not run. SyntaxError: …`). Code over the size limit never gets this far on
/// CloudFront (CreateFunction refuses it), so it is reported as that error alone.
fn compile_error_message(e: &CompileError) -> String {
    match e {
        CompileError::SizeLimitExceeded { .. } => e.to_string(),
        other => format!("{ERROR_MESSAGE_PREFIX} {other}"),
    }
}

enum TestEvent {
    Request(ViewerRequestEvent),
    Response(ViewerResponseEvent),
}

fn parse_event(event: &Value) -> Result<TestEvent, TestError> {
    let bad = |m: String| TestError::InvalidEvent(m);
    let obj = event.as_object().ok_or_else(|| bad("the event must be a JSON object".into()))?;
    let empty = Map::new();
    let context = object_at(obj, "context")?.unwrap_or(&empty);
    let text = |o: &Map<String, Value>, key: &str, path: &str| -> Result<Option<String>, TestError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{path}.{key} must be a string"))),
        }
    };
    let event_type = text(context, "eventType", "context")?;
    let has_response = obj.get("response").is_some_and(|r| !r.is_null());
    let is_response = match event_type.as_deref() {
        Some("viewer-request") => false,
        Some("viewer-response") => true,
        None => has_response,
        Some(other) => {
            return Err(bad(format!("context.eventType must be viewer-request or viewer-response, got {other:?}")));
        }
    };
    let ctx = EventContext {
        distribution_domain_name: text(context, "distributionDomainName", "context")?.unwrap_or_default(),
        distribution_id: text(context, "distributionId", "context")?.unwrap_or_default(),
        request_id: text(context, "requestId", "context")?.unwrap_or_default(),
    };
    let viewer = object_at(obj, "viewer")?.unwrap_or(&empty);
    let viewer_ip = text(viewer, "ip", "viewer")?.unwrap_or_default();
    let request_obj = object_at(obj, "request")?.unwrap_or(&empty);
    let querystring = map_at(request_obj, "querystring", "request.querystring")?;
    let raw_query = (!querystring.is_empty()).then(|| querystring.to_query_string());
    let request = Request {
        method: text(request_obj, "method", "request")?.unwrap_or_else(|| "GET".into()),
        uri: text(request_obj, "uri", "request")?.unwrap_or_else(|| "/".into()),
        querystring,
        headers: headers_at(request_obj, "request.headers")?,
        cookies: map_at(request_obj, "cookies", "request.cookies")?,
        raw_query,
        query_assigned: false,
    };
    if !is_response {
        return Ok(TestEvent::Request(ViewerRequestEvent { context: ctx, viewer_ip, request }));
    }
    let response_obj =
        object_at(obj, "response")?.ok_or_else(|| bad("a viewer-response event needs a response".into()))?;
    let status_code = match response_obj.get("statusCode") {
        None | Some(Value::Null) => 200,
        Some(v) => {
            v.as_u64()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| bad("response.statusCode must be an integer from 100 to 599".into()))? as u16
        }
    };
    let cookies = match response_obj.get("cookies") {
        None | Some(Value::Null) => ResponseCookies::new(),
        Some(Value::Object(map)) => response_cookies(&map.into(), None).map_err(bad)?,
        Some(_) => return Err(bad("response.cookies must be an object".into())),
    };
    let response = Response {
        status_code,
        status_description: text(response_obj, "statusDescription", "response")?,
        headers: headers_at(response_obj, "response.headers")?,
        cookies,
        body: None,
    };
    Ok(TestEvent::Response(ViewerResponseEvent { context: ctx, viewer_ip, request, response }))
}

fn object_at<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, TestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(TestError::InvalidEvent(format!("{key} must be an object"))),
    }
}

fn map_at(obj: &Map<String, Value>, key: &str, path: &str) -> Result<MultiValueMap, TestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(MultiValueMap::new()),
        Some(Value::Object(m)) => {
            multi_value_map(&m.into(), &MultiValueMap::new(), path).map_err(TestError::InvalidEvent)
        }
        Some(_) => Err(TestError::InvalidEvent(format!("{path} must be an object"))),
    }
}

/// Header maps with names lower-cased and the headers CloudFront never exposes left out.
fn headers_at(obj: &Map<String, Value>, path: &str) -> Result<MultiValueMap, TestError> {
    let all = map_at(obj, "headers", path)?;
    let mut out = MultiValueMap::new();
    for (name, values) in all.iter() {
        if !is_disallowed_header(name) {
            out.set(name, values.to_vec());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const EVENT: &[u8] = br#"{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"192.0.2.1"},
        "request":{"method":"GET","uri":"/","querystring":{},"headers":{},"cookies":{}}}"#;

    fn run(code: &str, now: SystemTime) -> TestResult {
        test_function("t", Runtime::Js2, code, EVENT, Vec::new(), Limits::default(), now).unwrap()
    }

    #[test]
    fn error_messages_carry_cloudfronts_prefix() {
        let now = UNIX_EPOCH;
        let thrown = run("function handler(e) { throw new Error('boom'); }", now);
        assert_eq!(thrown.function_error_message, format!("{ERROR_MESSAGE_PREFIX} Error: boom (function.js:1:33)"));
        let syntax = run("function handler(e) {\n  return e.request }}", now);
        assert_eq!(
            syntax.function_error_message,
            format!("{ERROR_MESSAGE_PREFIX} SyntaxError: unexpected `}}` (function.js:2:21)")
        );
        let invalid = run("function handler(e) { return 42; }", now);
        assert!(
            invalid.function_error_message.starts_with(&format!("{ERROR_MESSAGE_PREFIX} FunctionValidationError: ")),
            "{}",
            invalid.function_error_message
        );
        assert!(thrown.failed() && syntax.failed() && invalid.failed());
    }

    #[test]
    fn the_clock_can_be_set() {
        let code = "function handler(e) { e.request.headers.now = { value: new Date().toISOString() + ' ' + Date.now() }; return e.request; }";
        let at = UNIX_EPOCH + Duration::from_millis(1_706_702_400_123);
        let result = run(code, at);
        let output: Value = serde_json::from_str(&result.function_output).unwrap();
        assert_eq!(output["request"]["headers"]["now"]["value"], "2024-01-31T12:00:00.123Z 1706702400123");
    }
}
