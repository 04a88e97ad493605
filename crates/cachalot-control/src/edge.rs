//! What the control plane needs from the rest of the binary: the edge and a function runner.
//!
//! **API boundary.** The binary implements [`EdgeLink`] on top of the data
//! plane and [`FunctionTester`] on top of the functions runtime; this crate
//! depends on neither.

use cachalot_config::Snapshot;
use cachalot_config::model::KeyValueStore;
use parking_lot::Mutex;
use std::sync::Arc;

/// The running edge, as the control plane drives it.
pub trait EdgeLink: Send + Sync {
    /// Serve `snapshot` from now on (swapped atomically by the data plane).
    /// Called after every successful change, in order, and once at start.
    fn publish(&self, snapshot: Arc<Snapshot>);

    /// Purge `paths` (CloudFront invalidation paths and `#tag` items, as the
    /// user gave them) of `distribution_id` from every POP and every tier.
    /// The invalidation is reported `Completed` once this returns `Ok`; on
    /// `Err` it stays `InProgress` and is retried.
    fn invalidate(&self, distribution_id: &str, paths: &[String]) -> Result<(), String>;

    /// The fleet changed: who hosts which regional edge cache (live nodes only), and the
    /// secret tier traffic is signed with. Called only on the nodes of a fleet.
    fn fleet(&self, _view: &FleetView) {}
}

/// The fleet as the edge needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetView {
    /// This node's id.
    pub node_id: String,
    /// The tier secret.
    pub secret: String,
    /// Live nodes hosting a regional edge cache, by region: `(node id, host:port)`.
    pub regional_caches: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

/// One TestFunction call.
#[derive(Debug, Clone)]
pub struct FunctionTestRequest {
    /// Function name.
    pub name: String,
    /// `cloudfront-js-1.0` or `cloudfront-js-2.0`.
    pub runtime: String,
    /// JavaScript source of the stage under test.
    pub code: String,
    /// The test event (JSON bytes, as decoded from the request's `EventObject`).
    pub event_object: Vec<u8>,
    /// Key value stores associated with the function.
    pub key_value_stores: Vec<Arc<KeyValueStore>>,
}

/// What TestFunction reports (the `TestResult` shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionTestResult {
    /// 0–100, as text.
    pub compute_utilization: String,
    /// `console.log` lines.
    pub execution_logs: Vec<String>,
    /// Empty on success.
    pub error_message: String,
    /// JSON text of `{"request": …}` or `{"response": …}`.
    pub output: String,
}

/// Why a TestFunction call produced no result. (A function that throws or
/// does not compile is a result with `error_message` set, not an error.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionTestError {
    /// The event is not JSON or not shaped like a CloudFront Functions event: `InvalidArgument` (400).
    InvalidEvent(String),
    /// The runtime itself failed: `TestFunctionFailed` (500).
    Failed(String),
}

/// Runs CloudFront Functions for TestFunction.
pub trait FunctionTester: Send + Sync {
    /// Runs `request`'s code on its event.
    fn test(&self, request: &FunctionTestRequest) -> Result<FunctionTestResult, FunctionTestError>;
}

/// An [`EdgeLink`] that records what it is asked to do, for tests and the
/// `control_only` example.
#[derive(Default)]
pub struct RecordingEdge {
    snapshots: Mutex<Vec<Arc<Snapshot>>>,
    published: std::sync::atomic::AtomicUsize,
    invalidations: Mutex<Vec<(String, Vec<String>)>>,
    fail_invalidations: std::sync::atomic::AtomicBool,
}

impl RecordingEdge {
    /// A new recorder.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The most recently published snapshot.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.snapshots.lock().last().cloned()
    }

    /// How many snapshots were published.
    pub fn publish_count(&self) -> usize {
        self.published.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every purge requested, in order.
    pub fn invalidations(&self) -> Vec<(String, Vec<String>)> {
        self.invalidations.lock().clone()
    }

    /// Makes purges fail (they stay `InProgress`) until set back.
    pub fn set_failing(&self, failing: bool) {
        self.fail_invalidations.store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

impl EdgeLink for RecordingEdge {
    fn publish(&self, snapshot: Arc<Snapshot>) {
        let mut all = self.snapshots.lock();
        // Keep memory bounded in long runs: only the latest few matter.
        if all.len() >= 64 {
            all.remove(0);
        }
        all.push(snapshot);
        self.published.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn invalidate(&self, distribution_id: &str, paths: &[String]) -> Result<(), String> {
        if self.fail_invalidations.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the edge is unavailable".into());
        }
        self.invalidations.lock().push((distribution_id.to_owned(), paths.to_vec()));
        Ok(())
    }
}
