//! The child side of the tier protocol: send a miss to a parent REC on another node
//! and turn its answer into what a local tier would have answered.

use super::{ANSWER_HEADER, AUTH_HEADER, FleetParent, REQUEST_HEADER, TierAnswer, TierLayer, TierRequest};
use crate::fetch::{Answer, FetchCtx, FetchError, Fetched, How, Incoming, answer_for, read_body, read_timeout};
use crate::origin::{OriginError, PoolKey};
use base64::Engine as _;
use cachalot_cache::CachedObject;
use cachalot_policy::Layer;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body::Body as _;
use http_body_util::{Either, Full};
use std::sync::Arc;
use std::time::Duration;

/// Why a parent did not answer.
pub(crate) enum RemoteFailure {
    /// The parent itself failed (down, refused, truncated): try the next.
    Parent(String),
    /// The parent reached for the origin, which failed: the miss fails as it would here.
    Origin(FetchError),
}

/// Headers never sent on to a parent.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

impl FetchCtx {
    /// Asks `parent` for what hops `i..` hold, as the `i`th hop would answer.
    pub(crate) async fn ask_parent(
        &self,
        i: usize,
        parent: &FleetParent,
        downstream: Option<&CachedObject>,
    ) -> Result<Answer, RemoteFailure> {
        let parent_failed =
            |m: String| RemoteFailure::Parent(format!("parent {} ({}): {m}", parent.node_id, parent.address));
        let request = self.parent_request(i, parent).map_err(parent_failed)?;
        let origin = &self.plan.primary;
        let connect = Duration::from_secs(u64::from(origin.connection_timeout_secs.max(1)));
        // The parent may wait for the origin through all its attempts, and for a shield beyond it.
        let attempts = u64::from(origin.connection_attempts.clamp(1, 3));
        let wait = (connect + read_timeout(origin)) * (2 * attempts as u32) + Duration::from_secs(5);
        let key = PoolKey { https: false, address: parent.address.clone(), server_name: parent.node_id.clone() };
        let mut checkout =
            self.edge.tier_pool.checkout(&key, connect).await.map_err(|e| parent_failed(e.to_string()))?;
        let response = tokio::time::timeout(wait, checkout.sender.send_request(request))
            .await
            .map_err(|_| parent_failed("no answer in time".into()))?
            .map_err(|e| parent_failed(e.to_string()))?;
        let (parts, incoming) = response.into_parts();
        let meta: TierAnswer = parts
            .headers
            .get(ANSWER_HEADER)
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| parent_failed(format!("refused the request ({})", parts.status)))?;
        if let Some((status, detailed, message)) = meta.origin_error {
            return Err(RemoteFailure::Origin(FetchError {
                error: OriginError::from_parent(status, &detailed, message),
                origin_latency_ms: meta.origin_latency_ms,
            }));
        }
        let mut headers = parts.headers;
        for name in [ANSWER_HEADER, header::CONTENT_LENGTH.as_str(), header::CONNECTION.as_str()] {
            headers.remove(name);
        }
        headers.remove(header::TRANSFER_ENCODING);
        let status = parts.status.as_u16();
        let stream = self.edge.tier_pool.stream(incoming, key, checkout.sender, connect);
        let layer = meta.layer.map_or(Layer::Regional, TierLayer::layer);
        let read_timeout = read_timeout(origin);
        let declared = stream.size_hint().exact();
        let limit = if meta.relay { 0 } else { self.buffer_limit(status, &headers, declared) };
        match read_body(stream, read_timeout, limit, &self.edge.in_flight).await {
            Ok(crate::fetch::Buffered::Complete(body)) => {
                let how = match meta.how.as_str() {
                    "Hit" => How::Hit,
                    "Collapsed" => How::Collapsed,
                    "Refreshed" => How::Refreshed,
                    "StaleOnError" => How::StaleOnError,
                    _ => How::Fetched,
                };
                let origin_latency_ms = meta.origin_latency_ms;
                let object = self.object_from_parent(status, headers, body, meta);
                Ok(answer_for(Arc::new(object), how, layer, origin_latency_ms, downstream))
            }
            Ok(crate::fetch::Buffered::TooLarge(prefix, rest)) => {
                // Too large to buffer: streamed on, into this node's disk store when there is one.
                let storable = !meta.relay && meta.ttl_secs > 0;
                let origin_latency_ms = meta.origin_latency_ms;
                let mut object = self.object_from_parent(status, headers, bytes::Bytes::new(), meta);
                object.edge_encoding = None;
                let incoming = Incoming { object, storable, declared, prefix, rest, read_timeout };
                Ok(Answer {
                    fetched: Fetched::Stream(Box::new(incoming)),
                    how: How::Fetched,
                    layer,
                    origin_latency_ms,
                    not_modified: false,
                })
            }
            // A parent that breaks off mid-body: nothing partial is stored; the next parent or the origin is asked.
            Err(e) => Err(parent_failed(format!("the body broke off: {e}"))),
        }
    }

    /// The request for `parent`: the viewer's path and forwardable headers, what the parent
    /// needs to build the same key under the same config (`TierRequest`), signed with the
    /// fleet secret.
    fn parent_request(
        &self,
        i: usize,
        parent: &FleetParent,
    ) -> Result<Request<crate::origin::OriginRequestBody>, String> {
        let meta = TierRequest {
            distribution: self.distribution.id.clone(),
            behavior: self
                .distribution
                .behaviors
                .iter()
                .position(|b| Arc::ptr_eq(b, &self.behavior))
                .unwrap_or(self.distribution.behaviors.len().saturating_sub(1)),
            method: self.inputs.method.as_str().to_owned(),
            hops: self.tiers[i..]
                .iter()
                .filter_map(|h| h.region.clone().map(|r| (r, TierLayer::of(h.layer))))
                .collect(),
            client_ip: self.inputs.client_ip,
            client_port: self.inputs.client_port,
            https: self.inputs.https,
            http10: self.inputs.http10,
            request_id: self.inputs.request_id.clone(),
            host_id: self.inputs.host_id.clone(),
            origin_change: self.origin_change.as_deref().cloned(),
        };
        let meta =
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&meta).map_err(|e| e.to_string())?);
        let target = match &self.inputs.query {
            Some(q) => format!("{}?{q}", self.inputs.path),
            None => self.inputs.path.clone(),
        };
        let mut headers = HeaderMap::with_capacity(self.inputs.headers.len() + 3);
        for (name, value) in &self.inputs.headers {
            if !NOT_FORWARDED.contains(&name.as_str()) && name != header::HOST {
                headers.append(name.clone(), value.clone());
            }
        }
        let fleet = self.edge.fleet.load();
        let auth = super::sign(&fleet.secret, self.now_ms() / 1000, &target, &meta);
        for (name, value) in
            [(header::HOST.as_str(), parent.address.as_str()), (REQUEST_HEADER, &meta), (AUTH_HEADER, &auth)]
        {
            let v = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(http::HeaderName::from_static(name), v);
        }
        let mut request = Request::builder().method(Method::GET).uri(target.as_str());
        if let Some(h) = request.headers_mut() {
            *h = headers;
        }
        request.body(Either::Left(Full::new(bytes::Bytes::new()))).map_err(|e| e.to_string())
    }

    /// The object a parent answered, to store here with the parent's remaining lifetime.
    fn object_from_parent(
        &self,
        status: u16,
        headers: HeaderMap,
        body: bytes::Bytes,
        meta: TierAnswer,
    ) -> CachedObject {
        CachedObject {
            status,
            headers,
            body: body.into(),
            stored_at_ms: self.now_ms().saturating_sub(meta.age_ms),
            ttl_secs: meta.ttl_secs,
            stale_while_revalidate_secs: meta.stale_while_revalidate_secs,
            stale_if_error_secs: meta.stale_if_error_secs,
            invalidation_target: self.key.invalidation_target().into(),
            tags: meta.tags,
            edge_encoding: match meta.edge_encoding.as_deref() {
                Some("br") => Some("br"),
                Some("gzip") => Some("gzip"),
                _ => None,
            },
        }
    }
}
