//! Credentials for the admin listener's own pages (`/metrics`, `/dashboard`), which the binary
//! serves beside the APIs: with access keys configured, a page answers only a request that
//! carries one. Two forms are accepted, each what a real client of those pages can send:
//!
//! - HTTP Basic with the access key id as user and the secret as password — Prometheus'
//!   `basic_auth` in a scrape config, and every browser (a `401` carries the
//!   `WWW-Authenticate: Basic` challenge that makes it ask). The secret travels in the clear
//!   over plain HTTP: on a network you do not trust, put the pages on their own listener;
//! - a SigV4 signature made with the key, as the APIs take (`curl --aws-sigv4`).
//!
//! Without access keys the pages are open, like the APIs.

use crate::control::Inner;
use crate::sigv4::SignedRequest;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{StatusCode, header};
use std::sync::Arc;

/// `pages` behind the access keys.
pub(crate) fn guard(inner: Arc<Inner>, pages: Router) -> Router {
    pages.layer(axum::middleware::from_fn_with_state(inner, check))
}

async fn check(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    if !inner.has_access_keys() {
        return next.run(req).await;
    }
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(encoded) = authorization.strip_prefix("Basic ") {
        return match basic_credentials(encoded) {
            Some((id, secret)) if inner.has_access_key(&id, &secret) => next.run(req).await,
            _ => challenge("the access key id or secret is wrong"),
        };
    }
    if authorization.is_empty() {
        return challenge("these pages need an access key: HTTP Basic (access key id and secret) or SigV4");
    }
    let signed = SignedRequest {
        method: req.method().as_str(),
        raw_path: req.uri().path(),
        raw_query: req.uri().query().unwrap_or(""),
        headers: req.headers(),
        body: b"",
    };
    match inner.authenticate(&signed) {
        Ok(()) => next.run(req).await,
        Err(e) => (StatusCode::FORBIDDEN, format!("{}: {}\n", e.code, e.message)).into_response(),
    }
}

/// `id:secret` of a Basic credential.
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `401` with the challenge that makes a browser or Prometheus send Basic credentials.
fn challenge(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"cachalot admin\", charset=\"UTF-8\"")],
        format!("{message}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let encoded = B64.encode("AKID:se:cret");
        assert_eq!(basic_credentials(&encoded), Some(("AKID".into(), "se:cret".into())));
        assert_eq!(basic_credentials("%%%"), None);
        assert_eq!(basic_credentials(&B64.encode("no-colon")), None);
    }
}
