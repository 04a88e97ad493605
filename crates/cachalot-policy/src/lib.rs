//! CloudFront semantics as pure functions (route, key, forward, TTL, results).
