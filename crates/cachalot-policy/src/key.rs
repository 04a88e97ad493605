//! The cache key (§2): distribution, path, OPTIONS apart, and exactly the query
//! strings, headers, cookies and normalised `Accept-Encoding` the cache policy names.

use crate::parse::{cookie_pairs, lists_token, query_pairs};
use crate::request::ViewerRequest;
use cachalot_config::model::{CacheSettings, NameRule, cookie_name_matches};
use std::fmt::Write as _;

/// Separator between key components; cannot appear in a request target.
const SEP: char = '\u{1f}';

/// A cache key. Two requests share a cached object exactly when their keys are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    text: String,
    target_len: usize,
}

impl CacheKey {
    /// The canonical text (stable across versions of the same config; used for hashing).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `path[?keyed query]`: what invalidation paths are matched against (§7).
    pub fn invalidation_target(&self) -> &str {
        &self.text[..self.target_len]
    }

    /// The distribution id the key belongs to.
    pub fn distribution(&self) -> &str {
        let rest = &self.text[self.target_len..];
        let rest = rest.strip_prefix(SEP).and_then(|r| r.strip_prefix('D')).unwrap_or("");
        rest.split(SEP).next().unwrap_or("")
    }

    /// The components, readable, for traces and the doctor: `(name, value)`.
    pub fn components(&self) -> impl Iterator<Item = (&str, &str)> {
        let target = std::iter::once(("target", self.invalidation_target()));
        let rest = self.text[self.target_len..].split(SEP).filter(|s| !s.is_empty()).map(|part| {
            let (k, v) = part.split_at(1);
            let name = match k {
                "D" => "distribution",
                "O" => "method",
                "H" => "header",
                "C" => "cookies",
                "E" => "accept-encoding",
                _ => "other",
            };
            (name, v)
        });
        target.chain(rest)
    }
}

/// The `Accept-Encoding` value CloudFront puts in the key and sends to the origin (§2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalizedEncoding {
    /// Neither flag is on: `Accept-Encoding` is an ordinary header.
    NotNormalized,
    /// Flags on, viewer accepts none of them (or sent none): origin gets `identity`.
    Identity,
    /// `gzip`.
    Gzip,
    /// `br`.
    Brotli,
    /// `br,gzip`.
    BrotliGzip,
}

impl NormalizedEncoding {
    /// The value for the key (`None`: not in the key).
    pub fn key_value(self) -> Option<&'static str> {
        match self {
            NormalizedEncoding::Gzip => Some("gzip"),
            NormalizedEncoding::Brotli => Some("br"),
            NormalizedEncoding::BrotliGzip => Some("br,gzip"),
            _ => None,
        }
    }

    /// The value sent to the origin (`None`: handled as an ordinary header).
    pub fn origin_value(self) -> Option<&'static str> {
        match self {
            NormalizedEncoding::NotNormalized => None,
            NormalizedEncoding::Identity => Some("identity"),
            other => other.key_value(),
        }
    }

    /// Whether the viewer may receive brotli / gzip from the edge's compressor.
    pub fn accepts(self) -> (bool, bool) {
        match self {
            NormalizedEncoding::Brotli => (true, false),
            NormalizedEncoding::Gzip => (false, true),
            NormalizedEncoding::BrotliGzip => (true, true),
            _ => (false, false),
        }
    }
}

/// Normalises the viewer's `Accept-Encoding` per the cache policy's flags.
pub fn normalize_accept_encoding(settings: &CacheSettings, req: &ViewerRequest<'_>) -> NormalizedEncoding {
    if !settings.accept_encoding_gzip && !settings.accept_encoding_brotli {
        return NormalizedEncoding::NotNormalized;
    }
    if req.http10 {
        // HTTP/1.0 viewers: Accept-Encoding is removed and nothing is compressed.
        return NormalizedEncoding::Identity;
    }
    let mut gzip = false;
    let mut br = false;
    for value in req.headers.get_all(http::header::ACCEPT_ENCODING) {
        if let Ok(v) = value.to_str() {
            gzip |= lists_token(v, "gzip");
            br |= lists_token(v, "br");
        }
    }
    match (settings.accept_encoding_brotli && br, settings.accept_encoding_gzip && gzip) {
        (true, true) => NormalizedEncoding::BrotliGzip,
        (true, false) => NormalizedEncoding::Brotli,
        (false, true) => NormalizedEncoding::Gzip,
        (false, false) => NormalizedEncoding::Identity,
    }
}

/// Builds the cache key of `req` under `settings` for `distribution_id`.
pub fn cache_key(
    distribution_id: &str,
    settings: &CacheSettings,
    req: &ViewerRequest<'_>,
) -> (CacheKey, NormalizedEncoding) {
    let mut text = String::with_capacity(req.path.len() + distribution_id.len() + 16);
    text.push_str(req.path);
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        let start = text.len();
        text.push('?');
        push_selected_query(&mut text, q, &settings.query_strings);
        if text.len() == start + 1 {
            text.truncate(start);
        }
    }
    let target_len = text.len();
    text.push(SEP);
    text.push('D');
    text.push_str(distribution_id);
    if req.method == http::Method::OPTIONS {
        text.push(SEP);
        text.push_str("OOPTIONS");
    }
    if let NameRule::Only(names) = &settings.headers {
        // Names are stored lower-case and in policy order, so request header order never matters.
        for name in names {
            text.push(SEP);
            text.push('H');
            text.push_str(name);
            text.push(':');
            let mut first = true;
            for value in req.headers.get_all(name.as_str()) {
                if !first {
                    text.push(',');
                }
                first = false;
                text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            if first {
                // Absent differs from present-but-empty.
                text.push('\u{0}');
            }
        }
    }
    if !settings.cookies.is_none() {
        let cookies = selected_cookies(req, &settings.cookies);
        if !cookies.is_empty() {
            text.push(SEP);
            text.push('C');
            for (i, (n, v)) in cookies.iter().enumerate() {
                if i > 0 {
                    text.push_str("; ");
                }
                let _ = write!(text, "{n}={v}");
            }
        }
    }
    let encoding = normalize_accept_encoding(settings, req);
    if let Some(ae) = encoding.key_value() {
        text.push(SEP);
        text.push('E');
        text.push_str(ae);
    }
    (CacheKey { text, target_len }, encoding)
}

/// Appends the query segments `rule` selects, in request order, joined by `&`.
pub fn push_selected_query(out: &mut String, raw: &str, rule: &NameRule) {
    match rule {
        NameRule::None => {}
        NameRule::All => out.push_str(raw),
        _ => {
            let mut first = true;
            for (segment, name, _) in query_pairs(raw) {
                if rule.selects_with(name, |a, b| a == b) {
                    if !first {
                        out.push('&');
                    }
                    first = false;
                    out.push_str(segment);
                }
            }
        }
    }
}

/// The viewer's cookies that `rule` selects, sorted by name (CloudFront's order toward the origin).
pub fn selected_cookies<'a>(req: &ViewerRequest<'a>, rule: &NameRule) -> Vec<(&'a str, &'a str)> {
    if rule.is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for value in req.headers.get_all(http::header::COOKIE) {
        let Ok(v) = value.to_str() else { continue };
        for (name, val) in cookie_pairs(v) {
            if rule.selects_with(name, cookie_name_matches) {
                out.push((name, val));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ViewerRequest;
    use http::{HeaderMap, HeaderValue, Method};

    fn settings() -> CacheSettings {
        CacheSettings {
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            ..CacheSettings::path_only(1, 86400, 31536000)
        }
    }

    fn key(s: &CacheSettings, method: Method, path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> CacheKey {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let req = ViewerRequest::new(&method, path, query, &map);
        cache_key("E1", s, &req).0
    }

    #[test]
    fn query_rules() {
        let mut s = settings();
        let none = key(&s, Method::GET, "/a", Some("utm=1"), &[]);
        assert_eq!(none, key(&s, Method::GET, "/a", Some("utm=2"), &[]));
        s.query_strings = NameRule::All;
        assert_ne!(key(&s, Method::GET, "/a", Some("utm=1"), &[]), key(&s, Method::GET, "/a", Some("utm=2"), &[]));
        assert_ne!(key(&s, Method::GET, "/a", Some("a=1&b=2"), &[]), key(&s, Method::GET, "/a", Some("b=2&a=1"), &[]));
        s.query_strings = NameRule::Only(vec!["w".into()]);
        let k = key(&s, Method::GET, "/a", Some("utm=1&w=800"), &[]);
        assert_eq!(k.invalidation_target(), "/a?w=800");
        assert_eq!(k.distribution(), "E1");
        assert_eq!(k, key(&s, Method::GET, "/a", Some("w=800&utm=2"), &[]));
        assert_ne!(k, key(&s, Method::GET, "/a", Some("W=800"), &[]));
        s.query_strings = NameRule::AllExcept(vec!["utm".into()]);
        assert_eq!(key(&s, Method::GET, "/a", Some("utm=9"), &[]).invalidation_target(), "/a");
    }

    #[test]
    fn get_and_head_share_options_apart() {
        let s = settings();
        assert_eq!(key(&s, Method::GET, "/a", None, &[]), key(&s, Method::HEAD, "/a", None, &[]));
        assert_ne!(key(&s, Method::GET, "/a", None, &[]), key(&s, Method::OPTIONS, "/a", None, &[]));
    }

    #[test]
    fn headers_names_insensitive_values_sensitive() {
        let mut s = settings();
        s.headers = NameRule::Only(vec!["accept".into()]);
        let a = key(&s, Method::GET, "/i", None, &[("Accept", "image/webp")]);
        assert_eq!(a, key(&s, Method::GET, "/i", None, &[("accept", "image/webp")]));
        assert_ne!(a, key(&s, Method::GET, "/i", None, &[("accept", "IMAGE/WEBP")]));
        assert_ne!(key(&s, Method::GET, "/i", None, &[]), key(&s, Method::GET, "/i", None, &[("accept", "")]));
    }

    #[test]
    fn cookies_sorted_and_selected() {
        let mut s = settings();
        s.cookies = NameRule::Only(vec!["theme".into(), "lang".into()]);
        let a = key(&s, Method::GET, "/", None, &[("cookie", "session=1; theme=dark; lang=en")]);
        let b = key(&s, Method::GET, "/", None, &[("cookie", "lang=en; theme=dark; session=2")]);
        assert_eq!(a, b);
        s.cookies = NameRule::All;
        assert_ne!(
            key(&s, Method::GET, "/", None, &[("cookie", "session=1")]),
            key(&s, Method::GET, "/", None, &[("cookie", "session=2")])
        );
    }

    #[test]
    fn accept_encoding_table() {
        let s = settings();
        let enc = |v: &str| {
            let mut map = HeaderMap::new();
            map.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            normalize_accept_encoding(&s, &ViewerRequest::new(&Method::GET, "/", None, &map))
        };
        assert_eq!(enc("gzip, deflate, br"), NormalizedEncoding::BrotliGzip);
        assert_eq!(enc("gzip"), NormalizedEncoding::Gzip);
        assert_eq!(enc("br;q=1"), NormalizedEncoding::Brotli);
        assert_eq!(enc("deflate"), NormalizedEncoding::Identity);
        let mut only_gzip = settings();
        only_gzip.accept_encoding_brotli = false;
        let map: HeaderMap =
            [(http::header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip"))].into_iter().collect();
        assert_eq!(
            normalize_accept_encoding(&only_gzip, &ViewerRequest::new(&Method::GET, "/", None, &map)),
            NormalizedEncoding::Gzip
        );
    }
}
