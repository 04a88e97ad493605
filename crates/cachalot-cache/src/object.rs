//! A cached response and its freshness arithmetic.

use crate::body::ObjectBody;
use crate::headers::StoredHeaders;
use http::{HeaderMap, HeaderValue};

/// What the memory store keeps per entry besides the object and the key's text: its
/// hash table slot, its entry record, its place in the eviction order and the key
/// (measured with a counting allocator in `tests/memory.rs`).
pub const STORE_ENTRY_BYTES: usize = 400;

/// Bytes an allocation of `n` takes from the heap: `n` plus the allocator's header and,
/// on average, its rounding up (8 + 8 with glibc's `malloc`).
pub fn heap_bytes(n: usize) -> usize {
    n + 16
}

/// A stored response: immutable once shared; a refresh builds a new one that
/// reuses the body bytes.
#[derive(Debug, Clone)]
pub struct CachedObject {
    /// Origin status.
    pub status: u16,
    /// Response headers as replayed to viewers (hop-by-hop removed; `Set-Cookie` removed when not replayable).
    pub headers: StoredHeaders,
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
    /// Bytes charged against the memory tier's capacity for an entry holding it under a
    /// key of `key_len` bytes: what the process holds for it (a body on disk costs
    /// nothing there), so that the capacity bounds real memory.
    pub fn weight(&self, key_len: usize) -> u32 {
        u32::try_from(self.held_bytes() + heap_bytes(key_len) + STORE_ENTRY_BYTES).unwrap_or(u32::MAX)
    }

    /// Bytes of heap the object holds: itself behind its `Arc`, its body in memory and
    /// header text (each with the shared counter a served `Bytes` carries), its
    /// invalidation target and tags.
    pub fn held_bytes(&self) -> usize {
        // `bytes`' shared counter: a pointer, a capacity and a count.
        const SHARED_COUNTER: usize = 24 + 16;
        let shared = |n: usize| if n == 0 { 0 } else { heap_bytes(n) + SHARED_COUNTER };
        let body = self.body.memory().map_or(0, |b| shared(b.len()));
        let tags: usize = if self.tags.is_empty() {
            0
        } else {
            heap_bytes(self.tags.capacity() * std::mem::size_of::<String>())
                + self.tags.iter().map(|t| heap_bytes(t.capacity())).sum::<usize>()
        };
        heap_bytes(std::mem::size_of::<CachedObject>() + 16)
            + body
            + shared(self.headers.text_len())
            + if self.invalidation_target.is_empty() { 0 } else { heap_bytes(self.invalidation_target.len()) }
            + tags
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
    pub fn etag(&self) -> Option<HeaderValue> {
        self.headers.get(http::header::ETAG)
    }

    /// The stored `Last-Modified`.
    pub fn last_modified(&self) -> Option<HeaderValue> {
        self.headers.get(http::header::LAST_MODIFIED)
    }

    /// A copy refreshed by a 304 at `now_ms`: new freshness, headers updated by the 304's
    /// (the body is shared, in memory or on disk).
    pub fn refreshed(&self, now_ms: u64, ttl_secs: u64, not_modified_headers: &HeaderMap) -> CachedObject {
        let merged = cachalot_policy::conditional::merge_not_modified(&self.headers.to_map(), not_modified_headers);
        CachedObject { headers: StoredHeaders::from_map(&merged), stored_at_ms: now_ms, ttl_secs, ..self.clone() }
    }
}
