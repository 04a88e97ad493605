//! One module per command.

pub(crate) mod analyze;
pub(crate) mod analyze_io;
pub(crate) mod function;
pub(crate) mod lint;
pub(crate) mod probe;
pub(crate) mod probe_http;
pub(crate) mod replay;
pub(crate) mod replay_common;
pub(crate) mod serve;
