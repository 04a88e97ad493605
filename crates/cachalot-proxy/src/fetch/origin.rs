//! The origin steps of a miss: shape the request (`cachalot_policy::forward`), send
//! it to the plan's origin and fail over to the secondary when policy says so,
//! refresh a stale copy on `304`, and turn a response into the object to store.

use super::{Answer, FetchCtx, FetchError, Fetched, How, Incoming};
use crate::origin::{OriginBody, OriginCall, OriginError, OriginResponse, OriginStream, ViewerBody};
use bytes::{Bytes, BytesMut};
use cachalot_cache::{CachedObject, StoredHeaders};
use cachalot_config::model::{Behavior, Origin};
use cachalot_policy::compress::{self, Coding};
use cachalot_policy::forward::{EdgeIdentity, origin_request, viewer_response_headers};
use cachalot_policy::origin::OriginPlan;
use cachalot_policy::ttl::{self, Storage};
use cachalot_policy::{Layer, conditional};
use http::{HeaderMap, HeaderValue, Method, header};
use http_body::Body as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The largest body CloudFront caches (its quota page: 50 GB per GET response).
pub(crate) const MAX_CACHEABLE_BYTES: u64 = 50_000_000_000;

/// Bodies up to this size are read whole even when a tier on the way is too small to keep
/// them: a stream costs more than the copy (a POP with a tiny cache asking its regional
/// cache's node fell from 34k to 10k req/s on 1 KiB objects when they were streamed), and
/// the edge's in-flight budget still bounds what buffered bodies hold together.
const ALWAYS_BUFFERED_BYTES: u64 = 64 * 1024;

/// Memory that bodies being buffered from upstream may hold together. A body that would
/// take more is streamed instead.
#[derive(Debug)]
pub(crate) struct InFlight {
    used: AtomicU64,
    budget: u64,
}

impl InFlight {
    pub(crate) fn new(budget: u64) -> Self {
        InFlight { used: AtomicU64::new(0), budget }
    }

    fn take(&self, n: u64) -> bool {
        self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| (u + n <= self.budget).then_some(u + n)).is_ok()
    }

    fn give(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes held now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// The origin's response timeout, which also bounds each read of its body (§12.2).
pub(crate) fn read_timeout(origin: &Origin) -> Duration {
    Duration::from_secs(u64::from(origin.read_timeout_secs.max(1)))
}

/// The request for `origin`: what policy forwards (§2.6), with the plan's `Host` override.
pub(crate) fn origin_request_for<'a>(
    inputs: &'a super::OriginInputs,
    behavior: &Behavior,
    plan: &'a OriginPlan,
    origin: &Origin,
    body: Option<ViewerBody>,
) -> OriginCall<'a> {
    let shaped = origin_request(
        &inputs.viewer(),
        &behavior.cache,
        &behavior.origin_request,
        origin,
        inputs.encoding,
        EdgeIdentity { host_id: &inputs.host_id, request_id: &inputs.request_id },
        body.is_some(),
    );
    let mut headers = shaped.headers;
    if let Some(host) = plan.host_header.as_deref().and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(header::HOST, host);
    }
    OriginCall {
        method: inputs.method.clone(),
        path_and_query: shaped.path_and_query,
        headers,
        body,
        payload: None,
        viewer_https: inputs.https,
        server_name: plan.sni.as_deref(),
    }
}

impl FetchCtx {
    /// Fetches from the plan's origin, failing over to the secondary when the primary
    /// fails or answers a failover status (§12.3); `stale` is revalidated when given.
    pub(super) async fn fetch_origin(&self, stale: Option<Arc<CachedObject>>) -> Result<Answer, FetchError> {
        let plan = self.plan.clone();
        let method = &self.inputs.method;
        let first = self.call_origin(&plan.primary, stale.as_deref()).await;
        let fail_over = match &first {
            Ok(resp) => plan.fails_over_on_status(method, resp.status.as_u16()),
            Err(_) => plan.fails_over_on_error(method),
        };
        match (&plan.secondary, fail_over) {
            (Some(secondary), true) => {
                let second = self.call_origin(secondary, stale.as_deref()).await;
                self.finish_origin(secondary, second, stale).await
            }
            _ => self.finish_origin(&plan.primary, first, stale).await,
        }
    }

    async fn call_origin(&self, origin: &Origin, stale: Option<&CachedObject>) -> Result<OriginResponse, OriginError> {
        let mut call = origin_request_for(&self.inputs, &self.behavior, &self.plan, origin, None);
        // A cacheable miss fetches the whole object: viewer conditionals and ranges are answered from it.
        for h in [
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_MATCH,
            header::IF_UNMODIFIED_SINCE,
            header::IF_RANGE,
            header::RANGE,
        ] {
            call.headers.remove(h);
        }
        if let Some(old) = stale {
            for (name, value) in conditional::revalidation_headers(&old.headers.to_map()) {
                call.headers.insert(name, value);
            }
        }
        // HEAD misses fetch with GET so the object can be stored for later GETs.
        if call.method == Method::HEAD {
            call.method = Method::GET;
        }
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
            let merged = conditional::merge_not_modified(&old.headers.to_map(), &resp.headers);
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
        let read_timeout = read_timeout(origin);
        let headers = viewer_response_headers(
            &resp.headers,
            &self.behavior.cache,
            &self.behavior.origin_request,
            storage.strip_set_cookie,
        );
        let body = match resp.body {
            OriginBody::Full(b) => b,
            OriginBody::Stream(stream) => {
                let declared = stream.size_hint().exact();
                let storable = storage.ttl.is_some_and(|t| t > 0);
                if storable && declared.is_some_and(|n| n > MAX_CACHEABLE_BYTES) {
                    // CloudFront closes the connection and answers an error (its Range GET page).
                    return Err(FetchError {
                        error: OriginError::Read("the object is larger than 50 GB, the most that is cached".into()),
                        origin_latency_ms: latency,
                    });
                }
                let limit = self.buffer_limit(status, &headers, declared);
                match read_body(stream, read_timeout, limit, &self.edge.in_flight).await {
                    Ok(Buffered::Complete(b)) => b,
                    Ok(Buffered::TooLarge(prefix, rest)) => {
                        let object = self.object_meta(status, headers, &storage, &resp.headers, now);
                        let incoming = Incoming { object, storable, declared, prefix, rest, read_timeout };
                        return Ok(Answer {
                            fetched: Fetched::Stream(Box::new(incoming)),
                            how: How::Fetched,
                            layer: Layer::Origin,
                            origin_latency_ms: latency,
                            not_modified: false,
                        });
                    }
                    Err(error) => return Err(FetchError { error, origin_latency_ms: latency }),
                }
            }
        };
        let obj = self.stored_object(status, headers, body, &storage, &resp.headers, now).await;
        Ok(Answer {
            fetched: Fetched::Object(Arc::new(obj)),
            how: How::Fetched,
            layer: Layer::Origin,
            origin_latency_ms: latency,
            not_modified: false,
        })
    }

    /// The most a body may take in memory on this miss: what the smallest memory tier on
    /// the way takes, but never less than [`ALWAYS_BUFFERED_BYTES`] (and at most
    /// `max_object_bytes`), or its whole announced length when the edge will compress it
    /// (compression needs the whole body; at most 10 MB).
    pub(crate) fn buffer_limit(&self, status: u16, headers: &HeaderMap, declared: Option<u64>) -> u64 {
        let memory = self.tiers.iter().filter_map(|h| h.local()).map(|t| t.memory_object_limit()).min();
        let limit = memory.unwrap_or(u64::MAX).max(ALWAYS_BUFFERED_BYTES).min(self.edge.max_object_bytes);
        match declared {
            Some(n)
                if n > limit
                    && usize::try_from(n).is_ok_and(|n| {
                        compress::choose(&self.behavior, self.inputs.encoding, status, headers, n).is_some()
                    }) =>
            {
                n
            }
            _ => limit,
        }
    }

    /// The object a response becomes: compressed for the viewer when policy says so (§5.4),
    /// with its TTL, stale windows and cache tags.
    async fn stored_object(
        &self,
        status: u16,
        mut headers: HeaderMap,
        mut body: Bytes,
        storage: &Storage,
        origin_headers: &HeaderMap,
        now: u64,
    ) -> CachedObject {
        let mut edge_encoding = None;
        if let Some(coding) = compress::choose(&self.behavior, self.inputs.encoding, status, &headers, body.len())
            && let Some(compressed) = compress_body(coding, body.clone()).await
        {
            body = compressed;
            edge_encoding = Some(coding.token());
            compress::encoded_headers(&mut headers, coding);
        }
        CachedObject {
            body: body.into(),
            edge_encoding,
            ..self.object_meta(status, headers, storage, origin_headers, now)
        }
    }

    /// The object a response becomes, without its body: TTL, stale windows, cache tags.
    fn object_meta(
        &self,
        status: u16,
        headers: HeaderMap,
        storage: &Storage,
        origin_headers: &HeaderMap,
        now: u64,
    ) -> CachedObject {
        let tags = match &self.distribution.cache_tag_header {
            Some(h) => cachalot_policy::invalidation::cache_tags(origin_headers, h),
            None => Vec::new(),
        };
        CachedObject {
            status,
            // Packed: a copy that owns its bytes, so the origin connection's read buffer
            // (which parsed values share) is not kept alive by a stored object.
            headers: StoredHeaders::from_map(&headers),
            body: Bytes::new().into(),
            stored_at_ms: now,
            ttl_secs: storage.ttl.unwrap_or(0),
            stale_while_revalidate_secs: storage.stale_while_revalidate,
            stale_if_error_secs: storage.stale_if_error,
            invalidation_target: self.key.invalidation_target().into(),
            tags,
            edge_encoding: None,
        }
    }

    fn storage(&self, status: u16, headers: &HeaderMap, now_ms: u64) -> Storage {
        let error_min = self.distribution.custom_error_responses.get(&status).and_then(|c| c.error_caching_min_ttl);
        let storage = ttl::storage(
            &self.behavior.cache,
            &self.behavior.origin_request,
            status,
            headers,
            now_ms / 1000,
            error_min,
        );
        if self.behavior.cached_methods.contains(self.inputs.method.as_str()) {
            storage
        } else {
            Storage { ttl: None, source: None, not_stored: Some(ttl::NotStoredReason::MethodNotCached), ..storage }
        }
    }
}

/// Compresses `body` for the viewer, off the async workers when it is large.
async fn compress_body(coding: Coding, body: Bytes) -> Option<Bytes> {
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

pub(crate) enum Buffered {
    Complete(Bytes),
    TooLarge(Vec<Bytes>, OriginStream),
}

/// Reads an upstream body up to `limit` bytes while the in-flight budget has room, each
/// read bounded by `read_timeout`. A body that ends early (reset, truncation) is an error
/// and is never cached; one that would go past the limit or the budget comes back as the
/// bytes read so far and the rest of the stream.
pub(crate) async fn read_body(
    mut body: OriginStream,
    read_timeout: Duration,
    limit: u64,
    in_flight: &InFlight,
) -> Result<Buffered, OriginError> {
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit) {
        return Ok(Buffered::TooLarge(Vec::new(), body));
    }
    /// Gives the budget back whatever way the read ends.
    struct Held<'a>(&'a InFlight, u64);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.0.give(self.1);
        }
    }
    let mut held = Held(in_flight, 0);
    let mut buf = BytesMut::new();
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
            let n = data.len() as u64;
            if (buf.len() as u64 + n) > limit || !in_flight.take(n) {
                return Ok(Buffered::TooLarge(vec![buf.freeze(), data], body));
            }
            held.1 += n;
            if buf.is_empty() {
                buf.reserve(declared.unwrap_or(8192).min(limit) as usize);
            }
            buf.extend_from_slice(&data);
        }
    }
    // A stored body must not keep a larger buffer alive than it needs.
    if buf.capacity() > buf.len() + buf.len() / 8 {
        return Ok(Buffered::Complete(Bytes::copy_from_slice(&buf)));
    }
    Ok(Buffered::Complete(buf.freeze()))
}
