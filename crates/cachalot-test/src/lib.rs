//! Test support: recording origins, fixtures and builders (dev-dependency only).
