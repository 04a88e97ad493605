//! What a node does to stay part of its fleet: join (catch up, merge its config file's
//! resources, purge the invalidations it missed — before its listeners open), follow
//! the change feed, heartbeat, and complete invalidations once every live node has
//! purged.

use crate::control::Inner;
use crate::edge::FleetView;
use crate::state::InvalidationRecord;
use cachalot_config::validate::Resources;
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Wakes the follower: a change notification or a reconnection.
#[derive(Default)]
pub(crate) struct Signal {
    raised: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    pub(crate) fn raise(&self) {
        *self.raised.lock() = true;
        self.cond.notify_all();
    }

    /// Waits for a raise or `timeout`.
    fn wait(&self, timeout: Duration) {
        let mut raised = self.raised.lock();
        if !*raised {
            self.cond.wait_for(&mut raised, timeout);
        }
        *raised = false;
    }
}

/// How long a node waits for the store at start before serving its replica alone.
const JOIN_WAIT: Duration = Duration::from_secs(3);

/// Joins the fleet at start: everything written meanwhile, the config file's
/// resources, and every invalidation this node has not purged, before it serves.
pub(crate) fn join(inner: &Arc<Inner>, initial: Resources) {
    let Some(fleet) = inner.fleet() else { return };
    *inner.pending_initial.lock() = Some(initial);
    if !fleet.pg.wait_up(JOIN_WAIT) {
        tracing::warn!(
            "the fleet store is unreachable: serving the configuration last applied here (version {}) until it is back",
            inner.applied.load(Ordering::Acquire)
        );
        return;
    }
    rejoin(inner);
}

/// Catches up, merges pending config-file resources, registers, purges missed invalidations.
fn rejoin(inner: &Arc<Inner>) {
    inner.catch_up();
    let pending = inner.pending_initial.lock().take();
    if let Some(resources) = pending {
        match inner.merge_initial(resources.clone()) {
            // Merged resources are reported, not refused: publish what the state now holds.
            Ok(()) => inner.publish_all(),
            Err(e) => {
                tracing::warn!("the config file's resources are not in the fleet store yet (will retry): {e}");
                *inner.pending_initial.lock() = Some(resources);
            }
        }
    }
    heartbeat(inner);
    purge_missed(inner);
}

/// Starts the follower (change feed, invalidations) and heartbeat threads.
pub(crate) fn spawn(inner: Weak<Inner>, signal: Arc<Signal>) {
    let follower = inner.clone();
    let spawned = std::thread::Builder::new().name("cachalot-fleet-follower".into()).spawn(move || {
        let mut was_up = follower.upgrade().is_some_and(|i| i.fleet().is_some_and(|f| f.pg.is_up()));
        loop {
            signal.wait(Duration::from_secs(1));
            let Some(inner) = follower.upgrade() else { return };
            let up = inner.fleet().is_some_and(|f| f.pg.is_up());
            if up && (!was_up || inner.pending_initial.lock().is_some()) {
                rejoin(&inner);
            }
            was_up = up;
            if up {
                inner.catch_up();
                purge_missed(&inner);
                let pending: Vec<InvalidationRecord> = inner
                    .state
                    .lock()
                    .invalidations
                    .values()
                    .filter(|i| i.status != "Completed")
                    .map(|i| (**i).clone())
                    .collect();
                for inv in &pending {
                    complete_if_done(&inner, inv);
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the fleet follower: {e}");
    }
    let spawned = std::thread::Builder::new().name("cachalot-fleet-heartbeat".into()).spawn(move || {
        for tick in 1u64.. {
            std::thread::sleep(Duration::from_secs(1));
            let Some(inner) = inner.upgrade() else { return };
            heartbeat(&inner);
            if tick.is_multiple_of(METRICS_EVERY_SECS) {
                flush_metrics(&inner);
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the fleet heartbeat: {e}");
    }
}

/// How often a node writes its CloudWatch numbers to the store.
const METRICS_EVERY_SECS: u64 = 10;

/// Writes this node's recent per-minute numbers to the store, for fleet-wide CloudWatch.
fn flush_metrics(inner: &Arc<Inner>) {
    let (Some(fleet), Some(telemetry)) = (inner.fleet(), inner.telemetry.get()) else { return };
    let now_minute =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64 / 60);
    // The last few minutes can still change (requests finishing late); older ones were written already.
    let rows = telemetry.metrics().export_minutes(now_minute - 3);
    if let Err(e) = fleet.flush_metrics(rows) {
        tracing::debug!("CloudWatch numbers not written to the fleet store yet: {e}");
    }
}

/// Records this node's heartbeat and tells the edge who hosts which regional cache.
fn heartbeat(inner: &Arc<Inner>) {
    let Some(fleet) = inner.fleet() else { return };
    let nodes = match fleet.heartbeat(inner.applied.load(Ordering::Acquire)) {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!("heartbeat not recorded: {e}");
            return;
        }
    };
    let secret = match fleet.tier_secret() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("tier secret not read: {e}");
            return;
        }
    };
    let mut regional: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.alive) {
        for r in &n.info.regional_caches {
            regional.entry(r.region.clone()).or_default().push((n.info.id.clone(), r.address.clone()));
        }
    }
    let view = FleetView { node_id: fleet.node.id.clone(), secret, regional_caches: regional };
    let changed = {
        let mut last = inner.fleet_view.lock();
        let changed = *last != view;
        *last = view.clone();
        changed
    };
    if changed {
        inner.edge.fleet(&view);
    }
    *inner.nodes.lock() = nodes;
}

/// Purges (and records) every invalidation of the state this node has not purged yet.
fn purge_missed(inner: &Arc<Inner>) {
    let Some(fleet) = inner.fleet() else { return };
    let all: Vec<InvalidationRecord> = inner.state.lock().invalidations.values().map(|i| (**i).clone()).collect();
    if all.iter().all(|i| inner.purged.lock().contains(&(i.distribution_id.clone(), i.id.clone()))) {
        return;
    }
    let mine: HashSet<(String, String)> = match fleet.acknowledged_by_me() {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!("cannot read this node's purges: {e}");
            return;
        }
    };
    inner.purged.lock().extend(mine.iter().cloned());
    for inv in all {
        if !mine.contains(&(inv.distribution_id.clone(), inv.id.clone())) {
            inner.run_invalidation(&inv);
        }
    }
}

/// Marks `inv` completed once every live node has recorded its purge.
pub(crate) fn complete_if_done(inner: &Inner, inv: &InvalidationRecord) {
    let Some(fleet) = inner.fleet() else { return };
    let live: Vec<String> = inner.nodes.lock().iter().filter(|n| n.alive).map(|n| n.info.id.clone()).collect();
    let Ok(done) = fleet.acknowledgers(&inv.distribution_id, &inv.id) else { return };
    let waiting: Vec<&String> = live.iter().filter(|n| !done.contains(n)).collect();
    if waiting.is_empty() && done.contains(&fleet.node.id) {
        inner.mark_completed(&(inv.distribution_id.clone(), inv.id.clone()));
    }
}
