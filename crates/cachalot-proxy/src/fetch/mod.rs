//! The miss path: walk the tiers (POP → regional → shield → origin) with
//! request collapsing at each, revalidate expired objects, store what policy
//! says to store, and fail over between the members of an origin group.
//!
//! Origin side state machine: `OriginRequest` (shape what is forwarded) →
//! `Connect` (pool, attempts, failover) → `OriginResponse` → `Store` (policy
//! decides) → hand back to the viewer side.

use crate::body::EdgeBody;
use crate::edge::EdgeInner;
use crate::origin::{OriginBody, OriginCall, OriginError, OriginResponse};
use crate::summary::Layer;
use bytes::{Bytes, BytesMut};
use cachalot_cache::{CachedObject, FlightResult, Join, Lookup, Tier};
use cachalot_config::model::{Behavior, Distribution, Origin, OriginKind, OriginProtocolPolicy, Target};
use cachalot_functions::OriginOverride;
use cachalot_policy::compress::{self, Coding};
use cachalot_policy::forward::{EdgeIdentity, forwards_header, origin_request};
use cachalot_policy::range::filter_vary;
use cachalot_policy::ttl::{self, Storage};
use cachalot_policy::{CacheKey, NormalizedEncoding, ViewerRequest};
use http::{HeaderMap, Method, StatusCode, header};
use http_body::Body as _;
use hyper::body::Incoming;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The parts of the viewer request the origin side needs, owned so a
/// background refresh can outlive the viewer's request.
#[derive(Clone)]
pub(crate) struct OriginInputs {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) client_ip: IpAddr,
    pub(crate) client_port: u16,
    pub(crate) https: bool,
    pub(crate) http10: bool,
    pub(crate) protocol_version: &'static str,
    pub(crate) encoding: NormalizedEncoding,
    pub(crate) request_id: String,
    pub(crate) host_id: String,
}

impl OriginInputs {
    pub(crate) fn viewer(&self) -> ViewerRequest<'_> {
        ViewerRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            client_ip: self.client_ip,
            client_port: self.client_port,
            https: self.https,
            http10: self.http10,
            protocol_version: self.protocol_version,
        }
    }
}

/// Everything a miss needs.
#[derive(Clone)]
pub(crate) struct FetchCtx {
    pub(crate) edge: Arc<EdgeInner>,
    pub(crate) distribution: Arc<Distribution>,
    pub(crate) behavior: Arc<Behavior>,
    pub(crate) key: CacheKey,
    pub(crate) inputs: Arc<OriginInputs>,
    pub(crate) tiers: Arc<Vec<(Tier, Layer)>>,
    pub(crate) collapse: bool,
    /// Origin changes a viewer-request function asked for.
    pub(crate) origin_override: Option<Arc<OriginOverride>>,
}

/// A response ready for the viewer side.
pub(crate) enum Fetched {
    /// A complete object (stored or not).
    Object(Arc<CachedObject>),
    /// Too large to buffer: relayed as it arrives, never stored.
    Relay { status: StatusCode, headers: HeaderMap, prefix: Vec<Bytes>, rest: Incoming, read_timeout: Duration },
}

/// How a tier came by what it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// A fresh copy in the tier.
    Hit,
    /// Another request's fetch, shared.
    Collapsed,
    /// The expired copy was revalidated (304).
    Refreshed,
    /// A copy from further up (or the origin).
    Fetched,
    /// An expired copy served because the origin failed.
    StaleOnError,
}

/// A tier's answer.
pub(crate) struct Answer {
    pub(crate) fetched: Fetched,
    pub(crate) how: How,
    /// The tier that had the object, or `Origin`.
    pub(crate) layer: Layer,
    /// Origin first-byte latency when the origin was contacted.
    pub(crate) origin_latency_ms: Option<u64>,
    /// The downstream's validators matched (the downstream copy may be refreshed).
    pub(crate) not_modified: bool,
}

/// Why the origin side failed.
pub(crate) struct FetchError {
    pub(crate) error: OriginError,
    pub(crate) origin_latency_ms: Option<u64>,
}

fn validators_match(a: &CachedObject, b: &CachedObject) -> bool {
    match (a.etag(), b.etag()) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.last_modified().is_some() && a.last_modified() == b.last_modified(),
        _ => false,
    }
}

impl FetchCtx {
    fn now_ms(&self) -> u64 {
        self.edge.clock.now_ms()
    }

    /// Answers from tier `i` (or the origin past the last tier). `downstream` is the
    /// expired copy the asking tier holds, for revalidation.
    pub(crate) fn fetch_tier(
        &self,
        i: usize,
        downstream: Option<Arc<CachedObject>>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Answer, FetchError>> + Send + '_>> {
        Box::pin(async move {
            if i >= self.tiers.len() {
                return self.fetch_origin(downstream).await;
            }
            let (tier, layer) = (&self.tiers[i].0, self.tiers[i].1);
            let now = self.now_ms();
            let stale = match tier.lookup(&self.key, now) {
                Lookup::Fresh(obj) => return Ok(answer(obj, How::Hit, layer, None, downstream.as_deref())),
                Lookup::Stale(obj) => Some(obj),
                Lookup::Miss => None,
            };
            if let Some(old) = stale.as_ref().filter(|o| o.within_stale_while_revalidate(now)) {
                // stale-while-revalidate (§3.3): answer now, refresh once in the background.
                if let Join::Leader(leader) = tier.join(&self.key) {
                    let ctx = self.clone();
                    let old = old.clone();
                    tokio::spawn(async move {
                        let _ = ctx.refill(i, Some(old), Some(leader), None).await;
                    });
                }
                return Ok(answer(old.clone(), How::Hit, layer, None, downstream.as_deref()));
            }
            let leader = if self.collapse {
                match tier.join(&self.key) {
                    Join::Leader(l) => Some(l),
                    Join::Follower(f) => match f.wait().await {
                        FlightResult::Shared(obj) => {
                            return Ok(answer(obj, How::Collapsed, layer, None, downstream.as_deref()));
                        }
                        // The leader's response could not be shared: go on alone.
                        FlightResult::NotShared => None,
                    },
                }
            } else {
                None
            };
            self.refill(i, stale, leader, downstream).await
        })
    }

    /// Fetches what tier `i` lacks (or holds expired) from further up, stores what
    /// policy says to store, and releases the requests collapsed onto `leader`.
    async fn refill(
        &self,
        i: usize,
        stale: Option<Arc<CachedObject>>,
        leader: Option<cachalot_cache::Leader>,
        downstream: Option<Arc<CachedObject>>,
    ) -> Result<Answer, FetchError> {
        let (tier, layer) = (&self.tiers[i].0, self.tiers[i].1);
        let epoch = leader.as_ref().map_or_else(|| tier.epoch(), |l| l.epoch());
        let upstream = self.fetch_tier(i + 1, stale.clone()).await;
        let now = self.now_ms();
        let (result, share) = match upstream {
            Ok(up) => {
                let latency = up.origin_latency_ms;
                match (up.fetched, up.not_modified, &stale) {
                    (Fetched::Object(fresh), true, Some(_)) => {
                        tier.insert(self.key.clone(), fresh.clone(), epoch);
                        (
                            Ok(answer(fresh.clone(), How::Refreshed, up.layer, latency, downstream.as_deref())),
                            Some(fresh),
                        )
                    }
                    (Fetched::Object(obj), _, Some(old)) if obj.status >= 500 && may_serve_stale(old, now) => {
                        // An expired copy beats an origin error (§3.6).
                        (Ok(answer(old.clone(), How::StaleOnError, layer, latency, downstream.as_deref())), None)
                    }
                    (Fetched::Object(obj), _, _) => {
                        let stored = obj.ttl_secs > 0 && tier.insert(self.key.clone(), obj.clone(), epoch);
                        let shareable = stored || obj.ttl_secs > 0;
                        let a = answer(obj.clone(), How::Fetched, up.layer, latency, downstream.as_deref());
                        (Ok(a), shareable.then_some(obj))
                    }
                    (relay @ Fetched::Relay { .. }, _, _) => (
                        Ok(Answer {
                            fetched: relay,
                            how: How::Fetched,
                            layer: up.layer,
                            origin_latency_ms: latency,
                            not_modified: false,
                        }),
                        None,
                    ),
                }
            }
            Err(e) => match &stale {
                Some(old) if may_serve_stale(old, now) => (
                    Ok(answer(old.clone(), How::StaleOnError, layer, e.origin_latency_ms, downstream.as_deref())),
                    None,
                ),
                _ => (Err(e), None),
            },
        };
        if let Some(l) = leader {
            l.complete(match share {
                Some(obj) => FlightResult::Shared(obj),
                None => FlightResult::NotShared,
            });
        }
        result
    }

    /// Fetches from the behavior's origin (or origin group), revalidating `stale` when given.
    async fn fetch_origin(&self, stale: Option<Arc<CachedObject>>) -> Result<Answer, FetchError> {
        let (primary, secondary, failover) =
            resolve_origins(&self.distribution, &self.behavior, self.origin_override.as_deref());
        let (primary, secondary, failover) = (&*primary, secondary.as_deref(), &failover[..]);
        let method = &self.inputs.method;
        let can_fail_over = *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
        match self.call_origin(primary, stale.as_deref()).await {
            Ok(resp) if can_fail_over && failover.contains(&resp.status.as_u16()) && secondary.is_some() => {
                let secondary = secondary.unwrap_or(primary);
                self.finish_origin(secondary, self.call_origin(secondary, stale.as_deref()).await, stale).await
            }
            Err(_) if can_fail_over && secondary.is_some() => {
                let secondary = secondary.unwrap_or(primary);
                self.finish_origin(secondary, self.call_origin(secondary, stale.as_deref()).await, stale).await
            }
            other => self.finish_origin(primary, other, stale).await,
        }
    }

    async fn call_origin(&self, origin: &Origin, stale: Option<&CachedObject>) -> Result<OriginResponse, OriginError> {
        let viewer = self.inputs.viewer();
        let shaped = origin_request(
            &viewer,
            &self.behavior.cache,
            &self.behavior.origin_request,
            origin,
            self.inputs.encoding,
            EdgeIdentity { host_id: &self.inputs.host_id, request_id: &self.inputs.request_id },
            false,
        );
        let mut headers = shaped.headers;
        // A cacheable miss fetches the whole object: viewer conditionals and ranges are answered from it.
        for h in [
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_MATCH,
            header::IF_UNMODIFIED_SINCE,
            header::IF_RANGE,
            header::RANGE,
        ] {
            headers.remove(h);
        }
        if let Some(old) = stale {
            if let Some(etag) = old.etag() {
                headers.insert(header::IF_NONE_MATCH, etag.clone());
            }
            if let Some(lm) = old.last_modified() {
                headers.insert(header::IF_MODIFIED_SINCE, lm.clone());
            }
        }
        // HEAD misses fetch with GET so the object can be stored for later GETs.
        let method = if self.inputs.method == Method::HEAD { Method::GET } else { self.inputs.method.clone() };
        let call = OriginCall {
            method,
            path_and_query: &shaped.path_and_query,
            headers,
            body: None,
            viewer_https: self.inputs.https,
        };
        self.edge.origins.send(origin, call).await
    }

    async fn finish_origin(
        &self,
        origin: &Origin,
        resp: Result<OriginResponse, OriginError>,
        stale: Option<Arc<CachedObject>>,
    ) -> Result<Answer, FetchError> {
        let resp = resp.map_err(|error| FetchError { error, origin_latency_ms: None })?;
        let latency = Some(resp.first_byte_ms);
        let now = self.now_ms();
        let status = resp.status.as_u16();
        if status == 304
            && let Some(old) = stale
        {
            let mut merged = old.headers.clone();
            for (name, value) in &resp.headers {
                merged.insert(name.clone(), value.clone());
            }
            let storage = self.storage(200, &merged, now);
            let fresh = Arc::new(old.refreshed(now, storage.ttl.unwrap_or(0), &resp.headers));
            return Ok(Answer {
                fetched: Fetched::Object(fresh),
                how: How::Refreshed,
                layer: Layer::Origin,
                origin_latency_ms: latency,
                not_modified: true,
            });
        }
        let storage = self.storage(status, &resp.headers, now);
        let read_timeout = Duration::from_secs(u64::from(origin.read_timeout_secs));
        let headers = response_headers(&resp.headers, &self.behavior, storage.strip_set_cookie);
        let body = match resp.body {
            OriginBody::Full(b) => b,
            OriginBody::Stream(incoming) => match read_body(incoming, read_timeout, self.edge.max_object_bytes).await {
                Ok(Buffered::Complete(b)) => b,
                Ok(Buffered::TooLarge(prefix, rest)) => {
                    return Ok(Answer {
                        fetched: Fetched::Relay { status: resp.status, headers, prefix, rest, read_timeout },
                        how: How::Fetched,
                        layer: Layer::Origin,
                        origin_latency_ms: latency,
                        not_modified: false,
                    });
                }
                Err(error) => return Err(FetchError { error, origin_latency_ms: latency }),
            },
        };
        let ttl = storage.ttl.unwrap_or(0);
        let (mut headers, mut body, mut edge_encoding) = (headers, body, None);
        if let Some(coding) = compress::choose(&self.behavior, self.inputs.encoding, status, &headers, body.len())
            && let Some(compressed) = compress(coding, body.clone()).await
        {
            body = compressed;
            edge_encoding = Some(coding.token());
            headers.insert(header::CONTENT_ENCODING, http::HeaderValue::from_static(coding.token()));
            let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).map(compress::compressed_etag);
            match etag.flatten().and_then(|e| http::HeaderValue::from_str(&e).ok()) {
                Some(weak) => {
                    headers.insert(header::ETAG, weak);
                }
                None => {
                    headers.remove(header::ETAG);
                }
            }
            let varies = headers.get_all(header::VARY).iter().any(|v| {
                v.to_str().is_ok_and(|v| v.split(',').any(|n| n.trim().eq_ignore_ascii_case("accept-encoding")))
            });
            if !varies {
                headers.append(header::VARY, http::HeaderValue::from_static("Accept-Encoding"));
            }
        }
        let tags = match &self.distribution.cache_tag_header {
            Some(h) => resp
                .headers
                .get_all(h.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .take(50)
                .collect(),
            None => Vec::new(),
        };
        let obj = CachedObject {
            status,
            headers,
            body,
            stored_at_ms: now,
            ttl_secs: ttl,
            stale_while_revalidate_secs: storage.stale_while_revalidate,
            stale_if_error_secs: storage.stale_if_error,
            invalidation_target: self.key.invalidation_target().into(),
            tags,
            edge_encoding,
        };
        Ok(Answer {
            fetched: Fetched::Object(Arc::new(obj)),
            how: How::Fetched,
            layer: Layer::Origin,
            origin_latency_ms: latency,
            not_modified: false,
        })
    }

    fn storage(&self, status: u16, headers: &HeaderMap, now_ms: u64) -> Storage {
        if !self.behavior.cached_methods.contains(self.inputs.method.as_str()) {
            return Storage {
                ttl: None,
                source: None,
                not_stored: Some(ttl::NotStoredReason::MethodNotCached),
                stale_while_revalidate: 0,
                stale_if_error: 0,
                collapsible: false,
                strip_set_cookie: false,
            };
        }
        let error_min = self.distribution.custom_error_responses.get(&status).and_then(|c| c.error_caching_min_ttl);
        ttl::storage(&self.behavior.cache, &self.behavior.origin_request, status, headers, now_ms / 1000, error_min)
    }
}

/// The origins a miss goes to — primary, optional secondary, failover statuses — with a
/// viewer-request function's origin changes applied (§9.4).
pub(crate) fn resolve_origins(
    dist: &Distribution,
    behavior: &Behavior,
    change: Option<&OriginOverride>,
) -> (Arc<Origin>, Option<Arc<Origin>>, Vec<u16>) {
    let by_id = |id: &str| dist.origins.iter().find(|o| o.id == id).cloned();
    let (mut primary, mut secondary, mut failover) = match behavior.target {
        Target::Origin(i) => (dist.origins[i].clone(), None, Vec::new()),
        Target::Group(g) => {
            let group = &dist.origin_groups[g];
            (
                dist.origins[group.primary].clone(),
                Some(dist.origins[group.secondary].clone()),
                group.failover_statuses.clone(),
            )
        }
    };
    let Some(change) = change else { return (primary, secondary, failover) };
    if let Some(id) = &change.selected_origin_id {
        if let Some(o) = by_id(id) {
            primary = o;
            secondary = None;
        } else if let Some(group) = dist.origin_groups.iter().find(|g| g.id == *id) {
            primary = dist.origins[group.primary].clone();
            secondary = Some(dist.origins[group.secondary].clone());
            failover = group.failover_statuses.clone();
        }
    }
    if let Some(group) = &change.origin_group {
        let members: Vec<Arc<Origin>> = group.origin_ids.iter().filter_map(|id| by_id(id)).collect();
        if let [first, second, ..] = &members[..] {
            primary = first.clone();
            secondary = Some(second.clone());
            failover = group.failover_status_codes.clone();
        }
    }
    if let Some(update) = &change.update {
        let mut o = (*primary).clone();
        if let Some(domain) = &update.domain_name {
            o.domain_name = domain.clone();
            o.kind = match cachalot_config::validate::s3_bucket_of(domain) {
                Some(bucket) => OriginKind::S3 { bucket: bucket.to_owned() },
                None => match o.kind {
                    OriginKind::Custom { .. } => o.kind,
                    OriginKind::S3 { .. } => {
                        OriginKind::Custom { http_port: 80, https_port: 443, protocol: OriginProtocolPolicy::HttpsOnly }
                    }
                },
            };
        }
        if let Some(path) = &update.origin_path {
            o.origin_path = path.trim_end_matches('/').to_owned();
        }
        if let Some(headers) = &update.custom_headers {
            o.custom_headers = headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        if let Some(n) = update.connection_attempts {
            o.connection_attempts = u32::from(n).clamp(1, 3);
        }
        if let Some(t) = &update.timeouts {
            o.read_timeout_secs = t.read_timeout.unwrap_or(o.read_timeout_secs);
            o.keepalive_timeout_secs = t.keep_alive_timeout.unwrap_or(o.keepalive_timeout_secs);
            o.connection_timeout_secs = t.connection_timeout.unwrap_or(o.connection_timeout_secs);
        }
        if let (Some(c), OriginKind::Custom { http_port, https_port, protocol }) =
            (&update.custom_origin_config, &mut o.kind)
        {
            if let Some(port) = c.port {
                *http_port = port;
                *https_port = port;
            }
            match c.protocol.as_deref() {
                Some("http") => *protocol = OriginProtocolPolicy::HttpOnly,
                Some("https") => *protocol = OriginProtocolPolicy::HttpsOnly,
                _ => {}
            }
        }
        primary = Arc::new(o);
    }
    (primary, secondary, failover)
}

/// Whether an expired copy may stand in for a failed origin: always (§3.6), unless
/// the origin set `stale-if-error`, whose window then applies (`stale-if-error=0` opts out).
fn may_serve_stale(old: &CachedObject, now_ms: u64) -> bool {
    let cc = cachalot_policy::parse::CacheControl::parse(
        old.headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()),
    );
    match cc.stale_if_error {
        Some(_) => old.within_stale_if_error(now_ms),
        None => true,
    }
}

/// Builds the answer a tier gives its downstream for `obj`.
fn answer(
    obj: Arc<CachedObject>,
    how: How,
    layer: Layer,
    origin_latency_ms: Option<u64>,
    downstream: Option<&CachedObject>,
) -> Answer {
    let not_modified = downstream.is_some_and(|d| validators_match(d, &obj));
    Answer { fetched: Fetched::Object(obj), how, layer, origin_latency_ms, not_modified }
}

/// Hop-by-hop headers never relayed to viewers.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// The origin's headers as kept with the object: hop-by-hop removed, `Set-Cookie`
/// removed unless cookies are forwarded (§2.4).
pub(crate) fn response_headers(origin: &HeaderMap, behavior: &Behavior, strip_set_cookie: bool) -> HeaderMap {
    let cookies_forwarded = !behavior.cache.cookies.is_none() || !behavior.origin_request.cookies.is_none();
    let mut out = HeaderMap::with_capacity(origin.len());
    for (name, value) in origin {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n == "content-length" {
            continue;
        }
        if n == "set-cookie" && (!cookies_forwarded || strip_set_cookie) {
            continue;
        }
        if n == "vary" {
            // Only what the edge keys or forwards may vary a response (§6.1).
            let forwards = |h: &str| {
                forwards_header(&behavior.cache, &behavior.origin_request, h)
                    || (h == "user-agent"
                        && forwards_header(&behavior.cache, &behavior.origin_request, "cloudfront-is-mobile-viewer"))
            };
            if let Some(kept) = value.to_str().ok().and_then(|v| filter_vary(v, forwards))
                && let Ok(v) = http::HeaderValue::from_str(&kept)
            {
                out.append(name.clone(), v);
            }
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Compresses `body` for the viewer, off the async workers when it is large.
async fn compress(coding: Coding, body: Bytes) -> Option<Bytes> {
    fn run(coding: Coding, body: &[u8]) -> Option<Bytes> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(body.len() / 3 + 64);
        match coding {
            Coding::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(6));
                enc.write_all(body).ok()?;
                enc.finish().ok()?;
            }
            Coding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams { quality: 5, lgwin: 22, ..Default::default() };
                brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            }
        }
        Some(Bytes::from(out))
    }
    if body.len() < 64 * 1024 {
        run(coding, &body)
    } else {
        tokio::task::spawn_blocking(move || run(coding, &body)).await.ok().flatten()
    }
}

enum Buffered {
    Complete(Bytes),
    TooLarge(Vec<Bytes>, Incoming),
}

/// Reads an origin body up to `limit` bytes, each read bounded by `read_timeout`.
/// A body that ends early (reset, truncation) is an error and is never cached.
async fn read_body(mut body: Incoming, read_timeout: Duration, limit: u64) -> Result<Buffered, OriginError> {
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit) {
        return Ok(Buffered::TooLarge(Vec::new(), body));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(8192).min(limit) as usize);
    let mut chunks: Vec<Bytes> = Vec::new();
    loop {
        let frame = match tokio::time::timeout(
            read_timeout,
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)),
        )
        .await
        {
            Err(_) => return Err(OriginError::Timeout),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(OriginError::Read(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > limit {
                chunks.push(buf.freeze());
                chunks.push(data);
                return Ok(Buffered::TooLarge(chunks, body));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Buffered::Complete(buf.freeze()))
}

/// Turns a relay answer into a viewer body.
pub(crate) fn relay_body(prefix: Vec<Bytes>, rest: Incoming, read_timeout: Duration) -> EdgeBody {
    EdgeBody::relay(prefix, rest, read_timeout)
}
