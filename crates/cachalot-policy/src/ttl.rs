//! Whether and for how long a response is cached (§3.1–3.3, §3.6), and whether
//! concurrent misses may be collapsed onto one fetch (§6.6).

use crate::parse::CacheControl;
use cachalot_config::model::{CacheSettings, NameRule, OriginRequestSettings};
use http::HeaderMap;

/// CloudFront's default ErrorCachingMinTTL.
pub const DEFAULT_ERROR_CACHING_MIN_TTL: u64 = 10;

/// Where a TTL came from (for traces and the doctor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlSource {
    /// `Cache-Control: s-maxage`, clamped to Min/Max.
    SMaxAge,
    /// `Cache-Control: max-age`, clamped to Min/Max.
    MaxAge,
    /// `Expires`, clamped to Min/Max.
    Expires,
    /// No directive: DefaultTTL.
    DefaultTtl,
    /// `no-cache`/`no-store`/`private` with MinTTL > 0: cached for MinTTL anyway.
    MinTtlOverride,
    /// An error status cached for max(ErrorCachingMinTTL, header TTL).
    ErrorCaching,
}

/// Why a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStoredReason {
    /// MaxTTL is 0 (e.g. Managed-CachingDisabled).
    CachingDisabled,
    /// Legacy `ForwardedValues` forwards all headers.
    ForwardAllHeaders,
    /// `no-store`/`no-cache`/`private` with MinTTL 0.
    OriginDirective,
    /// The computed TTL is 0 (`max-age=0`, past `Expires`, …) with MinTTL 0.
    ZeroTtl,
    /// `Vary: *` with MinTTL 0.
    VaryStar,
    /// The status is not cacheable (e.g. 416, or 403 without max-age).
    StatusNotCacheable,
    /// The request method is not a cached method.
    MethodNotCached,
}

impl NotStoredReason {
    /// Stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStoredReason::CachingDisabled => "caching-disabled",
            NotStoredReason::ForwardAllHeaders => "forward-all-headers",
            NotStoredReason::OriginDirective => "origin-no-cache-directive",
            NotStoredReason::ZeroTtl => "zero-ttl",
            NotStoredReason::VaryStar => "vary-star",
            NotStoredReason::StatusNotCacheable => "status-not-cacheable",
            NotStoredReason::MethodNotCached => "method-not-cached",
        }
    }
}

/// The storage decision for one origin response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// Seconds the object is fresh; `None` when it is not stored.
    pub ttl: Option<u64>,
    /// Where the TTL came from.
    pub source: Option<TtlSource>,
    /// Why it is not stored.
    pub not_stored: Option<NotStoredReason>,
    /// `stale-while-revalidate` window after expiry, seconds.
    pub stale_while_revalidate: u64,
    /// `stale-if-error` window after expiry, seconds.
    pub stale_if_error: u64,
    /// Requests waiting on this fetch may share its response.
    pub collapsible: bool,
    /// Keep `Set-Cookie` out of the stored copy (`no-cache="Set-Cookie"`).
    pub strip_set_cookie: bool,
}

impl Storage {
    fn not_stored(reason: NotStoredReason, collapsible: bool) -> Self {
        Storage {
            ttl: None,
            source: None,
            not_stored: Some(reason),
            stale_while_revalidate: 0,
            stale_if_error: 0,
            collapsible,
            strip_set_cookie: false,
        }
    }

    /// True when the response is stored.
    pub fn is_stored(&self) -> bool {
        self.ttl.is_some()
    }
}

/// Whether misses of this behavior may be collapsed at all (§6.6): not with
/// caching disabled, and not when cookies are keyed or forwarded.
pub fn collapsing_allowed(cache: &CacheSettings, orp: &OriginRequestSettings) -> bool {
    !cache.caching_disabled() && cache.cookies.is_none() && orp.cookies.is_none()
}

/// Error statuses always cached (§3.6).
fn always_cached_error(status: u16) -> bool {
    matches!(status, 404 | 414 | 500 | 501 | 502 | 503 | 504)
}

/// Error statuses cached only with an explicit max-age / s-maxage (§3.6).
fn error_cached_with_max_age(status: u16) -> bool {
    matches!(status, 400 | 403 | 405 | 412 | 415)
}

/// Success and redirect statuses cached by the normal TTL rules (§3.7; choice documented in compat).
pub fn cacheable_status(status: u16) -> bool {
    matches!(status, 200 | 203 | 204 | 206 | 300 | 301 | 302 | 303 | 307 | 308 | 410)
}

/// Seconds from `now` until an HTTP date, or 0 when in the past or unparseable.
fn expires_in(headers: &HeaderMap, now_secs: u64) -> Option<u64> {
    let v = headers.get(http::header::EXPIRES)?.to_str().ok()?;
    match httpdate::parse_http_date(v.trim()) {
        Ok(t) => {
            let at = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            Some(at.saturating_sub(now_secs))
        }
        // An invalid Expires means "already expired" (RFC 9111 §5.3).
        Err(_) => Some(0),
    }
}

/// Decides whether and how long to keep an origin response.
///
/// `now_secs` is Unix time; `error_caching_min_ttl` comes from the distribution's
/// custom error response for this status, if any.
pub fn storage(
    cache: &CacheSettings,
    orp: &OriginRequestSettings,
    status: u16,
    headers: &HeaderMap,
    now_secs: u64,
    error_caching_min_ttl: Option<u64>,
) -> Storage {
    let cc = CacheControl::parse(headers.get_all(http::header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()));
    let behavior_collapses = collapsing_allowed(cache, orp);
    if cache.forward_all_headers {
        return Storage::not_stored(NotStoredReason::ForwardAllHeaders, false);
    }
    if cache.max_ttl == 0 {
        return Storage::not_stored(NotStoredReason::CachingDisabled, false);
    }
    let (min, default, max) = (cache.min_ttl, cache.default_ttl, cache.max_ttl);
    let header_ttl = cc.s_maxage.or(cc.max_age).or_else(|| expires_in(headers, now_secs));
    let forbids = cc.no_store || cc.no_cache || cc.private;
    // Per-object collapsing exception (§6.6).
    let collapsible = behavior_collapses && !(min == 0 && (forbids || cc.max_age == Some(0) || cc.s_maxage == Some(0)));

    if status >= 400 {
        let error_min = error_caching_min_ttl.unwrap_or(DEFAULT_ERROR_CACHING_MIN_TTL);
        let explicit = cc.s_maxage.or(cc.max_age);
        let cached = always_cached_error(status) || (error_cached_with_max_age(status) && explicit.is_some());
        if !cached || status == 416 {
            return Storage::not_stored(NotStoredReason::StatusNotCacheable, collapsible);
        }
        let ttl = if forbids { error_min } else { error_min.max(header_ttl.unwrap_or(0).min(max)) };
        if ttl == 0 {
            return Storage::not_stored(NotStoredReason::ZeroTtl, collapsible);
        }
        return Storage {
            ttl: Some(ttl),
            source: Some(TtlSource::ErrorCaching),
            not_stored: None,
            stale_while_revalidate: 0,
            stale_if_error: 0,
            collapsible,
            strip_set_cookie: cc.no_cache_set_cookie,
        };
    }
    if !cacheable_status(status) {
        return Storage::not_stored(NotStoredReason::StatusNotCacheable, collapsible);
    }
    if min == 0 && vary_star(headers) {
        return Storage::not_stored(NotStoredReason::VaryStar, collapsible);
    }
    let (ttl, source) = if forbids {
        if min == 0 {
            return Storage::not_stored(NotStoredReason::OriginDirective, collapsible);
        }
        (min, TtlSource::MinTtlOverride)
    } else if let Some(s) = cc.s_maxage {
        (s.clamp(min, max), TtlSource::SMaxAge)
    } else if let Some(m) = cc.max_age {
        (m.clamp(min, max), TtlSource::MaxAge)
    } else if let Some(e) = expires_in(headers, now_secs) {
        (e.clamp(min, max), TtlSource::Expires)
    } else {
        (default.max(min), TtlSource::DefaultTtl)
    };
    if ttl == 0 {
        return Storage::not_stored(NotStoredReason::ZeroTtl, collapsible);
    }
    Storage {
        ttl: Some(ttl),
        source: Some(source),
        not_stored: None,
        stale_while_revalidate: cc.stale_while_revalidate.unwrap_or(0),
        stale_if_error: cc.stale_if_error.unwrap_or(0),
        collapsible,
        strip_set_cookie: cc.no_cache_set_cookie,
    }
}

/// Whether an expired copy may stand in for a failed origin (§3.6): always, unless
/// the origin set `stale-if-error`, whose window after expiry then applies
/// (`stale-if-error=0` opts out). `stored` are the copy's headers.
pub fn may_serve_stale_on_error(stored: &HeaderMap, expires_at_ms: u64, now_ms: u64) -> bool {
    let cc = CacheControl::parse(stored.get_all(http::header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()));
    match cc.stale_if_error {
        Some(window) => now_ms < expires_at_ms.saturating_add(window.saturating_mul(1000)),
        None => true,
    }
}

fn vary_star(headers: &HeaderMap) -> bool {
    headers.get_all(http::header::VARY).iter().any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim() == "*")))
}

/// True when `cached` cookies or keys make viewer conditional requests unsupported (§2.4).
pub fn viewer_conditionals_supported(cache: &CacheSettings, orp: &OriginRequestSettings) -> bool {
    matches!(cache.cookies, NameRule::None) && matches!(orp.cookies, NameRule::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn settings(min: u64, default: u64, max: u64) -> CacheSettings {
        CacheSettings {
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            ..CacheSettings::path_only(min, default, max)
        }
    }

    fn decide(s: &CacheSettings, status: u16, headers: &[(&str, &str)]) -> Storage {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        storage(s, &OriginRequestSettings::none(), status, &h, 1_700_000_000, None)
    }

    #[test]
    fn directive_precedence_and_clamps() {
        let s = settings(1, 86400, 31536000);
        assert_eq!(decide(&s, 200, &[("cache-control", "max-age=60, s-maxage=120")]).ttl, Some(120));
        assert_eq!(decide(&s, 200, &[("cache-control", "max-age=60")]).ttl, Some(60));
        assert_eq!(decide(&s, 200, &[]).ttl, Some(86400));
        assert_eq!(decide(&s, 200, &[("cache-control", "max-age=0")]).ttl, Some(1), "MinTTL raises it");
        assert_eq!(decide(&s, 200, &[("cache-control", "no-store")]).ttl, Some(1), "MinTTL > 0 overrides no-store");
        assert_eq!(decide(&settings(0, 86400, 600), 200, &[("cache-control", "max-age=3600")]).ttl, Some(600));
        let past = decide(&settings(0, 86400, 31536000), 200, &[("expires", "Thu, 01 Jan 1970 00:00:00 GMT")]);
        assert_eq!(past.not_stored, Some(NotStoredReason::ZeroTtl));
    }

    #[test]
    fn min_ttl_zero_respects_no_cache_and_stops_collapsing() {
        let s = settings(0, 86400, 31536000);
        let d = decide(&s, 200, &[("cache-control", "private")]);
        assert_eq!(d.not_stored, Some(NotStoredReason::OriginDirective));
        assert!(!d.collapsible);
        assert!(decide(&s, 200, &[("cache-control", "max-age=10")]).collapsible);
    }

    #[test]
    fn max_ttl_zero_stores_nothing() {
        let d = decide(&settings(0, 0, 0), 200, &[("cache-control", "max-age=100")]);
        assert_eq!(d.not_stored, Some(NotStoredReason::CachingDisabled));
    }

    #[test]
    fn error_caching_table() {
        let s = settings(0, 86400, 31536000);
        assert_eq!(decide(&s, 404, &[]).ttl, Some(10));
        assert_eq!(decide(&s, 503, &[("cache-control", "max-age=60")]).ttl, Some(60));
        assert_eq!(decide(&s, 403, &[]).not_stored, Some(NotStoredReason::StatusNotCacheable));
        assert_eq!(decide(&s, 403, &[("cache-control", "max-age=30")]).ttl, Some(30));
        assert_eq!(
            decide(&s, 416, &[("cache-control", "max-age=30")]).not_stored,
            Some(NotStoredReason::StatusNotCacheable)
        );
        assert_eq!(decide(&s, 418, &[]).not_stored, Some(NotStoredReason::StatusNotCacheable));
    }

    #[test]
    fn stale_windows_are_read() {
        let d = decide(
            &settings(0, 86400, 31536000),
            200,
            &[("cache-control", "max-age=5, stale-while-revalidate=30, stale-if-error=300")],
        );
        assert_eq!((d.ttl, d.stale_while_revalidate, d.stale_if_error), (Some(5), 30, 300));
    }
}
