//! The steps before the cache: Admit (size limits), Route (distribution, behavior,
//! protocol policy, methods), the viewer-request function, and the cache key.

use super::exchange::{Exchange, Exit, Route};
use crate::deliver;
use cachalot_policy::viewer::{Admission, admit, check_limits};
use cachalot_policy::{CacheKey, DetailedResultType, NormalizedEncoding, ResultType, ViewerRequest, cache_key};
use http::{Version, header};
use http_body::Body as _;
use std::sync::Arc;

impl Exchange {
    /// Admit: request line + headers and URL within CloudFront's limits (§13).
    pub(super) fn check_limits(&self) -> Result<(), Exit> {
        match check_limits(self.header_bytes, self.url_bytes) {
            Admission::Reject(r) => Err(Exit::Refuse(r)),
            _ => Ok(()),
        }
    }

    /// Whether the viewer sent a body (a `Content-Length` of 0 is no body).
    pub(super) fn has_body(&self) -> bool {
        let declared_empty = self.parts.headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0");
        !declared_empty && self.body.as_ref().is_some_and(|b| !b.is_end_stream())
    }

    /// Route: `Host` → distribution, then the behavior whose path pattern matches the
    /// normalised path (§5.1), then its protocol policy, methods and the GET-body rule.
    pub(super) fn route(&mut self) -> Result<Route, Exit> {
        let Some(dist) = self.published.snapshot.distribution_for_host(&self.host).cloned() else {
            return Err(Exit::error(
                403,
                ResultType::Error,
                DetailedResultType::InvalidRequest,
                "Bad request. We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error.",
            ));
        };
        self.summary.distribution_id = Some(dist.id.as_str().into());
        self.summary.distribution_domain = Some(dist.domain_name.as_str().into());
        if !dist.enabled {
            return Err(Exit::error(
                403,
                ResultType::Error,
                DetailedResultType::InvalidRequest,
                "Bad request. The distribution is disabled.",
            ));
        }
        // The default root object replaces `/` before the behavior is chosen (§12.5).
        if let (Some(root), "/") = (&dist.default_root_object, self.path.as_str()) {
            self.path = format!("/{root}");
        }
        let behavior = dist.behavior_for(&cachalot_policy::route::behavior_path(&self.path)).clone();
        self.summary.behavior = Some(behavior.path_pattern.as_str().into());
        let route = Route { dist, behavior };
        self.route = Some(route.clone());
        let path_and_query =
            self.parts.uri.path_and_query().map_or_else(|| self.path.clone(), |p| p.as_str().to_owned());
        match admit(
            &route.behavior,
            &self.parts.method,
            self.conn.https,
            self.parts.version < Version::HTTP_11,
            self.has_body(),
            &self.host,
            &path_and_query,
        ) {
            Admission::Proceed => Ok(route),
            Admission::Reject(r) => Err(Exit::Refuse(r)),
            Admission::Redirect { status, location } => Err(Exit::Redirect { status, location }),
        }
    }

    pub(super) fn function_context(&self, route: &Route) -> cachalot_functions::EventContext {
        cachalot_functions::EventContext {
            distribution_domain_name: route.dist.domain_name.clone(),
            distribution_id: route.dist.id.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// `path?query` as a function sees the request.
    pub(super) fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The compiled function `name`, or why it cannot run.
    pub(super) fn function(&self, name: &str) -> Result<Arc<cachalot_functions::Function>, crate::functions::Failure> {
        match self.published.functions.get(name) {
            Some(Ok(function)) => Ok(function.clone()),
            Some(Err(reason)) => Err(crate::functions::Failure::not_compiled(reason)),
            None => Err(crate::functions::Failure::not_compiled("not published")),
        }
    }

    /// ViewerRequest: the behavior's function may rewrite the request (the behavior is
    /// not chosen again, §9) or answer it.
    pub(super) fn viewer_request_function(&mut self, route: &Route) -> Result<(), Exit> {
        let Some(name) = &route.behavior.viewer_request_function else { return Ok(()) };
        self.summary.function_ran = true;
        let step = match self.function(name) {
            Ok(function) => crate::functions::viewer_request(
                &function,
                self.function_context(route),
                self.conn.remote.ip().to_string(),
                self.parts.method.as_str(),
                &self.target(),
                &mut self.parts.headers,
            ),
            Err(failure) => crate::functions::RequestStep::Fail(failure),
        };
        match step {
            crate::functions::RequestStep::Continue { path, query, origin } => {
                self.path = path;
                self.query = query;
                self.origin_change = origin.map(Arc::new);
                Ok(())
            }
            crate::functions::RequestStep::Respond(resp) => Err(Exit::Generated(
                Box::new(resp),
                ResultType::FunctionGeneratedResponse,
                DetailedResultType::FunctionGeneratedResponse,
            )),
            crate::functions::RequestStep::Fail(f) => Err(function_failed(&self.request_id, &f)),
        }
    }

    pub(super) fn viewer_request(&self) -> ViewerRequest<'_> {
        ViewerRequest {
            method: &self.parts.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.parts.headers,
            client_ip: self.conn.remote.ip(),
            client_port: self.conn.remote.port(),
            https: self.conn.https,
            http10: self.parts.version < Version::HTTP_11,
            protocol_version: super::exchange::protocol_version(self.parts.version),
        }
    }

    /// Key: the cache key and the normalised `Accept-Encoding` (§2).
    pub(super) fn key(&self, route: &Route) -> (CacheKey, NormalizedEncoding) {
        cache_key(&route.dist.id, &route.behavior.cache, &self.viewer_request())
    }

    /// Whether the response to this request may come from (and go into) the cache.
    pub(super) fn cached(&self, route: &Route) -> bool {
        route.behavior.cached_methods.contains(self.parts.method.as_str()) && !route.behavior.cache.caching_disabled()
    }
}

/// A function that could not run or failed: CloudFront's error page with the function's result type.
pub(super) fn function_failed(request_id: &str, f: &crate::functions::Failure) -> Exit {
    Exit::Generated(Box::new(deliver::error_page(f.status, &f.message, request_id)), f.result, f.result.detailed())
}
