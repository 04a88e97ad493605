//! The exchange: one viewer request's context as it moves through the steps, the
//! [`Outcome`] every step works towards, the early [`Exit`]s, and `finish`, which
//! derives CloudFront's headers and the log summary from the outcome alone.

use super::ConnInfo;
use crate::body::EdgeBody;
use crate::deliver::{self, cloudfront_headers};
use crate::edge::{EdgeInner, Published};
use crate::fetch::{FetchCtx, FetchError, OriginInputs};
use crate::summary::RequestSummary;
use cachalot_config::model::{Behavior, Distribution};
use cachalot_config::origin_override::OriginOverride;
use cachalot_policy::origin::OriginPlan;
use cachalot_policy::viewer::Rejection;
use cachalot_policy::{CacheKey, DetailedResultType, Layer, NormalizedEncoding, ResultType, Served};
use http::{HeaderMap, HeaderValue, Request, Response, Version, header};
use http_body::Body as _;
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Instant;

/// One request in flight.
pub(crate) struct Exchange {
    pub(super) edge: Arc<EdgeInner>,
    pub(super) pop_index: usize,
    pub(super) conn: ConnInfo,
    pub(super) request_id: String,
    pub(super) started: Instant,
    /// The log line being filled in.
    pub(super) summary: RequestSummary,
    /// The viewer's request line and headers (headers as a viewer-request function left them).
    pub(super) parts: http::request::Parts,
    /// The viewer's body, until the pass step takes it.
    pub(super) body: Option<Incoming>,
    pub(super) header_bytes: usize,
    pub(super) url_bytes: usize,
    /// The viewer's `Host`.
    pub(super) host: String,
    /// The raw path: as received (default root object applied), or as a function rewrote it.
    pub(super) path: String,
    /// The raw query string, or as a function rewrote it.
    pub(super) query: Option<String>,
    /// What requests start on: the snapshot and its compiled functions.
    pub(super) published: Arc<Published>,
    /// The distribution and behavior, once routed.
    pub(super) route: Option<Route>,
    /// Origin changes a viewer-request function asked for.
    pub(super) origin_change: Option<Arc<OriginOverride>>,
}

/// The distribution and behavior a request was routed to.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) dist: Arc<Distribution>,
    pub(crate) behavior: Arc<Behavior>,
}

/// A step ending the request early; `synth` turns it into an [`Outcome`].
pub(crate) enum Exit {
    /// CloudFront refuses the request with one of its error pages.
    Refuse(Rejection),
    /// CloudFront redirects (HTTP → HTTPS).
    Redirect { status: u16, location: String },
    /// A function answered, or failed: the response and what to log.
    Generated(Box<Response<EdgeBody>>, ResultType, DetailedResultType),
    /// The origin side failed; a custom error page may stand in.
    OriginFailed(FetchError),
}

impl Exit {
    /// A logged CloudFront error page.
    pub(crate) fn error(status: u16, result: ResultType, detailed: DetailedResultType, message: &'static str) -> Self {
        Exit::Refuse(Rejection { status, result, detailed, message, close: false, logged: true })
    }
}

/// What the viewer gets, and the facts its headers and log line are derived from.
pub(crate) struct Outcome {
    pub(crate) response: Response<EdgeBody>,
    /// How the edge came by the response.
    pub(crate) served: Served,
    /// Status of the object or origin response behind the response.
    pub(crate) origin_status: u16,
    /// Seconds the copy has been cached (`age`).
    pub(crate) age: Option<u64>,
    /// The tier that answered.
    pub(crate) layer: Option<Layer>,
    /// The furthest tier a miss reaches (Server-Timing `cdn-upstream-layer`).
    pub(crate) upstream: Layer,
    pub(crate) origin_latency_ms: Option<u64>,
    /// The origin's own `Server-Timing`, merged on misses.
    pub(crate) origin_timing: Option<String>,
    /// The byte range served.
    pub(crate) range: Option<(u64, u64)>,
    /// Close the connection after this response.
    pub(crate) close: bool,
    /// Log the request.
    pub(crate) logged: bool,
}

impl Outcome {
    /// A response CloudFront made itself.
    pub(crate) fn generated(response: Response<EdgeBody>, result: ResultType, detailed: DetailedResultType) -> Self {
        let status = response.status().as_u16();
        Outcome {
            response,
            served: Served::Generated(result, detailed),
            origin_status: status,
            age: None,
            layer: None,
            upstream: Layer::Edge,
            origin_latency_ms: None,
            origin_timing: None,
            range: None,
            close: false,
            logged: true,
        }
    }
}

pub(super) fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

pub(super) fn header_text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

impl Exchange {
    pub(super) fn new(edge: Arc<EdgeInner>, pop_index: usize, conn: ConnInfo, req: Request<Incoming>) -> Self {
        let started = Instant::now();
        let start_ms = edge.clock.now_ms();
        let request_id = crate::ids::request_id();
        let (parts, body) = req.into_parts();
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().map(str::to_owned);
        let url_bytes = parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
            + parts.uri.authority().map_or(0, |a| a.as_str().len())
            + parts.uri.scheme_str().map_or(0, |s| s.len() + 3);
        let header_bytes: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>()
            + parts.method.as_str().len()
            + url_bytes
            + 12;
        let summary = RequestSummary {
            end_ms: start_ms,
            start_ms,
            pop: edge.pops[pop_index].id.clone(),
            distribution_id: None,
            distribution_domain: None,
            behavior: None,
            client_ip: conn.remote.ip(),
            client_port: conn.remote.port(),
            method: parts.method.clone(),
            host_header: host.clone(),
            uri_stem: path.clone(),
            query: query.clone(),
            status: 0,
            referer: header_text(&parts.headers, header::REFERER),
            user_agent: header_text(&parts.headers, header::USER_AGENT),
            cookie: header_text(&parts.headers, header::COOKIE),
            result: ResultType::Error,
            response_result: ResultType::Error,
            detailed: DetailedResultType::Error,
            request_id: request_id.clone(),
            protocol: if conn.https { "https" } else { "http" },
            protocol_version: protocol_version(parts.version),
            request_bytes: header_bytes as u64 + body.size_hint().exact().unwrap_or(0),
            response_bytes: 0,
            first_byte_ms: 0,
            time_taken_ms: 0,
            content_type: None,
            content_length: None,
            range: None,
            x_forwarded_for: header_text(&parts.headers, header::HeaderName::from_static("x-forwarded-for")),
            ssl_protocol: conn.tls_protocol,
            ssl_cipher: conn.tls_cipher.clone(),
            origin_latency_ms: None,
            country: None,
            layer: None,
            function_ran: false,
        };
        let published = edge.published.load_full();
        Exchange {
            edge,
            pop_index,
            conn,
            request_id,
            started,
            summary,
            parts,
            body: Some(body),
            header_bytes,
            url_bytes,
            host,
            path,
            query,
            published,
            route: None,
            origin_change: None,
        }
    }

    pub(super) fn pop(&self) -> &crate::edge::Pop {
        &self.edge.pops[self.pop_index]
    }

    /// What the origin side needs of this request, owned.
    pub(super) fn inputs(&self, encoding: NormalizedEncoding) -> OriginInputs {
        OriginInputs {
            method: self.parts.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.parts.headers.clone(),
            client_ip: self.conn.remote.ip(),
            client_port: self.conn.remote.port(),
            https: self.conn.https,
            http10: self.parts.version < Version::HTTP_11,
            protocol_version: protocol_version(self.parts.version),
            encoding,
            request_id: self.request_id.clone(),
            host_id: self.pop().host_id.clone(),
        }
    }

    /// Where a miss of `behavior` goes (the function's origin changes applied first).
    pub(super) fn origin_plan(&self, dist: &Distribution, behavior: &Behavior) -> OriginPlan {
        cachalot_policy::origin::resolve(dist, behavior, self.origin_change.as_deref())
    }

    /// The origin side of a miss for `key` under `route`, going where `plan` says.
    pub(super) fn fetch_ctx(&self, route: &Route, key: CacheKey, inputs: OriginInputs, plan: OriginPlan) -> FetchCtx {
        FetchCtx {
            tiers: Arc::new(self.edge.tiers_for(self.pop_index, &plan.primary, &key)),
            origin_change: self.origin_change.clone(),
            edge: self.edge.clone(),
            distribution: route.dist.clone(),
            behavior: route.behavior.clone(),
            key,
            inputs: Arc::new(inputs),
            plan: Arc::new(plan),
            collapse: cachalot_policy::ttl::collapsing_allowed(&route.behavior.cache, &route.behavior.origin_request),
        }
    }

    /// Turns an early exit into the response CloudFront gives.
    pub(super) async fn synth(&mut self, exit: Exit) -> Outcome {
        match exit {
            Exit::Refuse(r) => {
                let page = deliver::error_page(r.status, r.message, &self.request_id);
                Outcome { close: r.close, logged: r.logged, ..Outcome::generated(page, r.result, r.detailed) }
            }
            Exit::Redirect { status, location } => Outcome::generated(
                deliver::redirect(status, &location),
                ResultType::Redirect,
                DetailedResultType::Redirect,
            ),
            Exit::Generated(response, result, detailed) => Outcome::generated(*response, result, detailed),
            Exit::OriginFailed(e) => {
                self.summary.origin_latency_ms = e.origin_latency_ms;
                let status = e.error.status();
                let custom = match self.route.clone() {
                    Some(route) => self.custom_error_page(&route, status).await,
                    None => None,
                };
                let page =
                    custom.unwrap_or_else(|| deliver::error_page(status, e.error.page_message(), &self.request_id));
                Outcome { origin_status: status, ..Outcome::generated(page, ResultType::Error, e.error.detailed()) }
            }
        }
    }

    /// Finish: CloudFront's headers and the log summary, both from `outcome`; the
    /// summary is reported once the body is done.
    pub(super) fn finish(mut self, outcome: Outcome) -> Response<EdgeBody> {
        let mut resp = outcome.response;
        let status = resp.status().as_u16();
        let (result, detailed) = outcome.served.classify(status, outcome.origin_status);
        if self.wants_server_timing() {
            let timing = deliver::server_timing(&deliver::Timing {
                result,
                hit_layer: outcome.layer.unwrap_or(Layer::Edge),
                upstream_layer: outcome.upstream,
                origin_latency_ms: outcome.origin_latency_ms,
                pop: &self.pop().id,
                request_id: &self.request_id,
                downstream_ms: self.started.elapsed().as_millis() as u64,
                origin_timing: outcome.origin_timing.as_deref(),
            });
            if let Ok(v) = HeaderValue::from_str(&timing) {
                resp.headers_mut().insert(header::HeaderName::from_static("server-timing"), v);
            }
        }
        let age = if result == ResultType::Error { None } else { outcome.age };
        cloudfront_headers(resp.headers_mut(), result, self.pop(), &self.request_id, age);
        if outcome.close {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if !outcome.logged {
            return resp;
        }
        let s = &mut self.summary;
        s.result = result;
        s.response_result = result;
        s.detailed = detailed;
        s.layer = outcome.layer;
        s.range = outcome.range;
        if outcome.origin_latency_ms.is_some() {
            s.origin_latency_ms = outcome.origin_latency_ms;
        }
        self.report_when_done(resp)
    }

    fn wants_server_timing(&self) -> bool {
        let asked = self
            .parts
            .headers
            .get_all(header::PRAGMA)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("server-timing")));
        asked
            || self
                .route
                .as_ref()
                .and_then(|r| r.behavior.response_headers.as_ref())
                .and_then(|p| p.server_timing_sampling)
                .is_some_and(|rate| fastrand::f64() * 100.0 < rate)
    }

    /// Attaches the completion hook that reports the request once its body is done.
    fn report_when_done(self, resp: Response<EdgeBody>) -> Response<EdgeBody> {
        let (parts, body) = resp.into_parts();
        let mut summary = self.summary;
        summary.status = parts.status.as_u16();
        summary.first_byte_ms = self.started.elapsed().as_millis() as u64;
        summary.content_type = header_text(&parts.headers, header::CONTENT_TYPE);
        summary.content_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or_else(|| body.size_hint().exact());
        let head_bytes = deliver::head_bytes(&parts.headers);
        let observer = self.edge.observer.clone();
        let clock = self.edge.clock.clone();
        let started = self.started;
        let body = body.on_done(Box::new(move |sent, complete| {
            let mut s = summary;
            s.time_taken_ms = started.elapsed().as_millis() as u64;
            s.response_bytes = head_bytes + sent;
            s.end_ms = clock.now_ms().max(s.start_ms);
            if !complete && s.status < 400 {
                // The viewer went away before the last byte (§8.2).
                s.result = ResultType::Error;
                s.detailed = DetailedResultType::ClientCommError;
            }
            observer.observe(s);
        }));
        Response::from_parts(parts, body)
    }
}
