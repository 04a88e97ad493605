//! Viewer-side admission (§1 steps 2–5): request limits, protocol policy, allowed methods.

use crate::result::{DetailedResultType, ResultType};
use cachalot_config::model::{Behavior, ViewerProtocolPolicy};
use http::Method;

/// Request line plus headers larger than this get 413 (§13).
pub const MAX_REQUEST_HEADER_BYTES: usize = 20_480;
/// URLs longer than this get 413 (§13).
pub const MAX_URL_BYTES: usize = 8_192;

/// What the edge does with a viewer request before looking at the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go on.
    Proceed,
    /// Answer with a CloudFront-generated error.
    Reject(Rejection),
    /// Redirect to HTTPS.
    Redirect {
        /// 301 for GET/HEAD, 307 otherwise.
        status: u16,
        /// `https://host/path?query`.
        location: String,
    },
}

/// A CloudFront-generated refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// Log / `x-cache` result.
    pub result: ResultType,
    /// Detailed result for the log.
    pub detailed: DetailedResultType,
    /// The sentence in CloudFront's HTML error page.
    pub message: &'static str,
    /// Close the connection afterwards (413).
    pub close: bool,
    /// Whether the request is logged (413s are not).
    pub logged: bool,
}

/// HTTP to a distribution that takes only HTTPS: CloudFront's 403 (for `https-only`, and for
/// `redirect-to-https` when a redirect could not be replayed safely).
const HTTPS_ONLY: Rejection = Rejection {
    status: 403,
    result: ResultType::Error,
    detailed: DetailedResultType::InvalidRequest,
    message: "Bad request. This distribution only accepts HTTPS requests.",
    close: false,
    logged: true,
};

/// Size limits: checked before routing.
pub fn check_limits(header_bytes: usize, url_bytes: usize) -> Admission {
    if header_bytes > MAX_REQUEST_HEADER_BYTES || url_bytes > MAX_URL_BYTES {
        return Admission::Reject(Rejection {
            status: 413,
            result: ResultType::Error,
            detailed: DetailedResultType::InvalidRequestHeader,
            message: "Bad request. The request headers or URL are too large.",
            close: true,
            logged: false,
        });
    }
    Admission::Proceed
}

/// Protocol policy, allowed methods and the GET-with-body rule of the selected behavior.
pub fn admit(
    behavior: &Behavior,
    method: &Method,
    https: bool,
    below_http11: bool,
    has_body: bool,
    host: &str,
    path_and_query: &str,
) -> Admission {
    if !https {
        match behavior.viewer_protocol_policy {
            ViewerProtocolPolicy::AllowAll => {}
            ViewerProtocolPolicy::HttpsOnly => {
                return Admission::Reject(HTTPS_ONLY);
            }
            ViewerProtocolPolicy::RedirectToHttps => {
                let safe = *method == Method::GET || *method == Method::HEAD;
                if !safe && below_http11 {
                    return Admission::Reject(HTTPS_ONLY);
                }
                return Admission::Redirect {
                    status: if safe { 301 } else { 307 },
                    location: format!("https://{}{}", strip_port(host), path_and_query),
                };
            }
        }
    }
    if !behavior.allowed_methods.contains(method.as_str()) {
        return Admission::Reject(Rejection {
            status: 403,
            result: ResultType::Error,
            detailed: DetailedResultType::InvalidRequestMethod,
            message: "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.",
            close: false,
            logged: true,
        });
    }
    if has_body && (*method == Method::GET || *method == Method::HEAD) {
        return Admission::Reject(Rejection {
            status: 403,
            result: ResultType::Error,
            detailed: DetailedResultType::InvalidRequest,
            message: "Bad request. A GET request cannot carry a body.",
            close: false,
            logged: true,
        });
    }
    Admission::Proceed
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}
