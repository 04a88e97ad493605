//! The miss path (origin side): walk the tiers (POP → regional → Origin Shield →
//! origin, as `cachalot_policy::tiers` lays them out) with request collapsing at
//! each, revalidate expired copies, and store what policy says to store.
//!
//! Origin side state machine, one function per step: [`FetchCtx::fetch_tier`]
//! (look up a tier; join or lead its flight) → [`FetchCtx::refill`] (ask the next tier,
//! store, release the followers) → `origin::fetch_origin` (`OriginRequest`: shape
//! what is forwarded; `Connect`: attempts, timeouts, failover; `OriginResponse`: a
//! `304` refreshes the stale copy) → `origin::stored_object` (`Store`: read the
//! body, compress, keep).
//!
//! A collapsed fetch runs in its own task: it outlives the viewer that started it
//! while any viewer still waits for it, and is abandoned when none does (§6.6).
//!
//! A body larger than the memory tier takes (or than the in-flight budget leaves room
//! for) is never buffered: it comes back as [`Fetched::Stream`], and the first tier on
//! the way down with a disk store starts writing it ([`pump`]) and answers with the
//! object whose file grows while viewers read it; followers and later requests read the
//! same file. Without a disk store the stream is relayed to the viewer and not stored.

mod origin;

pub(crate) use origin::{Buffered, InFlight, origin_request_for, read_body, read_timeout};

use crate::edge::EdgeInner;
use crate::origin::{OriginError, OriginStream};
use crate::tier::client::RemoteFailure;
use crate::tier::{Hop, HopKind};
use bytes::Bytes;
use cachalot_cache::{CachedObject, FlightResult, Join, Leader, Lookup, StreamWriter};
use cachalot_config::model::{Behavior, Distribution};
use cachalot_config::origin_override::OriginOverride;
use cachalot_policy::origin::OriginPlan;
use cachalot_policy::{CacheKey, Layer, NormalizedEncoding, Served, ViewerRequest};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The parts of the viewer request the origin side needs, owned so a fetch can
/// outlive the viewer's request.
#[derive(Clone)]
pub(crate) struct OriginInputs {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) client_ip: IpAddr,
    pub(crate) client_port: u16,
    pub(crate) https: bool,
    pub(crate) http10: bool,
    pub(crate) protocol_version: &'static str,
    pub(crate) encoding: NormalizedEncoding,
    pub(crate) request_id: String,
    pub(crate) host_id: String,
}

impl OriginInputs {
    pub(crate) fn viewer(&self) -> ViewerRequest<'_> {
        ViewerRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            client_ip: self.client_ip,
            client_port: self.client_port,
            https: self.https,
            http10: self.http10,
            protocol_version: self.protocol_version,
        }
    }
}

/// Everything a miss needs.
#[derive(Clone)]
pub(crate) struct FetchCtx {
    pub(crate) edge: Arc<EdgeInner>,
    pub(crate) distribution: Arc<Distribution>,
    pub(crate) behavior: Arc<Behavior>,
    pub(crate) key: CacheKey,
    pub(crate) inputs: Arc<OriginInputs>,
    /// Where the miss goes, a function's origin changes applied.
    pub(crate) plan: Arc<OriginPlan>,
    /// The function's origin changes themselves (a parent tier applies them again).
    pub(crate) origin_change: Option<Arc<OriginOverride>>,
    /// The tiers, nearest first (the POP's own cache first).
    pub(crate) tiers: Arc<Vec<Hop>>,
    pub(crate) collapse: bool,
}

/// A response ready for the viewer side.
pub(crate) enum Fetched {
    /// An object (stored or not); its body may be a file still being written.
    Object(Arc<CachedObject>),
    /// Too large to buffer: arriving from upstream as it comes.
    Stream(Box<Incoming>),
}

/// A response body arriving from upstream, too large to buffer.
pub(crate) struct Incoming {
    /// The object it would be stored as, without its body.
    pub(crate) object: CachedObject,
    /// Policy lets it be stored.
    pub(crate) storable: bool,
    /// The body's announced length.
    pub(crate) declared: Option<u64>,
    /// Bytes already read.
    pub(crate) prefix: Vec<Bytes>,
    /// The rest of the body.
    pub(crate) rest: OriginStream,
    /// Bound on each read.
    pub(crate) read_timeout: Duration,
}

impl Incoming {
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.object.status).unwrap_or(StatusCode::BAD_GATEWAY)
    }
}

/// Writes an upstream body into a disk tier's file as it arrives; viewers read the file.
/// Stops (and stores nothing) when the upstream fails or nobody reads the object any more.
pub(crate) async fn pump(mut writer: StreamWriter, prefix: Vec<Bytes>, mut rest: OriginStream, read_timeout: Duration) {
    for chunk in prefix {
        if let Err(why) = writer.write(&chunk).await {
            writer.fail(&why);
            return;
        }
    }
    loop {
        if writer.abandoned() {
            writer.fail("no viewer reads it any more");
            return;
        }
        let frame =
            tokio::time::timeout(read_timeout, std::future::poll_fn(|cx| std::pin::Pin::new(&mut rest).poll_frame(cx)))
                .await;
        match frame {
            Err(_) => {
                writer.fail("origin read timeout");
                return;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                writer.fail(&format!("origin read failed: {e}"));
                return;
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data()
                    && let Err(why) = writer.write(&data).await
                {
                    writer.fail(&why);
                    return;
                }
            }
        }
    }
    let _ = writer.finish().await;
}

/// How a tier came by what it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// A fresh copy in the tier (or an expired one served while it revalidates).
    Hit,
    /// Another request's fetch, shared.
    Collapsed,
    /// The expired copy was revalidated (304).
    Refreshed,
    /// A copy from further up (or the origin).
    Fetched,
    /// An expired copy served because the origin failed.
    StaleOnError,
}

impl How {
    /// The spelling between tiers.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            How::Hit => "Hit",
            How::Collapsed => "Collapsed",
            How::Refreshed => "Refreshed",
            How::Fetched => "Fetched",
            How::StaleOnError => "StaleOnError",
        }
    }
}

/// A tier's answer.
pub(crate) struct Answer {
    pub(crate) fetched: Fetched,
    pub(crate) how: How,
    /// The tier that had the object, or `Origin`.
    pub(crate) layer: Layer,
    /// Origin first-byte latency when the origin was contacted.
    pub(crate) origin_latency_ms: Option<u64>,
    /// The downstream's validators matched (the downstream copy may be refreshed).
    pub(crate) not_modified: bool,
}

impl Answer {
    /// How the viewer was served: a copy found in any tier is a hit, only the origin makes a miss.
    pub(crate) fn served(&self) -> Served {
        match (self.how, self.layer) {
            (How::Refreshed, _) => Served::Refreshed,
            (How::Fetched, Layer::Origin) => Served::Origin,
            (_, layer) => Served::Cached(layer),
        }
    }
}

/// Why the origin side failed.
pub(crate) struct FetchError {
    pub(crate) error: OriginError,
    pub(crate) origin_latency_ms: Option<u64>,
}

type Step<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Answer, FetchError>> + Send + 'a>>;

impl FetchCtx {
    pub(crate) fn now_ms(&self) -> u64 {
        self.edge.clock.now_ms()
    }

    /// Answers from tier `i` (or the origin past the last tier). `downstream` is the
    /// expired copy the asking tier holds, for revalidation.
    pub(crate) fn fetch_tier(&self, i: usize, downstream: Option<Arc<CachedObject>>) -> Step<'_> {
        Box::pin(async move {
            let Some(hop) = self.tiers.get(i) else {
                return self.fetch_origin(downstream).await;
            };
            let (tier, layer) = match &hop.kind {
                HopKind::Local(tier) => (tier, hop.layer),
                HopKind::Remote(parents) => return self.fetch_remote(i, parents, downstream).await,
            };
            let now = self.now_ms();
            let stale = match tier.lookup(&self.key, now).await {
                Lookup::Fresh(obj) => return Ok(answer_for(obj, How::Hit, layer, None, downstream.as_deref())),
                Lookup::Stale(obj) => Some(obj),
                Lookup::Miss => None,
            };
            if let Some(old) = stale.as_ref().filter(|o| o.within_stale_while_revalidate(now)) {
                // stale-while-revalidate (§3.3): answer now, refresh once in the background.
                if let Join::Leader(leader) = tier.join(&self.key) {
                    let ctx = self.clone();
                    let old = old.clone();
                    tokio::spawn(async move {
                        // A refreshed body streamed to disk is read by nobody: see it through.
                        if let Ok(answer) = ctx.refill(i, Some(old), Some(leader), None).await
                            && let Fetched::Object(obj) = &answer.fetched
                        {
                            let _ = obj.body.completion().await;
                        }
                    });
                }
                return Ok(answer_for(old.clone(), How::Hit, layer, None, downstream.as_deref()));
            }
            if !self.collapse {
                return self.refill(i, stale, None, downstream).await;
            }
            match tier.join(&self.key) {
                Join::Leader(leader) => self.lead(i, stale, leader, downstream).await,
                Join::Follower(f) => match f.wait().await {
                    FlightResult::Shared(obj) => {
                        Ok(answer_for(obj, How::Collapsed, layer, None, downstream.as_deref()))
                    }
                    // The leader's response could not be shared: go on alone.
                    FlightResult::NotShared => self.refill(i, stale, None, downstream).await,
                },
            }
        })
    }

    /// A REC on other nodes: each parent in turn, then the next hop (or the origin)
    /// when none could answer.
    async fn fetch_remote(
        &self,
        i: usize,
        parents: &[crate::tier::FleetParent],
        downstream: Option<Arc<CachedObject>>,
    ) -> Result<Answer, FetchError> {
        for parent in parents {
            match self.ask_parent(i, parent, downstream.as_deref()).await {
                Ok(answer) => return Ok(answer),
                Err(RemoteFailure::Origin(e)) => return Err(e),
                Err(RemoteFailure::Parent(why)) => tracing::warn!("regional cache skipped: {why}"),
            }
        }
        self.fetch_tier(i + 1, downstream).await
    }

    /// Leads a collapsed fetch: it runs in its own task, which this viewer and every
    /// follower keep wanted; when all of them have gone it is abandoned and nothing is stored.
    async fn lead(
        &self,
        i: usize,
        stale: Option<Arc<CachedObject>>,
        mut leader: Leader,
        downstream: Option<Arc<CachedObject>>,
    ) -> Result<Answer, FetchError> {
        let attached = leader.attach();
        let ctx = self.clone();
        let task = tokio::spawn(async move { ctx.refill(i, stale, Some(leader), downstream).await });
        let abort = task.abort_handle();
        attached.when_abandoned(move || abort.abort());
        let result = task.await;
        drop(attached);
        result.unwrap_or_else(|e| {
            Err(FetchError { error: OriginError::Read(format!("the fetch ended early: {e}")), origin_latency_ms: None })
        })
    }

    /// Fetches what tier `i` lacks (or holds expired) from further up, stores what
    /// policy says to store, and releases the requests collapsed onto `leader`.
    async fn refill(
        &self,
        i: usize,
        stale: Option<Arc<CachedObject>>,
        leader: Option<Leader>,
        downstream: Option<Arc<CachedObject>>,
    ) -> Result<Answer, FetchError> {
        let Some(tier) = self.tiers[i].local() else { return self.fetch_tier(i + 1, downstream).await };
        let layer = self.tiers[i].layer;
        let epoch = leader.as_ref().map_or_else(|| tier.epoch(), |l| l.epoch());
        let upstream = self.fetch_tier(i + 1, stale.clone()).await;
        let now = self.now_ms();
        let may_serve_stale =
            |old: &CachedObject| cachalot_policy::ttl::may_serve_stale_on_error(&old.headers, old.expires_at_ms(), now);
        let (result, share) = match upstream {
            Ok(up) => {
                let latency = up.origin_latency_ms;
                match (up.fetched, up.not_modified, &stale) {
                    (Fetched::Object(fresh), true, Some(_)) => {
                        tier.insert(self.key.clone(), fresh.clone(), epoch);
                        let a = answer_for(fresh.clone(), How::Refreshed, up.layer, latency, downstream.as_deref());
                        (Ok(a), Some(fresh))
                    }
                    (Fetched::Object(obj), _, Some(old)) if obj.status >= 500 && may_serve_stale(old) => {
                        // An expired copy beats an origin error (§3.6).
                        (Ok(answer_for(old.clone(), How::StaleOnError, layer, latency, downstream.as_deref())), None)
                    }
                    (Fetched::Object(obj), _, _) => {
                        let stored = obj.ttl_secs > 0 && tier.insert(self.key.clone(), obj.clone(), epoch);
                        let shareable = stored || obj.ttl_secs > 0;
                        let a = answer_for(obj.clone(), How::Fetched, up.layer, latency, downstream.as_deref());
                        (Ok(a), shareable.then_some(obj))
                    }
                    (Fetched::Stream(incoming), _, _) => {
                        let started = if incoming.storable {
                            tier.begin_stream(&self.key, incoming.object.clone(), incoming.declared, epoch)
                        } else {
                            None
                        };
                        match started {
                            Some((obj, writer)) => {
                                let Incoming { prefix, rest, read_timeout, .. } = *incoming;
                                tokio::spawn(pump(writer, prefix, rest, read_timeout));
                                let a = answer_for(obj.clone(), How::Fetched, up.layer, latency, downstream.as_deref());
                                (Ok(a), Some(obj))
                            }
                            // No disk store here: pass it on (a tier below may store it, else it is relayed).
                            None => {
                                let a = Answer {
                                    fetched: Fetched::Stream(incoming),
                                    how: How::Fetched,
                                    layer: up.layer,
                                    origin_latency_ms: latency,
                                    not_modified: false,
                                };
                                (Ok(a), None)
                            }
                        }
                    }
                }
            }
            Err(e) => match &stale {
                Some(old) if may_serve_stale(old) => (
                    Ok(answer_for(old.clone(), How::StaleOnError, layer, e.origin_latency_ms, downstream.as_deref())),
                    None,
                ),
                _ => (Err(e), None),
            },
        };
        if let Some(l) = leader {
            l.complete(match share {
                Some(obj) => FlightResult::Shared(obj),
                None => FlightResult::NotShared,
            });
        }
        result
    }
}

/// Builds the answer a tier gives its downstream for `obj`.
pub(crate) fn answer_for(
    obj: Arc<CachedObject>,
    how: How,
    layer: Layer,
    origin_latency_ms: Option<u64>,
    downstream: Option<&CachedObject>,
) -> Answer {
    let not_modified =
        downstream.is_some_and(|d| cachalot_policy::conditional::validators_match(&d.headers, &obj.headers));
    Answer { fetched: Fetched::Object(obj), how, layer, origin_latency_ms, not_modified }
}
