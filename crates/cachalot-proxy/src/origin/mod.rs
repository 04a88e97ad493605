//! The origin side: pooled keep-alive connections honouring each origin's connection
//! attempts and timeouts (`pool`), folder-backed S3 buckets (`s3`), real S3 buckets over
//! HTTPS, and origin access control: SigV4 signing of origin requests (`sigv4`).

mod pool;
pub mod s3;
pub mod sigv4;
mod stream;
mod viewer_body;

pub use pool::OriginRequestBody;
pub(crate) use pool::{Pool, PoolKey};
pub use stream::{OriginStream, StreamError};
pub use viewer_body::ViewerBody;

use bytes::Bytes;
use cachalot_config::model::{Origin, OriginKind, OriginProtocolPolicy};
use cachalot_policy::DetailedResultType;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{Either, Full};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An origin's response body.
pub enum OriginBody {
    /// Streamed from an HTTP origin.
    Stream(OriginStream),
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

impl OriginError {
    /// The error a parent tier reported (its status, detailed result type and message).
    pub(crate) fn from_parent(status: u16, detailed: &str, message: String) -> Self {
        match detailed {
            "OriginDnsError" => OriginError::Dns(message),
            "OriginConnectError" => OriginError::Connect(message),
            "OriginCommError" if status == 504 => OriginError::Timeout,
            _ => OriginError::Read(message),
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
    pub path_and_query: String,
    /// Headers, `Host` included.
    pub headers: HeaderMap,
    /// Body, when the viewer sent one.
    pub body: Option<ViewerBody>,
    /// A body the edge itself sends (a log file put to S3), when `body` is `None`.
    pub payload: Option<Bytes>,
    /// The viewer came over HTTPS (for `match-viewer`).
    pub viewer_https: bool,
    /// TLS server name to send instead of the origin's domain name.
    pub server_name: Option<&'a str>,
}

/// All origin connections of the edge.
pub struct Origins {
    pool: Arc<Pool>,
    tls: Arc<rustls::ClientConfig>,
    buckets: HashMap<String, PathBuf>,
    addresses: HashMap<String, String>,
    /// Folder-backed buckets that answer only requests an origin access control signed.
    private_buckets: std::collections::HashSet<String>,
    /// The node's credentials: what origin access controls sign with.
    credentials: sigv4::Credentials,
    clock: Arc<dyn crate::Clock>,
}

impl Origins {
    /// `buckets` maps S3 bucket names to folders; `addresses` maps origin host names to
    /// `host:port` to connect to instead (used to point a production config at local servers).
    pub fn new(buckets: HashMap<String, PathBuf>, addresses: HashMap<String, String>) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots_anchors());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
            // The ring provider supports the default versions; keep a working client regardless.
            Err(_) => rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let tls = Arc::new(tls);
        Origins {
            pool: Arc::new(Pool::new(tls.clone())),
            tls,
            buckets,
            addresses,
            private_buckets: std::collections::HashSet::new(),
            credentials: sigv4::ephemeral_credentials(),
            clock: Arc::new(crate::SystemClock),
        }
    }

    /// Sets the private folder-backed buckets, the node's credentials and the clock signatures use.
    pub fn with_access(
        mut self,
        private_buckets: std::collections::HashSet<String>,
        credentials: sigv4::Credentials,
        clock: Arc<dyn crate::Clock>,
    ) -> Self {
        self.private_buckets = private_buckets;
        self.credentials = credentials;
        self.clock = clock;
        self
    }

    /// Signs `call` for `origin` when its origin access control says so (`always`, or
    /// `no-override` without a viewer `Authorization`), as CloudFront does
    /// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html>).
    fn sign_for(&self, origin: &Origin, call: &mut OriginCall<'_>) {
        let Some(oac) = &origin.access_control else { return };
        let sign = match oac.signing {
            cachalot_config::model::Signing::Never => false,
            cachalot_config::model::Signing::Always => true,
            cachalot_config::model::Signing::NoOverride => !call.headers.contains_key(http::header::AUTHORIZATION),
        };
        if !sign {
            return;
        }
        let payload_hash;
        let payload = match (&call.body, &call.payload) {
            (Some(_), _) => "UNSIGNED-PAYLOAD",
            (None, Some(bytes)) => {
                payload_hash = cachalot_sigv4::payload_hash(bytes);
                payload_hash.as_str()
            }
            (None, None) => sigv4::EMPTY_SHA256,
        };
        let region = s3_region(&origin.domain_name);
        sigv4::sign(
            &self.credentials,
            region,
            &oac.origin_type,
            &call.method,
            &call.path_and_query,
            &mut call.headers,
            payload,
            self.clock.now_ms() / 1000,
        );
    }

    /// `PutObject`: writes `body` as `key` in `bucket` — the folder `Buckets` maps it to, or
    /// real S3 (the address `OriginAddresses` gives `<bucket>.s3.amazonaws.com`), signed
    /// with the node's credentials. Returns S3's status.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<u16, OriginError> {
        let domain = format!("{bucket}.s3.amazonaws.com");
        let origin = Origin {
            id: format!("log-bucket-{bucket}"),
            domain_name: domain.clone(),
            origin_path: String::new(),
            custom_headers: Vec::new(),
            kind: OriginKind::S3 { bucket: bucket.to_owned() },
            connection_attempts: 3,
            connection_timeout_secs: 10,
            read_timeout_secs: 60,
            keepalive_timeout_secs: 5,
            response_completion_timeout_secs: None,
            shield_region: None,
            access_control: Some(cachalot_config::model::OriginAccess {
                id: "log-delivery".into(),
                signing: cachalot_config::model::Signing::Always,
                origin_type: "s3".into(),
            }),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in [("host", domain.as_str()), ("content-type", content_type)] {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        }
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(body.len()));
        let encoded: String = key
            .split('/')
            .map(|part| percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC).to_string())
            .collect::<Vec<_>>()
            .join("/");
        let call = OriginCall {
            method: Method::PUT,
            path_and_query: format!("/{encoded}"),
            headers,
            body: None,
            payload: Some(body),
            viewer_https: true,
            server_name: None,
        };
        let resp = self.send(&origin, call).await?;
        if let OriginBody::Stream(stream) = resp.body {
            // Read the answer to the end so the connection can be reused.
            let _ = http_body_util::BodyExt::collect(stream).await;
        }
        Ok(resp.status.as_u16())
    }

    /// The TLS client settings origin connections use.
    pub(crate) fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Sends a request to `origin`: up to `ConnectionAttempts` attempts to connect, and
    /// for a request without a body (GET, HEAD) as many attempts to get a response within
    /// the response timeout (§12.2). `deadline` is the `ResponseCompletionTimeout`.
    pub async fn send(&self, origin: &Origin, mut call: OriginCall<'_>) -> Result<OriginResponse, OriginError> {
        let started = Instant::now();
        self.sign_for(origin, &mut call);
        match &origin.kind {
            OriginKind::S3 { bucket } => {
                let Some(folder) = self.buckets.get(bucket) else {
                    // Not mapped to a folder: the real bucket (or the S3-compatible server
                    // OriginAddresses names), over HTTPS unless that address says http://.
                    let (https, address) = match self.addresses.get(&origin.domain_name) {
                        Some(a) if a.starts_with("https://") => (true, a["https://".len()..].to_owned()),
                        Some(a) => (false, a.trim_start_matches("http://").to_owned()),
                        None => (true, format!("{}:443", origin.domain_name)),
                    };
                    let key = PoolKey { https, address, server_name: origin.domain_name.clone() };
                    return self.send_http(origin, key, call, started).await;
                };
                if self.private_buckets.contains(bucket)
                    && !sigv4::verify(
                        &self.credentials,
                        "s3",
                        &call.method,
                        &call.path_and_query,
                        &call.headers,
                        self.clock.now_ms() / 1000,
                    )
                {
                    return Ok(folder_response(s3::access_denied(), started));
                }
                let r = s3::serve(folder, &call.method, &call.path_and_query, &call.headers).await;
                Ok(folder_response(r, started))
            }
            OriginKind::Custom { http_port, https_port, protocol } => {
                let https = match protocol {
                    OriginProtocolPolicy::HttpOnly => false,
                    OriginProtocolPolicy::HttpsOnly => true,
                    OriginProtocolPolicy::MatchViewer => call.viewer_https,
                };
                let address = match self.addresses.get(&origin.domain_name) {
                    Some(addr) => addr.clone(),
                    None => format!("{}:{}", origin.domain_name, if https { https_port } else { http_port }),
                };
                let key =
                    PoolKey { https, address, server_name: call.server_name.unwrap_or(&origin.domain_name).to_owned() };
                self.send_http(origin, key, call, started).await
            }
        }
    }

    async fn send_http(
        &self,
        origin: &Origin,
        key: PoolKey,
        call: OriginCall<'_>,
        started: Instant,
    ) -> Result<OriginResponse, OriginError> {
        let read_timeout = Duration::from_secs(u64::from(origin.read_timeout_secs.max(1)));
        let connect_timeout = Duration::from_secs(u64::from(origin.connection_timeout_secs.max(1)));
        let keepalive = Duration::from_secs(u64::from(origin.keepalive_timeout_secs));
        let deadline = origin.response_completion_timeout_secs.map(|s| started + Duration::from_secs(u64::from(s)));
        // Only a request without a streamed body can be sent again after a response timeout.
        let replayable = call.body.is_none();
        let retry_on_timeout = replayable && (call.method == Method::GET || call.method == Method::HEAD);
        let attempts = origin.connection_attempts.clamp(1, 3);
        let mut body = call.body;
        let mut last = OriginError::Connect("no attempt made".to_owned());
        let mut attempt = 0;
        let mut stale_retry_left = true;
        while attempt < attempts {
            attempt += 1;
            let remaining = |limit: Duration| match deadline {
                Some(d) => limit.min(d.saturating_duration_since(Instant::now())),
                None => limit,
            };
            let checkout = match self.pool.checkout(&key, remaining(connect_timeout)).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    if matches!(last, OriginError::Dns(_)) {
                        return Err(last);
                    }
                    continue;
                }
            };
            let mut sender = checkout.sender;
            let req_body = match body.take() {
                Some(b) => Either::Right(b),
                None => Either::Left(Full::new(call.payload.clone().unwrap_or_default())),
            };
            let mut req = Request::builder().method(call.method.clone()).uri(call.path_and_query.as_str());
            if let Some(h) = req.headers_mut() {
                *h = call.headers.clone();
            }
            let req = req.body(req_body).map_err(|e| OriginError::Connect(e.to_string()))?;
            match tokio::time::timeout(remaining(read_timeout), sender.send_request(req)).await {
                Ok(Ok(resp)) => {
                    let (parts, incoming) = resp.into_parts();
                    let stream = self.pool.stream(incoming, key, sender, keepalive);
                    return Ok(OriginResponse {
                        status: parts.status,
                        headers: parts.headers,
                        body: OriginBody::Stream(stream),
                        first_byte_ms: started.elapsed().as_millis() as u64,
                    });
                }
                Ok(Err(e)) => {
                    // A kept-alive connection the origin closed meanwhile: try a fresh one, once,
                    // without counting an attempt (nothing reached the origin).
                    if checkout.reused
                        && replayable
                        && stale_retry_left
                        && (e.is_canceled() || e.is_incomplete_message())
                    {
                        stale_retry_left = false;
                        attempt -= 1;
                        continue;
                    }
                    return Err(OriginError::Read(error_text(&e)));
                }
                Err(_) => {
                    last = OriginError::Timeout;
                    if !retry_on_timeout {
                        return Err(last);
                    }
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(OriginError::Timeout);
            }
        }
        Err(last)
    }
}

/// The region of an S3 endpoint (`bucket.s3.eu-west-2.amazonaws.com`, `bucket.s3-eu-west-2…`);
/// `us-east-1` for the global endpoint and other names.
pub fn s3_region(domain: &str) -> &str {
    let lower_start = domain.find(".s3.").or_else(|| domain.find(".s3-"));
    let Some(i) = lower_start else { return "us-east-1" };
    let rest = &domain[i + 4..];
    let region = rest.split('.').next().unwrap_or("");
    let looks_like_region = region.split('-').count() >= 3 && region.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if looks_like_region { region } else { "us-east-1" }
}

fn error_text(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn webpki_roots_anchors() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

/// A folder-backed bucket's answer as an origin response.
fn folder_response(r: s3::S3Response, started: Instant) -> OriginResponse {
    OriginResponse {
        status: r.status,
        headers: r.headers,
        body: match r.body {
            s3::S3Body::Bytes(b) => OriginBody::Full(b),
            s3::S3Body::File(file, len) => OriginBody::Stream(OriginStream::file(file, len)),
        },
        first_byte_ms: started.elapsed().as_millis() as u64,
    }
}
