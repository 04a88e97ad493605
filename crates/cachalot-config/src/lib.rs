//! CloudFront's resource model for Cachalot, in three stages.
//!
//! - [`wire`]: serde types mirroring the AWS CLI's JSON shapes (the compatibility surface);
//! - [`model`]: validated, resolved types (managed policies included, legacy settings
//!   mapped onto policy rules) that the edge and the doctor act on;
//! - [`compiled`]: hot-path tables (path-pattern matchers, Host → distribution).
//!
//! [`validate`] turns wire into model and reports every problem at once as
//! [`diag::Diagnostic`]s; [`file`] reads the `--config` file; [`logging`] holds standard logging (v2)'s
//! template and delivery resources; [`managed`] holds
//! CloudFront's managed policies by their real ids; [`origin_override`] is a per-request
//! change to an origin that a CloudFront Function asks for.
//!
//! This crate performs no I/O and never reads the clock.
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod compiled;
pub mod diag;
pub mod file;
pub mod keys;
mod lenient;
pub mod logging;
pub mod managed;
pub mod model;
pub mod origin_override;
pub mod validate;
pub mod wire;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::Snapshot;
