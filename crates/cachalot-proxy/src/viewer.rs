//! The viewer side: one request from arrival to the last byte.
//!
//! Steps, in CloudFront's order (§1): `Admit` (limits, Host → distribution) →
//! `Route` (behavior, protocol policy, methods) → `ViewerRequest` function →
//! `Key` → `Lookup`/`Fetch` (tiers, collapsing, origin) or `Pass` →
//! `ViewerResponse` function → `Deliver` (CloudFront headers, conditionals) →
//! `Log` (one summary when the body is done).

use crate::body::EdgeBody;
use crate::deliver::{self, cloudfront_headers};
use crate::edge::EdgeInner;
use crate::fetch::{FetchCtx, Fetched, How, OriginInputs};
use crate::origin::{OriginBody, OriginCall};
use crate::summary::{Layer, RequestSummary};
use cachalot_policy::forward::{EdgeIdentity, origin_request};
use cachalot_policy::viewer::{Admission, admit, check_limits};
use cachalot_policy::{DetailedResultType, ResultType, ViewerRequest, cache_key};
use http::{HeaderMap, Method, Request, Response, Version, header};
use http_body::Body as _;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What the listener knows about the connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Viewer address.
    pub remote: SocketAddr,
    /// TLS connection.
    pub https: bool,
    /// Negotiated TLS version, e.g. `TLSv1.3`.
    pub tls_protocol: Option<&'static str>,
    /// Negotiated cipher suite (OpenSSL name).
    pub tls_cipher: Option<String>,
}

/// The summary being filled in as the request moves through the steps.
struct Trace {
    summary: RequestSummary,
    started: Instant,
}

fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn header_text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Handles one viewer request.
pub(crate) async fn handle(
    edge: Arc<EdgeInner>,
    pop_index: usize,
    conn: ConnInfo,
    req: Request<Incoming>,
) -> Response<EdgeBody> {
    let started = Instant::now();
    let start_ms = edge.clock.now_ms();
    let request_id = crate::ids::request_id();
    let pop = &edge.pops[pop_index];
    let (mut parts, body) = req.into_parts();
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
    let mut trace = Trace {
        summary: RequestSummary {
            end_ms: start_ms,
            start_ms,
            pop: pop.id.clone(),
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
            layer: None,
            function_ran: false,
        },
        started,
    };

    // Admit: size limits.
    if let Admission::Reject(r) = check_limits(header_bytes, url_bytes) {
        let mut resp = deliver::error_page(r.status, r.message, &request_id);
        resp.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        cloudfront_headers(resp.headers_mut(), r.result, pop, &request_id, None);
        // Not logged (§1 step 2).
        return resp;
    }

    // Admit: Host → distribution.
    let published = edge.published.load_full();
    let Some(dist) = published.snapshot.distribution_for_host(&host).cloned() else {
        return finish_generated(
            &edge,
            pop_index,
            trace,
            403,
            ResultType::Error,
            DetailedResultType::InvalidRequest,
            "Bad request. We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error.",
            &request_id,
        );
    };
    trace.summary.distribution_id = Some(dist.id.as_str().into());
    trace.summary.distribution_domain = Some(dist.domain_name.as_str().into());
    if !dist.enabled {
        return finish_generated(
            &edge,
            pop_index,
            trace,
            403,
            ResultType::Error,
            DetailedResultType::InvalidRequest,
            "Bad request. The distribution is disabled.",
            &request_id,
        );
    }

    // Route. The default root object replaces `/` before the behavior is chosen.
    let path = match (&dist.default_root_object, path.as_str()) {
        (Some(root), "/") => format!("/{root}"),
        _ => path,
    };
    let behavior = dist.behavior_for(&path).clone();
    trace.summary.behavior = Some(behavior.path_pattern.as_str().into());
    let has_body = !body.is_end_stream() && body.size_hint().lower() > 0
        || parts.headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| path.clone());
    match admit(
        &behavior,
        &parts.method,
        conn.https,
        parts.version < Version::HTTP_11,
        has_body,
        &host,
        &path_and_query,
    ) {
        Admission::Proceed => {}
        Admission::Reject(r) => {
            return finish_generated(&edge, pop_index, trace, r.status, r.result, r.detailed, r.message, &request_id);
        }
        Admission::Redirect { status, location } => {
            let mut resp = deliver::redirect(status, &location);
            cloudfront_headers(resp.headers_mut(), ResultType::Redirect, pop, &request_id, None);
            trace.summary.result = ResultType::Redirect;
            trace.summary.response_result = ResultType::Redirect;
            trace.summary.detailed = DetailedResultType::Redirect;
            return finish(&edge, trace, resp);
        }
    }

    // ViewerRequest function: may rewrite the request (the behavior is not re-selected) or answer it.
    let (mut path, mut query) = (path, query);
    let mut origin_override = None;
    let fn_context = || cachalot_functions::EventContext {
        distribution_domain_name: dist.domain_name.clone(),
        distribution_id: dist.id.clone(),
        request_id: request_id.clone(),
    };
    if let Some(name) = &behavior.viewer_request_function {
        trace.summary.function_ran = true;
        let step = match published.functions.get(name) {
            Some(Ok(function)) => {
                let target = match &query {
                    Some(q) => format!("{path}?{q}"),
                    None => path.clone(),
                };
                crate::functions::viewer_request(
                    function,
                    fn_context(),
                    conn.remote.ip().to_string(),
                    parts.method.as_str(),
                    &target,
                    &mut parts.headers,
                )
            }
            Some(Err(reason)) => crate::functions::RequestStep::Fail(crate::functions::Failure::not_compiled(reason)),
            None => crate::functions::RequestStep::Fail(crate::functions::Failure::not_compiled("not published")),
        };
        match step {
            crate::functions::RequestStep::Continue { path: p, query: q, origin } => {
                path = p;
                query = q;
                origin_override = origin.map(Arc::new);
            }
            crate::functions::RequestStep::Respond(mut resp) => {
                cloudfront_headers(resp.headers_mut(), ResultType::FunctionGeneratedResponse, pop, &request_id, None);
                trace.summary.result = ResultType::FunctionGeneratedResponse;
                trace.summary.response_result = ResultType::FunctionGeneratedResponse;
                trace.summary.detailed = DetailedResultType::FunctionGeneratedResponse;
                return finish(&edge, trace, resp);
            }
            crate::functions::RequestStep::Fail(f) => {
                return finish_generated(
                    &edge,
                    pop_index,
                    trace,
                    f.status,
                    f.result,
                    f.result.detailed(),
                    &f.message,
                    &request_id,
                );
            }
        }
    }

    // Key.
    let viewer = ViewerRequest {
        method: &parts.method,
        path: &path,
        query: query.as_deref(),
        headers: &parts.headers,
        client_ip: conn.remote.ip(),
        client_port: conn.remote.port(),
        https: conn.https,
        http10: parts.version < Version::HTTP_11,
        protocol_version: protocol_version(parts.version),
    };
    let (key, encoding) = cache_key(&dist.id, &behavior.cache, &viewer);
    let cached = behavior.cached_methods.contains(parts.method.as_str()) && !behavior.cache.caching_disabled();
    let head = parts.method == Method::HEAD;

    let inputs = || OriginInputs {
        method: parts.method.clone(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        client_ip: conn.remote.ip(),
        client_port: conn.remote.port(),
        https: conn.https,
        http10: parts.version < Version::HTTP_11,
        protocol_version: protocol_version(parts.version),
        encoding,
        request_id: request_id.clone(),
        host_id: pop.host_id.clone(),
    };
    if !cached {
        return pass(&edge, pop_index, trace, &dist, &behavior, inputs(), has_body.then_some(body), origin_override)
            .await;
    }

    // Lookup / Fetch.
    let now = edge.clock.now_ms();
    let fresh = match pop.tier.lookup(&key, now) {
        cachalot_cache::Lookup::Fresh(obj) => Some(obj),
        _ => None,
    };
    let mut upstream_layer = Layer::Edge;
    let (answer, result) = match fresh {
        Some(obj) => (
            Ok(crate::fetch::Answer {
                fetched: Fetched::Object(obj),
                how: How::Hit,
                layer: Layer::Edge,
                origin_latency_ms: None,
                not_modified: false,
            }),
            ResultType::Hit,
        ),
        None => {
            let origin = match behavior.target {
                cachalot_config::model::Target::Origin(i) => dist.origins[i].clone(),
                cachalot_config::model::Target::Group(g) => dist.origins[dist.origin_groups[g].primary].clone(),
            };
            let ctx = FetchCtx {
                tiers: Arc::new(edge.tiers_for(pop_index, &origin)),
                edge: edge.clone(),
                distribution: dist.clone(),
                behavior: behavior.clone(),
                key,
                inputs: Arc::new(inputs()),
                origin_override: origin_override.clone(),
                collapse: cachalot_policy::ttl::collapsing_allowed(&behavior.cache, &behavior.origin_request),
            };
            upstream_layer = ctx.tiers.last().map_or(Layer::Edge, |t| t.1);
            let a = ctx.fetch_tier(0, None).await;
            // A copy found in a regional or shield cache is a hit for the viewer; only the origin makes a miss.
            let result = match &a {
                Ok(a) => match (a.how, a.layer) {
                    (How::Refreshed, _) => ResultType::RefreshHit,
                    (How::Fetched, Layer::Origin) => ResultType::Miss,
                    _ => ResultType::Hit,
                },
                Err(_) => ResultType::Error,
            };
            (a, result)
        }
    };

    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            trace.summary.origin_latency_ms = e.origin_latency_ms;
            if let Some(mut page) = custom_error_page(&edge, pop_index, &dist, e.error.status(), &inputs(), head).await
            {
                cloudfront_headers(page.headers_mut(), ResultType::Error, pop, &request_id, None);
                trace.summary.detailed = e.error.detailed();
                trace.summary.result = ResultType::Error;
                trace.summary.response_result = ResultType::Error;
                return finish(&edge, trace, page);
            }
            return finish_generated(
                &edge,
                pop_index,
                trace,
                e.error.status(),
                ResultType::Error,
                e.error.detailed(),
                e.error.page_message(),
                &request_id,
            );
        }
    };
    trace.summary.layer = Some(answer.layer);
    trace.summary.origin_latency_ms = answer.origin_latency_ms;
    let conditionals = cachalot_policy::ttl::viewer_conditionals_supported(&behavior.cache, &behavior.origin_request);
    let origin_timing = match &answer.fetched {
        Fetched::Object(obj) if result != ResultType::Hit => {
            header_text(&obj.headers, header::HeaderName::from_static("server-timing"))
        }
        _ => None,
    };
    let (mut resp, age) = match answer.fetched {
        Fetched::Object(obj) => {
            let age = obj.age_secs(edge.clock.now_ms());
            let (resp, range) = deliver::object_for_viewer(&obj, &parts.headers, head, conditionals);
            trace.summary.range = range;
            (resp, Some(age))
        }
        Fetched::Relay { status, headers, prefix, rest, read_timeout } => {
            let body = if head { EdgeBody::empty() } else { crate::fetch::relay_body(prefix, rest, read_timeout) };
            let mut resp = Response::new(body);
            *resp.status_mut() = status;
            *resp.headers_mut() = headers;
            (resp, None)
        }
    };
    let origin_status = resp.status().as_u16();
    if let Some(name) = behavior.viewer_response_function.as_ref().filter(|_| origin_status < 400) {
        trace.summary.function_ran = true;
        let target = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let ran = match published.functions.get(name) {
            Some(Ok(function)) => crate::functions::viewer_response(
                function,
                fn_context(),
                conn.remote.ip().to_string(),
                parts.method.as_str(),
                &target,
                &parts.headers,
                &mut resp,
            ),
            Some(Err(reason)) => Err(crate::functions::Failure::not_compiled(reason)),
            None => Err(crate::functions::Failure::not_compiled("not published")),
        };
        if let Err(f) = ran {
            return finish_generated(
                &edge,
                pop_index,
                trace,
                f.status,
                f.result,
                f.result.detailed(),
                &f.message,
                &request_id,
            );
        }
    }
    if origin_status >= 400
        && let Some(page) = custom_error_page(&edge, pop_index, &dist, origin_status, &inputs(), head).await
    {
        resp = page;
    }
    let status = resp.status().as_u16();
    let result = if status >= 400 || origin_status >= 400 { ResultType::Error } else { result };
    let detailed = match (result, answer.layer) {
        (ResultType::Hit, Layer::Shield) => DetailedResultType::OriginShieldHit,
        (r, _) => r.detailed(),
    };
    if let Some(policy) = &behavior.response_headers {
        cachalot_policy::response_headers::apply(policy, &parts.method, &parts.headers, resp.headers_mut());
    }
    let wants_timing =
        parts.headers.get_all(header::PRAGMA).iter().any(|v| v.to_str().is_ok_and(|v| v.contains("server-timing")))
            || behavior
                .response_headers
                .as_ref()
                .and_then(|p| p.server_timing_sampling)
                .is_some_and(|rate| fastrand::f64() * 100.0 < rate);
    if wants_timing {
        let timing = crate::deliver::server_timing(&crate::deliver::Timing {
            result,
            hit_layer: answer.layer,
            upstream_layer,
            origin_latency_ms: answer.origin_latency_ms,
            pop: &pop.id,
            request_id: &request_id,
            downstream_ms: trace.started.elapsed().as_millis() as u64,
            origin_timing: origin_timing.as_deref(),
        });
        if let Ok(v) = http::HeaderValue::from_str(&timing) {
            resp.headers_mut().insert(header::HeaderName::from_static("server-timing"), v);
        }
    }
    cloudfront_headers(
        resp.headers_mut(),
        result,
        pop,
        &request_id,
        if result == ResultType::Error { None } else { age },
    );
    trace.summary.result = result;
    trace.summary.response_result = result;
    trace.summary.detailed = detailed;
    finish(&edge, trace, resp)
}

/// Custom error responses (§3.6): the page at `ResponsePagePath`, fetched (and cached)
/// through the behavior its path matches, sent with `ResponseCode`. When the page itself
/// cannot be had, the viewer gets what the page's origin answered; `None` when no page is configured.
async fn custom_error_page(
    edge: &Arc<EdgeInner>,
    pop_index: usize,
    dist: &Arc<cachalot_config::model::Distribution>,
    status: u16,
    template: &OriginInputs,
    head: bool,
) -> Option<Response<EdgeBody>> {
    let cer = dist.custom_error_responses.get(&status)?;
    let page = cer.response_page_path.as_deref()?;
    let page_path = page.split('?').next().unwrap_or(page);
    let behavior = dist.behavior_for(page_path).clone();
    let mut inputs = template.clone();
    inputs.method = Method::GET;
    inputs.path = page_path.to_owned();
    inputs.query = None;
    let (key, encoding) = cache_key(&dist.id, &behavior.cache, &inputs.viewer());
    inputs.encoding = encoding;
    let origin = match behavior.target {
        cachalot_config::model::Target::Origin(i) => dist.origins[i].clone(),
        cachalot_config::model::Target::Group(g) => dist.origins[dist.origin_groups[g].primary].clone(),
    };
    let ctx = FetchCtx {
        tiers: Arc::new(edge.tiers_for(pop_index, &origin)),
        edge: edge.clone(),
        distribution: dist.clone(),
        behavior: behavior.clone(),
        key,
        inputs: Arc::new(inputs),
        origin_override: None,
        collapse: cachalot_policy::ttl::collapsing_allowed(&behavior.cache, &behavior.origin_request),
    };
    let Ok(crate::fetch::Answer { fetched: Fetched::Object(obj), .. }) = ctx.fetch_tier(0, None).await else {
        return None;
    };
    let mut resp = deliver::object_response(&obj, head);
    if obj.status < 400 {
        let code = cer.response_code.unwrap_or(status);
        *resp.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::BAD_GATEWAY);
    }
    Some(resp)
}

/// Pass: a request whose response is never cached goes straight to the origin, body and all.
async fn pass(
    edge: &Arc<EdgeInner>,
    pop_index: usize,
    mut trace: Trace,
    dist: &Arc<cachalot_config::model::Distribution>,
    behavior: &Arc<cachalot_config::model::Behavior>,
    inputs: OriginInputs,
    body: Option<Incoming>,
    origin_override: Option<Arc<cachalot_functions::OriginOverride>>,
) -> Response<EdgeBody> {
    let pop = &edge.pops[pop_index];
    let (origin, _, _) = crate::fetch::resolve_origins(dist, behavior, origin_override.as_deref());
    let viewer = ViewerRequest {
        method: &inputs.method,
        path: &inputs.path,
        query: inputs.query.as_deref(),
        headers: &inputs.headers,
        client_ip: inputs.client_ip,
        client_port: inputs.client_port,
        https: inputs.https,
        http10: inputs.http10,
        protocol_version: inputs.protocol_version,
    };
    let shaped = origin_request(
        &viewer,
        &behavior.cache,
        &behavior.origin_request,
        &origin,
        inputs.encoding,
        EdgeIdentity { host_id: &inputs.host_id, request_id: &inputs.request_id },
        body.is_some(),
    );
    let mut headers = shaped.headers;
    if let Some(len) = inputs.headers.get(header::CONTENT_LENGTH)
        && body.is_some()
    {
        headers.insert(header::CONTENT_LENGTH, len.clone());
    }
    let call = OriginCall {
        method: inputs.method.clone(),
        path_and_query: &shaped.path_and_query,
        headers,
        body,
        viewer_https: inputs.https,
    };
    let resp = match edge.origins.send(&origin, call).await {
        Ok(r) => r,
        Err(e) => {
            return finish_generated(
                edge,
                pop_index,
                trace,
                e.status(),
                ResultType::Error,
                e.detailed(),
                e.page_message(),
                &inputs.request_id,
            );
        }
    };
    trace.summary.origin_latency_ms = Some(resp.first_byte_ms);
    trace.summary.layer = Some(Layer::Origin);
    let read_timeout = std::time::Duration::from_secs(u64::from(origin.read_timeout_secs));
    let body = match resp.body {
        OriginBody::Full(b) => EdgeBody::full(b),
        OriginBody::Stream(s) => EdgeBody::relay(Vec::new(), s, read_timeout),
    };
    let mut out = Response::new(if inputs.method == Method::HEAD { EdgeBody::empty() } else { body });
    *out.status_mut() = resp.status;
    let cookies_forwarded = !behavior.cache.cookies.is_none() || !behavior.origin_request.cookies.is_none();
    for (name, value) in &resp.headers {
        let n = name.as_str();
        if matches!(
            n,
            "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer" | "transfer-encoding" | "upgrade"
        ) || (n == "set-cookie" && !cookies_forwarded)
        {
            continue;
        }
        out.headers_mut().append(name.clone(), value.clone());
    }
    let result = if resp.status.as_u16() >= 400 { ResultType::Error } else { ResultType::Miss };
    cloudfront_headers(out.headers_mut(), result, pop, &inputs.request_id, None);
    trace.summary.result = result;
    trace.summary.response_result = result;
    trace.summary.detailed = result.detailed();
    finish(edge, trace, out)
}

/// A CloudFront-generated error, logged.
#[allow(clippy::too_many_arguments)]
fn finish_generated(
    edge: &Arc<EdgeInner>,
    pop_index: usize,
    mut trace: Trace,
    status: u16,
    result: ResultType,
    detailed: DetailedResultType,
    sentence: &str,
    request_id: &str,
) -> Response<EdgeBody> {
    let mut resp = deliver::error_page(status, sentence, request_id);
    cloudfront_headers(resp.headers_mut(), result, &edge.pops[pop_index], request_id, None);
    trace.summary.result = result;
    trace.summary.response_result = result;
    trace.summary.detailed = detailed;
    finish(edge, trace, resp)
}

/// Log: attaches the completion hook that reports the request once its body is done.
fn finish(edge: &Arc<EdgeInner>, mut trace: Trace, resp: Response<EdgeBody>) -> Response<EdgeBody> {
    let (parts, body) = resp.into_parts();
    trace.summary.status = parts.status.as_u16();
    trace.summary.first_byte_ms = trace.started.elapsed().as_millis() as u64;
    trace.summary.content_type = header_text(&parts.headers, header::CONTENT_TYPE);
    trace.summary.content_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| body.size_hint().exact());
    let head_bytes = deliver::head_bytes(&parts.headers);
    let observer = edge.observer.clone();
    let clock = edge.clock.clone();
    let started = trace.started;
    let body = body.on_done(Box::new(move |sent, complete| {
        let mut s = trace.summary;
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
