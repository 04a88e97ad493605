//! What the edge reports about each request, once, when the response is done:
//! the input of the access log line and of the metrics, so both agree.

use cachalot_policy::{DetailedResultType, ResultType};
use http::Method;
use std::net::IpAddr;
use std::sync::Arc;

pub use cachalot_policy::Layer;

/// One request, as logged.
#[derive(Debug, Clone)]
pub struct RequestSummary {
    /// When the response finished, Unix milliseconds.
    pub end_ms: u64,
    /// When the request arrived, Unix milliseconds.
    pub start_ms: u64,
    /// POP id.
    pub pop: Arc<str>,
    /// The distribution, when one was found.
    pub distribution_id: Option<Arc<str>>,
    /// Its `dXXXX.cloudfront.net` name.
    pub distribution_domain: Option<Arc<str>>,
    /// The behavior's path pattern.
    pub behavior: Option<Arc<str>>,
    /// Viewer address.
    pub client_ip: IpAddr,
    /// Viewer port.
    pub client_port: u16,
    /// Method.
    pub method: Method,
    /// Viewer `Host`.
    pub host_header: String,
    /// Path.
    pub uri_stem: String,
    /// Query string.
    pub query: Option<String>,
    /// Status sent.
    pub status: u16,
    /// `Referer`.
    pub referer: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Cookie` (the whole header).
    pub cookie: Option<String>,
    /// Final result type.
    pub result: ResultType,
    /// Result type decided before responding.
    pub response_result: ResultType,
    /// Detailed result type.
    pub detailed: DetailedResultType,
    /// `X-Amz-Cf-Id`.
    pub request_id: String,
    /// `http` or `https`.
    pub protocol: &'static str,
    /// `HTTP/1.1`, …
    pub protocol_version: &'static str,
    /// Request bytes including headers.
    pub request_bytes: u64,
    /// Response bytes including headers.
    pub response_bytes: u64,
    /// Request arrival to response headers, milliseconds.
    pub first_byte_ms: u64,
    /// Request arrival to the last byte handed to the connection, milliseconds.
    pub time_taken_ms: u64,
    /// `Content-Type` sent.
    pub content_type: Option<String>,
    /// `Content-Length` of the representation sent.
    pub content_length: Option<u64>,
    /// `Content-Range` start and end.
    pub range: Option<(u64, u64)>,
    /// Incoming `X-Forwarded-For`.
    pub x_forwarded_for: Option<String>,
    /// TLS protocol, e.g. `TLSv1.3`.
    pub ssl_protocol: Option<&'static str>,
    /// TLS cipher (OpenSSL name).
    pub ssl_cipher: Option<String>,
    /// Origin first-byte latency when the origin answered, milliseconds.
    pub origin_latency_ms: Option<u64>,
    /// The viewer's country (ISO 3166-1 alpha-2) when the node has a location database
    /// (standard logging v2's `c-country`).
    pub country: Option<String>,
    /// Which tier answered.
    pub layer: Option<Layer>,
    /// Whether a viewer-request or viewer-response function ran.
    pub function_ran: bool,
}

/// Receives one summary per request (logs and metrics).
pub trait Observer: Send + Sync + 'static {
    /// Called once per request after the response body is done or abandoned.
    fn observe(&self, summary: RequestSummary);
}

/// Discards summaries.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self, _summary: RequestSummary) {}
}
