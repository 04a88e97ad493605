//! One cache tier (a POP, a regional edge cache or an Origin Shield): a size-bounded
//! memory store with an optional disk store behind it, request collapsing, and
//! invalidation.
//!
//! Hot objects live in memory; every object admitted is also written to disk (so a
//! restart finds it), and objects larger than memory admits are streamed straight to
//! disk. A disk hit on a small object brings it back into memory.

use crate::body::{FileBody, FileShared, ObjectBody};
use crate::disk::{Disk, DiskConfig, StreamWriter};
use crate::epochs::RecentPurges;
use crate::object::CachedObject;
use crate::stats::{Counters, TierReport};
use cachalot_policy::CacheKey;
use cachalot_policy::invalidation::InvalidationPath;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
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

/// An object being streamed in: its metadata and its body, held weakly — a stream nobody
/// reads any more is abandoned, and lookups no longer find it.
struct Growing {
    template: Arc<CachedObject>,
    body: Weak<FileShared>,
}

struct TierInner {
    flights: Mutex<HashMap<CacheKey, Flight>>,
    purges: Arc<RecentPurges>,
    disk: Option<Disk>,
    /// Objects being streamed into the disk store, readable while they grow.
    growing: Mutex<HashMap<CacheKey, Growing>>,
    stats: Arc<Counters>,
}

/// One cache tier: a memory store (moka, TinyLFU admission in front of LRU) and,
/// optionally, a disk store behind it.
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

impl Tier {
    /// A memory-only tier holding at most `capacity_bytes` (weights from [`CachedObject::weight`]).
    pub fn new(name: &str, capacity_bytes: u64) -> Self {
        Self::build(name, capacity_bytes, None)
    }

    /// A tier with `memory_bytes` of memory in front of a disk store. A folder that cannot
    /// be used leaves a memory-only tier (after one warning; reported as `disk_failing`).
    pub fn with_disk(name: &str, memory_bytes: u64, disk: &DiskConfig) -> Self {
        Self::build(name, memory_bytes, Some(disk))
    }

    fn build(name: &str, capacity_bytes: u64, disk: Option<&DiskConfig>) -> Self {
        let stats = Arc::new(Counters::default());
        let evictions = stats.clone();
        let store = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|k: &CacheKey, v: &Arc<CachedObject>| v.weight(k.as_str().len()))
            .eviction_listener(move |_k, _v, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    Counters::add(&evictions.memory_evictions, 1);
                }
            })
            .support_invalidation_closures()
            .build();
        let purges = Arc::new(RecentPurges::default());
        let disk = disk.map(|config| Disk::open(name, config, purges.clone(), stats.clone(), capacity_bytes / 4));
        Tier {
            name: name.into(),
            store,
            inner: Arc::new(TierInner {
                flights: Mutex::new(HashMap::new()),
                purges,
                disk,
                growing: Mutex::new(HashMap::new()),
                stats,
            }),
            capacity_bytes,
        }
    }

    /// The tier's name (POP id, `REC:<region>`, `Shield:<region>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Memory capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Largest object the memory store takes (a quarter of it, so one object cannot crowd the rest out).
    pub fn memory_object_limit(&self) -> u64 {
        self.capacity_bytes / 4
    }

    /// Whether the tier has a disk store (objects larger than memory can be streamed into it).
    pub fn has_disk(&self) -> bool {
        self.inner.disk.is_some()
    }

    /// Whether the disk store's index has been rebuilt from the files found at start
    /// (always true without a disk store).
    pub fn disk_loaded(&self) -> bool {
        self.inner.disk.as_ref().is_none_or(Disk::loaded)
    }

    fn classify(obj: Arc<CachedObject>, now_ms: u64) -> Lookup {
        if obj.is_fresh(now_ms) { Lookup::Fresh(obj) } else { Lookup::Stale(obj) }
    }

    /// Looks `key` up in memory and among the objects being streamed in; `None` when
    /// neither holds it (the disk may still: see [`Tier::lookup`]). Never touches the disk.
    pub fn lookup_held(&self, key: &CacheKey, now_ms: u64) -> Option<Lookup> {
        if let Some(obj) = self.store.get(key) {
            Counters::add(&self.inner.stats.memory_hits, 1);
            return Some(Self::classify(obj, now_ms));
        }
        if self.inner.disk.is_some() {
            let growing = self.inner.growing.lock().get(key).and_then(|g| {
                let body = ObjectBody::File(FileBody(g.body.upgrade()?));
                Some(Arc::new(CachedObject { body, ..(*g.template).clone() }))
            });
            if let Some(obj) = growing {
                Counters::add(&self.inner.stats.disk_hits, 1);
                return Some(Self::classify(obj, now_ms));
            }
        }
        None
    }

    /// Looks `key` up at `now_ms`: memory, then objects being streamed in, then the disk
    /// (off the async workers). A small object found on disk is brought back into memory.
    pub async fn lookup(&self, key: &CacheKey, now_ms: u64) -> Lookup {
        if let Some(found) = self.lookup_held(key, now_ms) {
            return found;
        }
        let Some(disk) = self.inner.disk.clone() else {
            Counters::add(&self.inner.stats.misses, 1);
            return Lookup::Miss;
        };
        let k = key.clone();
        let found = tokio::task::spawn_blocking(move || disk.lookup(&k)).await.ok().flatten();
        match found {
            Some(obj) => {
                Counters::add(&self.inner.stats.disk_hits, 1);
                if obj.body.memory().is_some()
                    && u64::from(obj.weight(key.as_str().len())) <= self.memory_object_limit()
                {
                    self.store.insert(key.clone(), obj.clone());
                }
                Self::classify(obj, now_ms)
            }
            None => {
                Counters::add(&self.inner.stats.misses, 1);
                Lookup::Miss
            }
        }
    }

    /// Stores an object, unless an invalidation matching it arrived after `since_epoch`.
    /// A body in memory goes to the memory store when it fits and to the disk store when
    /// admitted there; a body in a file of this tier's disk has its metadata rewritten (a
    /// refresh); a body in another tier's file is copied into this tier's disk as it is
    /// read. Returns whether it was stored anywhere.
    pub fn insert(&self, key: CacheKey, object: Arc<CachedObject>, since_epoch: u64) -> bool {
        if self.inner.purges.purged_since(since_epoch, key.distribution(), &object.invalidation_target, &object.tags) {
            return false;
        }
        match &object.body {
            ObjectBody::Memory(bytes) => {
                let in_memory = u64::from(object.weight(key.as_str().len())) <= self.memory_object_limit();
                let on_disk =
                    self.inner.disk.as_ref().is_some_and(|d| d.store(&key, &object, bytes.clone(), since_epoch));
                if in_memory {
                    self.store.insert(key, object);
                } else {
                    self.store.invalidate(&key);
                }
                in_memory || on_disk
            }
            ObjectBody::File(file) => {
                let Some(disk) = &self.inner.disk else { return false };
                self.store.invalidate(&key);
                if disk.owns(file, &key) {
                    disk.refresh(&key, &object);
                    return true;
                }
                self.copy(key, object, since_epoch)
            }
        }
    }

    /// Copies an object whose body is another tier's file into this tier's disk, as it is read.
    fn copy(&self, key: CacheKey, object: Arc<CachedObject>, since_epoch: u64) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return false };
        let template = CachedObject { body: ObjectBody::Memory(bytes::Bytes::new()), ..(*object).clone() };
        let Some((_, mut writer)) = self.begin_stream(&key, template, object.body.len(), since_epoch) else {
            return false;
        };
        writer.detach();
        let mut reader = object.body.reader(0, None);
        runtime.spawn(async move {
            while let Some(chunk) = reader.next_chunk().await {
                match chunk {
                    Ok(bytes) => {
                        if let Err(why) = writer.write(&bytes).await {
                            writer.fail(&why);
                            return;
                        }
                    }
                    Err(e) => {
                        writer.fail(&e.to_string());
                        return;
                    }
                }
            }
            let _ = writer.finish().await;
        });
        true
    }

    /// Starts streaming an object into the disk store: `template` is the object without
    /// its body, `declared` the body's announced length. Returns the object (whose body
    /// readers follow as it is written; findable by lookups meanwhile) and the writer to
    /// feed. `None` without a usable disk, when admission refuses it, or when a purge
    /// since `since_epoch` matches it.
    pub fn begin_stream(
        &self,
        key: &CacheKey,
        template: CachedObject,
        declared: Option<u64>,
        since_epoch: u64,
    ) -> Option<(Arc<CachedObject>, StreamWriter)> {
        if self.inner.purges.purged_since(
            since_epoch,
            key.distribution(),
            &template.invalidation_target,
            &template.tags,
        ) {
            return None;
        }
        let disk = self.inner.disk.as_ref()?;
        let mut writer = disk.begin_stream(key, &template, declared, since_epoch)?;
        let body = writer.body();
        let weak = Arc::downgrade(&body.0);
        let object = Arc::new(CachedObject { body: ObjectBody::File(body), ..template.clone() });
        self.store.invalidate(key);
        self.inner.growing.lock().insert(key.clone(), Growing { template: Arc::new(template), body: weak.clone() });
        let inner = Arc::downgrade(&self.inner);
        let k = key.clone();
        writer.on_end(Box::new(move || {
            if let Some(inner) = inner.upgrade() {
                let mut growing = inner.growing.lock();
                if growing.get(&k).is_some_and(|g| g.body.ptr_eq(&weak)) {
                    growing.remove(&k);
                }
            }
        }));
        Some((object, writer))
    }

    /// Removes one key.
    pub fn remove(&self, key: &CacheKey) {
        self.store.invalidate(key);
        self.inner.growing.lock().remove(key);
        if let Some(d) = &self.inner.disk {
            d.remove(key);
        }
    }

    /// The current purge epoch (see [`Leader::epoch`]).
    pub fn epoch(&self) -> u64 {
        self.inner.purges.epoch()
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

    /// Invalidates every object of `distribution_id` matching one of `paths` at `now_ms`,
    /// in memory and on disk (recorded on disk first, so it also applies to files the
    /// index does not know yet); returns how many were removed.
    pub fn purge(&self, distribution_id: &str, paths: &[InvalidationPath], now_ms: u64) -> u64 {
        if paths.is_empty() {
            return 0;
        }
        self.inner.purges.record(distribution_id, paths);
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
        self.inner.growing.lock().retain(|k, g| {
            k.distribution() != distribution_id
                || !paths.iter().any(|p| p.matches(&g.template.invalidation_target, &g.template.tags))
        });
        if let Some(d) = &self.inner.disk {
            removed = removed.max(d.purge(distribution_id, paths, now_ms));
        }
        removed
    }

    /// Objects held in memory (approximate until maintenance runs).
    pub fn entry_count(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.entry_count()
    }

    /// Bytes held in memory (approximate until maintenance runs).
    pub fn weighted_size(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.weighted_size()
    }

    /// The tier's counters and contents.
    pub fn report(&self) -> TierReport {
        let mut r = self.inner.stats.report(&self.name);
        r.memory_objects = self.entry_count();
        r.memory_bytes = self.weighted_size();
        r.memory_capacity = self.capacity_bytes;
        if let Some(d) = &self.inner.disk {
            let (objects, bytes, capacity) = d.usage();
            r.disk = true;
            r.disk_objects = objects;
            r.disk_bytes = bytes;
            r.disk_capacity = capacity;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use cachalot_config::model::CacheSettings;
    use http::{HeaderMap, Method};
    use std::sync::atomic::Ordering;

    fn key(path: &str) -> CacheKey {
        let settings = CacheSettings::path_only(0, 60, 600);
        let h = HeaderMap::new();
        cachalot_policy::cache_key("E1", &settings, &cachalot_policy::ViewerRequest::new(&Method::GET, path, None, &h))
            .0
    }

    fn object(target: &str, body: usize, stored_at_ms: u64, ttl: u64) -> Arc<CachedObject> {
        Arc::new(CachedObject {
            status: 200,
            headers: Default::default(),
            body: Bytes::from(vec![b'x'; body]).into(),
            stored_at_ms,
            ttl_secs: ttl,
            stale_while_revalidate_secs: 0,
            stale_if_error_secs: 0,
            invalidation_target: target.into(),
            tags: vec![],
            edge_encoding: None,
        })
    }

    #[tokio::test]
    async fn fresh_then_stale() {
        let tier = Tier::new("T", 1 << 20);
        let k = key("/a");
        assert!(matches!(tier.lookup(&k, 0).await, Lookup::Miss));
        assert!(tier.insert(k.clone(), object("/a", 10, 1_000, 60), tier.epoch()));
        assert!(matches!(tier.lookup(&k, 60_999).await, Lookup::Fresh(_)));
        assert!(matches!(tier.lookup(&k, 61_000).await, Lookup::Stale(_)));
    }

    #[tokio::test]
    async fn purge_removes_matching_and_blocks_in_flight_store() {
        let tier = Tier::new("T", 1 << 20);
        for p in ["/img/a", "/img/b", "/css/c"] {
            tier.insert(key(p), object(p, 10, 0, 60), tier.epoch());
        }
        let started = tier.epoch();
        assert_eq!(
            tier.purge("E2", &[InvalidationPath::parse("/img/*").unwrap()], 1),
            0,
            "other distributions untouched"
        );
        let removed = tier.purge("E1", &[InvalidationPath::parse("/img/*").unwrap()], 1);
        assert_eq!(removed, 2);
        assert!(matches!(tier.lookup(&key("/img/a"), 1).await, Lookup::Miss));
        assert!(matches!(tier.lookup(&key("/css/c"), 1).await, Lookup::Fresh(_)));
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
