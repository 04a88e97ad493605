//! Small, allocation-light parsers for the request and response fields CloudFront reads.

/// Iterates the `name=value` pairs of a raw query string, in order, without decoding.
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` has an empty value.
pub fn query_pairs(raw: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    raw.split('&').filter(|s| !s.is_empty()).map(|segment| match segment.split_once('=') {
        Some((name, value)) => (segment, name, value),
        None => (segment, segment, ""),
    })
}

/// Iterates the cookies of one `Cookie` header value: `(name, value)`, trimmed.
pub fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        Some(match part.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (part, ""),
        })
    })
}

/// The directives of a `Cache-Control` header that decide caching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache` (unqualified; `no-cache="Set-Cookie"` is recorded in `no_cache_set_cookie`).
    pub no_cache: bool,
    /// `no-cache="Set-Cookie"`: cache, but do not replay Set-Cookie.
    pub no_cache_set_cookie: bool,
    /// `private`.
    pub private: bool,
    /// `max-age`.
    pub max_age: Option<u64>,
    /// `s-maxage`.
    pub s_maxage: Option<u64>,
    /// `stale-while-revalidate`.
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error`.
    pub stale_if_error: Option<u64>,
    /// `must-revalidate` / `proxy-revalidate`.
    pub must_revalidate: bool,
}

impl CacheControl {
    /// Parses one or more `Cache-Control` values. Unknown directives are ignored;
    /// a malformed number makes that directive absent (never an error).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut cc = CacheControl::default();
        for value in values {
            for directive in split_directives(value) {
                let (name, arg) = match directive.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (directive.trim(), None),
                };
                let seconds = || arg.and_then(parse_seconds);
                if name.eq_ignore_ascii_case("no-store") {
                    cc.no_store = true;
                } else if name.eq_ignore_ascii_case("no-cache") {
                    match arg {
                        Some(fields) if !fields.is_empty() => {
                            if fields.split(',').any(|f| f.trim().eq_ignore_ascii_case("set-cookie")) {
                                cc.no_cache_set_cookie = true;
                            }
                        }
                        _ => cc.no_cache = true,
                    }
                } else if name.eq_ignore_ascii_case("private") {
                    cc.private = true;
                } else if name.eq_ignore_ascii_case("max-age") {
                    cc.max_age = seconds();
                } else if name.eq_ignore_ascii_case("s-maxage") {
                    cc.s_maxage = seconds();
                } else if name.eq_ignore_ascii_case("stale-while-revalidate") {
                    cc.stale_while_revalidate = seconds();
                } else if name.eq_ignore_ascii_case("stale-if-error") {
                    cc.stale_if_error = seconds();
                } else if name.eq_ignore_ascii_case("must-revalidate") || name.eq_ignore_ascii_case("proxy-revalidate")
                {
                    cc.must_revalidate = true;
                }
            }
        }
        cc
    }
}

/// Splits on commas outside double quotes.
fn split_directives(value: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut in_quotes = false;
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out.into_iter().filter(|d| !d.trim().is_empty())
}

/// Delta-seconds; values beyond 100 years saturate there (CloudFront's max-age range).
fn parse_seconds(s: &str) -> Option<u64> {
    const HUNDRED_YEARS: u64 = 100 * 365 * 86_400;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().unwrap_or(u64::MAX).min(HUNDRED_YEARS))
}

/// Whether a header value lists `token` (comma-separated, `;q=` parameters ignored,
/// case-insensitive), with a non-zero quality.
pub fn lists_token(value: &str, token: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case(token) {
            return false;
        }
        // `q=0` means "not acceptable".
        !parts.any(|p| {
            let p = p.trim();
            p.len() > 2 && p[..2].eq_ignore_ascii_case("q=") && p[2..].trim().parse::<f32>().is_ok_and(|q| q == 0.0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_directives() {
        let cc = CacheControl::parse(["public, max-age=60, s-maxage=\"120\"", "stale-while-revalidate=30"]);
        assert_eq!(cc.max_age, Some(60));
        assert_eq!(cc.s_maxage, Some(120));
        assert_eq!(cc.stale_while_revalidate, Some(30));
        let cc = CacheControl::parse(["no-cache=\"Set-Cookie, X-Foo\", max-age=bogus"]);
        assert!(cc.no_cache_set_cookie && !cc.no_cache);
        assert_eq!(cc.max_age, None);
        assert_eq!(CacheControl::parse(["max-age=99999999999999999999999"]).max_age, Some(100 * 365 * 86_400));
    }

    #[test]
    fn tokens_respect_zero_quality() {
        assert!(lists_token("gzip, deflate, br", "br"));
        assert!(lists_token("GZIP;q=0.5", "gzip"));
        assert!(!lists_token("gzip;q=0, br", "gzip"));
        assert!(!lists_token("gzipx", "gzip"));
    }

    #[test]
    fn query_and_cookie_pairs() {
        let q: Vec<_> = query_pairs("a=1&&b&c=x=y").map(|(_, n, v)| (n, v)).collect();
        assert_eq!(q, vec![("a", "1"), ("b", ""), ("c", "x=y")]);
        let c: Vec<_> = cookie_pairs(" session=abc ; theme=dark;;flag").collect();
        assert_eq!(c, vec![("session", "abc"), ("theme", "dark"), ("flag", "")]);
    }
}
