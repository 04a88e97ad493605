//! Errors: refusing code at create time, and failing one invocation.

use std::fmt;

/// Why code could not become a [`crate::Function`] (CloudFront refuses it at `CreateFunction`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The code is larger than the size limit (`FunctionSizeLimitExceeded`).
    #[error("function code is {size} bytes, over the {limit}-byte limit (FunctionSizeLimitExceeded)")]
    SizeLimitExceeded {
        /// Size of the code.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The runtime name is not `cloudfront-js-1.0` or `cloudfront-js-2.0`.
    #[error("unknown runtime `{0}` (expected cloudfront-js-1.0 or cloudfront-js-2.0)")]
    UnknownRuntime(String),
    /// The code does not parse.
    #[error("SyntaxError: {message}")]
    Syntax {
        /// The parser's message, with the line.
        message: String,
    },
    /// The code uses a feature the runtime does not offer (`const` under 1.0, foreign imports…).
    #[error("{message}")]
    Unsupported {
        /// What is unsupported, where, and what to do instead.
        message: String,
    },
    /// The code defines no function named `handler`.
    #[error("the code defines no function named `handler`")]
    MissingHandler,
    /// The code could not be loaded for another reason (its top level threw, ran too long…).
    #[error("{message}")]
    Load {
        /// What happened.
        message: String,
    },
}

/// How an invocation failed; decides what the viewer receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionErrorKind {
    /// The code threw, or exceeded its memory or stack: 503 `FunctionExecutionError`.
    Execution,
    /// The code ran past its time budget: 503 `FunctionThrottledError`.
    Throttled,
    /// The code returned something CloudFront cannot use: 502 `FunctionValidationError`.
    Validation,
}

impl FunctionErrorKind {
    /// HTTP status the viewer receives.
    pub fn status(self) -> u16 {
        match self {
            Self::Execution | Self::Throttled => 503,
            Self::Validation => 502,
        }
    }

    /// The error's name, as in `X-Cache: <name> from cloudfront` and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Execution => "FunctionExecutionError",
            Self::Throttled => "FunctionThrottledError",
            Self::Validation => "FunctionValidationError",
        }
    }

    /// The `X-Cache` header value of the error response.
    pub fn x_cache(self) -> String {
        format!("{} from cloudfront", self.name())
    }
}

impl fmt::Display for FunctionErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// What kind of failure.
    pub kind: FunctionErrorKind,
    /// Human-readable message, as TestFunction's `FunctionErrorMessage` shows it.
    pub message: String,
    /// `console.log` output written before the failure.
    pub logs: Vec<String>,
    /// Share of the time budget used, 0–100.
    pub compute_utilization: u8,
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for FunctionError {}
