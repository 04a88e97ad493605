//! The cause catalogue: why a request missed, with a stable kebab-case id.
//!
//! **API boundary.** The ids are printed by `probe`, `lint` and `analyze` (text, JSON,
//! SARIF) and documented in `docs/compat/doctor.md`; never rename one.

use serde::Serialize;
use std::fmt;

/// A cause of misses. The first five are the diagnostic guide's; the rest are Cachalot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Query strings that do not change the response are in the cache key.
    QueryStringsInKey,
    /// Cookies are in the cache key.
    CookiesInKey,
    /// The raw `Accept` header is in the cache key.
    AcceptOverKeyed,
    /// Objects expire before the next viewer arrives: a short `max-age`, DefaultTTL or MaxTTL.
    TtlTooShort,
    /// The first request at each POP misses: expected, not a fault.
    ColdPop,
    /// A high-cardinality header other than `Accept` (`User-Agent`, `Authorization`, …) is keyed.
    HeadersInKey,
    /// `Accept-Encoding` is keyed as a raw header instead of through the normalisation flags.
    AcceptEncodingKeyed,
    /// Caching is disabled where the content is cacheable.
    CachingDisabled,
    /// Edge compression is off for compressible content.
    CompressionOff,
    /// A behavior can never be selected: an earlier path pattern matches all its paths.
    UnreachableBehavior,
    /// Invalidations are used where versioned URLs would keep the cache warm.
    InvalidationChurn,
    /// The origin forbids caching (`no-store`, `private`, `no-cache`, `max-age=0`) and MinTTL is 0.
    Uncacheable,
    /// The cache key changes on every request: a function or the client adds a per-request value.
    KeyChangesPerRequest,
}

impl Cause {
    /// Every cause, in catalogue order.
    pub const ALL: [Cause; 13] = [
        Cause::QueryStringsInKey,
        Cause::CookiesInKey,
        Cause::AcceptOverKeyed,
        Cause::TtlTooShort,
        Cause::ColdPop,
        Cause::HeadersInKey,
        Cause::AcceptEncodingKeyed,
        Cause::CachingDisabled,
        Cause::CompressionOff,
        Cause::UnreachableBehavior,
        Cause::InvalidationChurn,
        Cause::Uncacheable,
        Cause::KeyChangesPerRequest,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Cause::QueryStringsInKey => "query-strings-in-key",
            Cause::CookiesInKey => "cookies-in-key",
            Cause::AcceptOverKeyed => "accept-over-keyed",
            Cause::TtlTooShort => "ttl-too-short",
            Cause::ColdPop => "cold-pop",
            Cause::HeadersInKey => "headers-in-key",
            Cause::AcceptEncodingKeyed => "accept-encoding-keyed",
            Cause::CachingDisabled => "caching-disabled",
            Cause::CompressionOff => "compression-off",
            Cause::UnreachableBehavior => "unreachable-behavior",
            Cause::InvalidationChurn => "invalidation-churn",
            Cause::Uncacheable => "uncacheable",
            Cause::KeyChangesPerRequest => "key-changes-per-request",
        }
    }

    /// The cause with this id.
    pub fn from_id(id: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.id() == id)
    }

    /// One line saying what it is.
    pub fn summary(self) -> &'static str {
        match self {
            Cause::QueryStringsInKey => "query strings that do not change the response are in the cache key",
            Cause::CookiesInKey => "cookies are in the cache key: one cached copy per cookie value",
            Cause::AcceptOverKeyed => "the raw Accept header is in the cache key: one copy per browser's Accept string",
            Cause::TtlTooShort => "objects expire before the next viewer asks (short max-age, DefaultTTL or MaxTTL)",
            Cause::ColdPop => "first request at a POP: each POP caches on its own (expected, not a fault)",
            Cause::HeadersInKey => "a high-cardinality header (User-Agent, Authorization, …) is in the cache key",
            Cause::AcceptEncodingKeyed => {
                "Accept-Encoding is keyed raw instead of through the gzip/brotli flags (also disables compression)"
            }
            Cause::CachingDisabled => "caching is disabled for content that could be cached",
            Cause::CompressionOff => "edge compression is off for compressible content",
            Cause::UnreachableBehavior => "a behavior is never selected: an earlier path pattern matches all its paths",
            Cause::InvalidationChurn => "frequent (wildcard) invalidations throw away warm cache",
            Cause::Uncacheable => {
                "the origin forbids caching (Cache-Control no-store, private, no-cache or max-age=0) and MinTTL is 0"
            }
            Cause::KeyChangesPerRequest => {
                "the cache key changes on every request: a viewer-request function or the client adds a per-request value"
            }
        }
    }

    /// Whether it is a fault to fix (cold POPs are expected).
    pub fn is_fault(self) -> bool {
        self != Cause::ColdPop
    }

    /// True for the five causes of the diagnostic guide.
    pub fn is_seed(self) -> bool {
        matches!(
            self,
            Cause::QueryStringsInKey
                | Cause::CookiesInKey
                | Cause::AcceptOverKeyed
                | Cause::TtlTooShort
                | Cause::ColdPop
        )
    }

    /// The fix in plain words.
    pub fn fix(self) -> &'static str {
        match self {
            Cause::QueryStringsInKey => {
                "set QueryStringBehavior to none on the cache policy, or whitelist only the parameters that change the response"
            }
            Cause::CookiesInKey => {
                "set CookieBehavior to none; forward a cookie the origin needs through the origin request policy without keying it"
            }
            Cause::AcceptOverKeyed => {
                "normalise Accept to image/avif, image/webp or image/jpeg in a viewer-request CloudFront Function so at most three variants exist"
            }
            Cause::TtlTooShort => {
                "serve content-hashed URLs with Cache-Control: public, max-age=31536000, immutable, and raise the policy's DefaultTTL/MaxTTL"
            }
            Cause::ColdPop => "nothing to fix; enable Origin Shield so POP misses collapse into one origin fetch",
            Cause::HeadersInKey => {
                "remove the header from the cache key; normalise it in a viewer-request function if the response really varies"
            }
            Cause::AcceptEncodingKeyed => {
                "remove Accept-Encoding from the key headers and set EnableAcceptEncodingGzip and EnableAcceptEncodingBrotli"
            }
            Cause::CachingDisabled => {
                "use a cache policy with a non-zero MaxTTL (Managed-CachingOptimized) for static content"
            }
            Cause::CompressionOff => "set Compress to true and enable the gzip and brotli flags on the cache policy",
            Cause::UnreachableBehavior => "move the more specific behavior before the broader one, or delete it",
            Cause::InvalidationChurn => "version asset URLs (app.3f9a1c.js) and keep invalidations for emergencies",
            Cause::Uncacheable => {
                "have the origin send Cache-Control: public, max-age=N for cacheable responses, or set MinTTL above 0"
            }
            Cause::KeyChangesPerRequest => {
                "stop adding the per-request value (random number, timestamp) to keyed parts of the request, or keep that \
                 parameter out of the cache key (whitelist the query strings, headers and cookies that change the response)"
            }
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kebab_case_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Cause::ALL {
            assert!(c.id().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", c.id());
            assert!(seen.insert(c.id()));
            assert_eq!(Cause::from_id(c.id()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::from(c.id()));
        }
        assert_eq!(Cause::ALL.iter().filter(|c| c.is_seed()).count(), 5);
        assert!(!Cause::ColdPop.is_fault());
    }
}
