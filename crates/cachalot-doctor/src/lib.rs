//! Diagnostics: probe interpretation, lint rules, log analysis and replay.
