//! The control plane: state, store, validation, publishing and the invalidation lifecycle.

use crate::edge::{EdgeLink, FunctionTester};
use crate::error::ApiError;
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
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Where the control plane keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An embedded store in this folder (`--state DIR`, default `./.cachalot`).
    Dir(PathBuf),
    /// A fleet store URL (`--store postgres://…`): not supported yet.
    Url(String),
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

/// The control plane. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct ControlPlane {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    store: Store,
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

impl ControlPlane {
    /// Opens the store, merges `initial` (the `--config` resources) into it,
    /// publishes the first snapshot to `edge` and resumes unfinished invalidations.
    ///
    /// Config wins for the ids it defines: a stored resource with the same id
    /// (distributions, policies), name (functions, key value stores) is
    /// replaced by the config's version (with a new ETag when it changed);
    /// resources created through the API that the config does not name stay.
    pub fn open(
        location: StoreLocation,
        initial: Resources,
        access_keys: Vec<AccessKey>,
        edge: Arc<dyn EdgeLink>,
        tester: Option<Arc<dyn FunctionTester>>,
    ) -> Result<ControlPlane, OpenError> {
        let dir = match location {
            StoreLocation::Dir(d) => d,
            StoreLocation::Url(url) => {
                return Err(OpenError::Unsupported(format!(
                    "--store {url}: a fleet store (PostgreSQL) is not supported yet; use --state DIR for the embedded store"
                )));
            }
        };
        let store = Store::open(&dir).map_err(OpenError::Store)?;
        let (state, problems) = State::from_records(store.load().map_err(OpenError::Store)?);
        for p in problems {
            tracing::warn!("{p}");
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            store,
            edge,
            tester,
            access_keys,
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            known_errors: Mutex::new(HashSet::new()),
            deploy_delay_ms: AtomicI64::new(DEFAULT_DEPLOY_DELAY.as_millis() as i64),
        });
        inner.merge_initial(initial).map_err(|e| OpenError::Store(StoreError(e.message)))?;
        {
            let state = inner.state.lock();
            let (snapshot, diags) = inner.build(&state, &Subject::None);
            for d in &diags {
                tracing::warn!("{}", d.1);
            }
            *inner.known_errors.lock() = diags.iter().map(|d| d.0.clone()).collect();
            let snapshot = Arc::new(snapshot);
            *inner.snapshot.lock() = snapshot.clone();
            inner.edge.publish(snapshot);
        }
        spawn_invalidation_worker(Arc::downgrade(&inner));
        Ok(ControlPlane { inner })
    }

    /// The axum router serving `/2020-05-31/…` (CloudFront) and
    /// `/key-value-stores/…` (the key value store data API).
    pub fn router(&self) -> axum::Router {
        crate::http_layer::router(self.inner.clone())
    }

    /// CloudWatch's `GetMetricStatistics` (`POST /` and the RPCv2 CBOR path) on `telemetry`'s
    /// numbers, behind the same SigV4 check as the CloudFront API.
    pub fn cloudwatch_router(&self, telemetry: Arc<cachalot_telemetry::Telemetry>) -> axum::Router {
        crate::cloudwatch::router(self.inner.clone(), telemetry)
    }

    /// The snapshot currently published.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.lock().clone()
    }

    /// True when no access keys are configured: the API accepts any (or no) credentials.
    pub fn is_open(&self) -> bool {
        self.inner.access_keys.is_empty()
    }

    /// Sets how long distributions report `InProgress` after a change (default zero).
    pub fn set_deploy_delay(&self, delay: Duration) {
        self.inner.deploy_delay_ms.store(delay.as_millis().min(i64::MAX as u128) as i64, Ordering::Relaxed);
    }
}

/// An error of a build: (comparison key independent of the request, message worded for it, API code).
type Labeled = (String, String, String);

impl Inner {
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

    /// A read-only view of the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
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
        let mut txn = Txn::new(guard.clone());
        let result = f(&mut txn)?;
        let built = if txn.affects_edge {
            let (snapshot, diags) = self.build(&txn.state, &subject);
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
        let changes: Vec<_> = std::mem::take(&mut txn.changes).into_iter().collect();
        self.store.commit(&changes).map_err(|e| ApiError::internal(e.0))?;
        *guard = txn.state;
        if let Some((snapshot, errors)) = built {
            *self.known_errors.lock() = errors;
            *self.snapshot.lock() = snapshot.clone();
            self.edge.publish(snapshot);
        }
        Ok(result)
    }

    /// Builds the snapshot of `state`; returns it with its error diagnostics,
    /// each as (id-based key, message worded for `subject`, API error code).
    fn build(&self, state: &State, subject: &Subject) -> (Snapshot, Vec<Labeled>) {
        let (resources, labels) = state.resources();
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

    fn merge_initial(&self, initial: Resources) -> Result<(), ApiError> {
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
            // Config resources are reported, not refused, at start.
            txn.affects_edge = false;
            Ok(())
        })
    }

    /// Purges an invalidation's paths at the edge and marks it `Completed`.
    pub(crate) fn run_invalidation(&self, inv: &InvalidationRecord) {
        match self.edge.invalidate(&inv.distribution_id, &inv.paths) {
            Ok(()) => {
                let key = (inv.distribution_id.clone(), inv.id.clone());
                let done = self.mutate(Subject::None, |txn| {
                    if let Some(current) = txn.state.invalidations.get(&key).cloned()
                        && current.status != "Completed"
                    {
                        txn.put_invalidation(InvalidationRecord { status: "Completed".into(), ..(*current).clone() });
                    }
                    Ok(())
                });
                if let Err(e) = done {
                    tracing::warn!("invalidation {} purged but not recorded as completed: {e}", inv.id);
                }
            }
            Err(e) => {
                tracing::warn!("invalidation {} of {} not purged yet (will retry): {e}", inv.id, inv.distribution_id)
            }
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
