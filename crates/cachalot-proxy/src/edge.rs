//! The edge: the current snapshot, the POPs and their cache tiers, the origin
//! clients, and the operations the control plane drives (publish, invalidate).

use crate::clock::{Clock, SystemClock};
use crate::ids;
use crate::listener::ListenerLimits;
use crate::origin::Origins;
use crate::summary::{NoObserver, Observer};
use arc_swap::ArcSwap;
use cachalot_cache::Tier;
use cachalot_config::Snapshot;
use cachalot_config::model::Origin;
use cachalot_functions::{Function, Limits};
use cachalot_policy::Layer;
use cachalot_policy::invalidation::InvalidationPath;
use cachalot_policy::tiers::Topology;
use http::HeaderValue;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings of one POP.
#[derive(Debug, Clone)]
pub struct PopSettings {
    /// POP code (`x-amz-cf-pop`).
    pub id: String,
    /// Region (POPs of one region share a regional edge cache).
    pub region: String,
    /// Memory tier size in bytes.
    pub cache_bytes: u64,
}

/// How to build an edge.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// POPs, each with its own cache.
    pub pops: Vec<PopSettings>,
    /// Size of each regional edge cache (a region's REC also serves as Origin Shield).
    pub regional_cache_bytes: u64,
    /// S3 bucket name → folder.
    pub buckets: HashMap<String, PathBuf>,
    /// Origin host name → `host:port` to connect to instead.
    pub origin_addresses: HashMap<String, String>,
    /// Origin bodies up to this size are buffered (and cacheable); larger ones are relayed.
    pub max_object_bytes: u64,
    /// Connection limits of the POP listeners.
    pub listener: ListenerLimits,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            pops: vec![PopSettings {
                id: cachalot_config::file::DEFAULT_POP_ID.to_owned(),
                region: "us-east-1".to_owned(),
                cache_bytes: cachalot_config::file::DEFAULT_CACHE_BYTES,
            }],
            regional_cache_bytes: cachalot_config::file::DEFAULT_CACHE_BYTES,
            buckets: HashMap::new(),
            origin_addresses: HashMap::new(),
            max_object_bytes: 64 * 1024 * 1024,
            listener: ListenerLimits::default(),
        }
    }
}

/// A snapshot with its CloudFront Functions compiled: what requests start on.
pub(crate) struct Published {
    pub(crate) snapshot: Arc<Snapshot>,
    /// Functions by name; a function that does not compile maps to the reason.
    pub(crate) functions: HashMap<String, Result<Arc<Function>, String>>,
}

impl Published {
    fn compile(snapshot: Arc<Snapshot>, previous: Option<&Published>) -> Published {
        let mut functions = HashMap::new();
        for (name, code) in &snapshot.functions {
            // Unchanged code keeps its compiled function (and its warm per-thread engines).
            let reused = previous.and_then(|p| {
                let same = p.snapshot.functions.get(name).is_some_and(|old| old == code);
                same.then(|| p.functions.get(name).cloned()).flatten()
            });
            let compiled = reused.unwrap_or_else(|| {
                Function::from_config(code, &snapshot.key_value_stores, Limits::default()).map_err(|e| {
                    tracing::warn!("function {name} does not compile: {e}");
                    e.to_string()
                })
            });
            functions.insert(name.clone(), compiled);
        }
        Published { snapshot, functions }
    }
}

/// One POP's state.
pub(crate) struct Pop {
    pub(crate) id: Arc<str>,
    pub(crate) region: String,
    pub(crate) tier: Tier,
    pub(crate) host_id: String,
    pub(crate) via: HeaderValue,
    pub(crate) pop_header: HeaderValue,
}

pub(crate) struct EdgeInner {
    pub(crate) published: ArcSwap<Published>,
    pub(crate) pops: Vec<Pop>,
    /// Which regions have a regional edge cache besides shield regions.
    topology: Topology,
    /// Regional edge caches by region, made when first needed.
    recs: Mutex<HashMap<String, Tier>>,
    regional_cache_bytes: u64,
    pub(crate) origins: Origins,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) max_object_bytes: u64,
    pub(crate) listener_limits: ListenerLimits,
}

/// The data plane. Cheap to clone.
#[derive(Clone)]
pub struct Edge {
    pub(crate) inner: Arc<EdgeInner>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge").field("pops", &self.inner.pops.iter().map(|p| &*p.id).collect::<Vec<_>>()).finish()
    }
}

impl Edge {
    /// An edge serving `snapshot`, on the system clock, reporting nowhere.
    pub fn new(settings: EdgeSettings, snapshot: Arc<Snapshot>) -> Self {
        Self::with(settings, snapshot, Arc::new(SystemClock), Arc::new(NoObserver))
    }

    /// An edge with an explicit clock and observer.
    pub fn with(
        settings: EdgeSettings,
        snapshot: Arc<Snapshot>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn Observer>,
    ) -> Self {
        let pops = settings
            .pops
            .iter()
            .map(|p| {
                let host_id = ids::edge_host_id(&p.id);
                Pop {
                    id: p.id.as_str().into(),
                    region: p.region.clone(),
                    tier: Tier::new(&p.id, p.cache_bytes),
                    via: HeaderValue::from_str(&format!("1.1 {host_id}.cloudfront.net (CloudFront)"))
                        .unwrap_or(HeaderValue::from_static("1.1 cloudfront.net (CloudFront)")),
                    pop_header: HeaderValue::from_str(&p.id).unwrap_or(HeaderValue::from_static("LOCAL50-C1")),
                    host_id,
                }
            })
            .collect();
        Edge {
            inner: Arc::new(EdgeInner {
                published: ArcSwap::from_pointee(Published::compile(snapshot, None)),
                topology: Topology::shared_by_pops(settings.pops.iter().map(|p| p.region.as_str())),
                pops,
                recs: Mutex::new(HashMap::new()),
                regional_cache_bytes: settings.regional_cache_bytes,
                origins: Origins::new(settings.buckets, settings.origin_addresses),
                clock,
                observer,
                max_object_bytes: settings.max_object_bytes,
                listener_limits: settings.listener,
            }),
        }
    }

    /// Swaps in a new snapshot; requests in flight finish on the one they started with.
    pub fn publish(&self, snapshot: Arc<Snapshot>) {
        let previous = self.inner.published.load_full();
        self.inner.published.store(Arc::new(Published::compile(snapshot, Some(&previous))));
    }

    /// The snapshot being served.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.published.load().snapshot.clone()
    }

    /// POP ids, in order.
    pub fn pop_ids(&self) -> Vec<String> {
        self.inner.pops.iter().map(|p| p.id.to_string()).collect()
    }

    /// Removes every object of `distribution_id` matching `paths` from every POP and
    /// tier; returns how many objects were removed.
    pub fn invalidate(&self, distribution_id: &str, paths: &[InvalidationPath]) -> u64 {
        let mut removed = 0;
        for pop in &self.inner.pops {
            removed += pop.tier.purge(distribution_id, paths);
        }
        for tier in self.inner.recs.lock().values() {
            removed += tier.purge(distribution_id, paths);
        }
        removed
    }

    /// Objects and bytes held by each tier: `(tier name, objects, bytes)`.
    pub fn tier_usage(&self) -> Vec<(String, u64, u64)> {
        let mut out: Vec<(String, u64, u64)> = self
            .inner
            .pops
            .iter()
            .map(|p| (p.tier.name().to_owned(), p.tier.entry_count(), p.tier.weighted_size()))
            .collect();
        for t in self.inner.recs.lock().values() {
            out.push((t.name().to_owned(), t.entry_count(), t.weighted_size()));
        }
        out
    }
}

impl EdgeInner {
    /// The tiers a miss at `pop` walks through for `origin`, nearest first (§6.5).
    pub(crate) fn tiers_for(&self, pop: usize, origin: &Origin) -> Vec<(Tier, Layer)> {
        let p = &self.pops[pop];
        let hops = cachalot_policy::tiers::path(&self.topology, &p.region, origin.shield_region.as_deref());
        let mut out = Vec::with_capacity(1 + hops.len());
        out.push((p.tier.clone(), Layer::Edge));
        let mut recs = self.recs.lock();
        for hop in hops {
            let tier = recs
                .entry(hop.region)
                .or_insert_with_key(|region| Tier::new(&format!("REC:{region}"), self.regional_cache_bytes))
                .clone();
            out.push((tier, hop.layer));
        }
        out
    }
}
