//! The steps after the response is found: the viewer-response function, custom error
//! pages (§3.6) and the response headers policy.

use super::exchange::{Exchange, Exit, Outcome, Route};
use super::route::function_failed;
use crate::body::EdgeBody;
use crate::deliver;
use crate::fetch::{Answer, Fetched};
use cachalot_policy::cache_key;
use http::{Method, Response, StatusCode};

impl Exchange {
    /// ViewerResponse: the behavior's function may change the response (never run for
    /// origin statuses of 400 and above).
    pub(super) fn viewer_response_function(&mut self, route: &Route, outcome: &mut Outcome) -> Result<(), Exit> {
        let Some(name) = route.behavior.viewer_response_function.as_ref() else { return Ok(()) };
        if outcome.origin_status >= 400 {
            return Ok(());
        }
        self.summary.function_ran = true;
        let ran = self.function(name).and_then(|function| {
            crate::functions::viewer_response(
                &function,
                self.function_context(route),
                self.conn.remote.ip().to_string(),
                self.parts.method.as_str(),
                &self.target(),
                &self.parts.headers,
                &mut outcome.response,
            )
        });
        ran.map_err(|f| function_failed(&self.request_id, &f))
    }

    /// ErrorPage: an origin error with a custom error response gets its page (§3.6).
    pub(super) async fn error_page(&mut self, route: &Route, outcome: &mut Outcome) {
        if outcome.origin_status < 400 {
            return;
        }
        if let Some(page) = self.custom_error_page(route, outcome.origin_status).await {
            outcome.response = page;
        }
    }

    /// Custom error responses (§3.6): the page at `ResponsePagePath`, fetched (and cached)
    /// through the behavior its path matches, sent with `ResponseCode`. When the page itself
    /// cannot be had, the viewer gets what the page's origin answered; `None` when no page is configured.
    pub(super) async fn custom_error_page(&self, route: &Route, status: u16) -> Option<Response<EdgeBody>> {
        let cer = route.dist.custom_error_responses.get(&status)?;
        let page = cer.response_page_path.as_deref()?;
        let page_path = page.split('?').next().unwrap_or(page);
        let behavior = route.dist.behavior_for(&cachalot_policy::route::behavior_path(page_path)).clone();
        let page_route = Route { dist: route.dist.clone(), behavior };
        let mut inputs = self.inputs(cachalot_policy::NormalizedEncoding::NotNormalized);
        inputs.method = Method::GET;
        inputs.path = page_path.to_owned();
        inputs.query = None;
        let (key, encoding) = cache_key(&route.dist.id, &page_route.behavior.cache, &inputs.viewer());
        inputs.encoding = encoding;
        // The page is fetched for its own behavior; the request's function changes do not apply.
        let plan = cachalot_policy::origin::resolve(&route.dist, &page_route.behavior, None);
        let ctx = self.fetch_ctx(&page_route, key, inputs, plan);
        let Ok(Answer { fetched: Fetched::Object(obj), .. }) = ctx.fetch_tier(0, None).await else {
            return None;
        };
        let mut resp = deliver::object_response(&obj, self.parts.method == Method::HEAD);
        if obj.status < 400 {
            let code = cer.response_code.unwrap_or(status);
            *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        }
        Some(resp)
    }

    /// Headers: the behavior's response headers policy (§6.1).
    pub(super) fn response_headers_policy(&self, route: &Route, outcome: &mut Outcome) {
        if let Some(policy) = &route.behavior.response_headers {
            cachalot_policy::response_headers::apply(
                policy,
                &self.parts.method,
                &self.parts.headers,
                outcome.response.headers_mut(),
            );
        }
    }
}
