//! The steps that produce the response: Lookup (the POP's cache, then the origin side
//! in `crate::fetch`) and Pass (uncached requests straight to the origin), and the
//! delivery of what they found (viewer conditionals, ranges, HEAD).

use super::exchange::{Exchange, Exit, Outcome, Route, header_text};
use crate::body::EdgeBody;
use crate::deliver;
use crate::fetch::{Answer, Fetched, How, Incoming, origin_request_for, read_timeout};
use crate::origin::{OriginBody, ViewerBody};
use cachalot_cache::Lookup;
use cachalot_policy::{CacheKey, DetailedResultType, Layer, NormalizedEncoding, ResultType, Served};
use http::{Method, Response, header};
use std::sync::atomic::Ordering;

impl Exchange {
    /// Lookup: a fresh copy in the POP's cache, or the origin side (tiers, collapsing,
    /// revalidation, origin) for a miss.
    pub(super) async fn lookup(&mut self, route: &Route, key: (CacheKey, NormalizedEncoding)) -> Result<Outcome, Exit> {
        let (key, encoding) = key;
        let now = self.edge.clock.now_ms();
        if let Lookup::Fresh(obj) = self.pop().tier.lookup(&key, now).await {
            let answer = Answer {
                fetched: Fetched::Object(obj),
                how: How::Hit,
                layer: Layer::Edge,
                origin_latency_ms: None,
                not_modified: false,
            };
            return Ok(self.deliver(route, answer, Layer::Edge));
        }
        let plan = self.origin_plan(&route.dist, &route.behavior);
        let ctx = self.fetch_ctx(route, key.clone(), self.inputs(encoding), plan);
        let upstream = ctx.tiers.last().map_or(Layer::Edge, |t| t.layer);
        match ctx.fetch_tier(0, None).await {
            // Too large to buffer and stored nowhere on the way: rather than relaying the whole
            // object for a range, ask the origin for the range, as CloudFront forwards `Range`.
            Ok(Answer { fetched: Fetched::Stream(incoming), .. })
                if self.parts.method == Method::GET
                    && incoming.object.status == 200
                    && self.parts.headers.contains_key(header::RANGE) =>
            {
                drop(incoming);
                self.forward(route, (key, encoding), true).await
            }
            Ok(answer) => Ok(self.deliver(route, answer, upstream)),
            Err(e) => Err(Exit::OriginFailed(e)),
        }
    }

    /// Deliver: the viewer's response for what a tier answered.
    fn deliver(&self, route: &Route, answer: Answer, upstream: Layer) -> Outcome {
        let head = self.parts.method == Method::HEAD;
        let served = answer.served();
        let outcome = |response: Response<EdgeBody>, origin_status: u16| Outcome {
            response,
            served,
            origin_status,
            age: None,
            layer: Some(answer.layer),
            upstream,
            origin_latency_ms: answer.origin_latency_ms,
            origin_timing: None,
            range: None,
            close: false,
            logged: true,
        };
        match answer.fetched {
            Fetched::Object(obj) => {
                let conditionals = cachalot_policy::ttl::viewer_conditionals_supported(
                    &route.behavior.cache,
                    &route.behavior.origin_request,
                );
                let (response, range) = deliver::object_for_viewer(&obj, &self.parts.headers, head, conditionals);
                let mut o = outcome(response, obj.status);
                o.age = Some(obj.age_secs(self.edge.clock.now_ms()));
                o.range = range;
                if served != Served::Cached(Layer::Edge) {
                    o.origin_timing = header_text(&obj.headers, header::HeaderName::from_static("server-timing"));
                }
                o
            }
            Fetched::Stream(incoming) => {
                // Not stored here (no disk store, or policy says no): relayed as it arrives.
                let status = incoming.status();
                let declared = incoming.declared;
                let Incoming { object, prefix, rest, read_timeout, .. } = *incoming;
                let body = if head { EdgeBody::empty() } else { EdgeBody::relay(prefix, rest, read_timeout) };
                let mut response = Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = object.headers;
                if let Some(len) = declared {
                    response.headers_mut().insert(header::CONTENT_LENGTH, len.into());
                }
                outcome(response, status.as_u16())
            }
        }
    }

    /// Pass: a request whose response is never cached goes to the origin, body and
    /// all, with the behavior's failover for GET, HEAD and OPTIONS (§12.3).
    pub(super) async fn pass(&mut self, route: &Route, key: (CacheKey, NormalizedEncoding)) -> Result<Outcome, Exit> {
        self.forward(route, key, false).await
    }

    /// Sends the viewer's request to the origin and relays the answer; `range`: with the
    /// viewer's `Range` and `If-Range` (CloudFront forwards them: RangeGETs page).
    async fn forward(
        &mut self,
        route: &Route,
        key: (CacheKey, NormalizedEncoding),
        range: bool,
    ) -> Result<Outcome, Exit> {
        let inputs = self.inputs(key.1);
        let plan = self.origin_plan(&route.dist, &route.behavior);
        let body = if self.has_body() { self.body.take().map(ViewerBody::new) } else { None };
        let viewer_failed = body.as_ref().map(ViewerBody::failure_flag);
        let has_body = body.is_some();
        let mut origin = plan.primary.clone();
        let mut call = origin_request_for(&inputs, &route.behavior, &plan, &origin, body);
        if let Some(len) = self.parts.headers.get(header::CONTENT_LENGTH).filter(|_| has_body) {
            call.headers.insert(header::CONTENT_LENGTH, len.clone());
        }
        let ranges = [header::RANGE, header::IF_RANGE].map(|h| (self.parts.headers.get(&h).cloned(), h));
        for (value, name) in ranges.iter().filter(|_| range) {
            if let Some(v) = value {
                call.headers.insert(name.clone(), v.clone());
            }
        }
        let mut sent = self.edge.origins.send(&origin, call).await;
        let fail_over = match &sent {
            Ok(r) => plan.fails_over_on_status(&inputs.method, r.status.as_u16()),
            Err(_) => plan.fails_over_on_error(&inputs.method),
        };
        if let (Some(secondary), true, false) = (&plan.secondary, fail_over, has_body) {
            origin = secondary.clone();
            let mut call = origin_request_for(&inputs, &route.behavior, &plan, &origin, None);
            for (value, name) in ranges.iter().filter(|_| range) {
                if let Some(v) = value {
                    call.headers.insert(name.clone(), v.clone());
                }
            }
            sent = self.edge.origins.send(&origin, call).await;
        }
        let resp = match sent {
            Ok(r) => r,
            Err(_) if viewer_failed.as_ref().is_some_and(|f| f.load(Ordering::Acquire)) => {
                // The viewer's body broke (a bad chunk, a reset): the viewer's fault, not the origin's.
                return Err(Exit::Refuse(cachalot_policy::viewer::Rejection {
                    status: 400,
                    result: ResultType::Error,
                    detailed: DetailedResultType::InvalidRequest,
                    message: "Bad request. The request body could not be read.",
                    close: true,
                    logged: true,
                }));
            }
            Err(error) => return Err(Exit::OriginFailed(crate::fetch::FetchError { error, origin_latency_ms: None })),
        };
        let mut headers = cachalot_policy::forward::viewer_response_headers(
            &resp.headers,
            &route.behavior.cache,
            &route.behavior.origin_request,
            false,
        );
        // The body is relayed as the origin framed it.
        for name in [header::CONTENT_LENGTH, header::CONTENT_RANGE] {
            if let Some(v) = resp.headers.get(&name) {
                headers.insert(name, v.clone());
            }
        }
        let body = match (resp.body, inputs.method == Method::HEAD) {
            (_, true) => EdgeBody::empty(),
            (OriginBody::Full(b), false) => EdgeBody::full(b),
            (OriginBody::Stream(s), false) => EdgeBody::relay(Vec::new(), s, read_timeout(&origin)),
        };
        let mut response = Response::new(body);
        *response.status_mut() = resp.status;
        *response.headers_mut() = headers;
        if inputs.method == Method::HEAD
            && let Some(len) = resp.headers.get(header::CONTENT_LENGTH)
        {
            response.headers_mut().insert(header::CONTENT_LENGTH, len.clone());
        }
        Ok(Outcome {
            response,
            served: Served::Origin,
            origin_status: resp.status.as_u16(),
            age: None,
            layer: Some(Layer::Origin),
            upstream: Layer::Origin,
            origin_latency_ms: Some(resp.first_byte_ms),
            origin_timing: None,
            range: served_range(&resp.headers),
            close: false,
            logged: true,
        })
    }
}

/// The range a relayed `Content-Range: bytes start-end/len` covers, for the log.
fn served_range(headers: &http::HeaderMap) -> Option<(u64, u64)> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (start, end) = v.strip_prefix("bytes ")?.split('/').next()?.split_once('-')?;
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?))
}
