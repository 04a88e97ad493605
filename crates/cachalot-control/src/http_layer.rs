//! The HTTP side: axum routes, body limits, request ids, and running handlers off the runtime.

use crate::api::{self, PREFIX, Request, Response};
use crate::control::Inner;
use crate::error::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::any;
use http::{HeaderValue, StatusCode};
use std::sync::Arc;

/// Largest request body accepted (a distribution config with every quota
/// maxed out is far smaller; a key value store batch stays under the store's 5 MB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Prefix of the key value store data API.
const KVS_PREFIX: &str = "/key-value-stores/";

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/2020-05-31", any(cloudfront))
        .route("/2020-05-31/", any(cloudfront))
        .route("/2020-05-31/{*rest}", any(cloudfront))
        .route("/key-value-stores/{*rest}", any(key_value_stores))
        .with_state(inner)
}

#[derive(Clone, Copy)]
enum Api {
    CloudFront,
    KeyValueStore,
}

async fn cloudfront(State(inner): State<Arc<Inner>>, req: axum::extract::Request) -> axum::response::Response {
    serve(inner, req, Api::CloudFront).await
}

async fn key_value_stores(State(inner): State<Arc<Inner>>, req: axum::extract::Request) -> axum::response::Response {
    serve(inner, req, Api::KeyValueStore).await
}

async fn serve(inner: Arc<Inner>, req: axum::extract::Request, api: Api) -> axum::response::Response {
    let request_id = crate::util::uuid();
    let (parts, body) = req.into_parts();
    let result = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Err(_) => Err(ApiError::with_status(
            "EntityTooLarge",
            413,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes or could not be read"),
        )),
        Ok(body) => {
            let raw_path = parts.uri.path().to_owned();
            let prefix = match api {
                Api::CloudFront => PREFIX,
                Api::KeyValueStore => KVS_PREFIX,
            };
            let rest = raw_path.strip_prefix(prefix).unwrap_or("");
            let segments = rest
                .trim_end_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect();
            let raw_query = parts.uri.query().unwrap_or("").to_owned();
            let query = raw_query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (crate::util::form_decode(k), crate::util::form_decode(v))
                })
                .collect();
            let request =
                Request { method: parts.method, raw_path, raw_query, segments, query, headers: parts.headers, body };
            let worker = inner.clone();
            // Handlers write to the store (fsync) and hold the state lock: keep them off the async workers.
            match tokio::task::spawn_blocking(move || match api {
                Api::CloudFront => api::handle(&worker, &request),
                Api::KeyValueStore => api::kvs_data_api(&worker, &request),
            })
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("control-plane handler failed: {e}");
                    Err(ApiError::internal("the request could not be completed"))
                }
            }
        }
    };
    let response = match (result, api) {
        (Ok(r), _) => r,
        (Err(e), Api::CloudFront) => {
            let mut r = Response::empty(e.status);
            r.body = e.to_xml(&request_id).into_bytes();
            r
        }
        (Err(e), Api::KeyValueStore) => api::kvs_error_response(&e),
    };
    into_axum(response, &request_id)
}

fn into_axum(r: Response, request_id: &str) -> axum::response::Response {
    let mut out = axum::response::Response::new(Body::from(r.body));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(name, v);
        }
    }
    out
}
