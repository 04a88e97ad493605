//! The tiers a miss walks (§6.5): the POP's cache, the regional edge cache (REC) of
//! the POP's region, then the REC of the origin's `OriginShieldRegion` acting as
//! Origin Shield — one function, used by the edge to build its caches and by
//! `replay` to model them, so the two cannot disagree.
//!
//! A region has one REC, whichever role it plays: the shield of an origin is the REC
//! of the shield region. When the POP's own ("natural") REC is the shield REC, it is
//! visited once, as the regional tier, and a hit there is a plain `Hit`; a hit in a
//! shield REC of another region is an `OriginShieldHit` (§6.5).
//!
//! Which regions have a REC is the [`Topology`]: CloudFront has one in every region;
//! a single Cachalot node creates one only for regions where several of its POPs
//! would share it (a REC behind a lone POP would only repeat that POP's cache), plus
//! the shield regions, which always exist; a fleet has the RECs its nodes host.

use std::collections::BTreeSet;

/// The tier that answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// This POP's cache.
    Edge,
    /// The regional edge cache of the POP's region.
    Regional,
    /// The Origin Shield (the REC of the origin's shield region).
    Shield,
    /// The origin itself.
    Origin,
}

impl Layer {
    /// `Server-Timing` spelling (§6.2).
    pub fn server_timing(self) -> &'static str {
        match self {
            Layer::Edge => "EDGE",
            Layer::Regional => "REC",
            Layer::Shield => "Origin Shield",
            Layer::Origin => "Origin",
        }
    }
}

/// Which regions have a regional edge cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// Every region (real CloudFront).
    EveryRegion,
    /// Only these regions.
    Regions(BTreeSet<String>),
}

impl Topology {
    /// One node's POPs: a REC for each region that two or more of them share.
    pub fn shared_by_pops<'a>(pop_regions: impl IntoIterator<Item = &'a str>) -> Self {
        let mut seen = BTreeSet::new();
        let mut shared = BTreeSet::new();
        for r in pop_regions {
            if !seen.insert(r) {
                shared.insert(r.to_owned());
            }
        }
        Topology::Regions(shared)
    }

    /// Whether `region` has a REC.
    pub fn has(&self, region: &str) -> bool {
        match self {
            Topology::EveryRegion => true,
            Topology::Regions(r) => r.contains(region),
        }
    }
}

/// One tier above the POP: the REC of `region`, in the role `layer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The region whose REC it is.
    pub region: String,
    /// [`Layer::Regional`] or [`Layer::Shield`].
    pub layer: Layer,
}

/// The RECs a miss at a POP in `pop_region` visits, nearest first, for an origin with
/// Origin Shield in `shield_region` (if enabled). The POP's own cache comes before them
/// and the origin after.
pub fn path(topology: &Topology, pop_region: &str, shield_region: Option<&str>) -> Vec<Hop> {
    let mut hops = Vec::with_capacity(2);
    let natural_is_shield = shield_region == Some(pop_region);
    if topology.has(pop_region) || natural_is_shield {
        hops.push(Hop { region: pop_region.to_owned(), layer: Layer::Regional });
    }
    if let Some(shield) = shield_region.filter(|s| *s != pop_region) {
        hops.push(Hop { region: shield.to_owned(), layer: Layer::Shield });
    }
    hops
}

/// The order in which to try the nodes hosting one region's REC for `key`
/// (rendezvous hashing): every POP of the fleet ranks a key's parents alike, so each
/// object lives in one parent, and when a parent goes the keys it held spread over
/// the others while every other key stays where it was. `nodes` are node ids; the
/// result is their indexes, best first.
pub fn rank_parents(key: &str, nodes: &[&str]) -> Vec<usize> {
    let mut scored: Vec<(u64, usize)> = nodes.iter().enumerate().map(|(i, n)| (score(n, key), i)).collect();
    scored.sort_unstable_by(|a, b| b.cmp(a));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// A well-mixed 64-bit hash of `node` and `key` (FNV-1a, then a SplitMix64 finaliser),
/// defined here rather than taken from the standard library so every version of
/// Cachalot in a fleet ranks alike.
fn score(node: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0xff]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(hops: &[Hop]) -> Vec<(&str, Layer)> {
        hops.iter().map(|h| (h.region.as_str(), h.layer)).collect()
    }

    #[test]
    fn single_node_topology_shares_recs_between_pops_of_a_region() {
        let t = Topology::shared_by_pops(["us-east-1", "us-east-1", "eu-west-2"]);
        assert!(t.has("us-east-1") && !t.has("eu-west-2"));
        assert_eq!(regions(&path(&t, "us-east-1", None)), [("us-east-1", Layer::Regional)]);
        assert!(path(&t, "eu-west-2", None).is_empty(), "a lone POP has no REC of its own");
    }

    #[test]
    fn shield_is_the_rec_of_its_region() {
        let t = Topology::shared_by_pops(["us-east-1", "us-east-1", "eu-west-2"]);
        // A lone POP whose origin is shielded in its own region: the natural REC is the shield, a plain hit.
        assert_eq!(regions(&path(&t, "eu-west-2", Some("eu-west-2"))), [("eu-west-2", Layer::Regional)]);
        // A POP with a REC, shielded elsewhere: both.
        assert_eq!(
            regions(&path(&t, "us-east-1", Some("us-east-2"))),
            [("us-east-1", Layer::Regional), ("us-east-2", Layer::Shield)]
        );
        // The shield region's own POPs use that REC as their regional tier only.
        assert_eq!(regions(&path(&t, "us-east-1", Some("us-east-1"))), [("us-east-1", Layer::Regional)]);
        // Real CloudFront: every POP has its REC.
        assert_eq!(
            regions(&path(&Topology::EveryRegion, "eu-west-2", Some("us-east-1"))),
            [("eu-west-2", Layer::Regional), ("us-east-1", Layer::Shield)]
        );
    }

    #[test]
    fn parents_are_ranked_alike_and_spread_keys() {
        let nodes = ["node-a", "node-b", "node-c"];
        let mut first = [0usize; 3];
        for i in 0..3000 {
            let key = format!("/object/{i}");
            let rank = rank_parents(&key, &nodes);
            assert_eq!(rank, rank_parents(&key, &nodes), "deterministic");
            first[rank[0]] += 1;
            // Without node-b, keys it did not hold keep their parent.
            let without_b = rank_parents(&key, &["node-a", "node-c"]);
            if rank[0] != 1 {
                assert_eq!(["node-a", "node-c"][without_b[0]], nodes[rank[0]]);
            }
        }
        assert!(first.iter().all(|&n| n > 800), "keys spread over the parents: {first:?}");
    }
}
