//! The data plane: POP listeners, the viewer and origin state machines, tiers,
//! origin clients and CloudFront's response headers.
//!
//! Every CloudFront rule applied here is a call into `cachalot-policy`; this
//! crate owns the I/O around those decisions: sockets, the cache tiers,
//! collapsing, origin connections, timeouts and bodies. It does not depend on
//! the control plane: the binary publishes snapshots and invalidations to an
//! [`Edge`] through [`Edge::publish`] and [`Edge::invalidate`].
//!
//! ```no_run
//! # async fn run(snapshot: std::sync::Arc<cachalot_config::Snapshot>) -> std::io::Result<()> {
//! use cachalot_proxy::{Edge, EdgeSettings};
//! let edge = Edge::new(EdgeSettings::default(), snapshot);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (_stop, stopped) = tokio::sync::watch::channel(false);
//! cachalot_proxy::serve_pop(edge, 0, listener, None, stopped, std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

pub mod body;
pub mod clock;
mod deliver;
mod edge;
mod fetch;
mod functions;
pub mod geo;
mod ids;
mod listener;
pub mod origin;
pub mod summary;
mod tier;
mod viewer;

pub use cachalot_cache::{DiskConfig, TierReport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use edge::{DEFAULT_IN_FLIGHT_BYTES, Edge, EdgeSettings, PopSettings, RegionalCacheSettings};
pub use geo::GeoDatabase;
pub use listener::{ListenerLimits, TrackedBody, serve_http, serve_pop, tls_acceptor};
pub use summary::{Layer, NoObserver, Observer, RequestSummary};
pub use tier::server::serve_regional;
pub use tier::{FleetParent, FleetView};
pub use viewer::ConnInfo;
