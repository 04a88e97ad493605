//! Regional edge caches on other nodes of a fleet (§6.5): which node serves a region's
//! REC for a key, and the protocol between a child tier and its parent (`client`,
//! `server`).
//!
//! A miss walks the hops `cachalot_policy::tiers::path` lays out. A hop is served here
//! when no node of the fleet hosts that region's REC (this node then keeps one, as a
//! single node does) or when rendezvous hashing of the cache key picks this node
//! among the hosts; otherwise it is a [`RemoteHop`]: the miss is sent to the chosen
//! parent over HTTP, which runs the rest of the walk (its REC, the shield, the origin)
//! with its own collapsing and answers with the object and what the child needs to
//! store it with the same expiry. A parent that cannot answer is skipped for the next,
//! then for the next hop or the origin; a truncated answer is never stored.
//!
//! Tier traffic is authenticated: each request carries an HMAC-SHA256 of its method,
//! target, metadata and time under the fleet's secret, and a parent refuses anything
//! else — viewers cannot use a regional cache listener.

pub(crate) mod client;
pub(crate) mod server;

use cachalot_cache::Tier;
use cachalot_policy::Layer;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The fleet as the edge sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetView {
    /// This node's id.
    pub node_id: String,
    /// The secret tier traffic is signed with (no tier traffic without one).
    pub secret: String,
    /// Live nodes hosting a regional edge cache, by region (this node included when it hosts one).
    pub regional_caches: BTreeMap<String, Vec<FleetParent>>,
}

/// A node hosting a regional edge cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetParent {
    /// Node id.
    pub node_id: String,
    /// `host:port` of its regional cache listener.
    pub address: String,
}

/// One cache a miss visits.
pub(crate) struct Hop {
    /// The REC's region (`None` for the POP's own cache).
    pub(crate) region: Option<String>,
    pub(crate) layer: Layer,
    pub(crate) kind: HopKind,
}

pub(crate) enum HopKind {
    /// A cache of this process.
    Local(Tier),
    /// A REC on other nodes: parents to try, best first.
    Remote(Vec<FleetParent>),
}

impl Hop {
    pub(crate) fn local(&self) -> Option<&Tier> {
        match &self.kind {
            HopKind::Local(t) => Some(t),
            HopKind::Remote(_) => None,
        }
    }
}

/// What a child tells its parent besides the viewer's request line and headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TierRequest {
    /// Distribution id.
    pub(crate) distribution: String,
    /// Index of the behavior in the distribution (the function may have rewritten the path).
    pub(crate) behavior: usize,
    /// The viewer's method (the tier request itself is always a GET: a parent answers with the whole object).
    pub(crate) method: String,
    /// The hops left, this parent's first: (region, layer).
    pub(crate) hops: Vec<(String, TierLayer)>,
    pub(crate) client_ip: std::net::IpAddr,
    pub(crate) client_port: u16,
    pub(crate) https: bool,
    pub(crate) http10: bool,
    pub(crate) request_id: String,
    pub(crate) host_id: String,
    /// The viewer-request function's origin changes.
    pub(crate) origin_change: Option<cachalot_config::origin_override::OriginOverride>,
}

/// A REC's role, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TierLayer {
    Regional,
    Shield,
    Origin,
}

impl TierLayer {
    pub(crate) fn of(layer: Layer) -> TierLayer {
        match layer {
            Layer::Shield => TierLayer::Shield,
            Layer::Origin => TierLayer::Origin,
            _ => TierLayer::Regional,
        }
    }

    pub(crate) fn layer(self) -> Layer {
        match self {
            TierLayer::Regional => Layer::Regional,
            TierLayer::Shield => Layer::Shield,
            TierLayer::Origin => Layer::Origin,
        }
    }
}

/// What a parent answers besides the object's status, headers and body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TierAnswer {
    /// Milliseconds since the copy was fetched or revalidated.
    pub(crate) age_ms: u64,
    pub(crate) ttl_secs: u64,
    pub(crate) stale_while_revalidate_secs: u64,
    pub(crate) stale_if_error_secs: u64,
    /// `Hit`, `Collapsed`, `Refreshed`, `Fetched` or `StaleOnError`, at `layer`.
    pub(crate) how: String,
    pub(crate) layer: Option<TierLayer>,
    pub(crate) origin_latency_ms: Option<u64>,
    pub(crate) tags: Vec<String>,
    pub(crate) edge_encoding: Option<String>,
    /// Too large to store: relayed as it comes.
    pub(crate) relay: bool,
    /// The origin could not be reached: (status, detailed result type, message).
    pub(crate) origin_error: Option<(u16, String, String)>,
}

/// Request header carrying [`TierRequest`] (JSON).
pub(crate) const REQUEST_HEADER: &str = "x-cachalot-tier";
/// Request header carrying the signature.
pub(crate) const AUTH_HEADER: &str = "x-cachalot-tier-auth";
/// Response header carrying [`TierAnswer`] (JSON).
pub(crate) const ANSWER_HEADER: &str = "x-cachalot-tier-answer";
/// Signatures older or newer than this are refused.
pub(crate) const MAX_SKEW_SECS: u64 = 300;

/// `t=<secs>,mac=<hex>`: HMAC-SHA256 under `secret` of the time, target and metadata.
pub(crate) fn sign(secret: &str, now_secs: u64, target: &str, meta: &str) -> String {
    format!("t={now_secs},mac={}", hex(&mac(secret, now_secs, target, meta)))
}

/// Whether `auth` is a valid signature of `target` and `meta` made within the skew.
pub(crate) fn verify(secret: &str, now_secs: u64, target: &str, meta: &str, auth: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some((t, m)) = auth.split_once(",mac=") else { return false };
    let Some(Ok(t)) = t.strip_prefix("t=").map(str::parse::<u64>) else { return false };
    if t.abs_diff(now_secs) > MAX_SKEW_SECS {
        return false;
    }
    let Some(given) = unhex(m) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(message(t, target, meta).as_bytes());
    mac.verify_slice(&given).is_ok()
}

fn message(t: u64, target: &str, meta: &str) -> String {
    format!("{t}\n{target}\n{meta}")
}

fn mac(secret: &str, t: u64, target: &str, meta: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut m) => {
            m.update(message(t, target, meta).as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_target_metadata_time_and_secret() {
        let auth = sign("s3cret", 1_000, "/a?b=1", "{}");
        assert!(verify("s3cret", 1_100, "/a?b=1", "{}", &auth));
        assert!(!verify("other", 1_100, "/a?b=1", "{}", &auth));
        assert!(!verify("s3cret", 1_100, "/a?b=2", "{}", &auth));
        assert!(!verify("s3cret", 1_100, "/a?b=1", "{\"x\":1}", &auth));
        assert!(!verify("s3cret", 1_000 + MAX_SKEW_SECS + 1, "/a?b=1", "{}", &auth));
        assert!(!verify("", 1_000, "/a?b=1", "{}", &sign("", 1_000, "/a?b=1", "{}")), "no secret, no tier traffic");
        assert!(!verify("s3cret", 1_000, "/a", "{}", "t=1000,mac=zz"));
    }
}
