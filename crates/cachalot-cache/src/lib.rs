//! Cache tiers: size-bounded object stores — memory in front, disk behind — with
//! request collapsing and invalidation.
//!
//! One [`Tier`] per POP, per regional edge cache and per Origin Shield region;
//! the same code at every tier. Time is passed in (Unix milliseconds), so the
//! doctor's replay can drive a tier in virtual time. What is stored and for how
//! long is decided by `cachalot-policy`; this crate only keeps what it is given.
//! Bodies live in memory or in files of the disk store ([`ObjectBody`]); large
//! ones are streamed into disk while viewers read them ([`StreamWriter`]).
//!
//! This crate opens no sockets and parses no configuration.

pub mod body;
mod disk;
mod epochs;
pub mod eviction;
pub mod object;
pub mod sketch;
mod stats;
pub mod tier;

pub use body::{BLOCK_SIZE, BodyReader, FileBody, ObjectBody};
pub use disk::{DiskConfig, StreamWriter};
pub use object::CachedObject;
pub use stats::TierReport;
pub use tier::{Attachment, FlightResult, Follower, Join, Leader, Lookup, Tier};
