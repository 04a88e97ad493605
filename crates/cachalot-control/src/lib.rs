//! The control plane: CloudFront's REST-XML API, its persistent store, and
//! publishing every change to the running edge.
//!
//! **Owns**: the `/2020-05-31/…` API (policies, distributions, invalidations,
//! functions, key value stores, monitoring subscriptions, tags) with
//! CloudFront's ETags, errors and XML; the `cloudfront-keyvaluestore` data
//! API; SigV4 verification; the embedded store (redb) under `--state`; the
//! invalidation lifecycle; building snapshots with
//! [`cachalot_config::validate::build_snapshot`] and handing them to the edge.
//!
//! **Also owns**: CloudWatch's `GetMetricStatistics` for `AWS/CloudFront`
//! ([`ControlPlane::cloudwatch_router`]), answered from the telemetry registry
//! in the awsQuery, awsJson1_0 and RPCv2 CBOR protocols; and on the same route,
//! CloudWatch Logs' delivery API (`Logs_20140328.*`, awsJson1_1) that configures
//! CloudFront's standard logging (v2), its resources kept with the rest of the state.
//!
//! **Must not**: depend on the proxy (the edge is reached through
//! [`EdgeLink`], which the binary implements), run functions itself
//! (TestFunction goes through [`FunctionTester`]), or serve anything outside
//! `/2020-05-31/`, `/key-value-stores/` and the CloudWatch routes (the binary
//! adds `/metrics`, `/dashboard` and `/healthz`, putting the first two behind
//! [`ControlPlane::guard`] when access keys are configured).
//!
//! # Wiring (for `cachalot serve`)
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use cachalot_control::{ControlPlane, StoreLocation, EdgeLink, FunctionTester};
//! # fn wire(edge: Arc<dyn EdgeLink>, tester: Option<Arc<dyn FunctionTester>>,
//! #         resources: cachalot_config::validate::Resources,
//! #         keys: Vec<cachalot_config::file::AccessKey>) -> Result<(), Box<dyn std::error::Error>> {
//! // `--state DIR` (default ./.cachalot) or `--store URL` (PostgreSQL: refused for now).
//! let location = StoreLocation::Dir("./.cachalot".into());
//! // `resources`: the --config file's resources (config wins for the ids it defines).
//! let control = ControlPlane::open(location, resources, keys, edge, tester)?;
//! if control.is_open() {
//!     eprintln!("warning: the admin API accepts any credentials (no AccessKeys configured)");
//! }
//! let app = control.router(); // .merge(control.cloudwatch_router(telemetry)).merge(dashboard)
//! # let _ = app; Ok(()) }
//! ```
//!
//! The functions runtime plugs in as a [`FunctionTester`] (`None` makes
//! TestFunction answer `UnsupportedOperation`):
//!
//! ```ignore
//! struct Tester;
//! impl cachalot_control::FunctionTester for Tester {
//!     fn test(&self, r: &FunctionTestRequest) -> Result<FunctionTestResult, FunctionTestError> {
//!         let runtime = if r.runtime == "cloudfront-js-1.0" { Runtime::Js1 } else { Runtime::Js2 };
//!         let out = cachalot_functions::test_function(
//!             &r.name, runtime, &r.code, &r.event_object, r.key_value_stores.clone(), Limits::default(),
//!             std::time::SystemTime::now(),
//!         )
//!         .map_err(|e| FunctionTestError::InvalidEvent(e.to_string()))?;
//!         Ok(FunctionTestResult {
//!             compute_utilization: out.compute_utilization,
//!             execution_logs: out.function_execution_logs,
//!             error_message: out.function_error_message,
//!             output: out.function_output,
//!         })
//!     }
//! }
//! ```
//!
//! `open` publishes the first snapshot through [`EdgeLink::publish`] before it
//! returns, then again after every successful change; invalidations call
//! [`EdgeLink::invalidate`] and are reported `Completed` once it returns `Ok`.
//!
//! # The key value store data API
//!
//! Served on the same listener under `/key-value-stores/{KvsARN}[/keys[/{Key}]]`
//! for any `Host`. With `--endpoint-url http://localhost:9400`, AWS SDKs
//! address it as `http://123456789012.localhost:9400` (the ARN's account id
//! prefixed to the endpoint host), which resolves to loopback where
//! `*.localhost` does (systemd-resolved, macOS); elsewhere add
//! `127.0.0.1 123456789012.localhost` to `/etc/hosts`. The SDKs sign these
//! requests with SigV4A (botocore needs `awscrt`): accepted when no access keys
//! are configured, refused with `AccessDeniedException` when they are, since
//! Cachalot verifies SigV4 only.

mod api;
mod cloudwatch;
mod control;
mod edge;
mod error;
mod fleet;
mod guard;
mod http_layer;
mod logs;
mod plane;
mod sigv4;
mod state;
mod store;
mod util;
mod xml;

pub use control::{DEFAULT_DEPLOY_DELAY, FleetSettings, OpenError, StoreLocation};
pub use edge::{
    EdgeLink, FleetView, FunctionTestError, FunctionTestRequest, FunctionTestResult, FunctionTester, RecordingEdge,
};
pub use error::ApiError;
pub use fleet::{AcceptAnyServer, NODE_TIMEOUT, NodeInfo, NodePop, NodeRegionalCache, NodeStatus};
pub use http_layer::MAX_BODY_BYTES;
pub use plane::ControlPlane;
pub use state::ACCOUNT_ID;
pub use store::{DB_FILE, StoreError};
