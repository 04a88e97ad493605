//! The origin side: pooled keep-alive clients honouring each origin's connection
//! attempts and timeouts, and folder-backed S3 buckets.

pub mod s3;

use bytes::Bytes;
use cachalot_config::model::{Origin, OriginKind, OriginProtocolPolicy};
use cachalot_policy::DetailedResultType;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Body of a request to an origin.
pub type OriginRequestBody = Either<Full<Bytes>, Incoming>;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, OriginRequestBody>;

/// An origin's response body.
pub enum OriginBody {
    /// Streamed from an HTTP origin.
    Stream(Incoming),
    /// Complete (folder-backed S3).
    Full(Bytes),
}

/// An origin's response.
pub struct OriginResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: OriginBody,
    /// Milliseconds until response headers arrived (first-byte latency).
    pub first_byte_ms: u64,
}

/// Why an origin could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// The name did not resolve (or no folder is mapped to the bucket).
    Dns(String),
    /// TCP/TLS connection failed on every attempt.
    Connect(String),
    /// No response within the timeouts.
    Timeout,
    /// The connection broke while reading.
    Read(String),
}

impl OriginError {
    /// The status the viewer gets.
    pub fn status(&self) -> u16 {
        match self {
            OriginError::Timeout => 504,
            _ => 502,
        }
    }

    /// The log's detailed result type.
    pub fn detailed(&self) -> DetailedResultType {
        match self {
            OriginError::Dns(_) => DetailedResultType::OriginDnsError,
            OriginError::Connect(_) => DetailedResultType::OriginConnectError,
            OriginError::Timeout => DetailedResultType::OriginCommError,
            OriginError::Read(_) => DetailedResultType::OriginReadError,
        }
    }

    /// The sentence for CloudFront's error page.
    pub fn page_message(&self) -> &'static str {
        match self {
            OriginError::Timeout => {
                "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
            }
            OriginError::Dns(_) => "CloudFront wasn't able to resolve the origin domain name.",
            _ => "CloudFront wasn't able to connect to the origin.",
        }
    }
}

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginError::Dns(m) => write!(f, "origin name resolution failed: {m}"),
            OriginError::Connect(m) => write!(f, "cannot connect to the origin: {m}"),
            OriginError::Timeout => f.write_str("origin timed out"),
            OriginError::Read(m) => write!(f, "origin read failed: {m}"),
        }
    }
}

/// A request for an origin.
pub struct OriginCall<'a> {
    /// Method.
    pub method: Method,
    /// Path (origin path included) and query.
    pub path_and_query: &'a str,
    /// Headers, `Host` included.
    pub headers: HeaderMap,
    /// Body, when the viewer sent one.
    pub body: Option<Incoming>,
    /// The viewer came over HTTPS (for `match-viewer`).
    pub viewer_https: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey {
    connect_timeout_secs: u32,
    keepalive_secs: u32,
}

/// All origin connections of the edge.
pub struct Origins {
    clients: Mutex<HashMap<ClientKey, HttpClient>>,
    buckets: HashMap<String, PathBuf>,
    addresses: HashMap<String, String>,
    tls: Arc<rustls::ClientConfig>,
}

impl Origins {
    /// `buckets` maps S3 bucket names to folders; `addresses` maps origin host names to
    /// `host:port` to connect to instead (used to point a production config at local servers).
    pub fn new(buckets: HashMap<String, PathBuf>, addresses: HashMap<String, String>) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots_anchors());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .expect("ring supports the default protocol versions");
        Origins { clients: Mutex::new(HashMap::new()), buckets, addresses, tls: Arc::new(tls) }
    }

    fn client(&self, origin: &Origin) -> HttpClient {
        let key = ClientKey {
            connect_timeout_secs: origin.connection_timeout_secs,
            keepalive_secs: origin.keepalive_timeout_secs,
        };
        let mut clients = self.clients.lock();
        clients
            .entry(key)
            .or_insert_with(|| {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_nodelay(true);
                http.set_connect_timeout(Some(Duration::from_secs(u64::from(key.connect_timeout_secs))));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((*self.tls).clone())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(u64::from(key.keepalive_secs)))
                    .pool_max_idle_per_host(256)
                    .build(https)
            })
            .clone()
    }

    /// Sends a request to `origin`, with its connection attempts and timeouts.
    pub async fn send(&self, origin: &Origin, call: OriginCall<'_>) -> Result<OriginResponse, OriginError> {
        let started = Instant::now();
        match &origin.kind {
            OriginKind::S3 { bucket } => {
                let Some(folder) = self.buckets.get(bucket) else {
                    return Err(OriginError::Dns(format!(
                        "no folder is mapped to bucket \"{bucket}\" (add it under Buckets)"
                    )));
                };
                let r = s3::serve(folder, &call.method, call.path_and_query, &call.headers).await;
                Ok(OriginResponse {
                    status: r.status,
                    headers: r.headers,
                    body: OriginBody::Full(r.body),
                    first_byte_ms: started.elapsed().as_millis() as u64,
                })
            }
            OriginKind::Custom { http_port, https_port, protocol } => {
                let https = match protocol {
                    OriginProtocolPolicy::HttpOnly => false,
                    OriginProtocolPolicy::HttpsOnly => true,
                    OriginProtocolPolicy::MatchViewer => call.viewer_https,
                };
                let authority = match self.addresses.get(&origin.domain_name) {
                    Some(addr) => addr.clone(),
                    None => format!("{}:{}", origin.domain_name, if https { https_port } else { http_port }),
                };
                let scheme = if https { "https" } else { "http" };
                let uri: Uri = format!("{scheme}://{authority}{}", call.path_and_query)
                    .parse()
                    .map_err(|e| OriginError::Connect(format!("invalid origin address {authority}: {e}")))?;
                self.send_http(origin, uri, call, started).await
            }
        }
    }

    async fn send_http(
        &self,
        origin: &Origin,
        uri: Uri,
        call: OriginCall<'_>,
        started: Instant,
    ) -> Result<OriginResponse, OriginError> {
        let client = self.client(origin);
        let read_timeout = Duration::from_secs(u64::from(origin.read_timeout_secs));
        let connect_timeout = Duration::from_secs(u64::from(origin.connection_timeout_secs));
        // A request without a body can be replayed on another attempt; one with a body cannot.
        let replayable = call.body.is_none();
        let retry_on_timeout = replayable && (call.method == Method::GET || call.method == Method::HEAD);
        let attempts = if replayable { origin.connection_attempts.max(1) } else { 1 };
        let mut body = call.body;
        let mut last = OriginError::Connect("no attempt made".to_owned());
        for _ in 0..attempts {
            let mut req = Request::builder().method(call.method.clone()).uri(uri.clone());
            if let Some(h) = req.headers_mut() {
                *h = call.headers.clone();
            }
            let req_body = match body.take() {
                Some(b) => Either::Right(b),
                None => Either::Left(Full::new(Bytes::new())),
            };
            let req = req.body(req_body).map_err(|e| OriginError::Connect(e.to_string()))?;
            match tokio::time::timeout(connect_timeout + read_timeout, client.request(req)).await {
                Ok(Ok(resp)) => {
                    let (parts, incoming) = resp.into_parts();
                    return Ok(OriginResponse {
                        status: parts.status,
                        headers: parts.headers,
                        body: OriginBody::Stream(incoming),
                        first_byte_ms: started.elapsed().as_millis() as u64,
                    });
                }
                Ok(Err(e)) => {
                    last = classify(&e);
                    if !matches!(last, OriginError::Connect(_) | OriginError::Dns(_)) {
                        return Err(last);
                    }
                }
                Err(_) => {
                    last = OriginError::Timeout;
                    if !retry_on_timeout {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}

fn classify(e: &hyper_util::client::legacy::Error) -> OriginError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        OriginError::Dns(text)
    } else if e.is_connect() {
        OriginError::Connect(text)
    } else {
        OriginError::Read(text)
    }
}

fn webpki_roots_anchors() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}
