//! CloudWatch Logs' delivery API (service `logs`, awsJson1_1, `X-Amz-Target: Logs_20140328.<Operation>`
//! on `POST /`), for what CloudFront's standard logging (v2) needs: delivery sources, delivery
//! destinations, deliveries and the configuration template.
//!
//! Split in two: this module reads a call (SigV4, target, JSON body), runs it off the async
//! workers and answers in the protocol (`__type` and `message` on errors, as botocore reads
//! them); [`operations`] checks and applies each operation on the control-plane state, so the
//! resources are persisted (redb or the fleet store) and published to the edge like every other.
//!
//! Sources: botocore's `logs` service model (shapes, lengths, patterns, error shapes) and the
//! CloudWatch Logs API reference
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateDelivery.html>).

mod operations;

use crate::control::Inner;
use crate::sigv4::SignedRequest;
use axum::body::Body;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// The awsJson target prefix of CloudWatch Logs.
pub(crate) const TARGET_PREFIX: &str = "Logs_20140328.";

/// A `logs` error: the shape name (the `__type`), its status and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogsError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl LogsError {
    pub(crate) fn validation(message: impl Into<String>) -> LogsError {
        LogsError { kind: "ValidationException", message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> LogsError {
        LogsError { kind: "ResourceNotFoundException", message: message.into() }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> LogsError {
        LogsError { kind: "ConflictException", message: message.into() }
    }

    pub(crate) fn quota(message: impl Into<String>) -> LogsError {
        LogsError { kind: "ServiceQuotaExceededException", message: message.into() }
    }

    fn status(&self) -> u16 {
        match self.kind {
            "ServiceUnavailableException" | "InternalFailure" => 500,
            "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" => 400,
            _ => 400,
        }
    }
}

/// The error kinds operations raise inside a state change (carried through it as an `ApiError`).
const KINDS: &[&str] =
    &["ValidationException", "ResourceNotFoundException", "ConflictException", "ServiceQuotaExceededException"];

impl LogsError {
    /// As an `ApiError`, to leave a state change with.
    pub(crate) fn into_api(self) -> crate::error::ApiError {
        crate::error::ApiError::with_status(self.kind, 400, self.message)
    }
}

impl From<crate::error::ApiError> for LogsError {
    fn from(e: crate::error::ApiError) -> LogsError {
        let kind = match KINDS.iter().find(|k| **k == e.code) {
            Some(k) => k,
            // The store not answering (a fleet store down) or failing.
            None if e.code == "ServiceUnavailable" || e.status >= 500 => "ServiceUnavailableException",
            None => "ValidationException",
        };
        LogsError { kind, message: e.message }
    }
}

/// Answers one `logs` call made on `POST /`.
pub(crate) async fn serve(
    control: Arc<Inner>,
    target: &str,
    headers: &HeaderMap,
    uri: &http::Uri,
    body: bytes::Bytes,
) -> axum::response::Response {
    let signed = SignedRequest {
        method: "POST",
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers,
        body: &body,
    };
    if let Err(e) = control.authenticate(&signed) {
        // The SigV4 refusals CloudWatch Logs answers with.
        let kind = match e.code.as_str() {
            "InvalidClientTokenId" => "UnrecognizedClientException",
            "SignatureDoesNotMatch" | "IncompleteSignature" => "InvalidSignatureException",
            _ => "AccessDeniedException",
        };
        return respond(Err(LogsError { kind, message: e.message }), StatusCode::BAD_REQUEST);
    }
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target).to_owned();
    let input: Value = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return respond(
                Err(LogsError { kind: "SerializationException", message: "the body must be a JSON object".into() }),
                StatusCode::BAD_REQUEST,
            );
        }
        Err(e) => {
            return respond(
                Err(LogsError { kind: "SerializationException", message: format!("the body is not JSON: {e}") }),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    // Writes fsync the store and hold the state lock: keep them off the async workers.
    let result = tokio::task::spawn_blocking(move || operations::answer(&control, &operation, &input)).await;
    match result {
        Ok(r) => respond(r, StatusCode::OK),
        Err(e) => {
            tracing::error!("logs handler failed: {e}");
            respond(
                Err(LogsError {
                    kind: "ServiceUnavailableException",
                    message: "the request could not be completed".into(),
                }),
                StatusCode::OK,
            )
        }
    }
}

fn respond(result: Result<Value, LogsError>, ok: StatusCode) -> axum::response::Response {
    let (status, body, kind) = match result {
        Ok(v) => (ok, v.to_string(), None),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, json!({"__type": e.kind, "message": e.message}).to_string(), Some(e.kind))
        }
    };
    let mut response = axum::response::Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Ok(v) = HeaderValue::from_str(&crate::util::uuid()) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(kind) = kind {
        h.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    response
}
