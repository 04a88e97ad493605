//! One cache tier (a POP, a regional edge cache or an Origin Shield): a
//! size-bounded store, request collapsing, and invalidation.

use crate::object::CachedObject;
use cachalot_policy::CacheKey;
use cachalot_policy::invalidation::InvalidationPath;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A fresh object.
    Fresh(Arc<CachedObject>),
    /// An expired object, kept for revalidation and stale serving.
    Stale(Arc<CachedObject>),
    /// Nothing.
    Miss,
}

/// The outcome of a collapsed fetch, as seen by the requests that waited on it.
#[derive(Debug, Clone)]
pub enum FlightResult {
    /// The shared response.
    Shared(Arc<CachedObject>),
    /// The response may not be shared (or the fetch failed): go to the next tier yourself.
    NotShared,
}

/// The role of a request in a collapsed fetch.
pub enum Join {
    /// This request fetches; complete the flight when done (dropping it releases waiters with `NotShared`).
    Leader(Leader),
    /// Another request is fetching; wait for its result.
    Follower(Follower),
}

/// The viewers waiting on a flight. When the last one goes, the fetch is abandoned
/// (its `on_abandoned` runs): a viewer leaving never stops a fetch that others still
/// wait for, and a fetch nobody waits for is not finished for nothing (§6.6).
#[derive(Default)]
struct Viewers {
    on_abandoned: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Drop for Viewers {
    fn drop(&mut self) {
        if let Some(f) = self.on_abandoned.get_mut().take() {
            f();
        }
    }
}

/// One viewer's hold on a flight (see [`Leader::attach`]).
pub struct Attachment(Arc<Viewers>);

impl Attachment {
    /// Runs `on_abandoned` once every viewer attached to the flight has gone.
    pub fn when_abandoned(&self, on_abandoned: impl FnOnce() + Send + 'static) {
        *self.0.on_abandoned.lock() = Some(Box::new(on_abandoned));
    }
}

/// The fetching request of a flight.
pub struct Leader {
    tier: Arc<TierInner>,
    key: CacheKey,
    tx: watch::Sender<Option<FlightResult>>,
    epoch: u64,
    done: bool,
    viewers: Option<Arc<Viewers>>,
}

impl Leader {
    /// Separates the leading viewer from the fetch, so the fetch can run on its own
    /// (in another task) while the viewer, like every follower, only holds an
    /// [`Attachment`]. Without this the leader itself keeps the flight wanted.
    pub fn attach(&mut self) -> Attachment {
        Attachment(self.viewers.take().unwrap_or_default())
    }

    /// The purge epoch when the flight started: an object fetched by this flight is
    /// not stored if an invalidation that matches it arrived meanwhile.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Releases the waiters with `result`.
    pub fn complete(mut self, result: FlightResult) {
        self.finish(result);
    }

    fn finish(&mut self, result: FlightResult) {
        if !self.done {
            self.done = true;
            self.tier.flights.lock().remove(&self.key);
            self.tx.send_replace(Some(result));
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.finish(FlightResult::NotShared);
    }
}

/// A request waiting on another's fetch.
pub struct Follower {
    rx: watch::Receiver<Option<FlightResult>>,
    _attached: Option<Attachment>,
}

impl Follower {
    /// Waits for the leader's result.
    pub async fn wait(mut self) -> FlightResult {
        loop {
            if let Some(r) = self.rx.borrow_and_update().clone() {
                return r;
            }
            if self.rx.changed().await.is_err() {
                return self.rx.borrow().clone().unwrap_or(FlightResult::NotShared);
            }
        }
    }
}

struct Flight {
    tx: watch::Sender<Option<FlightResult>>,
    viewers: std::sync::Weak<Viewers>,
}

struct TierInner {
    flights: Mutex<HashMap<CacheKey, Flight>>,
    purges: Mutex<Vec<(u64, Arc<str>, InvalidationPath)>>,
    epoch: AtomicU64,
}

/// One cache tier.
#[derive(Clone)]
pub struct Tier {
    name: Arc<str>,
    store: moka::sync::Cache<CacheKey, Arc<CachedObject>>,
    inner: Arc<TierInner>,
    capacity_bytes: u64,
}

impl std::fmt::Debug for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tier").field("name", &self.name).field("capacity_bytes", &self.capacity_bytes).finish()
    }
}

/// Purges remembered for in-flight fetches; older ones are dropped.
const PURGE_MEMORY: usize = 4096;

impl Tier {
    /// A tier holding at most `capacity_bytes` (weights from [`CachedObject::weight`]).
    pub fn new(name: &str, capacity_bytes: u64) -> Self {
        let store = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<CachedObject>| v.weight())
            .support_invalidation_closures()
            .build();
        Tier {
            name: name.into(),
            store,
            inner: Arc::new(TierInner {
                flights: Mutex::new(HashMap::new()),
                purges: Mutex::new(Vec::new()),
                epoch: AtomicU64::new(0),
            }),
            capacity_bytes,
        }
    }

    /// The tier's name (POP id, `REC:<region>`, `Shield:<region>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Looks `key` up at `now_ms`.
    pub fn lookup(&self, key: &CacheKey, now_ms: u64) -> Lookup {
        match self.store.get(key) {
            Some(obj) if obj.is_fresh(now_ms) => Lookup::Fresh(obj),
            Some(obj) => Lookup::Stale(obj),
            None => Lookup::Miss,
        }
    }

    /// Stores an object, unless an invalidation matching it arrived after `since_epoch`.
    /// Returns whether it was stored.
    pub fn insert(&self, key: CacheKey, object: Arc<CachedObject>, since_epoch: u64) -> bool {
        if self.inner.epoch.load(Ordering::Acquire) != since_epoch {
            let purges = self.inner.purges.lock();
            if purges.iter().any(|(e, d, p)| {
                *e > since_epoch && **d == *key.distribution() && p.matches(&object.invalidation_target, &object.tags)
            }) {
                return false;
            }
        }
        if u64::from(object.weight()) > self.capacity_bytes / 4 {
            // Too big to share the tier fairly: serve it, do not keep it.
            return false;
        }
        self.store.insert(key, object);
        true
    }

    /// Removes one key.
    pub fn remove(&self, key: &CacheKey) {
        self.store.invalidate(key);
    }

    /// The current purge epoch (see [`Leader::epoch`]).
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Joins the fetch for `key`: the first caller leads, later ones follow until it completes.
    pub fn join(&self, key: &CacheKey) -> Join {
        let mut flights = self.inner.flights.lock();
        if let Some(f) = flights.get(key) {
            let attached = f.viewers.upgrade().map(Attachment);
            return Join::Follower(Follower { rx: f.tx.subscribe(), _attached: attached });
        }
        let (tx, _rx) = watch::channel(None);
        let viewers = Arc::new(Viewers::default());
        flights.insert(key.clone(), Flight { tx: tx.clone(), viewers: Arc::downgrade(&viewers) });
        Join::Leader(Leader {
            tier: self.inner.clone(),
            key: key.clone(),
            tx,
            epoch: self.epoch(),
            done: false,
            viewers: Some(viewers),
        })
    }

    /// Invalidates every object of `distribution_id` matching one of `paths`; returns how many were removed.
    pub fn purge(&self, distribution_id: &str, paths: &[InvalidationPath]) -> u64 {
        if paths.is_empty() {
            return 0;
        }
        {
            let mut purges = self.inner.purges.lock();
            let epoch = self.inner.epoch.fetch_add(1, Ordering::AcqRel) + 1;
            let dist: Arc<str> = distribution_id.into();
            for p in paths {
                purges.push((epoch, dist.clone(), p.clone()));
            }
            let excess = purges.len().saturating_sub(PURGE_MEMORY);
            purges.drain(..excess);
        }
        let mut removed = 0;
        let doomed: Vec<CacheKey> = self
            .store
            .iter()
            .filter(|(k, obj)| {
                k.distribution() == distribution_id
                    && paths.iter().any(|p| p.matches(&obj.invalidation_target, &obj.tags))
            })
            .map(|(k, _)| (*k).clone())
            .collect();
        for k in doomed {
            self.store.invalidate(&k);
            removed += 1;
        }
        removed
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        self.store.invalidate_all();
    }

    /// Objects held (approximate until maintenance runs).
    pub fn entry_count(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.entry_count()
    }

    /// Bytes held (approximate until maintenance runs).
    pub fn weighted_size(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use cachalot_config::model::{CacheSettings, NameRule};
    use http::{HeaderMap, Method};

    fn key(path: &str) -> CacheKey {
        let settings = CacheSettings {
            min_ttl: 0,
            default_ttl: 60,
            max_ttl: 600,
            query_strings: NameRule::None,
            headers: NameRule::None,
            cookies: NameRule::None,
            accept_encoding_gzip: false,
            accept_encoding_brotli: false,
            forward_all_headers: false,
            legacy_forward_query: NameRule::None,
        };
        let h = HeaderMap::new();
        cachalot_policy::cache_key("E1", &settings, &cachalot_policy::ViewerRequest::new(&Method::GET, path, None, &h))
            .0
    }

    fn object(target: &str, body: usize, stored_at_ms: u64, ttl: u64) -> Arc<CachedObject> {
        Arc::new(CachedObject {
            status: 200,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; body]),
            stored_at_ms,
            ttl_secs: ttl,
            stale_while_revalidate_secs: 0,
            stale_if_error_secs: 0,
            invalidation_target: target.into(),
            tags: vec![],
            edge_encoding: None,
        })
    }

    #[test]
    fn fresh_then_stale() {
        let tier = Tier::new("T", 1 << 20);
        let k = key("/a");
        assert!(matches!(tier.lookup(&k, 0), Lookup::Miss));
        assert!(tier.insert(k.clone(), object("/a", 10, 1_000, 60), tier.epoch()));
        assert!(matches!(tier.lookup(&k, 60_999), Lookup::Fresh(_)));
        assert!(matches!(tier.lookup(&k, 61_000), Lookup::Stale(_)));
    }

    #[test]
    fn purge_removes_matching_and_blocks_in_flight_store() {
        let tier = Tier::new("T", 1 << 20);
        for p in ["/img/a", "/img/b", "/css/c"] {
            tier.insert(key(p), object(p, 10, 0, 60), tier.epoch());
        }
        let started = tier.epoch();
        assert_eq!(tier.purge("E2", &[InvalidationPath::parse("/img/*").unwrap()]), 0, "other distributions untouched");
        let removed = tier.purge("E1", &[InvalidationPath::parse("/img/*").unwrap()]);
        assert_eq!(removed, 2);
        assert!(matches!(tier.lookup(&key("/img/a"), 1), Lookup::Miss));
        assert!(matches!(tier.lookup(&key("/css/c"), 1), Lookup::Fresh(_)));
        // A fetch that started before the purge must not store a now-invalidated object.
        assert!(!tier.insert(key("/img/a"), object("/img/a", 10, 0, 60), started));
        assert!(tier.insert(key("/css/d"), object("/css/d", 10, 0, 60), started));
    }

    #[test]
    fn capacity_evicts() {
        let tier = Tier::new("T", 64 * 1024);
        for i in 0..200 {
            let p = format!("/o{i}");
            tier.insert(key(&p), object(&p, 4096, 0, 60), tier.epoch());
        }
        assert!(tier.weighted_size() <= 64 * 1024, "{}", tier.weighted_size());
    }

    #[tokio::test]
    async fn collapsing_one_leader_many_followers() {
        let tier = Tier::new("T", 1 << 20);
        let k = key("/c");
        let Join::Leader(leader) = tier.join(&k) else { panic!("first caller leads") };
        let mut followers = Vec::new();
        for _ in 0..10 {
            match tier.join(&k) {
                Join::Follower(f) => followers.push(tokio::spawn(f.wait())),
                Join::Leader(_) => panic!("only one leader"),
            }
        }
        leader.complete(FlightResult::Shared(object("/c", 1, 0, 60)));
        for f in followers {
            assert!(matches!(f.await.unwrap(), FlightResult::Shared(_)));
        }
        assert!(matches!(tier.join(&k), Join::Leader(_)), "a finished flight is gone");
    }

    #[tokio::test]
    async fn dropped_leader_releases_followers() {
        let tier = Tier::new("T", 1 << 20);
        let k = key("/d");
        let leader = tier.join(&k);
        let Join::Follower(f) = tier.join(&k) else { panic!("second caller follows") };
        drop(leader);
        assert!(matches!(f.wait().await, FlightResult::NotShared));
    }

    #[tokio::test]
    async fn a_fetch_is_abandoned_only_when_every_viewer_has_gone() {
        let tier = Tier::new("T", 1 << 20);
        let k = key("/e");
        let Join::Leader(mut leader) = tier.join(&k) else { panic!("first caller leads") };
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let leading_viewer = leader.attach();
        let flag = abandoned.clone();
        leading_viewer.when_abandoned(move || flag.store(true, Ordering::SeqCst));
        let Join::Follower(follower) = tier.join(&k) else { panic!("second caller follows") };
        drop(leading_viewer);
        assert!(!abandoned.load(Ordering::SeqCst), "a follower still waits");
        drop(follower);
        assert!(abandoned.load(Ordering::SeqCst), "nobody waits any more");
        drop(leader);
    }
}
