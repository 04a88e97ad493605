//! The parent side of the tier protocol: a regional cache listener answering the
//! misses of other nodes' POPs from this node's REC (and beyond: shield, origin),
//! with collapsing, and refusing anything that is not signed with the fleet's secret.

use super::{ANSWER_HEADER, AUTH_HEADER, Hop, HopKind, REQUEST_HEADER, TierAnswer, TierLayer, TierRequest};
use crate::body::EdgeBody;
use crate::edge::{Edge, EdgeInner};
use crate::fetch::{self, Answer, FetchCtx, FetchError, Fetched, OriginInputs};
use crate::viewer::ConnInfo;
use base64::Engine as _;
use cachalot_policy::cache_key;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves the regional edge cache of `region` to the fleet's other nodes on `listener`
/// until `shutdown` turns true.
pub async fn serve_regional(
    edge: Edge,
    region: String,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let inner = edge.inner.clone();
    let limits = inner.listener_limits;
    let region: Arc<str> = region.into();
    let services = move |_: ConnInfo| {
        let inner = inner.clone();
        let region = region.clone();
        service_fn(move |req| {
            let (inner, region) = (inner.clone(), region.clone());
            // Boxed once, as the POP's requests are (see `listener::serve_pop`).
            let answered = Box::pin(async move { answer_child(inner, &region, req).await });
            async move { Ok::<_, std::convert::Infallible>(answered.await) }
        })
    };
    crate::listener::serve_http(listener, None, limits, shutdown, grace, services).await;
}

fn refusal(status: StatusCode, why: &'static str) -> Response<EdgeBody> {
    let mut resp = Response::new(EdgeBody::full(bytes::Bytes::from_static(why.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// Answers one child's miss.
async fn answer_child(inner: Arc<EdgeInner>, region: &str, req: Request<Incoming>) -> Response<EdgeBody> {
    let (parts, _body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (meta_text, auth) = (text(REQUEST_HEADER), text(AUTH_HEADER));
    let secret = inner.fleet.load().secret.clone();
    if !super::verify(&secret, inner.clock.now_ms() / 1000, &target, meta_text, auth) {
        return refusal(StatusCode::FORBIDDEN, "this listener serves the fleet's tiers only\n");
    }
    let Some(meta) = base64::engine::general_purpose::STANDARD
        .decode(meta_text)
        .ok()
        .and_then(|json| serde_json::from_slice::<TierRequest>(&json).ok())
    else {
        return refusal(StatusCode::BAD_REQUEST, "unreadable tier request\n");
    };
    let Some(((own_region, own_layer), rest)) = meta.hops.split_first().filter(|(h, _)| h.0 == region) else {
        return refusal(StatusCode::MISDIRECTED_REQUEST, "this node does not host that regional cache\n");
    };
    let published = inner.published.load_full();
    let Some(dist) = published.snapshot.distribution(&meta.distribution).cloned() else {
        return refusal(StatusCode::NOT_FOUND, "unknown distribution (configuration not yet here)\n");
    };
    let Some(behavior) = dist.behaviors.get(meta.behavior).cloned() else {
        return refusal(StatusCode::NOT_FOUND, "unknown behavior (configuration not yet here)\n");
    };
    let Ok(method) = Method::from_bytes(meta.method.as_bytes()) else {
        return refusal(StatusCode::BAD_REQUEST, "unreadable method\n");
    };
    let mut headers = parts.headers.clone();
    for name in [REQUEST_HEADER, AUTH_HEADER, header::HOST.as_str()] {
        headers.remove(name);
    }
    let (path, query) = (parts.uri.path().to_owned(), parts.uri.query().map(str::to_owned));
    let mut inputs = OriginInputs {
        method,
        path,
        query,
        headers,
        client_ip: meta.client_ip,
        client_port: meta.client_port,
        https: meta.https,
        http10: meta.http10,
        protocol_version: if meta.http10 { "HTTP/1.0" } else { "HTTP/1.1" },
        encoding: cachalot_policy::NormalizedEncoding::NotNormalized,
        request_id: meta.request_id.clone(),
        host_id: meta.host_id.clone(),
    };
    // The key is this node's, from the same configuration: keys are a function of config and request.
    let (key, encoding) = cache_key(&dist.id, &behavior.cache, &inputs.viewer());
    inputs.encoding = encoding;
    let plan = cachalot_policy::origin::resolve(&dist, &behavior, meta.origin_change.as_ref());
    let mut tiers = vec![Hop {
        region: Some(own_region.clone()),
        layer: own_layer.layer(),
        kind: HopKind::Local(inner.rec(own_region)),
    }];
    tiers.extend(inner.hops(rest.iter().map(|(r, l)| (r.clone(), l.layer())), &key));
    let collapse = cachalot_policy::ttl::collapsing_allowed(&behavior.cache, &behavior.origin_request);
    let ctx = FetchCtx {
        edge: inner.clone(),
        distribution: dist,
        behavior,
        key,
        inputs: Arc::new(inputs),
        plan: Arc::new(plan),
        origin_change: meta.origin_change.map(Arc::new),
        tiers: Arc::new(tiers),
        collapse,
    };
    let now = inner.clock.now_ms();
    match ctx.fetch_tier(0, None).await {
        Ok(answer) => encode(answer, now),
        Err(e) => encode_failure(&e),
    }
}

fn with_answer(mut resp: Response<EdgeBody>, meta: &TierAnswer) -> Response<EdgeBody> {
    let json = serde_json::to_vec(meta).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json)) {
        resp.headers_mut().insert(ANSWER_HEADER, v);
    }
    resp
}

fn encode(answer: Answer, now_ms: u64) -> Response<EdgeBody> {
    let mut meta = TierAnswer {
        how: answer.how.as_str().to_owned(),
        layer: Some(TierLayer::of(answer.layer)),
        origin_latency_ms: answer.origin_latency_ms,
        ..TierAnswer::default()
    };
    let resp = match answer.fetched {
        Fetched::Object(obj) => {
            meta.age_ms = now_ms.saturating_sub(obj.stored_at_ms);
            meta.ttl_secs = obj.ttl_secs;
            meta.stale_while_revalidate_secs = obj.stale_while_revalidate_secs;
            meta.stale_if_error_secs = obj.stale_if_error_secs;
            meta.tags = obj.tags.clone();
            meta.edge_encoding = obj.edge_encoding.map(str::to_owned);
            // A body on disk is sent from its file, as it grows when it is still arriving.
            let mut resp = Response::new(crate::deliver::object_body(&obj, None));
            *resp.status_mut() = StatusCode::from_u16(obj.status).unwrap_or(StatusCode::BAD_GATEWAY);
            *resp.headers_mut() = obj.headers.to_map();
            if let Some(len) = obj.body.len() {
                resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            resp
        }
        Fetched::Stream(incoming) => {
            // Not stored here: relayed, with what the child needs to store it when policy allows.
            let status = incoming.status();
            let fetch::Incoming { object, storable, declared, prefix, rest, read_timeout } = *incoming;
            meta.age_ms = now_ms.saturating_sub(object.stored_at_ms);
            meta.ttl_secs = object.ttl_secs;
            meta.stale_while_revalidate_secs = object.stale_while_revalidate_secs;
            meta.stale_if_error_secs = object.stale_if_error_secs;
            meta.tags = object.tags;
            meta.relay = !storable;
            let mut resp = Response::new(EdgeBody::relay(prefix, rest, read_timeout));
            *resp.status_mut() = status;
            *resp.headers_mut() = object.headers.to_map();
            if let Some(len) = declared {
                resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            resp
        }
    };
    with_answer(resp, &meta)
}

fn encode_failure(e: &FetchError) -> Response<EdgeBody> {
    let status = e.error.status();
    let meta = TierAnswer {
        origin_error: Some((status, e.error.detailed().as_str().to_owned(), e.error.to_string())),
        origin_latency_ms: e.origin_latency_ms,
        ..TierAnswer::default()
    };
    let mut resp = Response::new(EdgeBody::empty());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    with_answer(resp, &meta)
}
