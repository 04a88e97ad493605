//! Replay: logged requests re-keyed under a candidate (and a baseline) config with
//! `cachalot-policy`, run through a virtual-time model of every cache tier.
//!
//! For each config, every request's cache key comes from [`cachalot_policy::cache_key`] and its
//! TTL from [`cachalot_policy::ttl::storage`] — the functions the edge calls — so a prediction
//! cannot disagree with the edge about keys or TTLs. Tiers follow the edge: the POP's cache,
//! then the regional edge cache of the POP's `Region`, then the Origin Shield of the origin's
//! `OriginShieldRegion` (skipped when that is the POP's own region); a copy found in any tier
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

use crate::input::Inputs;
use crate::logs::{self, LineSink, LogInput, LogInputError, ReadStats};
use cachalot_config::file::region_for_pop;
use cachalot_config::model::{Distribution, NameRule, Snapshot, Target};
use cachalot_policy::ViewerRequest;
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
    pops: HashMap<String, String>,
    /// What was assumed for this config.
    pub notices: Vec<String>,
}

impl ConfigModel {
    /// Builds the model of `inputs` (already validated into `snapshot`).
    pub fn new(label: &str, inputs: &Inputs, snapshot: Snapshot) -> ConfigModel {
        let pops = inputs.pops.iter().map(|p| (p.id.clone(), p.region.clone())).collect();
        let mut notices = Vec::new();
        for d in &snapshot.distributions {
            for b in &d.behaviors {
                if let Some(f) = &b.viewer_request_function {
                    notices.push(format!(
                        "{label}: behavior {} has viewer-request function {f}; it is not run, requests are keyed as logged",
                        b.path_pattern.as_str()
                    ));
                }
                if matches!(&b.cache.headers, NameRule::Only(h) if h.iter().any(|n| n == "accept")) {
                    notices.push(format!(
                        "{label}: behavior {} keys Accept, which standard logs do not record; every viewer is taken to send the same Accept",
                        b.path_pattern.as_str()
                    ));
                }
            }
        }
        ConfigModel { label: label.to_owned(), snapshot, pops, notices }
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
    /// `Accept` (not in standard logs; scenarios set it).
    pub accept: &'a str,
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
}

fn small_hash(s: &str) -> u32 {
    (hash64(s.as_bytes()) as u32) | 1
}

/// Reusable buffers for keying many requests.
#[derive(Default)]
pub struct KeyScratch {
    headers: HeaderMap,
    empty: HeaderMap,
}

impl ConfigModel {
    /// Keys `req` at `pop` and decides its TTL, through `cachalot-policy`.
    pub fn decide(&self, req: &RequestView<'_>, pop: &str, now_secs: u64, scratch: &mut KeyScratch) -> Decision {
        let Some(d) = self.distribution(req.host, req.host_header) else { return Decision::default() };
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
        if cache.accept_encoding_gzip || cache.accept_encoding_brotli {
            scratch.headers.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static(ASSUMED_ACCEPT_ENCODING));
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
        let region = self.region_of(pop);
        let shield = match origin.and_then(|o| o.shield_region.as_deref()) {
            Some(s) if s != region => small_hash(&format!("shield:{s}")),
            _ => 0,
        };
        Decision {
            key: hash64(key.as_str().as_bytes()),
            ttl,
            region: small_hash(&format!("rec:{region}")),
            shield,
            behavior: index as u16,
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
    stored_at: u64,
    ttl: u32,
    size: u32,
    stamp: u32,
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

    /// Serves one request at `now` (seconds) at the POP whose tier id is `pop`. `warm`: the
    /// object is known to be cached at the POP already (found nowhere, it is taken as a fresh
    /// POP copy rather than fetched).
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
                if now < slot.stored_at + u64::from(slot.ttl) {
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
    logged: Served,
    decisions: [Decision; 2],
    /// The first request for the path at the POP, and a hit in the log: the object was
    /// cached before the log starts.
    warm: bool,
}

/// Options of a replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Tier capacity in bytes (`None`: unbounded).
    pub cache_size: Option<u64>,
    /// Largest object a tier keeps (`None`: no limit).
    pub largest_object: Option<u64>,
    /// Worker threads for reading and keying.
    pub threads: usize,
}

struct ReplaySink<'a> {
    configs: Vec<&'a ConfigModel>,
    events: Vec<Event>,
    refresh_paths: Vec<u64>,
    skipped: u64,
    unrouted: u64,
    scratch: KeyScratch,
    pops: HashMap<String, u32>,
    seq: u64,
}

fn logged_served(r: &ResultType, detailed: &ResultType) -> Served {
    match (r, detailed) {
        (_, ResultType::OriginShieldHit) => Served::Shield,
        (ResultType::Hit, _) => Served::Pop,
        (ResultType::RefreshHit, _) => Served::Refreshed,
        _ => Served::Origin,
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
        let path = line.text(Field::UriStem);
        let query = line.text(Field::UriQuery);
        let cookie = line.text(Field::Cookie);
        let user_agent = line.text(Field::UserAgent);
        let referer = line.text(Field::Referer);
        let host = line.text(Field::Host);
        let host_header = line.text(Field::HostHeader);
        let pop_name = line.raw(Field::EdgeLocation);
        let size = line.number(Field::ContentLength)?.or(line.number(Field::ScBytes)?).unwrap_or(0);
        let view = RequestView {
            method,
            host: &host,
            host_header: &host_header,
            path: &path,
            query: &query,
            cookie: &cookie,
            user_agent: &user_agent,
            referer: &referer,
            accept: "",
            status: status.unwrap_or(200),
        };
        let mut decisions = [Decision::default(); 2];
        for (i, c) in self.configs.iter().enumerate() {
            decisions[i] = c.decide(&view, pop_name, secs, &mut self.scratch);
        }
        // Requests no config routes (another distribution's traffic) are skipped and counted.
        if decisions[..self.configs.len()].iter().all(|d| !d.routed) {
            self.unrouted += 1;
            return Ok(());
        }
        let next = self.pops.len() as u32 + 1;
        let pop = *self.pops.entry(pop_name.to_owned()).or_insert(next);
        let path_hash = hash64(path.as_bytes());
        let logged = logged_served(&result, &line.result_type(Field::EdgeDetailedResultType));
        if logged == Served::Refreshed {
            self.refresh_paths.push(path_hash);
        }
        self.seq += 1;
        self.events.push(Event {
            ts: secs,
            seq: self.seq,
            pop,
            path: path_hash,
            size: size.min(u64::from(u32::MAX)) as u32,
            logged,
            decisions,
            warm: false,
        });
        Ok(())
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
    let (sinks, read) = logs::read(
        inputs,
        options.threads.max(1),
        || ReplaySink {
            configs: configs.clone(),
            events: Vec::new(),
            refresh_paths: Vec::new(),
            skipped: 0,
            unrouted: 0,
            scratch: KeyScratch::default(),
            pops: HashMap::new(),
            seq: 0,
        },
        progress,
    )?;
    // POP ids are per sink: renumber into one table.
    let mut names: Vec<String> = Vec::new();
    let mut events = Vec::new();
    let mut refresh: IdMap<()> = IdMap::default();
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
        refresh.extend(sink.refresh_paths.into_iter().map(|p| (p, ())));
        skipped += sink.skipped;
        unrouted += sink.unrouted;
    }
    events.sort_unstable_by_key(|e| (e.ts, e.seq));
    // Like with like: the log's caches were warm when it starts; a simulation starting cold
    // would count every object's first request as a miss the log never had.
    let mut seen: HashMap<(u32, u64), ()> = HashMap::new();
    let mut warm_objects = 0u64;
    for e in &mut events {
        if seen.insert((e.pop, e.path), ()).is_none() && e.logged != Served::Origin && e.logged != Served::Refreshed {
            e.warm = true;
            warm_objects += 1;
        }
    }
    let pop_tier = |pop: u32| small_hash(&format!("pop:{}", names[pop as usize - 1]));
    let pop_tiers: Vec<u32> = (1..=names.len() as u32).map(pop_tier).collect();
    let mut per_pop = vec![Comparison::default(); names.len()];
    let mut sims: Vec<Simulator> = configs
        .iter()
        .map(|_| Simulator::new(options.cache_size).with_largest_object(options.largest_object))
        .collect();
    for e in &events {
        let p = e.pop as usize - 1;
        let revalidates = refresh.contains_key(&e.path);
        let served = sims[0].serve(e.ts, pop_tiers[p], &e.decisions[0], e.size, revalidates, e.warm);
        per_pop[p].candidate.add(served, u64::from(e.size));
        let base = match sims.get_mut(1) {
            Some(sim) => sim.serve(e.ts, pop_tiers[p], &e.decisions[1], e.size, revalidates, e.warm),
            None => e.logged,
        };
        per_pop[p].baseline.add(base, u64::from(e.size));
    }
    let mut total = Comparison::default();
    let mut pops = BTreeMap::new();
    for (name, mut c) in names.into_iter().zip(per_pop) {
        c.hit_ratio_change = change(&c.baseline, &c.candidate);
        total.baseline.merge(&c.baseline);
        total.candidate.merge(&c.candidate);
        pops.insert(name, c);
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
        "TTL: standard logs carry no Cache-Control, so each response is kept for its behavior's DefaultTTL \
         (clamped by MinTTL/MaxTTL, error statuses per CloudFront's error caching)"
            .to_owned(),
        format!("every viewer sends Accept-Encoding: {ASSUMED_ACCEPT_ENCODING} and no Accept header"),
        "a stale object is revalidated (RefreshHit) only on paths that show a RefreshHit in the log".to_owned(),
        match (options.cache_size, options.largest_object) {
            (Some(b), Some(l)) => format!("every tier holds at most {b} bytes (LRU), no object larger than {l} bytes"),
            (Some(b), None) => format!("every tier holds at most {b} bytes (LRU)"),
            (None, _) => "tiers are unbounded (no eviction); pass --cache-size to bound them".to_owned(),
        },
        "request collapsing is not modelled (log timestamps have one-second resolution)".to_owned(),
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
        total,
        pops,
        assumptions,
        read,
    })
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
    let row = |name: &str, c: &Comparison| -> [String; 9] {
        [
            name.to_owned(),
            c.candidate.requests.to_string(),
            c.baseline.hit_ratio().map_or_else(|| "-".to_owned(), |h| format!("{h:.1}")),
            c.candidate.hit_ratio().map_or_else(|| "-".to_owned(), |h| format!("{h:.1}")),
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
        Decision { key, ttl, region: 7, shield: 0, behavior: 0, routed: true, keyed_headers: 0 }
    }

    #[test]
    fn tiers_expire_and_fill_downwards() {
        let mut sim = Simulator::new(None);
        let d = decision(1, 60);
        assert_eq!(sim.serve(0, 100, &d, 10, false, false), Served::Origin);
        assert_eq!(sim.serve(30, 100, &d, 10, false, false), Served::Pop);
        assert_eq!(sim.serve(31, 200, &d, 10, false, false), Served::Regional, "another POP of the region");
        assert_eq!(sim.serve(60, 100, &d, 10, false, false), Served::Origin, "expired everywhere");
        assert_eq!(sim.serve(200, 100, &d, 10, true, false), Served::Refreshed);
        assert_eq!(sim.serve(0, 100, &decision(2, 0), 10, false, false), Served::Origin, "not stored");
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
        sim.serve(1, 1, &b, 10, false, false);
        assert_eq!(sim.serve(2, 1, &a, 10, false, false), Served::Pop);
        sim.serve(3, 1, &c, 10, false, false); // evicts b, the least recently used
        assert_eq!(sim.serve(4, 1, &a, 10, false, false), Served::Pop);
        assert_eq!(sim.serve(5, 1, &b, 10, false, false), Served::Origin);
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
