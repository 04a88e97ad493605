//! Counters of one tier, for `/metrics` and the dashboard: hits by store, what each store
//! holds, evictions, admission rejections and the disk's health.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live counters of a tier (updated with relaxed atomics on the request path).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) memory_hits: AtomicU64,
    pub(crate) disk_hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) memory_evictions: AtomicU64,
    pub(crate) disk_evictions: AtomicU64,
    pub(crate) disk_admission_rejections: AtomicU64,
    pub(crate) disk_writes: AtomicU64,
    pub(crate) disk_write_errors: AtomicU64,
    pub(crate) disk_damaged: AtomicU64,
    pub(crate) disk_failing: AtomicBool,
    pub(crate) disk_loading: AtomicBool,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A snapshot of one tier's counters and contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierReport {
    /// Tier name (POP id, `REC:<region>`).
    pub name: String,
    /// Lookups answered from memory.
    pub memory_hits: u64,
    /// Lookups answered from disk (including objects still being written).
    pub disk_hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Objects held in memory.
    pub memory_objects: u64,
    /// Bytes held in memory.
    pub memory_bytes: u64,
    /// Memory capacity in bytes.
    pub memory_capacity: u64,
    /// Objects evicted from memory (or refused by its admission policy).
    pub memory_evictions: u64,
    /// Whether the tier has a disk store.
    pub disk: bool,
    /// Objects on disk (known to the index).
    pub disk_objects: u64,
    /// Bytes on disk (known to the index).
    pub disk_bytes: u64,
    /// Disk capacity in bytes.
    pub disk_capacity: u64,
    /// Objects evicted from disk.
    pub disk_evictions: u64,
    /// Objects the disk's admission policy refused (or that found the write queue full).
    pub disk_admission_rejections: u64,
    /// Objects written to disk.
    pub disk_writes: u64,
    /// Failed disk writes (full disk, unwritable folder).
    pub disk_write_errors: u64,
    /// Damaged, partial or foreign cache files found and removed.
    pub disk_damaged: u64,
    /// Writes to disk are failing now (the tier serves from memory and the origin).
    pub disk_failing: bool,
    /// The index of files found at start is still being rebuilt.
    pub disk_loading: bool,
}

impl Counters {
    pub(crate) fn report(&self, name: &str) -> TierReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TierReport {
            name: name.to_owned(),
            memory_hits: get(&self.memory_hits),
            disk_hits: get(&self.disk_hits),
            misses: get(&self.misses),
            memory_evictions: get(&self.memory_evictions),
            disk_evictions: get(&self.disk_evictions),
            disk_admission_rejections: get(&self.disk_admission_rejections),
            disk_writes: get(&self.disk_writes),
            disk_write_errors: get(&self.disk_write_errors),
            disk_damaged: get(&self.disk_damaged),
            disk_failing: self.disk_failing.load(Ordering::Relaxed),
            disk_loading: self.disk_loading.load(Ordering::Relaxed),
            ..TierReport::default()
        }
    }
}
