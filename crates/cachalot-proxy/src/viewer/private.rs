//! The Restrict step: what a distribution and behavior demand before anything is
//! served — geo restriction, signed URLs or cookies, and the node's choice for
//! protections the edge does not enforce — plus the location headers the behavior's
//! policies name.

use super::exchange::{Exchange, Exit, Route};
use crate::body::EdgeBody;
use cachalot_policy::signed::{self, Refusal, SignedRequest};
use cachalot_policy::{DetailedResultType, ResultType};
use http::{HeaderName, HeaderValue, Response, StatusCode, header};

impl Exchange {
    /// Restrict: geo restriction (`ClientGeoBlocked`), unenforced protections (refused
    /// unless the node serves them), then signed URLs or cookies for behaviors that trust
    /// keys. A valid signature's parameters leave the query before the key is built.
    pub(super) fn restrict(&mut self, route: &Route) -> Result<(), Exit> {
        let location = self.locate();
        self.summary.country = location.as_ref().and_then(|l| l.country.clone());
        if let Some(geo) = &route.dist.geo_restriction
            && !geo.allows(location.as_ref().and_then(|l| l.country.as_deref()))
        {
            return Err(Exit::Refuse(cachalot_policy::geo::blocked()));
        }
        if !self.edge.serve_unenforced && (!route.dist.unenforced.is_empty() || !route.behavior.unenforced.is_empty()) {
            return Err(Exit::error(
                403,
                ResultType::Error,
                DetailedResultType::InvalidRequest,
                "Bad request. This behavior asks for a protection this edge does not enforce.",
            ));
        }
        self.location_headers(route, location.as_ref());
        let Some(trusted) = route.behavior.trusted.clone() else { return Ok(()) };
        // The URL as the viewer asked for it: `/`, not the default root object it stands for.
        let req = SignedRequest {
            https: self.conn.https,
            host: &self.host,
            path: self.parts.uri.path(),
            query: self.query.as_deref(),
            headers: &self.parts.headers,
            client_ip: self.conn.remote.ip(),
        };
        // A signed URL, or custom-policy signed cookies, accepted before: the memo holds the
        // key that verified it (still trusted, the same allocation) and its parsed policy, so a
        // repeat costs one lookup and the conditions that vary per request.
        let url = self
            .query
            .as_deref()
            .filter(|q| q.contains("Signature="))
            .map(|q| format!("{}://{}{}?{q}", if self.conn.https { "https" } else { "http" }, self.host, req.path));
        let cookies = if url.is_none() { signed::custom_cookie_memo_key(&req) } else { None };
        if let Some(memo) = url.as_ref().or(cookies.as_ref())
            && let Some(known) = self.edge.verified_urls.get(memo)
            && trusted.keys.get(&known.key_id).is_some_and(|k| std::sync::Arc::ptr_eq(k, &known.key))
        {
            let now = self.edge.clock.now_ms() / 1000;
            // The URL memo's key is the whole URL the policy's resource was matched against,
            // so only time and address are checked again; cookies cover many URLs, so their
            // resource is matched on every request.
            let conditions = match &known.query {
                Some(_) => signed::check_time_and_address(&known.policy, req.client_ip, now),
                None => signed::check_policy(&known.policy, &req, now),
            };
            return match conditions {
                Ok(()) => {
                    if let Some(query) = &known.query {
                        self.query.clone_from(query);
                    }
                    Ok(())
                }
                Err(refusal) => Err(refused(refusal)),
            };
        }
        let checked = signed::present(&req).and_then(|presented| {
            let key = trusted.keys.get(&presented.key_id).ok_or(Refusal::InvalidKey)?;
            // A signature verified once is not verified again: hot signed URLs cost a lookup.
            let memo = format!(
                "{}\n{:?}\n{}\n{}",
                presented.key_id,
                presented.hash,
                signed::encode_base64(&presented.signature),
                String::from_utf8_lossy(&presented.message)
            );
            // The entry holds the key it was verified with: a key replaced in a new snapshot
            // (same id, other material) is a different allocation and verifies afresh.
            let remembered = self.edge.verified_signatures.get(&memo).is_some_and(|k| std::sync::Arc::ptr_eq(&k, key));
            if !remembered {
                if !signed::verify_signature(key, presented.hash, &presented.message, &presented.signature) {
                    return Err(Refusal::AccessDenied);
                }
                self.edge.verified_signatures.insert(memo, key.clone());
            }
            signed::check_policy(&presented.policy, &req, self.edge.clock.now_ms() / 1000)?;
            Ok((presented, key.clone()))
        });
        let (presented, key) = checked.map_err(refused)?;
        let query = (!presented.from_cookies).then(|| signed::strip_signing_parameters(self.query.as_deref()));
        // Only what the memo key fully determines is remembered: a URL (its query as the
        // signature covers it) or a custom policy's cookies; canned cookies sign one URL each.
        let remember = if presented.from_cookies { cookies } else { url };
        if let Some(memo) = remember {
            let known = Remembered { key_id: presented.key_id, key, policy: presented.policy, query: query.clone() };
            self.edge.verified_urls.insert(memo, std::sync::Arc::new(known));
        }
        if let Some(query) = query {
            self.query = query;
        }
        Ok(())
    }

    /// The viewer's location, when a database is configured: for geo restriction, the
    /// location headers, and the country every access log record carries.
    fn locate(&self) -> Option<cachalot_policy::geo::ViewerLocation> {
        self.edge.geo.as_ref()?.locate(self.conn.remote.ip())
    }

    /// Replaces the viewer's `CloudFront-Viewer-*` location headers with the edge's own,
    /// for those the behavior's policies name.
    fn location_headers(&mut self, route: &Route, location: Option<&cachalot_policy::geo::ViewerLocation>) {
        // Viewers rarely send these; one pass over the names spares ten lookups per request.
        if self.parts.headers.keys().any(|name| name.as_str().starts_with(cachalot_policy::geo::LOCATION_PREFIX)) {
            for name in cachalot_policy::geo::LOCATION_HEADERS {
                self.parts.headers.remove(name);
            }
        }
        let Some(at) = location else { return };
        for name in cachalot_policy::geo::wanted_headers(&route.behavior) {
            if let Some(value) = cachalot_policy::geo::header_value(name, at)
                && let Ok(v) = HeaderValue::from_str(&value)
            {
                self.parts.headers.insert(HeaderName::from_static(name), v);
            }
        }
    }
}

/// A signed URL or custom-policy cookies accepted once: the key that verified them, the
/// policy, and for a URL the query without its signing parameters.
pub(crate) struct Remembered {
    key_id: String,
    key: std::sync::Arc<cachalot_config::model::PublicKey>,
    policy: signed::Policy,
    /// `Some` for a signed URL: the query the request continues with.
    query: Option<Option<String>>,
}

impl Remembered {
    /// The heap this entry holds beyond itself, for the memo's byte bound.
    pub(crate) fn heap_bytes(&self) -> usize {
        let query = self.query.as_ref().and_then(Option::as_ref).map_or(0, String::len);
        self.key_id.len() + self.policy.resource.as_ref().map_or(0, String::len) + query
    }
}

/// The exit for a signature or policy CloudFront does not accept.
fn refused(refusal: Refusal) -> Exit {
    Exit::Generated(Box::new(refusal_response(refusal)), ResultType::Error, DetailedResultType::Error)
}

/// CloudFront's 403 for a signed URL or cookie it does not accept.
fn refusal_response(refusal: Refusal) -> Response<EdgeBody> {
    let mut resp = Response::new(EdgeBody::full(bytes::Bytes::from(refusal.body())));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    resp
}
