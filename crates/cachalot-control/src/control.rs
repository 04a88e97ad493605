//! The control plane: state, store, validation, publishing and the invalidation lifecycle.

use crate::edge::{EdgeLink, FunctionTester};
use crate::error::ApiError;
use crate::fleet::{Fleet, NodeInfo, NodeStatus};
use crate::sigv4::SignedRequest;
use crate::state::{
    DistributionRecord, FunctionRecord, FunctionStage, InvalidationRecord, KvsRecord, PolicyKind, PolicyRecord,
    PrivateKind, PrivateRecord, State, Subject, Txn,
};
use crate::store::{Store, StoreError};
use crate::util;
use cachalot_config::file::AccessKey;
use cachalot_config::validate::{Resources, check};
use cachalot_config::{Severity, Snapshot};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Where the control plane keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An embedded store in this folder (`--state DIR`, default `./.cachalot`).
    Dir(PathBuf),
    /// A fleet store (`--store postgres://…`) shared by every node that names it.
    Fleet(FleetSettings),
}

/// How this node joins a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// `postgres://USER@HOST:PORT/DB[?sslmode=…]`.
    pub url: String,
    /// What this node tells the fleet about itself.
    pub node: NodeInfo,
    /// This node's own files (the replica of the fleet's configuration).
    pub state_dir: PathBuf,
}

/// Where writes go.
pub(crate) enum Backend {
    /// One node: the redb file under `--state`.
    Embedded(Store),
    /// A fleet: PostgreSQL, with a local replica.
    Fleet(Fleet),
}

/// Why the control plane could not start.
#[derive(Debug)]
pub enum OpenError {
    /// The store could not be opened or read.
    Store(StoreError),
    /// The store location is not supported.
    Unsupported(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Store(e) => write!(f, "{e}"),
            OpenError::Unsupported(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for OpenError {}

pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    pub(crate) backend: Backend,
    /// The fleet store sequence the state reflects (0 for the embedded store).
    pub(crate) applied: AtomicU64,
    /// The fleet's nodes as last heard (empty outside a fleet).
    pub(crate) nodes: Mutex<Vec<NodeStatus>>,
    /// Invalidations this node has purged.
    pub(crate) purged: Mutex<HashSet<(String, String)>>,
    /// Config-file resources still to be merged into a fleet store that was unreachable at start.
    pub(crate) pending_initial: Mutex<Option<Resources>>,
    /// The fleet view last given to the edge.
    pub(crate) fleet_view: Mutex<crate::edge::FleetView>,
    /// This node's metrics, once the CloudWatch routes are made (flushed to a fleet store).
    pub(crate) telemetry: std::sync::OnceLock<Arc<cachalot_telemetry::Telemetry>>,
    pub(crate) edge: Arc<dyn EdgeLink>,
    pub(crate) tester: Option<Arc<dyn FunctionTester>>,
    access_keys: Vec<AccessKey>,
    snapshot: Mutex<Arc<Snapshot>>,
    /// Errors of the current build (config-file resources may carry some); only new ones refuse a change.
    known_errors: Mutex<HashSet<String>>,
    deploy_delay_ms: AtomicI64,
}

/// How long a created or updated distribution reports `InProgress` before `Deployed`. Zero: the
/// edge applies a change before the API answers, so the first poll of a waiter sees `Deployed`
/// (the AWS CLI's waiter sleeps 60 s between polls).
pub const DEFAULT_DEPLOY_DELAY: Duration = Duration::ZERO;

/// An error of a build: (comparison key independent of the request, message worded for it, API code).
type Labeled = (String, String, String);

/// A validated snapshot to publish, with the keys of the errors it still carries.
type Built = (Arc<Snapshot>, HashSet<String>);

impl Inner {
    /// Opens the store, merges `initial` (the `--config` resources) into it,
    /// publishes the first snapshot to `edge` and resumes unfinished invalidations.
    ///
    /// Config wins for the ids it defines: a stored resource with the same id
    /// (distributions, policies), name (functions, key value stores) is
    /// replaced by the config's version (with a new ETag when it changed);
    /// resources created through the API that the config does not name stay.
    pub(crate) fn open(
        location: StoreLocation,
        initial: Resources,
        access_keys: Vec<AccessKey>,
        edge: Arc<dyn EdgeLink>,
        tester: Option<Arc<dyn FunctionTester>>,
    ) -> Result<Arc<Inner>, OpenError> {
        let (backend, records, applied, signal) = match location {
            StoreLocation::Dir(dir) => {
                let store = Store::open(&dir).map_err(OpenError::Store)?;
                let records = store.load().map_err(OpenError::Store)?;
                (Backend::Embedded(store), records, 0, None)
            }
            StoreLocation::Fleet(settings) => {
                let signal = Arc::new(crate::fleet::node::Signal::default());
                let wake = signal.clone();
                let fleet =
                    Fleet::open(&settings.url, settings.node, &settings.state_dir, Arc::new(move || wake.raise()))
                        .map_err(OpenError::Store)?;
                let (records, applied) = fleet.replica().map_err(OpenError::Store)?;
                let records = records.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
                (Backend::Fleet(fleet), records, applied, Some(signal))
            }
        };
        let (state, problems) = State::from_records(records);
        for p in problems {
            tracing::warn!("{p}");
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            backend,
            applied: AtomicU64::new(applied),
            nodes: Mutex::new(Vec::new()),
            purged: Mutex::new(HashSet::new()),
            pending_initial: Mutex::new(None),
            fleet_view: Mutex::new(crate::edge::FleetView::default()),
            telemetry: std::sync::OnceLock::new(),
            edge,
            tester,
            access_keys,
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            known_errors: Mutex::new(HashSet::new()),
            deploy_delay_ms: AtomicI64::new(DEFAULT_DEPLOY_DELAY.as_millis() as i64),
        });
        if inner.fleet().is_some() {
            inner.publish_all();
            crate::fleet::node::join(&inner, initial);
        } else {
            inner.merge_initial(initial).map_err(|e| OpenError::Store(StoreError(e.message)))?;
            inner.publish_all();
        }
        match signal {
            Some(signal) => crate::fleet::node::spawn(Arc::downgrade(&inner), signal),
            None => spawn_invalidation_worker(Arc::downgrade(&inner)),
        }
        Ok(inner)
    }

    /// The snapshot currently published.
    pub(crate) fn current_snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.lock().clone()
    }

    /// Sets how long distributions report `InProgress` after a change.
    pub(crate) fn set_deploy_delay(&self, delay: Duration) {
        self.deploy_delay_ms.store(delay.as_millis().min(i64::MAX as u128) as i64, Ordering::Relaxed);
    }

    pub(crate) fn deploy_delay_ms(&self) -> i64 {
        self.deploy_delay_ms.load(Ordering::Relaxed)
    }

    /// Checks a request's SigV4 signature against the configured access keys; with none
    /// configured every request is accepted. One check for every API on the admin listener.
    pub(crate) fn authenticate(&self, req: &SignedRequest<'_>) -> Result<(), ApiError> {
        if self.access_keys.is_empty() {
            return Ok(());
        }
        crate::sigv4::verify(req, &self.access_keys, util::now_ms() / 1000)
    }

    /// True when access keys are configured (the APIs and the pages ask for one).
    pub(crate) fn has_access_keys(&self) -> bool {
        !self.access_keys.is_empty()
    }

    /// True when `id` is a configured access key whose secret is `secret` (compared in constant time).
    pub(crate) fn has_access_key(&self, id: &str, secret: &str) -> bool {
        self.access_keys.iter().any(|k| {
            k.access_key_id == id && crate::sigv4::constant_time_eq(k.secret_access_key.as_bytes(), secret.as_bytes())
        })
    }

    /// A read-only view of the state; in a fleet, with every change already written by any node.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.catch_up();
        f(&self.state.lock())
    }

    /// Applies one change: `f` edits a copy of the state; the result is
    /// validated (when it changes what the edge serves), committed in one
    /// durable transaction, made live and published.
    pub(crate) fn mutate<R>(
        &self,
        subject: Subject,
        f: impl FnOnce(&mut Txn) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut guard = self.state.lock();
        match &self.backend {
            Backend::Embedded(store) => {
                let (txn, result, built) = self.prepare(&guard, &subject, f)?;
                let changes: Vec<_> = txn.changes.clone().into_iter().collect();
                store.commit(&changes).map_err(|e| ApiError::internal(e.0))?;
                *guard = txn.state;
                self.publish_built(built);
                Ok(result)
            }
            Backend::Fleet(fleet) => {
                let applied = self.applied.load(Ordering::Acquire);
                let mut prepared = None;
                let (result, seq) = fleet.write(applied, |remote| {
                    // What other nodes wrote first: this change is checked against it.
                    self.absorb(&mut guard, remote);
                    let (txn, result, built) = self.prepare(&guard, &subject, f)?;
                    let changes: Vec<_> = txn.changes.clone().into_iter().collect();
                    prepared = Some((txn.state, changes.clone(), built));
                    Ok((changes, result))
                })?;
                if let (Some((state, changes, built)), Some(seq)) = (prepared, seq) {
                    *guard = state;
                    self.applied.store(seq, Ordering::Release);
                    fleet.remember(&changes, seq);
                    self.publish_built(built);
                }
                Ok(result)
            }
        }
    }

    /// Applies `f` to a copy of `state` and validates the result when it changes what the
    /// edge serves: the new state, `f`'s value, and the snapshot to publish.
    fn prepare<R>(
        &self,
        state: &State,
        subject: &Subject,
        f: impl FnOnce(&mut Txn) -> Result<R, ApiError>,
    ) -> Result<(Txn, R, Option<Built>), ApiError> {
        let mut txn = Txn::new(state.clone());
        let result = f(&mut txn)?;
        let built = if txn.affects_edge {
            let (snapshot, diags) = self.build(&txn.state, subject);
            let known = self.known_errors.lock();
            let new: Vec<&Labeled> = diags.iter().filter(|d| !known.contains(&d.0)).collect();
            if let Some(first) = new.first() {
                let message = new.iter().map(|d| d.1.as_str()).collect::<Vec<_>>().join("; ");
                return Err(ApiError::new(&first.2, message));
            }
            drop(known);
            Some((Arc::new(snapshot), diags.into_iter().map(|d| d.0).collect::<HashSet<_>>()))
        } else {
            None
        };
        Ok((txn, result, built))
    }

    fn publish_built(&self, built: Option<Built>) {
        if let Some((snapshot, errors)) = built {
            *self.known_errors.lock() = errors;
            *self.snapshot.lock() = snapshot.clone();
            self.edge.publish(snapshot);
        }
    }

    /// Builds and publishes the snapshot of the current state (its errors reported, not refused).
    pub(crate) fn publish_all(&self) {
        let state = self.state.lock();
        self.publish_state(&state);
    }

    fn publish_state(&self, state: &State) {
        let (snapshot, diags) = self.build(state, &Subject::None);
        for d in &diags {
            tracing::warn!("{}", d.1);
        }
        *self.known_errors.lock() = diags.iter().map(|d| d.0.clone()).collect();
        let snapshot = Arc::new(snapshot);
        *self.snapshot.lock() = snapshot.clone();
        self.edge.publish(snapshot);
    }

    /// The fleet's nodes as `GET /fleet` shows them.
    pub(crate) fn fleet_status(&self) -> serde_json::Value {
        let nodes = self.nodes.lock().clone();
        crate::fleet::status_json(
            &nodes,
            self.fleet().map(|f| f.node.id.as_str()),
            self.applied.load(Ordering::Acquire),
        )
    }

    /// The fleet store, when this node is in a fleet.
    pub(crate) fn fleet(&self) -> Option<&Fleet> {
        match &self.backend {
            Backend::Fleet(f) => Some(f),
            Backend::Embedded(_) => None,
        }
    }

    /// Folds changes other nodes wrote into `state` (those not applied yet), keeps them in
    /// the replica and publishes the result when it changes what the edge serves.
    pub(crate) fn absorb(&self, state: &mut State, changes: crate::fleet::Changes) {
        let applied = self.applied.load(Ordering::Acquire);
        let fresh: Vec<_> = changes.records.into_iter().filter(|r| r.2 > applied).collect();
        if fresh.is_empty() {
            return;
        }
        let mut affects_edge = false;
        for (key, value, _) in &fresh {
            match state.apply(key, value.as_deref()) {
                Ok(edge) => affects_edge |= edge,
                Err(()) => tracing::warn!("fleet record {key} could not be read and is ignored"),
            }
        }
        self.applied.store(changes.seq.max(applied), Ordering::Release);
        if let Some(fleet) = self.fleet() {
            let kept: Vec<_> = fresh.into_iter().map(|(k, v, _)| (k, v)).collect();
            fleet.remember(&kept, changes.seq);
        }
        if affects_edge {
            self.publish_state(state);
        }
    }

    /// Catches up with the fleet store (a no-op outside a fleet, or while it is unreachable).
    pub(crate) fn catch_up(&self) {
        let Some(fleet) = self.fleet() else { return };
        if !fleet.pg.is_up() {
            return;
        }
        match fleet.changes_since(self.applied.load(Ordering::Acquire)) {
            Ok(changes) if !changes.records.is_empty() => {
                let mut state = self.state.lock();
                self.absorb(&mut state, changes);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("catching up with the fleet store: {e}"),
        }
    }

    /// Builds the snapshot of `state`; returns it with its error diagnostics,
    /// each as (id-based key, message worded for `subject`, API error code).
    fn build(&self, state: &State, subject: &Subject) -> (Snapshot, Vec<Labeled>) {
        let (resources, labels) = state.resources(subject);
        let (snapshot, found) = check(&resources);
        let labeled = found
            .iter()
            .filter(|f| f.diagnostic.severity == Severity::Error)
            .map(|f| {
                let d = &f.diagnostic;
                let at = labels.of(f.resource);
                let key = format!("{}|{}|{}", d.code, at.path(&d.path, &Subject::None), d.message);
                let mut message = format!("{}: {}", at.path(&d.path, subject), d.message);
                if let Some(h) = &d.hint {
                    message.push_str(&format!(" (hint: {h})"));
                }
                (key, message, api_code(&d.code))
            })
            .collect();
        (snapshot, labeled)
    }

    pub(crate) fn merge_initial(&self, initial: Resources) -> Result<(), ApiError> {
        let now = util::now_ms();
        self.mutate(Subject::None, |txn| {
            let policies: [(PolicyKind, Vec<(String, Value)>); 3] = [
                (
                    PolicyKind::Cache,
                    initial.cache_policies.iter().map(|p| (p.id.clone(), to_json(&p.cache_policy_config))).collect(),
                ),
                (
                    PolicyKind::OriginRequest,
                    initial
                        .origin_request_policies
                        .iter()
                        .map(|p| (p.id.clone(), to_json(&p.origin_request_policy_config)))
                        .collect(),
                ),
                (
                    PolicyKind::ResponseHeaders,
                    initial
                        .response_headers_policies
                        .iter()
                        .map(|p| (p.id.clone(), to_json(&p.response_headers_policy_config)))
                        .collect(),
                ),
            ];
            for (kind, items) in policies {
                for (id, config) in items {
                    if txn.state.policies(kind).get(&id).is_some_and(|p| p.config == config) {
                        continue;
                    }
                    txn.put_policy(kind, PolicyRecord { id, config, etag: util::etag(), last_modified: now });
                }
            }
            for k in &initial.key_value_stores {
                let existing = txn.state.kvs.get(&k.name).cloned();
                let items = k.items.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
                if existing.as_ref().is_some_and(|e| e.items == items) {
                    continue;
                }
                let id = existing
                    .as_ref()
                    .map(|e| e.id.clone())
                    .or_else(|| (!k.id.is_empty()).then(|| k.id.clone()))
                    .unwrap_or_else(util::uuid);
                txn.put_kvs(KvsRecord {
                    name: k.name.clone(),
                    id,
                    comment: existing.as_ref().map(|e| e.comment.clone()).unwrap_or_default(),
                    etag: util::etag(),
                    created: existing.as_ref().map_or(now, |e| e.created),
                    last_modified: now,
                    items,
                    data_etag: util::etag(),
                    data_last_modified: now,
                });
            }
            for f in &initial.functions {
                let arns: Vec<Value> = f
                    .key_value_stores
                    .iter()
                    .filter_map(|n| txn.state.kvs.get(n))
                    .map(|k| json!({"KeyValueStoreARN": k.arn()}))
                    .collect();
                let mut config = json!({"Comment": "", "Runtime": f.runtime});
                if !arns.is_empty() {
                    config["KeyValueStoreAssociations"] = json!({"Quantity": arns.len(), "Items": arns});
                }
                let existing = txn.state.functions.get(&f.name).cloned();
                if existing
                    .as_ref()
                    .and_then(|e| e.live.as_ref())
                    .is_some_and(|l| l.code == f.code && l.config == config)
                {
                    continue;
                }
                let stage = FunctionStage { config, code: f.code.clone(), etag: util::etag(), last_modified: now };
                let live = FunctionStage { etag: util::etag(), ..stage.clone() };
                txn.put_function(FunctionRecord {
                    name: f.name.clone(),
                    created: existing.map_or(now, |e| e.created),
                    development: stage,
                    live: Some(live),
                });
            }
            let private: [(PrivateKind, Vec<(String, Value)>); 3] = [
                (
                    PrivateKind::PublicKey,
                    initial.public_keys.iter().map(|k| (k.id.clone(), to_json(&k.public_key_config))).collect(),
                ),
                (
                    PrivateKind::KeyGroup,
                    initial.key_groups.iter().map(|g| (g.id.clone(), to_json(&g.key_group_config))).collect(),
                ),
                (
                    PrivateKind::OriginAccessControl,
                    initial
                        .origin_access_controls
                        .iter()
                        .map(|o| (o.id.clone(), to_json(&o.origin_access_control_config)))
                        .collect(),
                ),
            ];
            for (kind, items) in private {
                for (id, config) in items {
                    let existing = txn.state.private(kind).get(&id).cloned();
                    if existing.as_ref().is_some_and(|p| p.config == config) {
                        continue;
                    }
                    let created = existing.map_or(now, |e| e.created);
                    txn.put_private(
                        kind,
                        PrivateRecord { id, config, etag: util::etag(), created, last_modified: now },
                    );
                }
            }
            for d in &initial.distributions {
                let config = to_json(&d.config);
                let existing = txn.state.distributions.get(&d.id).cloned();
                if existing.as_ref().is_some_and(|e| e.config == config && e.domain_name == d.domain_name) {
                    continue;
                }
                txn.put_distribution(DistributionRecord {
                    id: d.id.clone(),
                    domain_name: d.domain_name.clone(),
                    config,
                    etag: util::etag(),
                    created: existing.map_or(now, |e| e.created),
                    // Config resources are live as soon as the edge starts.
                    last_modified: now - self.deploy_delay_ms(),
                    typed: None,
                });
            }
            let logs = &initial.log_deliveries;
            for source in &logs.sources {
                if txn.state.delivery_sources.get(&source.name).is_none_or(|s| **s != *source) {
                    txn.put_delivery_source(source.clone());
                }
            }
            for destination in &logs.destinations {
                if txn.state.delivery_destinations.get(&destination.name).is_none_or(|d| **d != *destination) {
                    txn.put_delivery_destination(destination.clone());
                }
            }
            for delivery in &logs.deliveries {
                if txn.state.deliveries.get(&delivery.id).is_none_or(|d| **d != *delivery) {
                    txn.put_delivery(delivery.clone());
                }
            }
            // Config resources are reported, not refused, at start.
            txn.affects_edge = false;
            Ok(())
        })
    }

    /// Purges an invalidation's paths at the edge and marks it `Completed`.
    pub(crate) fn run_invalidation(&self, inv: &InvalidationRecord) {
        if let Err(e) = self.edge.invalidate(&inv.distribution_id, &inv.paths) {
            tracing::warn!("invalidation {} of {} not purged yet (will retry): {e}", inv.id, inv.distribution_id);
            return;
        }
        let key = (inv.distribution_id.clone(), inv.id.clone());
        if let Some(fleet) = self.fleet() {
            // In a fleet the purge is this node's part; the invalidation completes when every live node's is done.
            match fleet.acknowledge(&inv.distribution_id, &inv.id) {
                Ok(()) => {
                    self.purged.lock().insert(key);
                }
                Err(e) => tracing::warn!("invalidation {} purged here but not recorded yet (will retry): {e}", inv.id),
            }
            crate::fleet::node::complete_if_done(self, inv);
            return;
        }
        self.mark_completed(&key);
    }

    /// Records invalidation `key` as `Completed`.
    pub(crate) fn mark_completed(&self, key: &(String, String)) {
        let done = self.mutate(Subject::None, |txn| {
            if let Some(current) = txn.state.invalidations.get(key).cloned()
                && current.status != "Completed"
            {
                txn.put_invalidation(InvalidationRecord { status: "Completed".into(), ..(*current).clone() });
            }
            Ok(())
        });
        if let Err(e) = done {
            tracing::warn!("invalidation {} purged but not recorded as completed: {e}", key.1);
        }
    }
}

/// Maps a diagnostic code to an API error code (kebab-case codes are not CloudFront's).
fn api_code(code: &str) -> String {
    if code.starts_with(|c: char| c.is_ascii_uppercase()) && !code.contains('-') {
        code.to_owned()
    } else {
        "InvalidArgument".to_owned()
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Retries purges that have not completed (edge errors, or a restart in between) once a second.
fn spawn_invalidation_worker(inner: Weak<Inner>) {
    let spawned = std::thread::Builder::new().name("cachalot-invalidations".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let Some(inner) = inner.upgrade() else { return };
            let pending: Vec<InvalidationRecord> = inner.read(|s| {
                s.invalidations.values().filter(|i| i.status != "Completed").map(|i| (**i).clone()).collect()
            });
            for inv in pending {
                inner.run_invalidation(&inv);
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the invalidation worker: {e}");
    }
}
