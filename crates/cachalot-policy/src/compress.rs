//! Edge compression rules (§5.4): when CloudFront compresses a response, and
//! which coding it picks.

use crate::key::NormalizedEncoding;
use cachalot_config::model::Behavior;
use http::HeaderMap;

/// A content coding the edge produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `br`.
    Brotli,
    /// `gzip`.
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// Smallest body CloudFront compresses.
pub const MIN_COMPRESS_BYTES: usize = 1_000;
/// Largest body CloudFront compresses.
pub const MAX_COMPRESS_BYTES: usize = 10_000_000;

/// Content types CloudFront compresses (parameters such as `charset` ignored).
const COMPRESSIBLE: &[&str] = &[
    "application/dash+xml",
    "application/eot",
    "application/font",
    "application/font-sfnt",
    "application/javascript",
    "application/json",
    "application/opentype",
    "application/otf",
    "application/pkcs7-mime",
    "application/protobuf",
    "application/rss+xml",
    "application/truetype",
    "application/ttf",
    "application/vnd.apple.mpegurl",
    "application/vnd.mapbox-vector-tile",
    "application/vnd.ms-fontobject",
    "application/xhtml+xml",
    "application/xml",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/x-font-ttf",
    "application/x-httpd-cgi",
    "application/x-javascript",
    "application/x-mpegurl",
    "application/x-opentype",
    "application/x-otf",
    "application/x-perl",
    "application/x-ttf",
    "font/eot",
    "font/opentype",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/js",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/xml",
    "text/x-component",
    "text/x-java-source",
    "text/x-script",
    "vnd.apple.mpegurl",
];

/// Whether `content_type` is one CloudFront compresses.
pub fn compressible_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    COMPRESSIBLE.iter().any(|t| t.eq_ignore_ascii_case(essence))
}

/// The coding to apply to an origin response, or `None` to send it as is.
pub fn choose(
    behavior: &Behavior,
    encoding: NormalizedEncoding,
    status: u16,
    headers: &HeaderMap,
    body_len: usize,
) -> Option<Coding> {
    if !behavior.compress || behavior.cache.caching_disabled() || behavior.cache.keys_accept_encoding_header() {
        return None;
    }
    if !matches!(status, 200 | 403 | 404) || !(MIN_COMPRESS_BYTES..=MAX_COMPRESS_BYTES).contains(&body_len) {
        return None;
    }
    // Any Content-Encoding from the origin, even `identity`, means "leave it alone".
    if headers.contains_key(http::header::CONTENT_ENCODING) {
        return None;
    }
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok())?;
    if !compressible_type(content_type) {
        return None;
    }
    match encoding.accepts() {
        (true, _) => Some(Coding::Brotli),
        (false, true) => Some(Coding::Gzip),
        _ => None,
    }
}

/// Rewrites the headers of a response the edge compressed with `coding` (§5.4):
/// `Content-Encoding` set, a strong `ETag` weakened (an invalid one dropped), and
/// `Vary: Accept-Encoding` added unless already there.
pub fn encoded_headers(headers: &mut HeaderMap, coding: Coding) {
    use http::{HeaderValue, header};
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).map(compressed_etag);
    match etag.flatten().and_then(|e| HeaderValue::from_str(&e).ok()) {
        Some(weak) => {
            headers.insert(header::ETAG, weak);
        }
        None => {
            headers.remove(header::ETAG);
        }
    }
    let varies = headers
        .get_all(header::VARY)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|n| n.trim().eq_ignore_ascii_case("accept-encoding"))));
    if !varies {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// The ETag after compression: strong ETags are weakened, weak ones kept, invalid ones dropped.
pub fn compressed_etag(etag: &str) -> Option<String> {
    if etag.starts_with("W/\"") {
        Some(etag.to_owned())
    } else if etag.starts_with('"') {
        Some(format!("W/{etag}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_etags() {
        assert!(compressible_type("text/html; charset=utf-8"));
        assert!(compressible_type("Application/JSON"));
        assert!(!compressible_type("image/png"));
        assert_eq!(compressed_etag("\"abc\"").as_deref(), Some("W/\"abc\""));
        assert_eq!(compressed_etag("W/\"abc\"").as_deref(), Some("W/\"abc\""));
        assert_eq!(compressed_etag("abc"), None);
    }
}
