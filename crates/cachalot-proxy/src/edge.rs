//! The edge: the current snapshot, the POPs and their cache tiers, the origin
//! clients, and the operations the control plane drives (publish, invalidate).

use crate::clock::{Clock, SystemClock};
use crate::ids;
use crate::listener::ListenerLimits;
use crate::origin::Origins;
use crate::summary::{NoObserver, Observer};
use crate::tier::{FleetParent, FleetView, Hop, HopKind};
use arc_swap::ArcSwap;
use cachalot_cache::{DiskConfig, Tier, TierReport};
use cachalot_config::Snapshot;
use cachalot_config::model::Origin;
use cachalot_functions::{Function, Limits};
use cachalot_policy::CacheKey;
use cachalot_policy::Layer;
use cachalot_policy::invalidation::InvalidationPath;
use cachalot_policy::tiers::Topology;
use http::HeaderValue;
use parking_lot::Mutex;
use std::collections::BTreeSet;
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
    /// Disk tier behind the memory tier, if any.
    pub disk: Option<DiskConfig>,
}

/// A regional edge cache this node hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionalCacheSettings {
    /// Region.
    pub region: String,
    /// Memory tier size in bytes.
    pub cache_bytes: u64,
    /// Disk tier behind the memory tier, if any.
    pub disk: Option<DiskConfig>,
}

/// Memory that bodies being buffered from upstream may hold together by default.
pub const DEFAULT_IN_FLIGHT_BYTES: u64 = 64 * 1024 * 1024;

fn tier_for(name: &str, memory: u64, disk: Option<&DiskConfig>) -> Tier {
    match disk {
        Some(d) => Tier::with_disk(name, memory, d),
        None => Tier::new(name, memory),
    }
}

/// Bytes the signed-URL and signed-cookie memo keeps (`verified_urls`): keys and what they hold.
const VERIFIED_URL_BYTES: u64 = 16 << 20;
/// Bytes the signature memo keeps (`verified_signatures`): a signed message can be several KB,
/// so it is bounded by size, not by count.
const VERIFIED_SIGNATURE_BYTES: u64 = 16 << 20;
/// What one memo entry costs beyond its strings (the cache's own entry, the `Arc`).
const MEMO_ENTRY_BYTES: usize = 256;

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
    /// Origin bodies are buffered up to this size at most (and never beyond what the memory
    /// tiers take); larger ones are streamed: into a disk tier, or relayed.
    pub max_object_bytes: u64,
    /// Memory that bodies being buffered from upstream may hold together; a body that
    /// would take more is streamed instead.
    pub in_flight_bytes: u64,
    /// Connection limits of the POP listeners.
    pub listener: ListenerLimits,
    /// Regional edge caches this node hosts for its fleet (`RegionalCaches`).
    pub regional_caches: Vec<RegionalCacheSettings>,
    /// The viewer-location database (`GeoIpDatabase`) for geo restriction and location headers.
    pub geo: Option<Arc<crate::geo::GeoDatabase>>,
    /// Folder-backed buckets (of `buckets`) that answer only requests an origin access control signed.
    pub private_buckets: std::collections::HashSet<String>,
    /// The node's credentials, which origin access controls sign with (`None`: made up per process,
    /// enough for private folder-backed buckets).
    pub origin_credentials: Option<crate::origin::sigv4::Credentials>,
    /// Serve behaviors that ask for a protection the edge does not enforce (`UnenforcedProtections: serve`);
    /// by default they are refused.
    pub serve_unenforced: bool,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            pops: vec![PopSettings {
                id: cachalot_config::file::DEFAULT_POP_ID.to_owned(),
                region: "us-east-1".to_owned(),
                cache_bytes: cachalot_config::file::DEFAULT_CACHE_BYTES,
                disk: None,
            }],
            regional_cache_bytes: cachalot_config::file::DEFAULT_CACHE_BYTES,
            buckets: HashMap::new(),
            origin_addresses: HashMap::new(),
            max_object_bytes: 64 * 1024 * 1024,
            in_flight_bytes: DEFAULT_IN_FLIGHT_BYTES,
            listener: ListenerLimits::default(),
            regional_caches: Vec::new(),
            geo: None,
            serve_unenforced: false,
            private_buckets: std::collections::HashSet::new(),
            origin_credentials: None,
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
    /// Regions this node's POPs share (they get a REC here even outside a fleet).
    shared: BTreeSet<String>,
    /// Regions whose REC this node hosts for the fleet.
    pub(crate) hosted: BTreeSet<String>,
    /// Which regions have a regional edge cache (shared, hosted, or hosted elsewhere in the fleet).
    topology: ArcSwap<Topology>,
    /// The fleet: who hosts which REC, and the tier secret.
    pub(crate) fleet: ArcSwap<FleetView>,
    /// Regional edge caches by region, made when first needed.
    recs: Mutex<HashMap<String, Tier>>,
    regional_cache_bytes: u64,
    /// Connections to parent tiers on other nodes.
    pub(crate) tier_pool: Arc<crate::origin::Pool>,
    pub(crate) origins: Origins,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) max_object_bytes: u64,
    pub(crate) in_flight: crate::fetch::InFlight,
    pub(crate) listener_limits: ListenerLimits,
    pub(crate) geo: Option<Arc<crate::geo::GeoDatabase>>,
    pub(crate) serve_unenforced: bool,
    /// Signed URL and cookie signatures already verified (key id, hash, signature, message),
    /// each with the key that verified it. Bounded by bytes.
    pub(crate) verified_signatures: moka::sync::Cache<String, Arc<cachalot_config::model::PublicKey>>,
    /// Signed URLs already accepted, by their whole URL (scheme, host, path and query, so
    /// everything the signature covers), and custom-policy signed cookies, by their raw
    /// values: what they were verified with and their policy, so a repeat is one lookup and
    /// a check of the policy's conditions. Bounded by bytes.
    pub(crate) verified_urls: moka::sync::Cache<String, Arc<crate::viewer::Remembered>>,
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
        let shared = match Topology::shared_by_pops(settings.pops.iter().map(|p| p.region.as_str())) {
            Topology::Regions(r) => r,
            Topology::EveryRegion => BTreeSet::new(),
        };
        let hosted: BTreeSet<String> = settings.regional_caches.iter().map(|r| r.region.clone()).collect();
        // Hosted RECs exist from the start, with their own sizes; others are made when first needed.
        let recs: HashMap<String, Tier> = settings
            .regional_caches
            .iter()
            .map(|r| (r.region.clone(), tier_for(&format!("REC:{}", r.region), r.cache_bytes, r.disk.as_ref())))
            .collect();
        let origins = Origins::new(settings.buckets.clone(), settings.origin_addresses.clone()).with_access(
            settings.private_buckets.clone(),
            settings.origin_credentials.clone().unwrap_or_else(crate::origin::sigv4::ephemeral_credentials),
            clock.clone(),
        );
        let pops = settings
            .pops
            .iter()
            .map(|p| {
                let host_id = ids::edge_host_id(&p.id);
                Pop {
                    id: p.id.as_str().into(),
                    region: p.region.clone(),
                    tier: tier_for(&p.id, p.cache_bytes, p.disk.as_ref()),
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
                topology: ArcSwap::from_pointee(Topology::Regions(shared.union(&hosted).cloned().collect())),
                shared,
                hosted,
                fleet: ArcSwap::from_pointee(FleetView::default()),
                tier_pool: Arc::new(crate::origin::Pool::new(origins.tls_config())),
                pops,
                recs: Mutex::new(recs),
                regional_cache_bytes: settings.regional_cache_bytes,
                origins,
                clock,
                observer,
                max_object_bytes: settings.max_object_bytes,
                in_flight: crate::fetch::InFlight::new(settings.in_flight_bytes),
                listener_limits: settings.listener,
                geo: settings.geo.clone(),
                serve_unenforced: settings.serve_unenforced,
                verified_signatures: moka::sync::Cache::builder()
                    .weigher(|memo: &String, _| u32::try_from(memo.len() + MEMO_ENTRY_BYTES).unwrap_or(u32::MAX))
                    .max_capacity(VERIFIED_SIGNATURE_BYTES)
                    .build(),
                verified_urls: moka::sync::Cache::builder()
                    .weigher(|url: &String, known: &Arc<crate::viewer::Remembered>| {
                        u32::try_from(url.len() + known.heap_bytes() + MEMO_ENTRY_BYTES).unwrap_or(u32::MAX)
                    })
                    .max_capacity(VERIFIED_URL_BYTES)
                    .build(),
            }),
        }
    }

    /// Swaps in a new snapshot; requests in flight finish on the one they started with.
    pub fn publish(&self, snapshot: Arc<Snapshot>) {
        let previous = self.inner.published.load_full();
        self.inner.published.store(Arc::new(Published::compile(snapshot, Some(&previous))));
    }

    /// Tells the edge who hosts which regional edge cache in the fleet, and the tier secret.
    pub fn set_fleet(&self, fleet: FleetView) {
        let mut regions: BTreeSet<String> = self.inner.shared.union(&self.inner.hosted).cloned().collect();
        regions.extend(fleet.regional_caches.iter().filter(|(_, h)| !h.is_empty()).map(|(r, _)| r.clone()));
        self.inner.topology.store(Arc::new(Topology::Regions(regions)));
        self.inner.fleet.store(Arc::new(fleet));
    }

    /// `PutObject` to `bucket` (a `Buckets` folder or S3), signed with the node's credentials:
    /// how access logs reach a log bucket that `Buckets` does not map.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: bytes::Bytes,
        content_type: &str,
    ) -> Result<u16, crate::origin::OriginError> {
        self.inner.origins.put_object(bucket, key, body, content_type).await
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
        let now = self.inner.clock.now_ms();
        let mut removed = 0;
        for pop in &self.inner.pops {
            removed += pop.tier.purge(distribution_id, paths, now);
        }
        let recs: Vec<Tier> = self.inner.recs.lock().values().cloned().collect();
        for tier in recs {
            removed += tier.purge(distribution_id, paths, now);
        }
        removed
    }

    /// Every tier's counters and contents (POPs first, then regional caches by name).
    pub fn tier_reports(&self) -> Vec<TierReport> {
        let mut out: Vec<TierReport> = self.inner.pops.iter().map(|p| p.tier.report()).collect();
        let mut recs: Vec<TierReport> = self.inner.recs.lock().values().map(Tier::report).collect();
        recs.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(recs);
        out
    }

    /// Bytes of bodies being buffered from upstream now (bounded by `in_flight_bytes`).
    pub fn in_flight_bytes(&self) -> u64 {
        self.inner.in_flight.used()
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
    /// The tiers a miss at `pop` walks for `origin` and `key`, nearest first (§6.5).
    pub(crate) fn tiers_for(&self, pop: usize, origin: &Origin, key: &CacheKey) -> Vec<Hop> {
        let p = &self.pops[pop];
        let path = cachalot_policy::tiers::path(&self.topology.load(), &p.region, origin.shield_region.as_deref());
        let mut out = Vec::with_capacity(1 + path.len());
        out.push(Hop { region: None, layer: Layer::Edge, kind: HopKind::Local(p.tier.clone()) });
        out.extend(self.hops(path.into_iter().map(|h| (h.region, h.layer)), key));
        out
    }

    /// Where each REC hop is served for `key`: here, when no node of the fleet hosts the
    /// region or rendezvous hashing picks this node; else by the chosen parents, best first.
    pub(crate) fn hops(&self, path: impl IntoIterator<Item = (String, Layer)>, key: &CacheKey) -> Vec<Hop> {
        let fleet = self.fleet.load();
        let mut out = Vec::new();
        for (region, layer) in path {
            let hosts = fleet.regional_caches.get(&region).filter(|h| !h.is_empty());
            let kind = match hosts {
                Some(hosts) => {
                    let ids: Vec<&str> = hosts.iter().map(|h| h.node_id.as_str()).collect();
                    let ranked: Vec<FleetParent> = cachalot_policy::tiers::rank_parents(key.as_str(), &ids)
                        .into_iter()
                        .map(|i| hosts[i].clone())
                        .collect();
                    if ranked.first().is_some_and(|f| f.node_id == fleet.node_id) && self.hosted.contains(&region) {
                        HopKind::Local(self.rec(&region))
                    } else {
                        HopKind::Remote(ranked.into_iter().filter(|h| h.node_id != fleet.node_id).collect())
                    }
                }
                None => HopKind::Local(self.rec(&region)),
            };
            out.push(Hop { region: Some(region), layer, kind });
        }
        out
    }

    /// The REC of `region` in this process.
    pub(crate) fn rec(&self, region: &str) -> Tier {
        self.recs
            .lock()
            .entry(region.to_owned())
            .or_insert_with_key(|region| Tier::new(&format!("REC:{region}"), self.regional_cache_bytes))
            .clone()
    }
}
