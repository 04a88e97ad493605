//! Recent purges by epoch: a fetch remembers the epoch it started in, and what it
//! fetched is not stored (in memory or on disk) if an invalidation matching it arrived
//! since.

use cachalot_policy::invalidation::InvalidationPath;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Purges remembered for in-flight fetches; older ones are dropped.
const PURGE_MEMORY: usize = 4096;

#[derive(Default)]
pub(crate) struct RecentPurges {
    list: Mutex<Vec<(u64, Arc<str>, InvalidationPath)>>,
    epoch: AtomicU64,
}

impl RecentPurges {
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records a purge and returns its epoch.
    pub(crate) fn record(&self, distribution: &str, paths: &[InvalidationPath]) -> u64 {
        let mut list = self.list.lock();
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let dist: Arc<str> = distribution.into();
        for p in paths {
            list.push((epoch, dist.clone(), p.clone()));
        }
        let excess = list.len().saturating_sub(PURGE_MEMORY);
        list.drain(..excess);
        epoch
    }

    /// Whether an object of `distribution` with this target and these tags was purged
    /// after `since_epoch`.
    pub(crate) fn purged_since(&self, since_epoch: u64, distribution: &str, target: &str, tags: &[String]) -> bool {
        if self.epoch() == since_epoch {
            return false;
        }
        self.list.lock().iter().any(|(e, d, p)| *e > since_epoch && **d == *distribution && p.matches(target, tags))
    }
}
