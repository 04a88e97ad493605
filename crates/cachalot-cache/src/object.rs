//! A cached response and its freshness arithmetic.

use crate::body::ObjectBody;
use http::{HeaderMap, HeaderValue};

/// A stored response: immutable once shared; a refresh builds a new one that
/// reuses the body bytes.
#[derive(Debug, Clone)]
pub struct CachedObject {
    /// Origin status.
    pub status: u16,
    /// Response headers as replayed to viewers (hop-by-hop removed; `Set-Cookie` removed when not replayable).
    pub headers: HeaderMap,
    /// The body: in memory, or in a file of a disk tier.
    pub body: ObjectBody,
    /// When it was fetched or last revalidated, Unix milliseconds.
    pub stored_at_ms: u64,
    /// Seconds fresh after `stored_at_ms`.
    pub ttl_secs: u64,
    /// `stale-while-revalidate` window after expiry, seconds.
    pub stale_while_revalidate_secs: u64,
    /// `stale-if-error` window after expiry, seconds.
    pub stale_if_error_secs: u64,
    /// `path[?keyed query]`, matched by invalidations.
    pub invalidation_target: Box<str>,
    /// Cache tags (lower-case), matched by `#tag` invalidations.
    pub tags: Vec<String>,
    /// The body is compressed by the edge with this content coding.
    pub edge_encoding: Option<&'static str>,
}

impl CachedObject {
    /// Bytes charged against the memory tier's capacity (a body on disk costs nothing there).
    pub fn weight(&self) -> u32 {
        let headers: usize = self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        let body = self.body.memory().map_or(0, bytes::Bytes::len);
        let total = 256 + headers + body + self.invalidation_target.len();
        u32::try_from(total).unwrap_or(u32::MAX)
    }

    /// Unix milliseconds at which it stops being fresh.
    pub fn expires_at_ms(&self) -> u64 {
        self.stored_at_ms.saturating_add(self.ttl_secs.saturating_mul(1000))
    }

    /// Whether it is fresh at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms()
    }

    /// Whole seconds since it was fetched or revalidated (the `Age` header).
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    /// Within the `stale-while-revalidate` window at `now_ms`.
    pub fn within_stale_while_revalidate(&self, now_ms: u64) -> bool {
        self.stale_while_revalidate_secs > 0
            && now_ms < self.expires_at_ms().saturating_add(self.stale_while_revalidate_secs.saturating_mul(1000))
    }

    /// Within the `stale-if-error` window at `now_ms`.
    pub fn within_stale_if_error(&self, now_ms: u64) -> bool {
        self.stale_if_error_secs > 0
            && now_ms < self.expires_at_ms().saturating_add(self.stale_if_error_secs.saturating_mul(1000))
    }

    /// The stored `ETag`.
    pub fn etag(&self) -> Option<&HeaderValue> {
        self.headers.get(http::header::ETAG)
    }

    /// The stored `Last-Modified`.
    pub fn last_modified(&self) -> Option<&HeaderValue> {
        self.headers.get(http::header::LAST_MODIFIED)
    }

    /// A copy refreshed by a 304 at `now_ms`: new freshness, headers updated by the 304's
    /// (the body is shared, in memory or on disk).
    pub fn refreshed(&self, now_ms: u64, ttl_secs: u64, not_modified_headers: &HeaderMap) -> CachedObject {
        let headers = cachalot_policy::conditional::merge_not_modified(&self.headers, not_modified_headers);
        CachedObject { headers, stored_at_ms: now_ms, ttl_secs, ..self.clone() }
    }
}
