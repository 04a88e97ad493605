//! Cache tiers: size-bounded object stores with request collapsing and invalidation.
//!
//! One [`Tier`] per POP, per regional edge cache and per Origin Shield region;
//! the same code at every tier. Time is passed in (Unix milliseconds), so the
//! doctor's replay can drive a tier in virtual time. What is stored and for how
//! long is decided by `cachalot-policy`; this crate only keeps what it is given.
//!
//! This crate opens no sockets and parses no configuration.

pub mod object;
pub mod tier;

pub use object::CachedObject;
pub use tier::{Attachment, FlightResult, Follower, Join, Leader, Lookup, Tier};
