//! Adapters that connect the library crates inside `serve`: the control plane
//! drives the edge through [`EdgeBridge`] and runs TestFunction through
//! [`FunctionRunner`].

use cachalot_config::Snapshot;
use cachalot_control::{EdgeLink, FunctionTestError, FunctionTestRequest, FunctionTestResult, FunctionTester};
use cachalot_functions::{Limits, Runtime};
use cachalot_policy::invalidation::InvalidationPath;
use cachalot_proxy::Edge;
use std::sync::Arc;

/// The data plane as the control plane sees it.
pub(crate) struct EdgeBridge {
    pub(crate) edge: Edge,
}

impl EdgeLink for EdgeBridge {
    fn publish(&self, snapshot: Arc<Snapshot>) {
        self.edge.publish(snapshot);
    }

    fn invalidate(&self, distribution_id: &str, paths: &[String]) -> Result<(), String> {
        let parsed = paths.iter().map(|p| InvalidationPath::parse(p)).collect::<Result<Vec<_>, _>>()?;
        let removed = self.edge.invalidate(distribution_id, &parsed);
        tracing::info!("invalidation of {} path(s) on {distribution_id} removed {removed} object(s)", paths.len());
        Ok(())
    }
}

/// TestFunction on the same engine as the edge and `cachalot function test`.
pub(crate) struct FunctionRunner;

impl FunctionTester for FunctionRunner {
    fn test(&self, r: &FunctionTestRequest) -> Result<FunctionTestResult, FunctionTestError> {
        let runtime = if r.runtime == "cloudfront-js-1.0" { Runtime::Js1 } else { Runtime::Js2 };
        let out = cachalot_functions::test_function(
            &r.name,
            runtime,
            &r.code,
            &r.event_object,
            r.key_value_stores.clone(),
            Limits::default(),
        )
        .map_err(|e| FunctionTestError::InvalidEvent(e.to_string()))?;
        Ok(FunctionTestResult {
            compute_utilization: out.compute_utilization,
            execution_logs: out.function_execution_logs,
            error_message: out.function_error_message,
            output: out.function_output,
        })
    }
}
