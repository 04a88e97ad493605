//! The `ViewerRequest` and `ViewerResponse` steps: running a behavior's CloudFront
//! Functions on the request and response, and applying what they return.

use crate::body::EdgeBody;
use bytes::Bytes;
use cachalot_functions::{
    EventContext, Function, FunctionError, FunctionErrorKind, OriginOverride, Request, Response as FnResponse,
    ViewerRequestEvent, ViewerRequestOutcome, ViewerResponseEvent, is_disallowed_header,
};
use cachalot_policy::ResultType;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

/// A function that failed, as the viewer sees it.
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) result: ResultType,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn from_error(e: &FunctionError) -> Self {
        let result = match e.kind {
            FunctionErrorKind::Execution => ResultType::FunctionExecutionError,
            FunctionErrorKind::Throttled => ResultType::FunctionThrottledError,
            FunctionErrorKind::Validation => ResultType::FunctionValidationError,
        };
        tracing::debug!("function failed: {}", e.message);
        Failure {
            status: e.kind.status(),
            result,
            message: format!("The CloudFront function associated with this distribution failed ({}).", e.kind.name()),
        }
    }

    pub(crate) fn not_compiled(reason: &str) -> Self {
        tracing::debug!("function unavailable: {reason}");
        Failure {
            status: 503,
            result: ResultType::FunctionExecutionError,
            message: "The CloudFront function associated with this distribution could not run.".to_owned(),
        }
    }
}

/// What the viewer-request function decided.
pub(crate) enum RequestStep {
    /// Go on with the (possibly rewritten) request.
    Continue {
        /// New path.
        path: String,
        /// New query string.
        query: Option<String>,
        /// Origin changes requested with the origin-modification helpers.
        origin: Option<OriginOverride>,
    },
    /// Answer with this response; no cache lookup, no origin.
    Respond(Response<EdgeBody>),
    /// The function failed.
    Fail(Failure),
}

fn header_pairs(h: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    h.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
}

/// Runs a viewer-request function. On `Continue`, `headers` hold the request as the
/// function returned it (headers it cannot see are kept as they were).
pub(crate) fn viewer_request(
    function: &Function,
    context: EventContext,
    viewer_ip: String,
    method: &str,
    target: &str,
    headers: &mut HeaderMap,
) -> RequestStep {
    let event =
        ViewerRequestEvent { context, viewer_ip, request: Request::from_http(method, target, header_pairs(headers)) };
    match function.viewer_request(&event) {
        Err(e) => RequestStep::Fail(Failure::from_error(&e)),
        Ok(invocation) => match invocation.outcome {
            ViewerRequestOutcome::Respond(resp) => RequestStep::Respond(generated_response(resp)),
            ViewerRequestOutcome::Continue { request, origin } => {
                let mut rebuilt = HeaderMap::with_capacity(headers.len());
                for (name, value) in headers.iter() {
                    // Functions never see these, so they keep the viewer's values.
                    if is_disallowed_header(name.as_str()) {
                        rebuilt.append(name.clone(), value.clone());
                    }
                }
                for (name, value) in request.headers.pairs() {
                    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                        rebuilt.append(n, v);
                    }
                }
                let cookie = request.cookies.to_cookie_header();
                if !cookie.is_empty()
                    && let Ok(v) = HeaderValue::from_str(&cookie)
                {
                    rebuilt.insert(header::COOKIE, v);
                }
                *headers = rebuilt;
                let query = request.query_string();
                RequestStep::Continue {
                    path: request.uri,
                    query: (!query.is_empty()).then_some(query),
                    origin: origin.filter(|o| !o.is_empty()),
                }
            }
        },
    }
}

fn apply_headers(target: &mut HeaderMap, resp: &FnResponse) {
    target.clear();
    for (name, value) in resp.headers.pairs() {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            target.append(n, v);
        }
    }
    for cookie in resp.cookies.to_set_cookie_headers() {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            target.append(header::SET_COOKIE, v);
        }
    }
}

/// A function-generated response (`x-cache: FunctionGeneratedResponse`).
fn generated_response(resp: FnResponse) -> Response<EdgeBody> {
    let body = resp.body.as_ref().map(|b| Bytes::from(b.to_bytes())).unwrap_or_default();
    let mut out = Response::new(EdgeBody::full(body));
    *out.status_mut() = StatusCode::from_u16(resp.status_code).unwrap_or(StatusCode::OK);
    apply_headers(out.headers_mut(), &resp);
    if !out.headers().contains_key(header::SERVER) {
        out.headers_mut().insert(header::SERVER, HeaderValue::from_static("CloudFront"));
    }
    out
}

/// Runs a viewer-response function on `response` (never for origin statuses of 400 and above).
pub(crate) fn viewer_response(
    function: &Function,
    context: EventContext,
    viewer_ip: String,
    method: &str,
    target: &str,
    request_headers: &HeaderMap,
    response: &mut Response<EdgeBody>,
) -> Result<(), Failure> {
    let fn_response = FnResponse::from_http(
        response.status().as_u16(),
        response.status().canonical_reason(),
        header_pairs(response.headers()),
    );
    let event = ViewerResponseEvent {
        context,
        viewer_ip,
        request: Request::from_http(method, target, header_pairs(request_headers)),
        response: fn_response,
    };
    let invocation = function.viewer_response(&event).map_err(|e| Failure::from_error(&e))?;
    let out = invocation.outcome;
    // Headers the function cannot see (hop-by-hop) are not carried over; content framing is recomputed.
    let length = response.headers().get(header::CONTENT_LENGTH).cloned();
    apply_headers(response.headers_mut(), &out);
    *response.status_mut() = StatusCode::from_u16(out.status_code).unwrap_or(StatusCode::OK);
    match &out.body {
        Some(body) => {
            let bytes = Bytes::from(body.to_bytes());
            response.headers_mut().remove(header::CONTENT_LENGTH);
            *response.body_mut() = EdgeBody::full(bytes);
        }
        None => {
            if let Some(len) = length {
                response.headers_mut().insert(header::CONTENT_LENGTH, len);
            }
        }
    }
    Ok(())
}
