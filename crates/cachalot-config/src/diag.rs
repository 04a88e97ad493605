//! Diagnostics: every problem found in a configuration, with where and how to fix it.
//!
//! Validation never stops at the first problem; it returns all of them. `lint`
//! in the doctor emits the same type so both print alike.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: accepted and acted on as documented.
    Note,
    /// Accepted, but probably not what the user meant or not acted on.
    Warning,
    /// Rejected: the configuration cannot be served.
    Error,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem, located by a JSON path such as `$.Distributions[0].DistributionConfig.Origins.Items[1]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code: a CloudFront API error code where one applies (`InvalidTTLOrder`,
    /// `InconsistentQuantities`, `NoSuchCachePolicy`, …), else a kebab-case name.
    pub code: String,
    /// Where, as a JSON path from the document root.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}: {}", self.severity.as_str(), self.code, self.path, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// An accumulator of diagnostics with a current path.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error.
    pub fn error(&mut self, code: &str, path: impl Into<String>, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Error, code, path.into(), message.into())
    }

    /// Records a warning.
    pub fn warning(&mut self, code: &str, path: impl Into<String>, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Warning, code, path.into(), message.into())
    }

    /// Records a note: accepted and acted on as documented, worth knowing.
    pub fn note(&mut self, code: &str, path: impl Into<String>, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Note, code, path.into(), message.into())
    }

    fn push(&mut self, severity: Severity, code: &str, path: String, message: String) -> &mut Diagnostic {
        self.items.push(Diagnostic { severity, code: code.to_owned(), path, message, hint: None });
        self.items.last_mut().expect("just pushed")
    }

    /// Adds already-built diagnostics.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    /// True when at least one error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// All diagnostics, in the order found.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Consumes the set.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl Diagnostic {
    /// Attaches a hint.
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}
