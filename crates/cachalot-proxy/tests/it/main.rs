//! Data-plane integration tests: the real edge on loopback, a recording origin,
//! and a real HTTP client. Each case reproduces a CloudFront behaviour from the
//! reference (section numbers in the test docs).

mod cache_key;
mod caching;
mod delivery;
mod disk;
mod errors;
mod fleet;
mod functions;
mod harness;
mod listener;
mod origin_override;
mod origins;
mod private;
mod tls;
mod viewer;
