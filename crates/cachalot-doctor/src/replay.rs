//! Replay: logged requests re-keyed under a candidate (and a baseline) config with
//! `cachalot-policy`, run through a virtual-time model of every cache tier.
//!
//! For each config, every request's cache key comes from [`cachalot_policy::cache_key`] and its
//! TTL from [`cachalot_policy::ttl::storage`] — the functions the edge calls — so a prediction
//! cannot disagree with the edge about keys or TTLs. Tiers follow the edge's own path
//! (`cachalot_policy::tiers::path`): the POP's cache, then the regional edge cache of the POP's
//! `Region` when it has one, then the Origin Shield of the origin's `OriginShieldRegion`
//! (visited once when that is the POP's own region); a copy found in any tier
//! is a hit for the viewer, a fetch from the origin a miss, a revalidated stale copy a
//! RefreshHit. Time is the log's timestamps (virtual), sorted.
//!
//! The tiers are a small size-bounded LRU of this module, not `cachalot-cache`'s `Tier`: the
//! edge's tier is a concurrent TinyLFU (moka) holding whole responses, whose admission and
//! deferred eviction are neither deterministic nor cheap enough for millions of replayed
//! requests; decisions (key, TTL, storability) are shared, storage is modelled.
//!
//! What standard logs cannot tell, and what is assumed instead (each stated in the output):
//! the origin's `Cache-Control` (the behavior's DefaultTTL applies, clamped as the edge would),
//! the viewer's `Accept` and `Accept-Encoding` (every viewer sends the same: `Accept` absent,
//! `Accept-Encoding: gzip, deflate, br`), whether the origin sends validators (a path that
//! shows a RefreshHit in the log is taken to revalidate), and viewer-request functions
//! (not run).

use crate::infer;
use crate::input::Inputs;
use crate::logs::{self, LineSink, LogInput, LogInputError, ReadStats};
use cachalot_config::file::region_for_pop;
use cachalot_config::model::{Behavior, Distribution, NameRule, Snapshot, Target};
use cachalot_policy::ViewerRequest;
use cachalot_policy::tiers::{self, Layer, Topology};
use cachalot_telemetry::parse::{LineError, LogLine};
use cachalot_telemetry::{Field, ResultType};
use http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The `Accept-Encoding` assumed for every replayed viewer.
pub const ASSUMED_ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// A hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8)) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by pre-hashed `u64`s.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A fast hasher for the doctor's own maps (strings and tuples of numbers, per log line): a
/// word at a time, multiply and rotate (as rustc's FxHash). Not for keys an attacker picks to
/// collide, which a log's values are not worth defending against here: a collision costs
/// time, never a wrong answer.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::K).rotate_left(26);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A 64-bit hash of text (FNV-1a folded with a multiply for spread).
pub fn hash64(s: &[u8]) -> u64 {
    let h = cachalot_config::file::fnv1a(s);
    h ^ (h >> 29).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One config as the replay sees it.
pub struct ConfigModel {
    /// The name shown in reports (the file).
    pub label: String,
    /// The validated model.
    pub snapshot: Snapshot,
    /// POP id → region, from the config's `Pops`.
    pops: FastMap<String, String>,
    /// Which regions have a regional edge cache: those two of the config's POPs share (as a
    /// single Cachalot node builds them), or every region when the config lists no POP.
    topology: Topology,
    /// What was assumed for this config.
    pub notices: Vec<String>,
    /// Every behavior, by [`Decision::section`].
    behaviors: FastMap<u64, BehaviorInfo>,
    /// The behaviors themselves, by [`Decision::section`].
    settings: FastMap<u64, Arc<Behavior>>,
}

/// What the doctor needs to know about one behavior.
#[derive(Debug, Clone)]
pub struct BehaviorInfo {
    /// `pattern (distribution)`, for messages.
    pub label: String,
    /// The behavior stores nothing (MaxTTL 0, or legacy forward-all-headers).
    pub caching_disabled: bool,
    /// Query strings in the key.
    pub query: NameRule,
    /// Cookies in the key.
    pub cookies: NameRule,
    /// Headers in the key (lower-case names).
    pub headers: Vec<String>,
    /// TTL settings, seconds.
    pub min_ttl: u64,
    /// See `min_ttl`.
    pub default_ttl: u64,
    /// See `min_ttl`.
    pub max_ttl: u64,
    /// The viewer-request function, when there is one.
    pub function: Option<String>,
    /// The function's code puts a per-request value (random number, clock) into the request.
    pub function_varies_key: bool,
}

/// Whether function code writes a per-request value (a random number or the clock) into the
/// request's query string, headers, cookies or URI.
pub fn code_varies_key(code: &str) -> bool {
    let per_request = ["Math.random", "Date.now", "new Date", "crypto.", "performance.now"];
    let writes = ["querystring", "headers", "cookies", ".uri"];
    per_request.iter().any(|p| code.contains(p)) && writes.iter().any(|w| code.contains(w))
}

/// The section id of a behavior: stable across runs.
fn section_of(distribution: &str, index: usize) -> u64 {
    hash64(format!("{distribution}\u{1f}{index}").as_bytes())
}

impl ConfigModel {
    /// Builds the model of `inputs` (already validated into `snapshot`).
    pub fn new(label: &str, inputs: &Inputs, snapshot: Snapshot) -> ConfigModel {
        let pops = inputs.pops.iter().map(|p| (p.id.clone(), p.region.clone())).collect();
        let mut notices = Vec::new();
        for d in &snapshot.distributions {
            for b in &d.behaviors {
                if let Some(f) = &b.viewer_request_function {
                    let varies = inputs.function_code.get(f).is_some_and(|c| code_varies_key(c));
                    notices.push(format!(
                        "{label}: behavior {} has viewer-request function {f}; it is not run, requests are keyed as \
                         logged{}",
                        b.path_pattern.as_str(),
                        if varies {
                            ", except that its code writes a per-request value into the request, so every request is \
                             its own key"
                        } else {
                            ""
                        }
                    ));
                }
                if matches!(&b.cache.headers, NameRule::Only(h) if h.iter().any(|n| n == "accept")) {
                    notices.push(format!(
                        "{label}: behavior {} keys Accept, which standard logs do not record; each viewer is taken to \
                         send what its browser family sends",
                        b.path_pattern.as_str()
                    ));
                }
            }
        }
        let mut behaviors = FastMap::default();
        let mut settings = FastMap::default();
        for d in &snapshot.distributions {
            for (i, b) in d.behaviors.iter().enumerate() {
                settings.insert(section_of(&d.id, i), b.clone());
                let code = b.viewer_request_function.as_ref().and_then(|f| inputs.function_code.get(f));
                behaviors.insert(
                    section_of(&d.id, i),
                    BehaviorInfo {
                        label: format!("{} ({})", b.path_pattern.as_str(), d.id),
                        caching_disabled: b.cache.caching_disabled(),
                        query: b.cache.query_strings.clone(),
                        cookies: b.cache.cookies.clone(),
                        headers: match &b.cache.headers {
                            NameRule::Only(h) => h.clone(),
                            _ => Vec::new(),
                        },
                        min_ttl: b.cache.min_ttl,
                        default_ttl: b.cache.default_ttl,
                        max_ttl: b.cache.max_ttl,
                        function: b.viewer_request_function.clone(),
                        function_varies_key: code.is_some_and(|c| code_varies_key(c)),
                    },
                );
            }
        }
        let topology = if inputs.pops.is_empty() {
            Topology::EveryRegion
        } else {
            Topology::shared_by_pops(inputs.pops.iter().map(|p| p.region.as_str()))
        };
        ConfigModel { label: label.to_owned(), snapshot, pops, topology, notices, behaviors, settings }
    }

    /// Seconds a response to the decided request is kept when the origin answers `status`
    /// with `cache_control` (`None`: no such header), through `cachalot_policy::ttl::storage`.
    pub fn ttl_under(&self, d: &Decision, status: u16, cache_control: Option<&str>, now_secs: u64) -> u32 {
        let Some(b) = self.settings.get(&d.section).filter(|_| d.routed && d.stores_method) else { return 0 };
        let mut headers = HeaderMap::new();
        if let Some(cc) = cache_control
            && let Ok(v) = HeaderValue::from_str(cc)
        {
            headers.insert(http::header::CACHE_CONTROL, v);
        }
        // A logged 304 answered a viewer's conditional request: the object behind it is a 200.
        let status = if status == 304 { 200 } else { status };
        let storage = cachalot_policy::ttl::storage(&b.cache, &b.origin_request, status, &headers, now_secs, None);
        storage.ttl.map_or(0, |t| t.min(u64::from(u32::MAX)) as u32)
    }

    /// The behavior of a [`Decision::section`].
    pub fn behavior(&self, section: u64) -> Option<&BehaviorInfo> {
        self.behaviors.get(&section)
    }

    /// The region of a POP: the config's `Pops` entry, else the POP code's airport.
    pub fn region_of(&self, pop: &str) -> String {
        self.pops.get(pop).cloned().unwrap_or_else(|| region_for_pop(pop).to_owned())
    }

    fn distribution(&self, host: &str, host_header: &str) -> Option<&Arc<Distribution>> {
        self.snapshot.distribution_for_host(host).or_else(|| self.snapshot.distribution_for_host(host_header))
    }
}

/// A request as the replay reads it from a log line (decoded values; empty = absent).
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// `cs-method`.
    pub method: &'a str,
    /// `cs(Host)`: the distribution's domain.
    pub host: &'a str,
    /// `x-host-header`: the viewer's Host.
    pub host_header: &'a str,
    /// `cs-uri-stem`.
    pub path: &'a str,
    /// `cs-uri-query`.
    pub query: &'a str,
    /// `cs(Cookie)`.
    pub cookie: &'a str,
    /// `cs(User-Agent)`.
    pub user_agent: &'a str,
    /// `cs(Referer)`.
    pub referer: &'a str,
    /// `Accept` (not in standard logs: replay derives it from the browser; empty = absent).
    pub accept: &'a str,
    /// `Accept-Encoding` (not in standard logs; empty = [`ASSUMED_ACCEPT_ENCODING`]).
    pub accept_encoding: &'a str,
    /// `sc-status`.
    pub status: u16,
}

/// A request's fate under one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Hash of the cache key (0 when the request is not routed).
    pub key: u64,
    /// Seconds the response is kept; 0 = not stored.
    pub ttl: u32,
    /// Region tier id (hash of the region name).
    pub region: u32,
    /// Shield tier id (0: no shield).
    pub shield: u32,
    /// Index of the behavior (for reports).
    pub behavior: u16,
    /// Routed to a distribution.
    pub routed: bool,
    /// The key has headers: 0 none, 1 `Accept` (or `Accept-Language`), 2 others.
    pub keyed_headers: u8,
    /// The behavior ([`ConfigModel::behavior`]); 0 when not routed.
    pub section: u64,
    /// The behavior caches this method (`CachedMethods`).
    pub stores_method: bool,
}

fn small_hash(s: &str) -> u32 {
    (hash64(s.as_bytes()) as u32) | 1
}

/// Reusable buffers for keying many requests, and what keying found that does not change from
/// request to request.
#[derive(Default)]
pub struct KeyScratch {
    headers: HeaderMap,
    empty: HeaderMap,
    /// POP → (the origin's Origin Shield region, regional tier id, shield tier id): the tiers a
    /// miss walks depend on nothing else.
    tiers: FastMap<String, Vec<(Option<String>, u32, u32)>>,
    /// The last (`cs(Host)`, `x-host-header`) looked up, and the distribution serving it: logs
    /// hold runs of requests to one host.
    last_host: Option<(String, String, Option<Arc<Distribution>>)>,
    /// The config `tiers` and `last_host` were found for (its address): another config starts
    /// afresh.
    tiers_of: usize,
}

impl KeyScratch {
    /// The (regional, shield) tier ids of a miss at `pop` for an origin shielded in `shield`.
    /// Forgets what was found for another config.
    fn serve(&mut self, model: &ConfigModel) {
        let owner = std::ptr::from_ref(model) as usize;
        if self.tiers_of != owner {
            self.tiers.clear();
            self.last_host = None;
            self.tiers_of = owner;
        }
    }

    /// The distribution serving a request, through [`ConfigModel::distribution`].
    fn distribution(&mut self, model: &ConfigModel, host: &str, host_header: &str) -> Option<Arc<Distribution>> {
        if let Some((h, hh, d)) = &self.last_host
            && h == host
            && hh == host_header
        {
            return d.clone();
        }
        let d = model.distribution(host, host_header).cloned();
        let (h, hh, last) = self.last_host.get_or_insert_with(Default::default);
        h.clear();
        h.push_str(host);
        hh.clear();
        hh.push_str(host_header);
        last.clone_from(&d);
        d
    }

    fn tiers(&mut self, model: &ConfigModel, pop: &str, shield: Option<&str>) -> (u32, u32) {
        if let Some(known) = self.tiers.get(pop)
            && let Some((_, regional, shield)) = known.iter().find(|(s, ..)| s.as_deref() == shield)
        {
            return (*regional, *shield);
        }
        // The tiers a miss walks, by the edge's own function. A region has one regional edge
        // cache whatever role it plays, so both roles share its store. POPs of the config
        // follow its topology; a POP it does not list (real CloudFront's) has a REC, as
        // every CloudFront region does.
        let region = model.region_of(pop);
        let topology = if model.pops.contains_key(pop) { &model.topology } else { &Topology::EveryRegion };
        let (mut regional, mut shielded) = (0, 0);
        for hop in tiers::path(topology, &region, shield) {
            let store = small_hash(&format!("rec:{}", hop.region));
            match hop.layer {
                Layer::Shield => shielded = store,
                _ => regional = store,
            }
        }
        self.tiers.entry(pop.to_owned()).or_default().push((shield.map(str::to_owned), regional, shielded));
        (regional, shielded)
    }
}

impl ConfigModel {
    /// Keys `req` at `pop` and decides its TTL, through `cachalot-policy`.
    pub fn decide(&self, req: &RequestView<'_>, pop: &str, now_secs: u64, scratch: &mut KeyScratch) -> Decision {
        scratch.serve(self);
        let Some(d) = scratch.distribution(self, req.host, req.host_header) else { return Decision::default() };
        let (index, behavior) = d
            .behaviors
            .iter()
            .enumerate()
            .find(|(_, b)| b.path_pattern.matches(req.path))
            .unwrap_or((d.behaviors.len() - 1, &d.behaviors[d.behaviors.len() - 1]));
        let method = match req.method {
            "OPTIONS" => Method::OPTIONS,
            "HEAD" => Method::HEAD,
            _ => Method::GET,
        };
        let cache = &behavior.cache;
        // Only the headers the key can read are filled in: most configs need none.
        scratch.headers.clear();
        let mut put = |name: http::HeaderName, value: &str| {
            if !value.is_empty()
                && let Ok(v) = HeaderValue::from_str(value)
            {
                scratch.headers.append(name, v);
            }
        };
        if !cache.cookies.is_none() {
            put(http::header::COOKIE, req.cookie);
        }
        if let NameRule::Only(names) = &cache.headers {
            for n in names {
                match n.as_str() {
                    "user-agent" => put(http::header::USER_AGENT, req.user_agent),
                    "referer" => put(http::header::REFERER, req.referer),
                    "host" => put(http::header::HOST, req.host_header),
                    "accept" => put(http::header::ACCEPT, req.accept),
                    _ => {}
                }
            }
        }
        let encoding = if req.accept_encoding.is_empty() { ASSUMED_ACCEPT_ENCODING } else { req.accept_encoding };
        if (cache.accept_encoding_gzip || cache.accept_encoding_brotli || cache.keys_accept_encoding_header())
            && let Ok(v) = HeaderValue::from_str(encoding)
        {
            scratch.headers.insert(http::header::ACCEPT_ENCODING, v);
        }
        let query = (!req.query.is_empty()).then_some(req.query);
        let view = ViewerRequest::new(&method, req.path, query, &scratch.headers);
        let (key, _) = cachalot_policy::cache_key(&d.id, cache, &view);
        // A logged 304 answered a viewer's conditional request: the object behind it is a 200.
        let status = if req.status == 304 { 200 } else { req.status };
        let storage =
            cachalot_policy::ttl::storage(cache, &behavior.origin_request, status, &scratch.empty, now_secs, None);
        let cached_method = behavior.cached_methods.contains(method.as_str());
        let ttl = if cached_method { storage.ttl.map_or(0, |t| t.min(u64::from(u32::MAX)) as u32) } else { 0 };
        let origin = match behavior.target {
            Target::Origin(i) => d.origins.get(i),
            Target::Group(g) => d.origin_groups.get(g).and_then(|g| d.origins.get(g.primary)),
        };
        let (regional, shield) = scratch.tiers(self, pop, origin.and_then(|o| o.shield_region.as_deref()));
        Decision {
            key: hash64(key.as_str().as_bytes()),
            ttl,
            region: regional,
            shield,
            behavior: index as u16,
            section: section_of(&d.id, index),
            stores_method: cached_method,
            routed: true,
            keyed_headers: match &cache.headers {
                NameRule::Only(h) if h.iter().any(|n| n.starts_with("accept") && n != "accept-encoding") => 1,
                NameRule::Only(h) if !h.is_empty() => 2,
                _ => 0,
            },
        }
    }
}

/// Where a request was served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The POP's cache.
    Pop,
    /// The regional edge cache.
    Regional,
    /// The Origin Shield.
    Shield,
    /// Revalidated with the origin (a stale copy was fresh again: RefreshHit).
    Refreshed,
    /// Fetched from the origin (Miss).
    Origin,
}

impl Served {
    /// Counts as a hit for CacheHitRate.
    pub fn is_hit(self) -> bool {
        !matches!(self, Served::Origin)
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Milliseconds.
    stored_at: u64,
    /// Seconds.
    ttl: u32,
    size: u32,
    stamp: u32,
}

impl Slot {
    fn fresh_at(&self, now_ms: u64) -> bool {
        now_ms < self.stored_at + u64::from(self.ttl) * 1000
    }
}

/// One tier: objects by key hash, with optional LRU eviction by size.
#[derive(Default)]
struct Store {
    map: IdMap<Slot>,
    lru: VecDeque<(u64, u32)>,
    bytes: u64,
    stamp: u32,
}

impl Store {
    fn get(&mut self, key: u64, capacity: Option<u64>) -> Option<Slot> {
        let slot = self.map.get_mut(&key)?;
        if capacity.is_some() {
            self.stamp = self.stamp.wrapping_add(1);
            slot.stamp = self.stamp;
            self.lru.push_back((key, self.stamp));
        }
        Some(*slot)
    }

    fn put(&mut self, key: u64, stored_at: u64, ttl: u32, size: u32, capacity: Option<u64>) {
        self.stamp = self.stamp.wrapping_add(1);
        let slot = Slot { stored_at, ttl, size, stamp: self.stamp };
        if let Some(old) = self.map.insert(key, slot) {
            self.bytes -= u64::from(old.size);
        }
        self.bytes += u64::from(size);
        let Some(cap) = capacity else { return };
        self.lru.push_back((key, self.stamp));
        while self.bytes > cap {
            let Some((k, g)) = self.lru.pop_front() else { break };
            if self.map.get(&k).is_some_and(|s| s.stamp == g)
                && let Some(s) = self.map.remove(&k)
            {
                self.bytes -= u64::from(s.size);
            }
        }
        // Stale queue entries (re-accessed keys) are dropped once they outnumber live ones.
        if self.lru.len() > 4 * self.map.len() + 1024 {
            let map = &self.map;
            self.lru.retain(|(k, g)| map.get(k).is_some_and(|s| s.stamp == *g));
        }
    }
}

/// The tiers of one config.
#[derive(Default)]
pub struct Simulator {
    stores: IdMap<Store>,
    capacity: Option<u64>,
    largest: Option<u64>,
}

impl Simulator {
    /// Every tier holds at most `capacity` bytes (`None`: unbounded).
    pub fn new(capacity: Option<u64>) -> Simulator {
        Simulator { stores: IdMap::default(), capacity, largest: None }
    }

    /// Objects larger than `largest` bytes are served but never kept (as the edge keeps
    /// none larger than a quarter of its memory tier, or than its disk tier).
    pub fn with_largest_object(mut self, largest: Option<u64>) -> Simulator {
        self.largest = largest;
        self
    }

    /// Serves one request at `now` (milliseconds) at the POP whose tier id is `pop`. `warm`:
    /// the object is known to be cached at the POP already (found nowhere, it is taken as a
    /// fresh POP copy rather than fetched).
    pub fn serve(&mut self, now: u64, pop: u32, d: &Decision, size: u32, revalidates: bool, warm: bool) -> Served {
        if d.ttl == 0 {
            return Served::Origin;
        }
        let tiers = [(pop, Served::Pop), (d.region, Served::Regional), (d.shield, Served::Shield)];
        let mut stale = false;
        let mut found: Option<(usize, Slot)> = None;
        for (i, (tier, _)) in tiers.iter().enumerate() {
            if *tier == 0 {
                continue;
            }
            let store = self.stores.entry(u64::from(*tier)).or_default();
            if let Some(slot) = store.get(d.key, self.capacity) {
                if slot.fresh_at(now) {
                    found = Some((i, slot));
                    break;
                }
                stale = true;
            }
        }
        let (upto, slot, served) = match found {
            Some((i, slot)) => (i, slot, tiers[i].1),
            None if warm => (1, Slot { stored_at: now, ttl: d.ttl, size, stamp: 0 }, Served::Pop),
            None => {
                let served = if stale && revalidates { Served::Refreshed } else { Served::Origin };
                (tiers.len(), Slot { stored_at: now, ttl: d.ttl, size, stamp: 0 }, served)
            }
        };
        // Fill the tiers below where it was found, with the same freshness (the edge shares the object).
        let kept = self.largest.is_none_or(|l| u64::from(size) <= l);
        for (tier, _) in &tiers[..upto] {
            if *tier != 0 && kept {
                self.stores.entry(u64::from(*tier)).or_default().put(
                    d.key,
                    slot.stored_at,
                    slot.ttl,
                    size,
                    self.capacity,
                );
            }
        }
        served
    }
}

/// Counters for one POP (or all); its JSON also carries `hit_ratio`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests replayed.
    pub requests: u64,
    /// Served by the POP.
    pub pop_hits: u64,
    /// Served by the regional edge cache.
    pub regional_hits: u64,
    /// Served by the Origin Shield.
    pub shield_hits: u64,
    /// Revalidated (RefreshHit).
    pub refresh_hits: u64,
    /// Fetched from the origin (Miss).
    pub misses: u64,
    /// Requests that reached the origin (misses and revalidations).
    pub origin_requests: u64,
    /// Bytes fetched from the origin.
    pub origin_bytes: u64,
}

impl Tally {
    fn add(&mut self, served: Served, size: u64) {
        self.requests += 1;
        match served {
            Served::Pop => self.pop_hits += 1,
            Served::Regional => self.regional_hits += 1,
            Served::Shield => self.shield_hits += 1,
            Served::Refreshed => {
                self.refresh_hits += 1;
                self.origin_requests += 1;
            }
            Served::Origin => {
                self.misses += 1;
                self.origin_requests += 1;
                self.origin_bytes += size;
            }
        }
    }

    /// Hits over requests, in percent (CacheHitRate); `None` when nothing was replayed.
    pub fn hit_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| 100.0 * (self.requests - self.misses) as f64 / self.requests as f64)
    }

    fn merge(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.pop_hits += o.pop_hits;
        self.regional_hits += o.regional_hits;
        self.shield_hits += o.shield_hits;
        self.refresh_hits += o.refresh_hits;
        self.misses += o.misses;
        self.origin_requests += o.origin_requests;
        self.origin_bytes += o.origin_bytes;
    }
}

impl Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Tally", 9)?;
        s.serialize_field("requests", &self.requests)?;
        s.serialize_field("pop_hits", &self.pop_hits)?;
        s.serialize_field("regional_hits", &self.regional_hits)?;
        s.serialize_field("shield_hits", &self.shield_hits)?;
        s.serialize_field("refresh_hits", &self.refresh_hits)?;
        s.serialize_field("misses", &self.misses)?;
        s.serialize_field("origin_requests", &self.origin_requests)?;
        s.serialize_field("origin_bytes", &self.origin_bytes)?;
        s.serialize_field("hit_ratio", &self.hit_ratio())?;
        s.end()
    }
}

/// The change of hit ratio from `base` to `candidate`, in percentage points.
fn change(base: &Tally, candidate: &Tally) -> Option<f64> {
    Some(candidate.hit_ratio()? - base.hit_ratio()?)
}

/// One replayed request, compact.
#[derive(Debug, Clone, Copy)]
struct Event {
    ts: u64,
    seq: u64,
    pop: u32,
    path: u64,
    size: u32,
    status: u16,
    logged: Served,
    decisions: [Decision; 2],
    /// The first request for the path at the POP, and a hit in the log: the object was
    /// cached before the log starts.
    warm: bool,
    /// Media or static content (for what an origin that never allows reuse most likely is).
    media_or_static: bool,
}

/// Options of a replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Tier capacity in bytes (`None`: unbounded).
    pub cache_size: Option<u64>,
    /// Largest object a tier keeps (`None`: no limit).
    pub largest_object: Option<u64>,
    /// Worker threads for reading and keying, then for the inference (a section each) and the
    /// simulations (one each).
    pub threads: usize,
    /// The columns of headerless records (`--fields`, `--realtime-config`).
    pub columns: Option<crate::formats::Columns>,
}

struct ReplaySink<'a> {
    configs: Vec<&'a ConfigModel>,
    events: Vec<Event>,
    /// Each event's request as the inference of the origin's behaviour sees it (kept apart: the
    /// inference sorts them its own way and drops them before the simulations).
    seen: Vec<infer::Request>,
    skipped: u64,
    unrouted: u64,
    /// One per config (each remembers its config's tiers).
    scratch: Vec<KeyScratch>,
    pops: FastMap<String, u32>,
    seq: u64,
    /// Buffers the decoded values of a line are written to, reused from line to line: path,
    /// query string, cookies, `User-Agent`, referer, host, `Host` header, content type.
    text: [String; 8],
    agents: infer::Agents,
}

fn logged_served(r: &ResultType, detailed: &ResultType) -> Served {
    match (r, detailed) {
        (_, &ResultType::OriginShieldHit) => Served::Shield,
        (&ResultType::Hit, _) => Served::Pop,
        (&ResultType::RefreshHit, _) => Served::Refreshed,
        _ => Served::Origin,
    }
}

/// The `Accept` a browser family sends, for images or for anything else.
pub fn browser_accept(family: u8, image: bool) -> &'static str {
    match (family, image) {
        (1, true) => "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
        (1, false) => {
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,\
             application/signed-exchange;v=b3;q=0.7"
        }
        (2, true) => "image/avif,image/webp,*/*",
        (3, true) => {
            "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,\
             image/*;q=0.8,*/*;q=0.5"
        }
        (2 | 3, false) => "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        _ => "*/*",
    }
}

/// The `Accept-Encoding` a browser family sends.
pub fn browser_accept_encoding(family: u8) -> &'static str {
    match family {
        1 | 2 => "gzip, deflate, br, zstd",
        _ => ASSUMED_ACCEPT_ENCODING,
    }
}

impl LineSink for ReplaySink<'_> {
    fn begin_block(&mut self, seq: u64) {
        self.seq = seq << 32;
    }

    fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError> {
        let ts = line.timestamp()?;
        let status = line.status()?;
        let method = line.raw(Field::Method);
        let result = line.result_type(Field::EdgeResultType);
        if !cachalot_telemetry::outcome::is_cacheable_request(method, status, &result) {
            self.skipped += 1;
            return Ok(());
        }
        let secs = ts.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let size = line.number(Field::ContentLength)?.or(line.number(Field::ScBytes)?).unwrap_or(0);
        let mut text = std::mem::take(&mut self.text);
        self.keyed(line, (secs, status), method, &result, size, &mut text);
        self.text = text;
        Ok(())
    }
}

impl ReplaySink<'_> {
    /// Keys a cacheable request (at `secs`, Unix seconds, answered `status`) under every config
    /// and keeps it, unless no config routes it.
    fn keyed(
        &mut self,
        line: &LogLine<'_>,
        (secs, status): (u64, Option<u16>),
        method: &str,
        result: &ResultType,
        size: u64,
        text: &mut [String; 8],
    ) {
        let [b_path, b_query, b_cookie, b_agent, b_referer, b_host, b_host_header, b_type] = text;
        let path = logs::decode_into(line.raw(Field::UriStem), b_path);
        let query = logs::decode_into(line.raw(Field::UriQuery), b_query);
        let cookie = logs::decode_into(line.raw(Field::Cookie), b_cookie);
        let user_agent = logs::decode_into(line.raw(Field::UserAgent), b_agent);
        let referer = logs::decode_into(line.raw(Field::Referer), b_referer);
        let host = logs::decode_into(line.raw(Field::Host), b_host);
        let host_header = logs::decode_into(line.raw(Field::HostHeader), b_host_header);
        let pop_name = line.raw(Field::EdgeLocation);
        b_type.clear();
        b_type.push_str(line.raw(Field::ContentType));
        b_type.make_ascii_lowercase();
        let ctype = b_type.as_str();
        let (agent_hash, family) = self.agents.of(line.raw(Field::UserAgent), &mut String::new());
        let view = RequestView {
            method,
            host,
            host_header,
            path,
            query,
            cookie,
            user_agent,
            referer,
            accept: browser_accept(family, ctype.starts_with("image/")),
            accept_encoding: browser_accept_encoding(family),
            status: status.unwrap_or(200),
        };
        let mut decisions = [Decision::default(); 2];
        self.seq += 1;
        for ((i, c), scratch) in self.configs.iter().enumerate().zip(&mut self.scratch) {
            decisions[i] = c.decide(&view, pop_name, secs, scratch);
            // A function writing a per-request value into the request: every request its own key.
            if c.behavior(decisions[i].section).is_some_and(|b| b.function_varies_key) {
                decisions[i].key = hash64(&[&decisions[i].key.to_le_bytes()[..], &self.seq.to_le_bytes()[..]].concat());
            }
        }
        // Requests no config routes (another distribution's traffic) are skipped and counted.
        if decisions[..self.configs.len()].iter().all(|d| !d.routed) {
            self.unrouted += 1;
            return;
        }
        let pop = match self.pops.get(pop_name) {
            Some(p) => *p,
            None => {
                let next = self.pops.len() as u32 + 1;
                self.pops.insert(pop_name.to_owned(), next);
                next
            }
        };
        let path_hash = hash64(path.as_bytes());
        let logged = logged_served(result, &line.result_type(Field::EdgeDetailedResultType));
        let value = |v: &str| if v.is_empty() { 0 } else { hash64(v.as_bytes()) };
        // The config the log was served under (the baseline) tells the key; without one it is inferred.
        let (section, key, config_ttl) = match self.configs.get(1) {
            Some(_) => (decisions[1].section, decisions[1].key, decisions[1].ttl),
            None => {
                let prefix = match path.get(1..).and_then(|p| p.find('/')) {
                    Some(i) => &path[..i + 2],
                    None => "/",
                };
                (hash64(prefix.as_bytes()), 0, u32::MAX)
            }
        };
        let seen = infer::Request {
            section,
            path: path_hash,
            pop: hash64(pop_name.as_bytes()) as u32,
            ts: secs,
            seq: self.seq,
            logged: match logged {
                Served::Origin => infer::Logged::Miss,
                Served::Refreshed => infer::Logged::Refresh,
                _ => infer::Logged::Hit,
            },
            query: value(query),
            cookie: value(cookie),
            agent: agent_hash,
            family,
            key,
            size: size.min(u64::from(u32::MAX)) as u32,
            config_ttl,
        };
        let media_or_static =
            ["image/", "video/", "audio/", "font/", "css", "javascript", "wasm"].iter().any(|p| ctype.contains(p));
        self.events.push(Event {
            ts: secs,
            seq: self.seq,
            pop,
            path: path_hash,
            size: size.min(u64::from(u32::MAX)) as u32,
            status: status.unwrap_or(200),
            logged,
            decisions,
            warm: false,
            media_or_static,
        });
        self.seen.push(seen);
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// The candidate config.
    pub candidate: String,
    /// The baseline config, or `null` when the log's own results are the baseline.
    pub baseline: Option<String>,
    /// Requests replayed (cacheable per CacheHitRate's definition).
    pub requests: u64,
    /// Lines not replayed: not cacheable requests (errors, redirects, POST, …).
    pub skipped: u64,
    /// Requests no distribution of the config serves.
    pub unrouted: u64,
    /// Objects the log shows were cached before it starts (their first request at a POP hit);
    /// every simulation starts with them cached, so it starts as warm as the log.
    pub warm_objects: u64,
    /// How the two sides are made comparable, in words.
    pub comparison: String,
    /// Lines with fewer fields than their header, used because every field read was there.
    pub short_lines: u64,
    /// What the log tells about the origin, per path: how many paths were seen with each kind
    /// of `Cache-Control` and with validators.
    pub origin: OriginSummary,
    /// Simulations run (with the requests spread at random within their logged second).
    pub simulations: u32,
    /// Totals: baseline, candidate.
    pub total: Comparison,
    /// Per POP.
    pub pops: BTreeMap<String, Comparison>,
    /// What was assumed.
    pub assumptions: Vec<String>,
    /// Log reading statistics.
    #[serde(skip)]
    pub read: ReadStats,
}

/// Baseline against candidate.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Comparison {
    /// The baseline: the baseline config's prediction, or what the log recorded.
    pub baseline: Tally,
    /// The candidate's prediction.
    pub candidate: Tally,
    /// Candidate hit ratio minus baseline's, in percentage points (`null` with nothing replayed).
    pub hit_ratio_change: Option<f64>,
    /// How far (percentage points) the candidate's hit ratio may be off: the widest deviation
    /// of any simulation from the prediction, unknowns taken either way.
    pub candidate_uncertainty: Option<f64>,
    /// The same for a simulated baseline (`null` when the baseline is the log).
    pub baseline_uncertainty: Option<f64>,
}

/// What the log tells about the origin's `Cache-Control` (logs do not record it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OriginTtl {
    /// Nothing tells: the behavior's DefaultTTL applies (as if the origin sent no max-age).
    Unknown,
    /// Copies lived this long, less than the config allowed: `max-age` of this many seconds.
    MaxAge(u64),
    /// Nothing was ever reused although the behavior caches: `no-store` (or `private`).
    Forbids,
}

impl OriginTtl {
    fn header(self) -> Option<String> {
        match self {
            OriginTtl::Unknown => None,
            OriginTtl::MaxAge(s) => Some(format!("max-age={s}")),
            OriginTtl::Forbids => Some("no-store".to_owned()),
        }
    }
}

/// The origin as the log shows it for one path: the likeliest reading, and the other one
/// where the log cannot tell.
#[derive(Debug, Clone, Copy)]
struct OriginModel {
    ttl: OriginTtl,
    other_ttl: OriginTtl,
    /// Expired copies are revalidated (`RefreshHit`): `None` when the log cannot tell.
    validators: Option<bool>,
}

/// Counts of paths by what the log tells about their origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OriginSummary {
    /// Paths whose copies expired sooner than the config allowed (a `max-age` read from the log).
    pub max_age: u64,
    /// Paths never served from cache on a behavior that caches (`no-store`).
    pub forbids: u64,
    /// Paths nothing is known of (the behavior's DefaultTTL applies).
    pub unknown: u64,
    /// Paths whose expired copies were revalidated (`RefreshHit`).
    pub validators: u64,
    /// Paths whose expired copies were fetched again whole (no validators).
    pub no_validators: u64,
}

/// Reads the origin's behaviour per path from the log (see [`crate::infer`]).
fn origin_models(
    events: &[Event],
    requests: Vec<infer::Request>,
    baseline: Option<&ConfigModel>,
    threads: usize,
) -> (FastMap<u64, OriginModel>, OriginSummary) {
    let knowledge = |section: u64| match baseline {
        Some(b) => infer::KeyKnowledge::Known {
            extra: 0,
            hidden: b
                .behavior(section)
                .is_some_and(|i| i.headers.iter().any(|h| !matches!(h.as_str(), "user-agent" | "host" | "referer"))),
        },
        None => infer::KeyKnowledge::Infer,
    };
    let inf = infer::infer_with(requests, knowledge, threads);
    // Per section: revalidated, and expired copies fetched whole.
    let mut refreshed: FastMap<u64, (u64, u64)> = FastMap::default();
    // Per path: expired or revalidated copies seen, and the youngest age at which one was.
    let mut expired: FastMap<u64, u64> = FastMap::default();
    let mut youngest_expired: FastMap<u64, u64> = FastMap::default();
    for (r, c) in inf.requests.iter().zip(&inf.classes) {
        let e = refreshed.entry(r.section).or_default();
        match c {
            infer::Class::Refresh => {
                e.0 += 1;
                *expired.entry(r.path).or_default() += 1;
            }
            infer::Class::Expired { age } => {
                e.1 += 1;
                *expired.entry(r.path).or_default() += 1;
                let y = youngest_expired.entry(r.path).or_insert(*age);
                *y = (*y).min(*age);
            }
            _ => {}
        }
    }
    let media: FastMap<u64, bool> = events.iter().map(|e| (e.path, e.media_or_static)).collect();
    let mut out = FastMap::default();
    let mut summary = OriginSummary::default();
    for r in &inf.requests {
        if out.contains_key(&r.path) {
            continue;
        }
        let model = inf.sections.get(&r.section);
        let info = baseline.and_then(|b| b.behavior(r.section));
        let (ttl, other_ttl) = if model.is_some_and(|m| m.never_reused) {
            match info {
                // The behavior caches and keeps its key: the origin forbids it.
                Some(b) if !b.caching_disabled && !b.function_varies_key => (OriginTtl::Forbids, OriginTtl::Forbids),
                Some(_) => (OriginTtl::Unknown, OriginTtl::Unknown),
                // Without the config: for media and static files a behavior that does not cache
                // is likelier than an origin that forbids it, for pages the reverse.
                None if media.get(&r.path).copied().unwrap_or(false) => (OriginTtl::Unknown, OriginTtl::Forbids),
                None => (OriginTtl::Forbids, OriginTtl::Unknown),
            }
        } else if expired.get(&r.path).copied().unwrap_or(0) > 0
            && let Some(&l) = inf.lifetimes.get(&r.path)
        {
            // Copies were served up to `served` seconds old and refetched at `refetched` at the
            // earliest: the TTL lies between.
            let served = l.saturating_sub(1);
            let refetched = youngest_expired.get(&r.path).copied().unwrap_or(served).max(served);
            let ttl = (served + refetched).div_ceil(2).max(1);
            // What the config the log was served under keeps a response with no max-age.
            let by_config = info.map(|b| b.default_ttl.clamp(b.min_ttl, b.max_ttl.max(b.min_ttl)));
            match by_config {
                Some(t) if served <= t && t <= refetched + 1 => (OriginTtl::Unknown, OriginTtl::Unknown),
                Some(_) if info.is_some_and(|b| served + 1 >= b.max_ttl) => (OriginTtl::Unknown, OriginTtl::Unknown),
                _ => (OriginTtl::MaxAge(ttl), OriginTtl::MaxAge(ttl)),
            }
        } else {
            (OriginTtl::Unknown, OriginTtl::Unknown)
        };
        let validators = match refreshed.get(&r.section) {
            Some(&(refresh, _)) if refresh > 0 => Some(true),
            Some(&(_, whole)) if whole > 0 => Some(false),
            _ => None,
        };
        match ttl {
            OriginTtl::MaxAge(_) => summary.max_age += 1,
            OriginTtl::Forbids => summary.forbids += 1,
            OriginTtl::Unknown => summary.unknown += 1,
        }
        match validators {
            Some(true) => summary.validators += 1,
            Some(false) => summary.no_validators += 1,
            None => {}
        }
        out.insert(r.path, OriginModel { ttl, other_ttl, validators });
    }
    (out, summary)
}

/// Simulations with the requests spread at random within their second (the likeliest
/// reading of the origin), and with the unknowns taken the other way.
const SPREAD_RUNS: u32 = 6;
const OTHER_RUNS: u32 = 2;

/// Milliseconds within its logged second at which each request (sorted by time and input
/// order) is taken to happen in a run: random, but in the order the log lists them (the order
/// the edge finished them).
fn spread(run: u32, events: &[Event]) -> Vec<u64> {
    let mut out = Vec::with_capacity(events.len());
    let mut start = 0;
    while start < events.len() {
        let ts = events[start].ts;
        let end = events[start..].iter().position(|e| e.ts != ts).map_or(events.len(), |i| start + i);
        let mut offsets: Vec<u64> = events[start..end]
            .iter()
            .map(|e| {
                let mut bytes = [0u8; 12];
                bytes[..8].copy_from_slice(&e.seq.to_le_bytes());
                bytes[8..].copy_from_slice(&run.to_le_bytes());
                hash64(&bytes) % 1000
            })
            .collect();
        offsets.sort_unstable();
        out.extend(offsets.into_iter().map(|o| ts * 1000 + o));
        start = end;
    }
    out
}

/// Replays `inputs` under `candidate` (and `baseline`, else the log's own results).
pub fn replay(
    inputs: &[LogInput],
    candidate: &ConfigModel,
    baseline: Option<&ConfigModel>,
    options: &Options,
    progress: Option<&std::sync::atomic::AtomicU64>,
) -> Result<ReplayReport, LogInputError> {
    let configs: Vec<&ConfigModel> = std::iter::once(candidate).chain(baseline).collect();
    let (sinks, read) = logs::read_with(
        inputs,
        options.columns.as_ref(),
        options.threads.max(1),
        || ReplaySink {
            configs: configs.clone(),
            events: Vec::new(),
            seen: Vec::new(),
            skipped: 0,
            unrouted: 0,
            scratch: configs.iter().map(|_| KeyScratch::default()).collect(),
            pops: FastMap::default(),
            seq: 0,
            text: Default::default(),
            agents: infer::Agents::default(),
        },
        progress,
    )?;
    // POP ids are per sink: renumber into one table.
    let mut names: Vec<String> = Vec::new();
    let mut events = Vec::new();
    let mut requests = Vec::new();
    let (mut skipped, mut unrouted) = (0, 0);
    for sink in sinks {
        let mut local: Vec<(u32, String)> = sink.pops.into_iter().map(|(n, i)| (i, n)).collect();
        local.sort();
        let map: Vec<u32> = local
            .iter()
            .map(|(_, n)| match names.iter().position(|x| x == n) {
                Some(i) => i as u32 + 1,
                None => {
                    names.push(n.clone());
                    names.len() as u32
                }
            })
            .collect();
        events.extend(sink.events.into_iter().map(|mut e| {
            e.pop = map[e.pop as usize - 1];
            e
        }));
        requests.extend(sink.seen);
        skipped += sink.skipped;
        unrouted += sink.unrouted;
    }
    events.sort_unstable_by_key(|e| (e.ts, e.seq));
    // Like with like: the log's caches were warm when it starts; a simulation starting cold
    // would count every object's first request as a miss the log never had.
    let mut seen: FastMap<(u32, u64), ()> = FastMap::default();
    let mut warm_objects = 0u64;
    for e in &mut events {
        if seen.insert((e.pop, e.path), ()).is_none() && e.logged != Served::Origin && e.logged != Served::Refreshed {
            e.warm = true;
            warm_objects += 1;
        }
    }
    let (origins, origin) = origin_models(&events, requests, baseline, options.threads.max(1));
    // Each config's TTL for each request, under the likeliest and the other reading of the origin.
    let unknown = OriginModel { ttl: OriginTtl::Unknown, other_ttl: OriginTtl::Unknown, validators: None };
    // The TTL depends on the behavior, the status and the origin's header only (the time would
    // matter through an `Expires` header, which is never given): each distinct one is asked once.
    let ttls: Vec<[Vec<u32>; 2]> = configs
        .iter()
        .enumerate()
        .map(|(c, cfg)| {
            let mut memo: FastMap<(u64, bool, bool, u16, OriginTtl), u32> = FastMap::default();
            let mut of = |other: bool| -> Vec<u32> {
                events
                    .iter()
                    .map(|e| {
                        let d = &e.decisions[c];
                        let m = origins.get(&e.path).unwrap_or(&unknown);
                        let origin_ttl = if other { m.other_ttl } else { m.ttl };
                        *memo
                            .entry((d.section, d.routed, d.stores_method, e.status, origin_ttl))
                            .or_insert_with(|| cfg.ttl_under(d, e.status, origin_ttl.header().as_deref(), e.ts))
                    })
                    .collect()
            };
            [of(false), of(true)]
        })
        .collect();
    let pop_tier = |pop: u32| small_hash(&format!("pop:{}", names[pop as usize - 1]));
    let pop_tiers: Vec<u32> = (1..=names.len() as u32).map(pop_tier).collect();
    // Per run, per config: per POP tallies.
    // Each run of each config is its own simulation: they run side by side, one per thread.
    let simulate = |run: u32, c: usize| -> Vec<Tally> {
        let other = run >= SPREAD_RUNS;
        let times = spread(run, &events);
        let mut tallies = vec![Tally::default(); names.len()];
        let mut sim = Simulator::new(options.cache_size).with_largest_object(options.largest_object);
        for (i, e) in events.iter().enumerate() {
            let mut d = e.decisions[c];
            d.ttl = ttls[c][usize::from(other)][i];
            let m = origins.get(&e.path).unwrap_or(&unknown);
            let validators = m.validators.unwrap_or(!other);
            let served = sim.serve(times[i], pop_tiers[e.pop as usize - 1], &d, e.size, validators, e.warm);
            tallies[e.pop as usize - 1].add(served, u64::from(e.size));
        }
        tallies
    };
    let jobs: Vec<(u32, usize)> =
        (0..SPREAD_RUNS + OTHER_RUNS).flat_map(|run| (0..configs.len()).map(move |c| (run, c))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Tally>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..options.threads.clamp(1, jobs.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(run, c)) = jobs.get(j) else { break };
                        mine.push((j, simulate(run, c)));
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    done.sort_by_key(|(j, _)| *j);
    let mut runs: Vec<(bool, Vec<Vec<Tally>>)> = Vec::new();
    for ((run, _), (_, tallies)) in jobs.iter().zip(done) {
        if runs.len() <= *run as usize {
            runs.push((*run >= SPREAD_RUNS, Vec::new()));
        }
        if let Some((_, per_config)) = runs.last_mut() {
            per_config.push(tallies);
        }
    }
    // The prediction: the mean of the likeliest runs; its uncertainty: the widest deviation.
    let predict = |c: usize, pop: Option<usize>| -> (Tally, Option<f64>) {
        let pick = |t: &Vec<Tally>| match pop {
            Some(p) => t[p],
            None => t.iter().fold(Tally::default(), |mut a, x| {
                a.merge(x);
                a
            }),
        };
        let likely: Vec<Tally> = runs.iter().filter(|(o, _)| !o).map(|(_, t)| pick(&t[c])).collect();
        let mean = average(&likely);
        let center = mean.hit_ratio();
        let spread = runs
            .iter()
            .filter_map(|(_, t)| pick(&t[c]).hit_ratio())
            .filter_map(|r| center.map(|m| (r - m).abs()))
            .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
        (mean, spread)
    };
    let mut per_pop = vec![Comparison::default(); names.len()];
    for (p, cmp) in per_pop.iter_mut().enumerate() {
        (cmp.candidate, cmp.candidate_uncertainty) = predict(0, Some(p));
        if baseline.is_some() {
            (cmp.baseline, cmp.baseline_uncertainty) = predict(1, Some(p));
        }
    }
    if baseline.is_none() {
        for e in &events {
            per_pop[e.pop as usize - 1].baseline.add(e.logged, u64::from(e.size));
        }
    }
    let mut total = Comparison::default();
    let mut pops = BTreeMap::new();
    for (name, mut c) in names.into_iter().zip(per_pop) {
        c.hit_ratio_change = change(&c.baseline, &c.candidate);
        total.baseline.merge(&c.baseline);
        pops.insert(name, c);
    }
    (total.candidate, total.candidate_uncertainty) = predict(0, None);
    if baseline.is_some() {
        (total.baseline, total.baseline_uncertainty) = predict(1, None);
    }
    total.hit_ratio_change = change(&total.baseline, &total.candidate);
    let comparison = match baseline {
        Some(_) => format!(
            "both configs simulated on the same requests; both start as warm as the log shows ({warm_objects} objects \
             whose first request at a POP hit are taken as cached there)"
        ),
        None => format!(
            "the log's own results against the candidate simulated on the same requests; the simulation starts as \
             warm as the log ({warm_objects} objects whose first request at a POP hit in the log are taken as cached \
             there), so objects already cached do not count as misses on one side only"
        ),
    };
    let mut assumptions = vec![
        format!(
            "TTL: logs carry no Cache-Control, so the origin's is read from the log per path: copies seen to expire \
             give a max-age ({} paths; with --baseline, only when they expired sooner than that config keeps \
             responses without one); paths never served from cache on a behavior that caches are taken as no-store \
             ({} paths); elsewhere ({} paths) the behavior's DefaultTTL applies (clamped by MinTTL/MaxTTL, error \
             statuses per CloudFront's error caching), all through cachalot-policy",
            origin.max_age, origin.forbids, origin.unknown
        ),
        "Accept and Accept-Encoding are not in logs: each viewer is taken to send what its browser family \
         (from User-Agent) sends"
            .to_owned(),
        format!(
            "revalidation: an expired copy is revalidated (RefreshHit, a hit) where the log shows RefreshHits \
             ({} paths) and fetched whole where it shows expired copies refetched as misses ({} paths); elsewhere the \
             prediction takes the origin to send validators (ETag, Last-Modified)",
            origin.validators, origin.no_validators
        ),
        format!(
            "log times have one-second resolution: each prediction is the mean of {SPREAD_RUNS} simulations with the \
             requests spread at random within their second; ± is the widest deviation of any of them and of {OTHER_RUNS} \
             more with the unknowns above taken the other way (no validators; never-reused paths read the other way)"
        ),
        match (options.cache_size, options.largest_object) {
            (Some(b), Some(l)) => format!("every tier holds at most {b} bytes (LRU), no object larger than {l} bytes"),
            (Some(b), None) => format!("every tier holds at most {b} bytes (LRU)"),
            (None, _) => "tiers are unbounded (no eviction); pass --cache-size to bound them".to_owned(),
        },
        "request collapsing is not modelled".to_owned(),
    ];
    if baseline.is_none() {
        assumptions.push("baseline: the results recorded in the log".to_owned());
    }
    for c in &configs {
        assumptions.extend(c.notices.iter().cloned());
    }
    Ok(ReplayReport {
        candidate: candidate.label.clone(),
        baseline: baseline.map(|b| b.label.clone()),
        requests: total.candidate.requests,
        skipped,
        unrouted,
        warm_objects,
        comparison,
        short_lines: read.short_lines,
        origin,
        simulations: SPREAD_RUNS + OTHER_RUNS,
        total,
        pops,
        assumptions,
        read,
    })
}

/// The mean of tallies, rounded (`Tally::default()` for none).
fn average(t: &[Tally]) -> Tally {
    let n = t.len() as u64;
    if n == 0 {
        return Tally::default();
    }
    let mut sum = Tally::default();
    for x in t {
        sum.merge(x);
    }
    let avg = |v: u64| (v + n / 2) / n;
    Tally {
        requests: avg(sum.requests),
        pop_hits: avg(sum.pop_hits),
        regional_hits: avg(sum.regional_hits),
        shield_hits: avg(sum.shield_hits),
        refresh_hits: avg(sum.refresh_hits),
        misses: avg(sum.misses),
        origin_requests: avg(sum.origin_requests),
        origin_bytes: avg(sum.origin_bytes),
    }
}

fn mib(b: u64) -> String {
    if b >= 10 << 20 { format!("{} MiB", b >> 20) } else { format!("{:.1} MiB", b as f64 / 1048576.0) }
}

/// The report as aligned plain text.
pub fn text(r: &ReplayReport) -> String {
    let mut out = String::new();
    let base = r.baseline.clone().unwrap_or_else(|| "the log (measured)".to_owned());
    let _ = writeln!(
        out,
        "replay of {} requests ({} not cacheable, {} unrouted skipped)",
        r.requests, r.skipped, r.unrouted
    );
    let _ = writeln!(out, "  baseline:  {base}");
    let _ = writeln!(out, "  candidate: {}", r.candidate);
    let _ = writeln!(out, "  compared:  {}", r.comparison);
    if r.short_lines > 0 {
        let _ = writeln!(
            out,
            "  {} line(s) had fewer fields than their header and were replayed (every field read was there)",
            r.short_lines
        );
    }
    let _ = writeln!(out);
    let head = [
        "POP",
        "REQUESTS",
        "HIT% BASE",
        "HIT% CAND",
        "CHANGE",
        "ORIGIN REQ BASE",
        "ORIGIN REQ CAND",
        "ORIGIN BYTES BASE",
        "ORIGIN BYTES CAND",
    ];
    let with_uncertainty = |ratio: Option<f64>, u: Option<f64>| match (ratio, u) {
        (Some(h), Some(u)) => format!("{h:.1} ±{u:.1}"),
        (Some(h), None) => format!("{h:.1}"),
        _ => "-".to_owned(),
    };
    let row = |name: &str, c: &Comparison| -> [String; 9] {
        [
            name.to_owned(),
            c.candidate.requests.to_string(),
            with_uncertainty(c.baseline.hit_ratio(), c.baseline_uncertainty),
            with_uncertainty(c.candidate.hit_ratio(), c.candidate_uncertainty),
            c.hit_ratio_change.map_or_else(|| "-".to_owned(), |h| format!("{h:+.1} pp")),
            c.baseline.origin_requests.to_string(),
            c.candidate.origin_requests.to_string(),
            mib(c.baseline.origin_bytes),
            mib(c.candidate.origin_bytes),
        ]
    };
    let mut rows: Vec<[String; 9]> = r.pops.iter().map(|(n, c)| row(n, c)).collect();
    rows.push(row("ALL", &r.total));
    let mut w = head.map(str::len);
    for x in &rows {
        for (a, c) in w.iter_mut().zip(x) {
            *a = (*a).max(c.len());
        }
    }
    let fmt = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (c, width)) in cells.iter().zip(w).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<width$}  ");
            } else {
                let _ = write!(s, "{c:>width$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", fmt(&head));
    for x in &rows {
        let cells: Vec<&str> = x.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", fmt(&cells));
    }
    let c = &r.total.candidate;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "candidate tiers: {} POP hits, {} regional hits, {} shield hits, {} RefreshHits, {} misses",
        c.pop_hits, c.regional_hits, c.shield_hits, c.refresh_hits, c.misses
    );
    let _ = writeln!(out, "assumed:");
    for a in &r.assumptions {
        let _ = writeln!(out, "  - {a}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(key: u64, ttl: u32) -> Decision {
        Decision {
            key,
            ttl,
            region: 7,
            shield: 0,
            behavior: 0,
            routed: true,
            keyed_headers: 0,
            section: 1,
            stores_method: true,
        }
    }

    #[test]
    fn what_is_kept_per_request_is_bounded() {
        // docs/compat/doctor.md (Memory): per replayed request, an event, the inference's record
        // and class (dropped before the simulations), and a TTL per config and reading.
        let bytes = size_of::<Event>() + size_of::<infer::Request>() + size_of::<infer::Class>() + 2 * 2 * 4;
        assert!(bytes <= 240, "{bytes}");
    }

    #[test]
    fn tiers_expire_and_fill_downwards() {
        let mut sim = Simulator::new(None);
        let d = decision(1, 60);
        assert_eq!(sim.serve(0, 100, &d, 10, false, false), Served::Origin);
        assert_eq!(sim.serve(30000, 100, &d, 10, false, false), Served::Pop);
        assert_eq!(sim.serve(31000, 200, &d, 10, false, false), Served::Regional, "another POP of the region");
        assert_eq!(sim.serve(60000, 100, &d, 10, false, false), Served::Origin, "expired everywhere");
        assert_eq!(sim.serve(200000, 100, &d, 10, true, false), Served::Refreshed);
        assert_eq!(sim.serve(259_999, 100, &d, 10, false, false), Served::Pop, "fresh again for its TTL");
        assert_eq!(sim.serve(260_000, 100, &d, 10, false, false), Served::Origin, "to the millisecond");
        assert_eq!(sim.serve(0, 100, &decision(2, 0), 10, false, false), Served::Origin, "not stored");
    }

    /// The regional tier comes from the edge's own path: POPs sharing a region share one, a
    /// POP alone in its region has none, and a POP the config does not list (CloudFront's) has one.
    #[test]
    fn tiers_follow_the_edges_path() {
        let config = crate::scenario::config_for(crate::Cause::ColdPop).replace("\"eu-central-1\"", "\"eu-west-2\"");
        let model = crate::scenario::model_of("c", &config).unwrap();
        let view = RequestView {
            method: "GET",
            host: crate::scenario::DOMAIN,
            host_header: "",
            path: "/images/a.jpg",
            query: "",
            cookie: "",
            user_agent: "",
            referer: "",
            accept: "",
            accept_encoding: "",
            status: 200,
        };
        let mut scratch = KeyScratch::default();
        let mut at = |pop: &str| model.decide(&view, pop, 0, &mut scratch).region;
        let (lhr, fra, iad) = (at("LHR50-C1"), at("FRA56-P5"), at("IAD89-C1"));
        assert!(lhr != 0 && lhr == fra, "LHR50-C1 and FRA56-P5 now share eu-west-2");
        assert_eq!(iad, 0, "IAD89-C1 is alone in us-east-1");
        assert_ne!(at("SEA19-C1"), 0, "a POP the config does not list is CloudFront's");
    }

    #[test]
    fn lru_evicts_by_size() {
        let mut sim = Simulator::new(Some(25));
        let (a, b, c) = (
            Decision { region: 0, ..decision(1, 999) },
            Decision { region: 0, ..decision(2, 999) },
            Decision { region: 0, ..decision(3, 999) },
        );
        sim.serve(0, 1, &a, 10, false, false);
        sim.serve(1000, 1, &b, 10, false, false);
        assert_eq!(sim.serve(2000, 1, &a, 10, false, false), Served::Pop);
        sim.serve(3000, 1, &c, 10, false, false); // evicts b, the least recently used
        assert_eq!(sim.serve(4000, 1, &a, 10, false, false), Served::Pop);
        assert_eq!(sim.serve(5000, 1, &b, 10, false, false), Served::Origin);
    }

    #[test]
    fn objects_larger_than_a_tier_keeps_are_never_hits() {
        let mut sim = Simulator::new(Some(100)).with_largest_object(Some(25));
        let (big, small) = (Decision { region: 0, ..decision(1, 999) }, Decision { region: 0, ..decision(2, 999) });
        sim.serve(0, 1, &big, 60, false, false);
        assert_eq!(sim.serve(1, 1, &big, 60, false, false), Served::Origin, "a quarter of memory at most");
        sim.serve(2, 1, &small, 20, false, false);
        assert_eq!(sim.serve(3, 1, &small, 20, false, false), Served::Pop);
    }
}
