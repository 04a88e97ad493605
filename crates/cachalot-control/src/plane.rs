//! [`ControlPlane`], the crate's face to the binary: opening the state and the routers that
//! serve it. It sits above everything else in the crate: the HTTP layer, CloudWatch and the page
//! guard use the state engine (`control`), never this module, so no import goes back up.

use crate::control::{Inner, OpenError, StoreLocation};
use crate::edge::{EdgeLink, FunctionTester};
use cachalot_config::Snapshot;
use cachalot_config::file::AccessKey;
use cachalot_config::validate::Resources;
use std::sync::Arc;
use std::time::Duration;

/// The control plane. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

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
        Ok(ControlPlane { inner: Inner::open(location, initial, access_keys, edge, tester)? })
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

    /// `pages` (the binary's `/metrics` and `/dashboard`) behind the configured access keys:
    /// HTTP Basic (access key id and secret) or SigV4. Open when no access keys are configured.
    pub fn guard(&self, pages: axum::Router) -> axum::Router {
        crate::guard::guard(self.inner.clone(), pages)
    }

    /// `GET /fleet`: the fleet's nodes as JSON (`{"Fleet": false, "Nodes": []}` outside a fleet).
    pub fn fleet_router(&self) -> axum::Router {
        let inner = self.inner.clone();
        axum::Router::new().route(
            "/fleet",
            axum::routing::get(move || {
                let inner = inner.clone();
                async move {
                    let body = serde_json::to_vec_pretty(&inner.fleet_status()).unwrap_or_default();
                    ([(http::header::CONTENT_TYPE, "application/json")], body)
                }
            }),
        )
    }

    /// The fleet's nodes, as `GET /fleet` shows them.
    pub fn fleet_status(&self) -> serde_json::Value {
        self.inner.fleet_status()
    }

    /// The snapshot currently published.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current_snapshot()
    }

    /// True when no access keys are configured: the API accepts any (or no) credentials.
    pub fn is_open(&self) -> bool {
        !self.inner.has_access_keys()
    }

    /// Sets how long distributions report `InProgress` after a change (default zero).
    pub fn set_deploy_delay(&self, delay: Duration) {
        self.inner.set_deploy_delay(delay);
    }
}
