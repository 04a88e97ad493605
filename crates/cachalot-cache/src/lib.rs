//! Per-tier object stores, size-bounded eviction, request collapsing and purges.
