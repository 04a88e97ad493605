//! Log analysis.
