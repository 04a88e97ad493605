//! CloudFront semantics as pure functions: the one place Cachalot's CloudFront rules live.
//!
//! The edge (`cachalot-proxy`) and the doctor (`replay`, `lint`, `probe`) call
//! the same functions, so a prediction cannot disagree with the edge:
//!
//! - [`viewer`]: request limits, viewer protocol policy, allowed methods;
//! - [`route`]: the normalised path behaviors are chosen by;
//! - [`origin`]: which origin a miss goes to, function changes applied, failover;
//! - [`tiers`]: the cache tiers a miss walks (POP, regional, Origin Shield);
//! - [`key`]: the cache key (query strings, headers, cookies, `Accept-Encoding`);
//! - [`forward`]: what is sent to the origin;
//! - [`ttl`]: whether and how long a response is stored, stale serving, and collapsing;
//! - [`conditional`]: validators, revalidation and the `304` merge, viewer conditionals;
//! - [`invalidation`]: invalidation path matching;
//! - [`signed`]: signed URLs and cookies (canned and custom policies, key types, refusals);
//! - [`compress`]: edge compression rules; [`range`]: range requests and `Vary` filtering;
//! - [`result`]: the result-type vocabulary of logs and `x-cache`, and [`Served`],
//!   from which the edge derives them.
//!
//! This crate performs no I/O, never reads the clock (time is an argument) and
//! is not async.
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod compress;
pub mod conditional;
pub mod forward;
pub mod geo;
pub mod invalidation;
pub mod key;
pub mod origin;
pub mod parse;
pub mod range;
pub mod request;
pub mod response_headers;
pub mod result;
pub mod route;
pub mod signed;
pub mod tiers;
pub mod ttl;
pub mod viewer;

pub use key::{CacheKey, NormalizedEncoding, cache_key};
pub use request::ViewerRequest;
pub use result::{DetailedResultType, ResultType, Served};
pub use tiers::Layer;
