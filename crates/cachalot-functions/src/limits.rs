//! Resource limits applied to every function.

use std::time::Duration;

/// CloudFront's maximum function size.
pub const MAX_CODE_BYTES: usize = 10 * 1024;

/// Limits one function runs under. [`Limits::default`] mirrors CloudFront's quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted source, in bytes (CloudFront: 10 KB, `FunctionSizeLimitExceeded`).
    pub max_code_bytes: usize,
    /// Memory a single invocation may allocate on top of the engine's own baseline
    /// (the runtime, the hardened built-ins and the compiled function). CloudFront: 2 MB.
    pub memory_bytes: usize,
    /// CPU time that corresponds to a compute utilization of 100. An invocation that needs
    /// more is stopped and reported as throttled.
    pub time_budget: Duration,
    /// Native stack the engine may use, which bounds recursion depth.
    pub max_stack_bytes: usize,
    /// Total size of `console.log` output kept per invocation (CloudFront truncates at 10 KB).
    pub max_log_bytes: usize,
    /// Largest body a function may put in a response (CloudFront: 40 KB).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_code_bytes: MAX_CODE_BYTES,
            memory_bytes: 2 * 1024 * 1024,
            time_budget: Duration::from_millis(1),
            max_stack_bytes: 256 * 1024,
            max_log_bytes: 10 * 1024,
            max_body_bytes: 40 * 1024,
        }
    }
}
