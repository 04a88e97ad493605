//! CloudWatch's `GetMetricStatistics`, `GetMetricData` (with `MetricStat` queries) and `ListMetrics` for
//! namespace `AWS/CloudFront`, on the admin listener, over the three wire protocols clients
//! send them in: awsQuery (`POST /`, form body, XML answer), awsJson1_0 (`POST /` with
//! `X-Amz-Target`) and Smithy RPCv2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Operation>`).
//!
//! Split in two: [`protocol`] reads a call in any of the three protocols into one JSON input
//! and renders one response tree (or error) back in the caller's protocol; [`operations`]
//! answers each operation with that tree, knowing nothing of the wire.
//!
//! The numbers come from the telemetry registry, so they match `/metrics` and the access
//! logs. CloudWatch matches dimension sets exactly: CloudFront's distribution metrics have
//! `DistributionId` and `Region=Global`, and any other set (or namespace, or unit) gives
//! no datapoints, as on AWS.

mod operations;
mod protocol;

use crate::control::Inner;
use crate::sigv4::SignedRequest;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use cachalot_telemetry::Telemetry;
use http::HeaderMap;
use operations::Operation;
use protocol::{CwError, Protocol, TARGET_PREFIX};
use std::sync::Arc;

/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;

struct CloudWatch {
    control: Arc<Inner>,
    telemetry: Arc<Telemetry>,
}

pub(crate) fn router(control: Arc<Inner>, telemetry: Arc<Telemetry>) -> Router {
    // In a fleet, this node's numbers are flushed to the store for the others.
    let _ = control.telemetry.set(telemetry.clone());
    Router::new()
        .route("/", post(query_or_json))
        .route(&format!("/service/{TARGET_PREFIX}/operation/{{operation}}"), post(cbor))
        .with_state(Arc::new(CloudWatch { control, telemetry }))
}

/// awsQuery (a form) or awsJson1_0 (`X-Amz-Target`), both on `POST /`.
async fn query_or_json(
    State(cw): State<Arc<CloudWatch>>,
    headers: HeaderMap,
    uri: http::Uri,
    body: Body,
) -> axum::response::Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(target) = target.as_deref().filter(|t| t.starts_with(crate::logs::TARGET_PREFIX)) {
        // CloudWatch Logs shares `POST /` with CloudWatch; its target names it.
        return match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(body) => crate::logs::serve(cw.control.clone(), target, &headers, &uri, body).await,
            Err(_) => protocol::respond(
                Protocol::Json,
                None,
                Err(CwError::new(
                    "SerializationException",
                    format!("the request body is larger than {MAX_BODY} bytes"),
                )),
            ),
        };
    }
    let protocol = if target.is_some() { Protocol::Json } else { Protocol::Query };
    let (operation, result) = match read_body(body).await {
        Ok(body) => cw.call(protocol, target.as_deref(), &headers, &uri, &body),
        Err(e) => (None, Err(e)),
    };
    protocol::respond(protocol, operation, result)
}

/// RPCv2 CBOR: the operation is in the path.
async fn cbor(
    State(cw): State<Arc<CloudWatch>>,
    axum::extract::Path(operation): axum::extract::Path<String>,
    headers: HeaderMap,
    uri: http::Uri,
    body: Body,
) -> axum::response::Response {
    let (operation, result) = match read_body(body).await {
        Ok(body) => cw.call(Protocol::Cbor, Some(&operation), &headers, &uri, &body),
        Err(e) => (None, Err(e)),
    };
    protocol::respond(Protocol::Cbor, operation, result)
}

async fn read_body(body: Body) -> Result<bytes::Bytes, CwError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| CwError::new("InvalidParameterValue", format!("the request body is larger than {MAX_BODY} bytes")))
}

impl CloudWatch {
    /// Authenticates, reads and answers one call. `named` is the operation the transport names
    /// (`X-Amz-Target` or the CBOR path); a query form names it in its `Action`.
    fn call(
        &self,
        protocol: Protocol,
        named: Option<&str>,
        headers: &HeaderMap,
        uri: &http::Uri,
        body: &[u8],
    ) -> (Option<Operation>, Result<protocol::Node, CwError>) {
        let signed =
            SignedRequest { method: "POST", raw_path: uri.path(), raw_query: uri.query().unwrap_or(""), headers, body };
        if let Err(e) = self.control.authenticate(&signed) {
            return (None, Err(CwError::from_auth(e)));
        }
        let (operation, input) = match protocol::read(protocol, named, body) {
            Ok(call) => call,
            Err(e) => return (None, Err(e)),
        };
        let source = operations::Source { telemetry: &self.telemetry, fleet: self.control.fleet() };
        (Some(operation), operations::answer(&source, operation, &input))
    }
}
