//! The disk store under a tier's memory store: one file per object (see [`format`]),
//! an in-memory index driving eviction by bytes with TinyLFU admission
//! ([`crate::eviction`]), a persistent purge log ([`purges`]), streams written while
//! they are read ([`stream`]).
//!
//! * **Lookups** open the file named by the key's hash, so a restarted node is warm at
//!   once; the index of files found at start is rebuilt by a background scan that reads
//!   trailers, never bodies. Once the scan is over, a key the index does not know is a miss
//!   without touching the disk.
//! * **Writes** go to `tmp/` and are renamed into place when complete, under the index
//!   lock, so a crash leaves only temporary files (removed at start) and the index never
//!   points at a partial file. Small objects are written by one writer thread; streams by
//!   their own task.
//! * **Never wrong:** a file whose footer, lengths, trailer checksum or key do not match is
//!   a miss and is removed; every body block is checked before it is sent (`crate::body`).
//! * **Faults:** when writes fail (full disk, unwritable folder) the store stops writing
//!   for a while, logs one warning, and reports `failing`; lookups and the memory tier go on.

pub(crate) mod format;
pub(crate) mod purges;
pub(crate) mod stream;

use crate::body::{FileBody, FileShared, ObjectBody, Progress};
use crate::epochs::RecentPurges;
use crate::eviction::{Admission, ByteLru, Slot};
use crate::object::CachedObject;
use crate::stats::Counters;
use bytes::Bytes;
use cachalot_policy::CacheKey;
use cachalot_policy::invalidation::InvalidationPath;
use format::Meta;
use parking_lot::Mutex;
use purges::{PurgeLog, PurgeRecord};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::{Duration, Instant};

pub use stream::StreamWriter;

/// Where a tier keeps its disk store and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// The cache folder (created when missing).
    pub path: PathBuf,
    /// Bytes of cache files at most (bodies and trailers).
    pub capacity_bytes: u64,
}

/// Objects waiting for the writer thread hold at most this many bytes; beyond, writes are skipped.
const QUEUE_BYTES: u64 = 64 * 1024 * 1024;
/// After a failed write, writes pause this long before they are tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Average object size assumed to size the admission sketch.
const TYPICAL_OBJECT: u64 = 64 * 1024;

/// What the index keeps per file.
pub(crate) struct Entry {
    distribution: Box<str>,
    target: Box<str>,
    tags: Vec<String>,
    file_id: [u8; 16],
    /// The write in progress (its generation); `None` once the file is in place.
    pending: Option<u64>,
}

impl Entry {
    fn matches(&self, distribution: &str, paths: &[InvalidationPath]) -> bool {
        *self.distribution == *distribution && paths.iter().any(|p| p.matches(&self.target, &self.tags))
    }
}

pub(crate) struct State {
    pub(crate) index: ByteLru<Entry>,
    log: Option<PurgeLog>,
    scanned: bool,
}

enum Job {
    Write { id: u64, generation: u64, meta: Meta, body: Bytes, epoch: u64 },
    Remove(Vec<(u64, [u8; 16])>),
}

pub(crate) struct DiskInner {
    pub(crate) name: Arc<str>,
    dir: PathBuf,
    tmp: PathBuf,
    pub(crate) state: Mutex<State>,
    /// Held through a whole purge (log, index, file removal) and when the log is emptied.
    purge_serial: Mutex<()>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    queued: AtomicU64,
    generation: AtomicU64,
    pub(crate) stats: Arc<Counters>,
    failing_since: Mutex<Option<Instant>>,
    pub(crate) purges: Arc<RecentPurges>,
    /// Objects up to this size are read whole into memory on a hit.
    memory_limit: u64,
    _lock: Option<File>,
}

/// A tier's disk store. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Disk(pub(crate) Arc<DiskInner>);

impl Disk {
    /// Opens (creating) the store. A folder that cannot be used gives a store that writes
    /// nothing and finds nothing, after one warning; it reports `failing`.
    pub(crate) fn open(
        name: &str,
        config: &DiskConfig,
        purges: Arc<RecentPurges>,
        stats: Arc<Counters>,
        memory_limit: u64,
    ) -> Disk {
        let entries = usize::try_from(config.capacity_bytes / TYPICAL_OBJECT).unwrap_or(usize::MAX);
        let dir = config.path.clone();
        let tmp = dir.join("tmp");
        let prepared = prepare(&dir, &tmp);
        let (lock, log) = match prepared {
            Ok(ready) => (Some(ready.0), Some(ready.1)),
            Err(e) => {
                tracing::warn!(
                    "cache {name}: the disk cache folder {} cannot be used ({e}); serving from memory and the origin only",
                    dir.display()
                );
                stats.disk_failing.store(true, Ordering::Relaxed);
                (None, None)
            }
        };
        let usable = log.is_some();
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(DiskInner {
            name: name.into(),
            dir,
            tmp,
            state: Mutex::new(State {
                index: ByteLru::new(config.capacity_bytes, entries, true),
                log,
                scanned: !usable,
            }),
            purge_serial: Mutex::new(()),
            jobs: Mutex::new(usable.then_some(tx)),
            queued: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            stats,
            failing_since: Mutex::new(None),
            purges,
            memory_limit,
            _lock: lock,
        });
        if usable {
            inner.stats.disk_loading.store(true, Ordering::Relaxed);
            let weak = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name(format!("cache-write-{name}"))
                .spawn(move || writer(weak, rx))
                .and_then(|_| {
                    let weak = Arc::downgrade(&inner);
                    std::thread::Builder::new().name(format!("cache-scan-{name}")).spawn(move || scan(weak))
                });
            if let Err(e) = spawned {
                tracing::warn!("cache {name}: cannot start the disk cache's threads ({e}); disk cache off");
                *inner.jobs.lock() = None;
                inner.state.lock().scanned = true;
                inner.stats.disk_loading.store(false, Ordering::Relaxed);
                inner.stats.disk_failing.store(true, Ordering::Relaxed);
            }
        }
        Disk(inner)
    }

    /// Objects and bytes known to the index.
    pub(crate) fn usage(&self) -> (u64, u64, u64) {
        let st = self.0.state.lock();
        (st.index.len() as u64, st.index.used(), st.index.capacity())
    }

    /// Whether the index has been rebuilt from the files found at start.
    pub(crate) fn loaded(&self) -> bool {
        self.0.state.lock().scanned
    }

    /// Looks `key` up on disk (blocking). Objects up to the memory limit come back in
    /// memory (read and checked whole); larger ones as a file body.
    pub(crate) fn lookup(&self, key: &CacheKey) -> Option<Arc<CachedObject>> {
        let d = &self.0;
        if d.jobs.lock().is_none() {
            return None;
        }
        let (file_id, id) = format::ids(key.as_str());
        {
            let mut st = d.state.lock();
            st.index.record(id);
            match st.index.get(id) {
                Some(e) if e.meta.pending.is_some() => return None,
                None if st.scanned => return None,
                _ => {}
            }
        }
        let path = format::object_path(&d.dir, &file_id);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut st = d.state.lock();
                if st.index.get(id).is_some_and(|e| e.meta.pending.is_none()) {
                    st.index.remove(id);
                }
                return None;
            }
            Err(_) => return None,
        };
        let meta = match file.metadata().map_err(|e| e.to_string()).and_then(|m| format::read_meta(&file, m.len())) {
            Ok(meta) => meta,
            Err(first) => {
                // The trailer may have been rewritten meanwhile (a refresh): read it again under the lock.
                let mut st = d.state.lock();
                match File::open(&path).map_err(|e| e.to_string()).and_then(|f| {
                    let len = f.metadata().map_err(|e| e.to_string())?.len();
                    format::read_meta(&f, len).map(|m| (f, m))
                }) {
                    Ok((_, m)) if m.key == key.as_str() => {
                        drop(st);
                        return self.lookup(key);
                    }
                    _ => {
                        d.discard_locked(&mut st, id, &file_id, &first);
                        return None;
                    }
                }
            }
        };
        if meta.key != key.as_str() {
            let mut st = d.state.lock();
            d.discard_locked(&mut st, id, &file_id, "the file holds another key");
            return None;
        }
        let file_len = file.metadata().map_or(meta.body_len, |m| m.len());
        {
            let mut st = d.state.lock();
            let purged = st.log.as_ref().is_some_and(|l| {
                !l.is_empty() && l.purges(key.distribution(), &meta.invalidation_target, &meta.tags, meta.stored_at_ms)
            });
            if purged {
                d.discard_locked(&mut st, id, &file_id, "");
                return None;
            }
            if !st.index.touch(id) {
                // Found before the scan reached it.
                let evicted = st.index.insert_warm(id, file_len, entry_for(&meta, file_id));
                st.index.touch(id);
                d.evict(evicted);
            }
        }
        let body = d.file_body(
            file,
            id,
            file_id,
            Some(meta.body_len),
            Progress { written: meta.body_len, crcs: meta.crcs.clone(), outcome: Some(Ok(meta.body_len)) },
        );
        let mut object = object_from(meta, ObjectBody::File(body.clone()));
        if object.body.len().is_some_and(|n| n <= d.memory_limit) {
            object.body = ObjectBody::Memory(body.read_all_blocking().ok()?);
        }
        Some(Arc::new(object))
    }

    /// Queues `object` (whose body is `body`, in memory) for writing, unless admission
    /// refuses it or writes are failing. Returns whether it was accepted.
    pub(crate) fn store(&self, key: &CacheKey, object: &CachedObject, body: Bytes, epoch: u64) -> bool {
        let d = &self.0;
        if d.paused() {
            return false;
        }
        let size = body.len() as u64 + 512 + object.headers.len() as u64 * 64;
        if d.queued.load(Ordering::Relaxed) + size > QUEUE_BYTES {
            Counters::add(&d.stats.disk_admission_rejections, 1);
            return false;
        }
        let (file_id, id) = format::ids(key.as_str());
        let generation = d.generation.fetch_add(1, Ordering::Relaxed);
        let meta = meta_for(key, object, body.len() as u64, crcs_of(&body));
        let admitted = {
            let mut st = d.state.lock();
            st.index.admit(id, size, Entry { pending: Some(generation), ..entry_for(&meta, file_id) })
        };
        let Admission::Admitted(evicted) = admitted else {
            Counters::add(&d.stats.disk_admission_rejections, 1);
            return false;
        };
        d.evict(evicted);
        d.queued.fetch_add(size, Ordering::Relaxed);
        let sent =
            d.jobs.lock().as_ref().is_some_and(|tx| tx.send(Job::Write { id, generation, meta, body, epoch }).is_ok());
        if !sent {
            d.queued.fetch_sub(size, Ordering::Relaxed);
            d.state.lock().index.remove(id);
        }
        sent
    }

    /// Whether `file` is this store's file for `key`.
    pub(crate) fn owns(&self, file: &FileBody, key: &CacheKey) -> bool {
        file.0.home == (self.address(), format::ids(key.as_str()).1)
    }

    fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Rewrites the metadata of this store's file for `key` (a 304 refreshed it).
    pub(crate) fn refresh(&self, key: &CacheKey, object: &CachedObject) {
        let Some(file) = object.body.file() else { return };
        if !file.is_complete() {
            return;
        }
        let crcs = file.0.progress.lock().crcs.clone();
        let Some(len) = file.len() else { return };
        let (_, id) = format::ids(key.as_str());
        let meta = meta_for(key, object, len, crcs);
        // In place and at once (a trailer is a few KiB), so the next lookup sees the new expiry.
        self.0.retrail(id, &meta);
    }

    /// Starts writing a stream for `key`: `declared` is its announced length. `None`
    /// when admission refuses it or writes are failing.
    pub(crate) fn begin_stream(
        &self,
        key: &CacheKey,
        template: &CachedObject,
        declared: Option<u64>,
        epoch: u64,
    ) -> Option<StreamWriter> {
        let d = &self.0;
        if d.paused() {
            return None;
        }
        let (file_id, id) = format::ids(key.as_str());
        let generation = d.generation.fetch_add(1, Ordering::Relaxed);
        let tmp = d.tmp.join(format!("{}-{generation}.tmp", hex(&file_id)));
        let file = match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp) {
            Ok(f) => f,
            Err(e) => {
                d.write_failed(&e);
                return None;
            }
        };
        let meta = meta_for(key, template, 0, Vec::new());
        let admitted = {
            let mut st = d.state.lock();
            // A length not announced is charged when the stream ends.
            st.index.admit(id, declared.unwrap_or(0), Entry { pending: Some(generation), ..entry_for(&meta, file_id) })
        };
        let Admission::Admitted(evicted) = admitted else {
            Counters::add(&d.stats.disk_admission_rejections, 1);
            let _ = std::fs::remove_file(&tmp);
            return None;
        };
        d.evict(evicted);
        let body = d.file_body(file, id, file_id, declared, Progress::default());
        Some(StreamWriter::new(self.clone(), stream::Target { id, generation, file_id, tmp, epoch }, meta, body))
    }

    /// Removes every file of `distribution` matching `paths`, recording the purge first
    /// so that files not yet indexed (or not removed before a crash) are purged too.
    pub(crate) fn purge(&self, distribution: &str, paths: &[InvalidationPath], now_ms: u64) -> u64 {
        let d = &self.0;
        let _serial = d.purge_serial.lock();
        let doomed: Vec<(u64, [u8; 16])> = {
            let mut st = d.state.lock();
            if let Some(log) = &mut st.log {
                let records = paths
                    .iter()
                    .map(|p| PurgeRecord { at_ms: now_ms, distribution: distribution.to_owned(), path: p.clone() })
                    .collect();
                if let Err(e) = log.append(records) {
                    tracing::warn!("cache {}: cannot record a purge on disk: {e}", d.name);
                }
            }
            let ids: Vec<(u64, [u8; 16])> = st
                .index
                .iter()
                .filter(|(_, s)| s.meta.matches(distribution, paths))
                .map(|(id, s)| (id, s.meta.file_id))
                .collect();
            for (id, _) in &ids {
                // A write in progress is dropped with its entry: it will not be published.
                st.index.remove(*id);
            }
            ids
        };
        for (_, file_id) in &doomed {
            let _ = std::fs::remove_file(format::object_path(&d.dir, file_id));
        }
        let mut st = d.state.lock();
        if st.scanned
            && let Some(log) = &mut st.log
            && let Err(e) = log.clear()
        {
            tracing::warn!("cache {}: cannot empty the purge log: {e}", d.name);
        }
        doomed.len() as u64
    }

    /// Removes the file of `key`.
    pub(crate) fn remove(&self, key: &CacheKey) {
        let (file_id, id) = format::ids(key.as_str());
        let mut st = self.0.state.lock();
        st.index.remove(id);
        let _ = std::fs::remove_file(format::object_path(&self.0.dir, &file_id));
    }
}

impl DiskInner {
    /// Whether writes are paused after a failure.
    fn paused(&self) -> bool {
        if self.jobs.lock().is_none() {
            return true;
        }
        let mut since = self.failing_since.lock();
        match *since {
            Some(t) if t.elapsed() < RETRY_AFTER => true,
            Some(_) => {
                *since = None;
                false
            }
            None => false,
        }
    }

    pub(crate) fn write_failed(&self, e: &io::Error) {
        Counters::add(&self.stats.disk_write_errors, 1);
        let mut since = self.failing_since.lock();
        if since.is_none() && !self.stats.disk_failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cache {}: cannot write to the disk cache in {} ({e}); serving from memory and the origin, retrying every {} s",
                self.name,
                self.dir.display(),
                RETRY_AFTER.as_secs()
            );
        }
        *since = Some(Instant::now());
    }

    pub(crate) fn write_succeeded(&self) {
        Counters::add(&self.stats.disk_writes, 1);
        if self.stats.disk_failing.swap(false, Ordering::Relaxed) {
            tracing::info!("cache {}: writes to the disk cache succeed again", self.name);
        }
    }

    /// Unlinks evicted files (on the writer thread).
    pub(crate) fn evict(&self, evicted: Vec<(u64, Slot<Entry>)>) {
        if evicted.is_empty() {
            return;
        }
        Counters::add(&self.stats.disk_evictions, evicted.len() as u64);
        let files: Vec<_> = evicted.into_iter().map(|(id, s)| (id, s.meta.file_id)).collect();
        if let Some(tx) = self.jobs.lock().as_ref() {
            let _ = tx.send(Job::Remove(files));
        }
    }

    /// Forgets and removes a file found damaged, partial, foreign or purged.
    fn discard_locked(&self, st: &mut State, id: u64, file_id: &[u8; 16], why: &str) {
        if st.index.get(id).is_some_and(|e| e.meta.pending.is_none()) {
            st.index.remove(id);
        }
        let path = format::object_path(&self.dir, file_id);
        let _ = std::fs::remove_file(&path);
        if !why.is_empty() {
            Counters::add(&self.stats.disk_damaged, 1);
            tracing::warn!("cache {}: removed {} ({why}); the object will be fetched again", self.name, path.display());
        }
    }

    fn file_body(
        self: &Arc<Self>,
        file: File,
        id: u64,
        file_id: [u8; 16],
        declared: Option<u64>,
        progress: Progress,
    ) -> FileBody {
        let weak: Weak<DiskInner> = Arc::downgrade(self);
        FileBody(Arc::new(FileShared {
            file,
            declared,
            progress: Mutex::new(progress),
            notify: tokio::sync::Notify::new(),
            home: (Arc::as_ptr(self) as usize, id),
            on_damage: Box::new(move || {
                if let Some(d) = weak.upgrade() {
                    let mut st = d.state.lock();
                    d.discard_locked(&mut st, id, &file_id, "a block failed its checksum");
                }
            }),
        }))
    }

    /// Moves a complete temporary file into place, if its write is still the wanted one
    /// and no purge since `epoch` matches it. `size` is what the index charges for it.
    pub(crate) fn publish(
        &self,
        id: u64,
        generation: u64,
        tmp: &Path,
        file_id: &[u8; 16],
        epoch: u64,
        size: u64,
    ) -> bool {
        let mut st = self.state.lock();
        let wanted = st.index.get(id).is_some_and(|e| e.meta.pending == Some(generation));
        let purged = st
            .index
            .get(id)
            .is_some_and(|e| self.purges.purged_since(epoch, &e.meta.distribution, &e.meta.target, &e.meta.tags));
        if !wanted || purged {
            if wanted {
                st.index.remove(id);
            }
            drop(st);
            let _ = std::fs::remove_file(tmp);
            return false;
        }
        let path = format::object_path(&self.dir, file_id);
        let moved = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| std::fs::rename(tmp, &path));
        if let Err(e) = moved {
            st.index.remove(id);
            drop(st);
            let _ = std::fs::remove_file(tmp);
            self.write_failed(&e);
            return false;
        }
        let evicted = match st.index.get_mut(id) {
            Some(e) => {
                e.meta.pending = None;
                st.index.resize(id, size)
            }
            None => Vec::new(),
        };
        drop(st);
        self.evict(evicted);
        self.write_succeeded();
        true
    }

    /// Rewrites the trailer of the published file `id` with `meta` (same body), under the
    /// index lock: a lookup that meanwhile read a torn trailer reads it again under the lock.
    fn retrail(&self, id: u64, meta: &Meta) {
        let file_id = format::ids(&meta.key).0;
        let path = format::object_path(&self.dir, &file_id);
        let st = self.state.lock();
        if st.index.get(id).is_none_or(|e| e.meta.pending.is_some()) {
            return;
        }
        let rewritten = (|| -> Result<(), String> {
            let f = std::fs::OpenOptions::new().read(true).write(true).open(&path).map_err(|e| e.to_string())?;
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            let old = format::read_meta(&f, len)?;
            if old.key != meta.key || old.body_len != meta.body_len || old.crcs != meta.crcs {
                return Err("the file changed".to_owned());
            }
            let trailer = format::encode_trailer(meta);
            f.set_len(meta.body_len).map_err(|e| e.to_string())?;
            crate::body::write_all_at(&f, &trailer, meta.body_len).map_err(|e| e.to_string())
        })();
        drop(st);
        if let Err(why) = rewritten {
            tracing::debug!("cache {}: refreshed metadata not written ({why})", self.name);
        }
    }

    /// Drops the index entry of a write that failed or was abandoned.
    pub(crate) fn abandon(&self, id: u64, generation: u64, tmp: &Path) {
        let mut st = self.state.lock();
        if st.index.get(id).is_some_and(|e| e.meta.pending == Some(generation)) {
            st.index.remove(id);
        }
        drop(st);
        let _ = std::fs::remove_file(tmp);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the folders, takes the folder's lock, clears temporary files a previous run
/// left, and opens the purge log.
fn prepare(dir: &Path, tmp: &Path) -> io::Result<(File, PurgeLog)> {
    std::fs::create_dir_all(dir)?;
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock"))?;
    lock.try_lock().map_err(|_| io::Error::other("another process uses this cache folder"))?;
    if tmp.exists() {
        // Partial writes of a previous run (a crash or kill): never published, never served.
        std::fs::remove_dir_all(tmp)?;
    }
    std::fs::create_dir_all(tmp)?;
    // Probe that files can be written here at all.
    let probe = tmp.join("probe");
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(&probe)?;
    let log = PurgeLog::open(dir)?;
    Ok((lock, log))
}

pub(crate) fn crcs_of(body: &[u8]) -> Vec<u32> {
    body.chunks(crate::body::BLOCK_SIZE as usize).map(crc32fast::hash).collect()
}

fn meta_for(key: &CacheKey, object: &CachedObject, body_len: u64, crcs: Vec<u32>) -> Meta {
    Meta {
        key: key.as_str().to_owned(),
        status: object.status,
        headers: object.headers.clone(),
        stored_at_ms: object.stored_at_ms,
        ttl_secs: object.ttl_secs,
        stale_while_revalidate_secs: object.stale_while_revalidate_secs,
        stale_if_error_secs: object.stale_if_error_secs,
        invalidation_target: object.invalidation_target.to_string(),
        tags: object.tags.clone(),
        edge_encoding: object.edge_encoding,
        body_len,
        crcs,
    }
}

fn entry_for(meta: &Meta, file_id: [u8; 16]) -> Entry {
    let distribution = {
        // The distribution id is a component of the key; the index needs it for purges.
        let key = meta.key.as_str();
        let rest = &key[meta.invalidation_target.len().min(key.len())..];
        rest.strip_prefix('\u{1f}').and_then(|r| r.strip_prefix('D')).unwrap_or("").split('\u{1f}').next().unwrap_or("")
    };
    Entry {
        distribution: distribution.into(),
        target: meta.invalidation_target.as_str().into(),
        tags: meta.tags.clone(),
        file_id,
        pending: None,
    }
}

fn object_from(meta: Meta, body: ObjectBody) -> CachedObject {
    CachedObject {
        status: meta.status,
        headers: meta.headers,
        body,
        stored_at_ms: meta.stored_at_ms,
        ttl_secs: meta.ttl_secs,
        stale_while_revalidate_secs: meta.stale_while_revalidate_secs,
        stale_if_error_secs: meta.stale_if_error_secs,
        invalidation_target: meta.invalidation_target.into(),
        tags: meta.tags,
        edge_encoding: meta.edge_encoding,
    }
}

/// The writer thread: small objects' files and removals.
fn writer(weak: Weak<DiskInner>, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let Some(d) = weak.upgrade() else { return };
        match job {
            Job::Write { id, generation, meta, body, epoch } => {
                let size = body.len() as u64 + 512 + meta.headers.len() as u64 * 64;
                let file_id = format::ids(&meta.key).0;
                let tmp = d.tmp.join(format!("{}-{generation}.tmp", hex(&file_id)));
                let trailer = format::encode_trailer(&meta);
                let written = (|| -> io::Result<()> {
                    use std::io::Write as _;
                    let mut f = File::create(&tmp)?;
                    f.write_all(&body)?;
                    f.write_all(&trailer)?;
                    Ok(())
                })();
                d.queued.fetch_sub(size, Ordering::Relaxed);
                match written {
                    Ok(()) => {
                        d.publish(id, generation, &tmp, &file_id, epoch, body.len() as u64 + trailer.len() as u64);
                    }
                    Err(e) => {
                        d.abandon(id, generation, &tmp);
                        d.write_failed(&e);
                    }
                }
            }
            Job::Remove(files) => {
                let st = d.state.lock();
                for (id, file_id) in files {
                    // A newer file for the same key may have been published since.
                    if st.index.get(id).is_none_or(|e| e.meta.pending.is_some()) {
                        let _ = std::fs::remove_file(format::object_path(&d.dir, &file_id));
                    }
                }
            }
        }
    }
}

/// Rebuilds the index from the files found at start: reads every trailer (not bodies),
/// removes files that do not verify or that a logged purge matches, then empties the log.
fn scan(weak: Weak<DiskInner>) {
    let Some(dir) = weak.upgrade().map(|d| d.dir.clone()) else { return };
    let hex2 = |e: &std::fs::DirEntry| {
        e.file_name().to_str().is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let level = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p).map(|rd| rd.flatten().filter(|e| hex2(e)).map(|e| e.path()).collect()).unwrap_or_default()
    };
    for a in level(&dir) {
        for b in level(&a) {
            let Ok(files) = std::fs::read_dir(&b) else { continue };
            for f in files.flatten() {
                let Some(d) = weak.upgrade() else { return };
                let Some(file_id) = f.file_name().to_str().and_then(format::parse_name) else { continue };
                d.index_found(&f.path(), file_id);
            }
        }
    }
    let Some(d) = weak.upgrade() else { return };
    let _serial = d.purge_serial.lock();
    let mut st = d.state.lock();
    st.scanned = true;
    if let Some(log) = &mut st.log
        && let Err(e) = log.clear()
    {
        tracing::warn!("cache {}: cannot empty the purge log: {e}", d.name);
    }
    d.stats.disk_loading.store(false, Ordering::Relaxed);
    tracing::debug!("cache {}: disk index rebuilt: {} objects, {} bytes", d.name, st.index.len(), st.index.used());
}

impl DiskInner {
    fn index_found(&self, path: &Path, file_id: [u8; 16]) {
        let id = format::short_id(&file_id);
        let checked = File::open(path).map_err(|e| e.to_string()).and_then(|f| {
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            let meta = format::read_meta(&f, len)?;
            if format::ids(&meta.key).0 != file_id {
                return Err("the file holds another key than its name says".to_owned());
            }
            Ok((meta, len))
        });
        let mut st = self.state.lock();
        if st.index.contains(id) {
            return;
        }
        match checked {
            Ok((meta, len)) => {
                let distribution = entry_for(&meta, file_id).distribution;
                let purged = st
                    .log
                    .as_ref()
                    .is_some_and(|l| l.purges(&distribution, &meta.invalidation_target, &meta.tags, meta.stored_at_ms));
                if purged {
                    self.discard_locked(&mut st, id, &file_id, "");
                } else {
                    let evicted = st.index.insert_warm(id, len, entry_for(&meta, file_id));
                    drop(st);
                    self.evict(evicted);
                }
            }
            Err(why) => self.discard_locked(&mut st, id, &file_id, &why),
        }
    }
}
