//! What access logs tell about a cache that they do not record: which parts of a request
//! are in the cache key, how long objects stay cached, whether POPs share a tier, and so why
//! each request missed.
//!
//! Standard logs record each request's result (`Hit`, `RefreshHit`, `Miss`) and most of the
//! request (path, query string, cookies, `User-Agent`), but neither the cache key, nor the
//! origin's `Cache-Control`, nor `Accept`. The model that best reproduces the logged results
//! is taken as what happened, section by section (a behavior when the config is known, else
//! the first path segment):
//!
//! - **never reused**: nothing of the section is ever served from cache, not even a repeat of
//!   an identical request, so the section stores nothing (or the config says it does not);
//! - **lifetime**: the oldest age at which a path was still served from cache, plus the log's
//!   one-second resolution, is how long its copies live (capped by the config's TTL);
//! - **shared tier**: whether a copy fetched through one POP serves another (a regional edge
//!   cache or Origin Shield), judged from first requests at a POP while another POP had it;
//! - **key**: with the config, its cache key; without, starting from the path alone, the
//!   request part (query string, cookies, `User-Agent`, or the browser family, standing in for
//!   headers that follow the browser such as `Accept`) whose addition reproduces the most
//!   logged results is added, while it helps by a clear margin (at most two parts).
//!
//! Each miss is then **cold** (no copy of the path at the POP or its shared tier), **expired**
//! (its own copy was older than the lifetime), **fragmented** (another key's copy of the path
//! was fresh: the parts that differ are the cause), **premature** (its own copy was still
//! fresh: invalidated, when many paths miss that way at one moment, else evicted) or **not
//! reused**. Everything is ordered and tie-broken explicitly: the same input gives the same
//! answer, however it was read.

use crate::replay::FastMap;
use std::collections::{BTreeMap, BTreeSet};

/// How a request was served, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    /// `Hit` (or an Origin Shield hit).
    Hit,
    /// `RefreshHit`: an expired copy revalidated.
    Refresh,
    /// `Miss`.
    Miss,
}

/// Parts of a request that may be in the key (bits of a [`Dims`]).
pub mod dim {
    /// The whole query string as logged.
    pub const QUERY: u8 = 1;
    /// The whole `Cookie` header as logged.
    pub const COOKIE: u8 = 2;
    /// `User-Agent`.
    pub const AGENT: u8 = 4;
    /// The browser family (Chromium, Firefox, Safari, …): stands in for headers that follow
    /// the browser and that logs do not record (`Accept`, `Accept-Encoding`).
    pub const FAMILY: u8 = 8;
    /// The key computed from the config (the request's `key`).
    pub const CONFIG: u8 = 16;
    /// The parts tried when the key is not known, in the order ties are broken.
    pub const CANDIDATES: [u8; 4] = [QUERY, COOKIE, AGENT, FAMILY];
}

/// A set of [`dim`] bits.
pub type Dims = u8;

/// One cacheable request as the inference sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// The behavior (with a config) or first path segment it belongs to.
    pub section: u64,
    /// Hash of `cs-uri-stem`.
    pub path: u64,
    /// POP (a hash of its name).
    pub pop: u32,
    /// Unix seconds.
    pub ts: u64,
    /// Input order, to order requests of one second.
    pub seq: u64,
    /// The logged result.
    pub logged: Logged,
    /// Hash of the query string as logged (0: none).
    pub query: u64,
    /// Hash of the `Cookie` header as logged (0: none).
    pub cookie: u64,
    /// Hash of `User-Agent` (0: none).
    pub agent: u64,
    /// Browser family (see [`family_of`]).
    pub family: u8,
    /// The cache key under the config (0 without one).
    pub key: u64,
    /// `sc-content-len` (else `sc-bytes`), to tell real variants from fragments.
    pub size: u32,
    /// Seconds the config keeps the response (`u32::MAX` without a config; 0: not stored).
    pub config_ttl: u32,
}

impl Request {
    /// The key of this request when `dims` are keyed.
    pub fn key_under(&self, dims: Dims) -> u64 {
        let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut mix = |v: u64, salt: u64| {
            h = (h ^ v.wrapping_add(salt)).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(29);
        };
        if dims & dim::CONFIG != 0 {
            mix(self.key, 1);
        }
        if dims & dim::QUERY != 0 {
            mix(self.query, 2);
        }
        if dims & dim::COOKIE != 0 {
            mix(self.cookie, 3);
        }
        if dims & dim::AGENT != 0 {
            mix(self.agent, 4);
        }
        if dims & dim::FAMILY != 0 {
            mix(u64::from(self.family), 5);
        }
        h
    }

    /// The same request (path, query string, cookies, `User-Agent`) at the same POP.
    fn identical(&self) -> u64 {
        self.key_under(dim::QUERY | dim::COOKIE | dim::AGENT)
            ^ self.path.rotate_left(7)
            ^ u64::from(self.pop).rotate_left(41)
    }
}

/// Browser families, by `User-Agent` product tokens (versions and platforms ignored): 1
/// Chromium (Chrome, Edge, Opera, Samsung Internet), 2 Firefox, 3 Safari, 0 no
/// `User-Agent`, 4 anything else.
pub fn family_of(user_agent: &str) -> u8 {
    if user_agent.is_empty() {
        0
    } else if user_agent.contains("Firefox/") || user_agent.contains("FxiOS/") {
        2
    } else if ["Chrome/", "Chromium/", "CriOS/", "Edg/", "EdgiOS/", "OPR/"].iter().any(|t| user_agent.contains(t)) {
        1
    } else if user_agent.contains("Safari/") || user_agent.contains("AppleWebKit/") {
        3
    } else {
        4
    }
}

/// `User-Agent` values seen, as logged, with the hash of the decoded value (0: none) and the
/// browser family: a log holds few distinct agents, each on many lines, and decoding, hashing and
/// telling the family of each line's agent costs more than looking it up. At most
/// [`Agents::MOST`] are kept (then it starts afresh).
#[derive(Default)]
pub struct Agents {
    seen: FastMap<String, (u64, u8)>,
}

impl Agents {
    /// How many agents are remembered at most.
    pub const MOST: usize = 1 << 16;

    /// The hash of the decoded agent (0 when absent) and its family; `buf` takes the decoded
    /// value when it is not known yet.
    pub fn of(&mut self, raw: &str, buf: &mut String) -> (u64, u8) {
        if let Some(known) = self.seen.get(raw) {
            return *known;
        }
        let text = crate::logs::decode_into(raw, buf);
        let found = (if text.is_empty() { 0 } else { crate::replay::hash64(text.as_bytes()) }, family_of(text));
        if self.seen.len() >= Self::MOST {
            self.seen.clear();
        }
        self.seen.insert(raw.to_owned(), found);
        found
    }
}

/// The name of a family, for messages.
pub fn family_name(family: u8) -> &'static str {
    match family {
        1 => "Chrome/Edge",
        2 => "Firefox",
        3 => "Safari",
        0 => "no User-Agent",
        _ => "other clients",
    }
}

/// Why a request missed (or that it did not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Served from cache.
    Hit,
    /// Revalidated (`RefreshHit`).
    Refresh,
    /// No copy of the path at the POP (or its shared tier).
    Cold,
    /// Its own copy had outlived the lifetime.
    Expired {
        /// Age of the copy, in seconds.
        age: u64,
    },
    /// Another key's copy of the path was fresh; the request at this index fetched it.
    Fragmented {
        /// Index (in the inferred order) of the request that fetched the fresh copy.
        against: usize,
    },
    /// Its own copy was still fresh.
    Premature {
        /// Age of the copy, in seconds.
        age: u64,
        /// Index (in the inferred order) of the request that fetched the copy.
        against: usize,
    },
    /// Many paths lost their copies at one moment, young ones too: an invalidation.
    Invalidated,
    /// The section never serves anything from cache.
    NotReused,
}

/// What was inferred about one section.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionModel {
    /// The key parts (with a config: [`dim::CONFIG`], plus [`dim::FAMILY`] when it keys
    /// headers that follow the browser).
    pub dims: Dims,
    /// Nothing is ever served from cache.
    pub never_reused: bool,
    /// Copies fetched through one POP serve the others.
    pub shared: bool,
    /// Typical lifetime in seconds (the median of the paths'); `None` when nothing was seen
    /// served from cache long enough to tell.
    pub lifetime: Option<u64>,
    /// The longest lifetime of its paths.
    pub longest: Option<u64>,
    /// The key has parts logs do not record (see [`KeyKnowledge::Known`]).
    pub hidden: bool,
    /// Requests in the section.
    pub requests: u64,
}

/// The inference over every request.
#[derive(Debug, Clone)]
pub struct Inference {
    /// The requests, sorted by section, path, time and input order.
    pub requests: Vec<Request>,
    /// The class of each request (same order).
    pub classes: Vec<Class>,
    /// Per section.
    pub sections: BTreeMap<u64, SectionModel>,
    /// Moments (Unix seconds) at which many paths missed while still fresh.
    pub invalidations: Vec<u64>,
    /// Per path: the oldest age (seconds) at which it was served from cache, plus one.
    pub lifetimes: FastMap<u64, u64>,
}

/// A section's key: known from the config, or to be inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKnowledge {
    /// Infer it from the results.
    Infer,
    /// The config's key (`Request::key`), plus these parts standing in for keyed headers
    /// that logs do not record.
    Known {
        /// Stand-ins added to the config's key.
        extra: Dims,
        /// The key has parts logs do not record (`Accept`, `Accept-Language`, …): requests
        /// that look alike may have different keys, so ages and premature misses say little.
        hidden: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// The key's copy, fetched at this time by this request, is fresh.
    Fresh(u64, usize),
    /// The key's copy, fetched at this time, has expired.
    Stale(u64),
    NewBeside(usize),
    New,
}

/// Seconds a copy of `path` lives, for the simulation.
struct Lifetimes {
    by_path: FastMap<u64, u64>,
    default: u64,
}

impl Lifetimes {
    fn of(&self, path: u64, config_ttl: u32) -> u64 {
        let seen = self.by_path.get(&path).copied().unwrap_or(self.default);
        seen.min(u64::from(config_ttl))
    }
}

/// A path's own lifetime is trusted from this many hits on; a path seen less takes its
/// section's (a copy refetched after two hits says little about how long copies live).
const LIFETIME_HITS: u32 = 3;

/// The oldest age at which each path was served from cache (against the latest fetch of the
/// same key anywhere), plus one second of log resolution; paths seen served fewer than
/// [`LIFETIME_HITS`] times take the section's median.
fn lifetimes(reqs: &[Request], dims: Dims) -> Lifetimes {
    let mut by_path: FastMap<u64, u64> = FastMap::default();
    let mut hits: FastMap<u64, u32> = FastMap::default();
    let mut fetched: FastMap<u64, u64> = FastMap::default();
    let mut current = None;
    for r in reqs {
        if current != Some(r.path) {
            current = Some(r.path);
            fetched.clear();
        }
        let k = r.key_under(dims);
        match r.logged {
            Logged::Hit => {
                if let Some(&at) = fetched.get(&k) {
                    let age = r.ts.saturating_sub(at) + 1;
                    let e = by_path.entry(r.path).or_insert(0);
                    *e = (*e).max(age);
                    *hits.entry(r.path).or_default() += 1;
                }
            }
            Logged::Refresh | Logged::Miss => {
                fetched.insert(k, r.ts);
            }
        }
    }
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    let trusted: Vec<u64> =
        by_path.iter().filter(|(p, _)| hits.get(*p).copied().unwrap_or(0) >= LIFETIME_HITS).map(|(_, l)| *l).collect();
    let default = match median(trusted) {
        Some(d) => d,
        None => median(by_path.values().copied().collect()).unwrap_or(u64::MAX),
    };
    by_path.retain(|p, _| hits.get(p).copied().unwrap_or(0) >= LIFETIME_HITS);
    Lifetimes { by_path, default }
}

/// Replays a section's requests under a key and lifetimes; returns each request's state and
/// how many logged results the model reproduces.
fn simulate(reqs: &[Request], dims: Dims, life: &Lifetimes, shared: bool) -> (Vec<State>, usize) {
    let mut states = Vec::with_capacity(reqs.len());
    let mut matched = 0usize;
    // (scope, key) → (fetched at, index); per scope the two latest fetches of distinct keys.
    let mut copies: FastMap<(u64, u64), (u64, usize)> = FastMap::default();
    let mut latest: FastMap<u64, [(u64, u64, usize); 2]> = FastMap::default();
    let mut current = None;
    for (i, r) in reqs.iter().enumerate() {
        if current != Some(r.path) {
            current = Some(r.path);
            copies.clear();
            latest.clear();
        }
        let scope = if shared { 0 } else { u64::from(r.pop) + 1 };
        let k = r.key_under(dims);
        let ttl = life.of(r.path, r.config_ttl);
        let state = match copies.get(&(scope, k)) {
            Some(&(at, by)) if r.ts.saturating_sub(at) < ttl => State::Fresh(at, by),
            Some(&(at, _)) => State::Stale(at),
            None => {
                let other = latest.get(&scope).and_then(|l| {
                    l.iter().find(|(key, at, _)| *key != k && *at != u64::MAX && r.ts.saturating_sub(*at) < ttl)
                });
                match other {
                    Some(&(_, _, idx)) => State::NewBeside(idx),
                    None => State::New,
                }
            }
        };
        let hit = r.logged != Logged::Miss;
        matched += usize::from(matches!(state, State::Fresh(..)) == hit);
        let fetch = match r.logged {
            Logged::Miss | Logged::Refresh => true,
            // A hit the model did not expect: the copy was there (cached before the log
            // starts, or refreshed elsewhere): take it as fetched now.
            Logged::Hit => !matches!(state, State::Fresh(..)),
        };
        if fetch {
            copies.insert((scope, k), (r.ts, i));
            let l = latest.entry(scope).or_insert([(0, u64::MAX, 0), (0, u64::MAX, 0)]);
            if l[0].0 == k {
                l[0] = (k, r.ts, i);
            } else {
                l[1] = l[0];
                l[0] = (k, r.ts, i);
            }
        }
        states.push(state);
    }
    (states, matched)
}

/// Whether first requests at a POP find another POP's fresh copy (hits) more often than not.
fn shares_a_tier(reqs: &[Request], dims: Dims, life: &Lifetimes) -> bool {
    let (mut hits, mut misses) = (0u64, 0u64);
    let mut seen: FastMap<(u32, u64), ()> = FastMap::default();
    let mut fetched: FastMap<u64, u64> = FastMap::default();
    let mut current = None;
    for r in reqs {
        if current != Some(r.path) {
            current = Some(r.path);
            seen.clear();
            fetched.clear();
        }
        let k = r.key_under(dims);
        if seen.insert((r.pop, k), ()).is_none()
            && let Some(&at) = fetched.get(&k)
            && r.ts.saturating_sub(at) < life.of(r.path, r.config_ttl)
        {
            if r.logged == Logged::Miss {
                misses += 1;
            } else {
                hits += 1;
            }
        }
        if r.logged != Logged::Hit || !fetched.contains_key(&k) {
            fetched.insert(k, r.ts);
        }
    }
    hits > misses
}

/// Whether requests never get served from cache: (almost) no hits, and some identical request
/// at one POP missed again less than `within` seconds after it first did.
fn never_reused(reqs: &[Request], within: u64) -> bool {
    if reqs.iter().all(|r| r.config_ttl == 0) {
        return true;
    }
    let hits = reqs.iter().filter(|r| r.logged != Logged::Miss).count();
    if hits * 50 > reqs.len() {
        return false;
    }
    let mut seen: FastMap<u64, u64> = FastMap::default();
    reqs.iter()
        .filter(|r| r.logged == Logged::Miss)
        .any(|r| seen.insert(r.identical(), r.ts).is_some_and(|before| r.ts.saturating_sub(before) < within))
}

/// Infers each section's model and classifies every request. `knowledge(section)` says
/// whether the section's key is known.
pub fn infer(requests: Vec<Request>, knowledge: impl Fn(u64) -> KeyKnowledge + Sync) -> Inference {
    infer_with(requests, knowledge, 1)
}

/// One section's share of the work: the offset of its first request, its requests and their classes.
type Job<'a> = (usize, &'a [Request], &'a mut [Class]);

/// Jobs for one thread, numbered in section order.
type Bucket<'a> = Vec<(usize, Job<'a>)>;

/// [`infer`] on `threads` threads: sections are independent until invalidations are looked for,
/// so each thread infers whole sections (the biggest first, each to the least loaded thread).
/// The answer does not depend on the number of threads.
pub fn infer_with(
    mut requests: Vec<Request>,
    knowledge: impl Fn(u64) -> KeyKnowledge + Sync,
    threads: usize,
) -> Inference {
    requests.sort_unstable_by_key(|r| (r.section, r.path, r.ts, r.seq));
    let mut classes = vec![Class::Hit; requests.len()];
    // Each section's requests and classes, in section order.
    let mut jobs: Vec<Job<'_>> = Vec::new();
    {
        let (mut reqs, mut rest): (&[Request], &mut [Class]) = (&requests, &mut classes);
        let mut start = 0;
        while let Some(first) = reqs.first() {
            let section = first.section;
            let n = reqs.iter().position(|r| r.section != section).unwrap_or(reqs.len());
            let (these, later) = reqs.split_at(n);
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(n);
            jobs.push((start, these, mine));
            reqs = later;
            rest = others;
            start += n;
        }
    }
    let threads = threads.clamp(1, jobs.len().max(1));
    let mut buckets: Vec<(usize, Bucket<'_>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    let mut order: Bucket<'_> = jobs.into_iter().enumerate().collect();
    order.sort_by_key(|(i, (_, reqs, _))| (std::cmp::Reverse(reqs.len()), *i));
    for job in order {
        if let Some(b) = buckets.iter_mut().min_by_key(|(load, _)| *load) {
            b.0 += job.1.1.len();
            b.1.push(job);
        }
    }
    let knowledge = &knowledge;
    let run = |bucket: Bucket<'_>| {
        bucket
            .into_iter()
            .map(|(i, (offset, reqs, classes))| {
                let section = reqs.first().map_or(0, |r| r.section);
                let (model, life) = infer_section(reqs, knowledge(section), classes, offset);
                (i, section, model, life)
            })
            .collect::<Vec<_>>()
    };
    let mut done: Vec<(usize, u64, SectionModel, FastMap<u64, u64>)> = if threads == 1 {
        buckets.into_iter().flat_map(|(_, b)| run(b)).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = buckets.into_iter().map(|(_, b)| scope.spawn(move || run(b))).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    done.sort_by_key(|(i, ..)| *i);
    let mut sections = BTreeMap::new();
    let mut all_lifetimes = FastMap::default();
    for (_, section, model, life) in done {
        sections.insert(section, model);
        all_lifetimes.extend(life);
    }
    let invalidations = find_invalidations(&requests, &mut classes, &sections);
    Inference { requests, classes, sections, invalidations, lifetimes: all_lifetimes }
}

fn infer_section(
    reqs: &[Request],
    knowledge: KeyKnowledge,
    classes: &mut [Class],
    offset: usize,
) -> (SectionModel, FastMap<u64, u64>) {
    let logged_class = |r: &Request| match r.logged {
        Logged::Hit => Class::Hit,
        Logged::Refresh => Class::Refresh,
        Logged::Miss => Class::NotReused,
    };
    if never_reused(reqs, u64::MAX) {
        for (c, r) in classes.iter_mut().zip(reqs) {
            *c = logged_class(r);
        }
        let (dims, hidden) = match knowledge {
            KeyKnowledge::Known { extra, hidden } => (dim::CONFIG | extra, hidden),
            KeyKnowledge::Infer => (0, false),
        };
        let model = SectionModel {
            dims,
            never_reused: true,
            shared: false,
            lifetime: None,
            longest: None,
            hidden,
            requests: reqs.len() as u64,
        };
        return (model, FastMap::default());
    }
    let n = reqs.len();
    let margin = (n / 100).max(3);
    let (mut dims, fixed, hidden) = match knowledge {
        KeyKnowledge::Known { extra, hidden } => (dim::CONFIG | extra, true, hidden),
        KeyKnowledge::Infer => (0, false, false),
    };
    // With hidden key parts, a hit's age against the latest look-alike fetch says nothing:
    // copies live as long as the config keeps them.
    let mut life =
        if hidden { Lifetimes { by_path: FastMap::default(), default: u64::MAX } } else { lifetimes(reqs, dims) };
    let mut shared = shares_a_tier(reqs, dims, &life);
    if !fixed {
        let (_, mut best) = simulate(reqs, dims, &life, shared);
        for _ in 0..2 {
            let mut choice: Option<(Dims, usize)> = None;
            for d in dim::CANDIDATES {
                if dims & d != 0 || !varies(reqs, d) {
                    continue;
                }
                // `User-Agent` determines the browser family: keying it makes the family redundant.
                let trial = if d == dim::AGENT { (dims | d) & !dim::FAMILY } else { dims | d };
                if d == dim::FAMILY && dims & dim::AGENT != 0 {
                    continue;
                }
                let trial_life = lifetimes(reqs, trial);
                let (_, score) = simulate(reqs, trial, &trial_life, shared);
                if score >= best + margin && choice.is_none_or(|(_, s)| score > s) {
                    choice = Some((trial, score));
                }
            }
            match choice {
                Some((trial, score)) => {
                    dims = trial;
                    best = score;
                    life = lifetimes(reqs, dims);
                    shared = shares_a_tier(reqs, dims, &life);
                }
                None => break,
            }
        }
    }
    let (states, _) = simulate(reqs, dims, &life, shared);
    for ((c, r), s) in classes.iter_mut().zip(reqs).zip(states) {
        *c = match (r.logged, s) {
            (Logged::Hit, _) => Class::Hit,
            (Logged::Refresh, _) => Class::Refresh,
            (Logged::Miss, State::Fresh(at, by)) => {
                Class::Premature { age: r.ts.saturating_sub(at), against: offset + by }
            }
            (Logged::Miss, State::Stale(at)) => Class::Expired { age: r.ts.saturating_sub(at) },
            (Logged::Miss, State::NewBeside(idx)) => Class::Fragmented { against: offset + idx },
            (Logged::Miss, State::New) => Class::Cold,
        };
    }
    // A path never served from cache, not even to an identical request, in a section that
    // otherwise caches (an origin sending no-store for some paths only).
    let mut start = 0;
    while start < reqs.len() {
        let path = reqs[start].path;
        let end = reqs[start..].iter().position(|r| r.path != path).map_or(reqs.len(), |i| start + i);
        if never_reused(&reqs[start..end], life.default) {
            for c in &mut classes[start..end] {
                if !matches!(c, Class::Hit | Class::Refresh) {
                    *c = Class::NotReused;
                }
            }
        }
        start = end;
    }
    let mut paths: Vec<u64> = life.by_path.values().copied().collect();
    paths.sort_unstable();
    let lifetime = paths.get(paths.len() / 2).copied();
    let longest = paths.last().copied();
    (SectionModel { dims, never_reused: false, shared, lifetime, longest, hidden, requests: n as u64 }, life.by_path)
}

/// Whether part `d` takes more than one value in the section.
fn varies(reqs: &[Request], d: Dims) -> bool {
    let mut first = None;
    for r in reqs {
        let v = r.key_under(d);
        match first {
            None => first = Some(v),
            Some(f) if f != v => return true,
            _ => {}
        }
    }
    false
}

/// How many candidate moments are examined, strongest first.
const MOMENTS_EXAMINED: usize = 2_000;

/// Refetches of at least this many objects at one moment, young copies among them, are an
/// invalidation.
pub const INVALIDATION_PATHS: usize = 3;

/// Finds moments at which many objects lost their copies at once, young ones included (an
/// invalidation empties every cache: each object's next request misses, however recently it
/// was fetched; an expiry takes copies one by one at their lifetime), and reclassifies those
/// misses as [`Class::Invalidated`]. A moment counts when at least [`INVALIDATION_PATHS`]
/// objects lost their copy across it, and at least four in five of the objects requested
/// across it lost theirs, and either two of them were younger than their section's copies
/// live, or none of them lost a copy at any other time (copies fetched together, as after a
/// cold start, are all as old at the invalidation; an expiry would take them again one
/// lifetime later, an invalidation does not recur).
fn find_invalidations(reqs: &[Request], classes: &mut [Class], sections: &BTreeMap<u64, SectionModel>) -> Vec<u64> {
    /// An object's copy between two requests at one POP: `(from, to]`.
    struct Span {
        from: u64,
        to: u64,
        index: usize,
    }
    let mut lost: Vec<Span> = Vec::new();
    let mut young: Vec<(u64, u64)> = Vec::new();
    let mut losses: FastMap<(u64, u32), u32> = FastMap::default();
    let mut owner: Vec<(u64, u32)> = Vec::new();
    let mut kept: Vec<(u64, u64)> = Vec::new();
    let mut previous: FastMap<(u64, u32), u64> = FastMap::default();
    for (i, r) in reqs.iter().enumerate() {
        let model = sections.get(&r.section);
        // POPs that share a tier lose and refill copies together: one history for all of them.
        let scope = if model.is_some_and(|m| m.shared) { u32::MAX } else { r.pop };
        let prev = previous.insert((r.path, scope), r.ts);
        let Some(from) = prev else { continue };
        if model.is_some_and(|m| m.hidden) {
            continue;
        }
        match classes[i] {
            Class::Premature { age, .. } | Class::Expired { age } => {
                lost.push(Span { from, to: r.ts, index: i });
                *losses.entry((r.path, scope)).or_default() += 1;
                owner.push((r.path, scope));
                let longest = sections.get(&r.section).and_then(|m| m.longest).unwrap_or(u64::MAX);
                if age.saturating_mul(5) < longest.saturating_mul(4) {
                    young.push((from, r.ts));
                }
            }
            // A copy kept across a moment was requested before it and hit after it: the two
            // requests are at least a second apart.
            Class::Hit | Class::Refresh if r.ts > from + 1 => kept.push((from, r.ts)),
            _ => {}
        }
    }
    // How many spans of a sorted (starts, ends) pair cover `t`, that is from < t <= to.
    fn sorted(spans: impl Iterator<Item = (u64, u64)>) -> (Vec<u64>, Vec<u64>) {
        let (mut starts, mut ends): (Vec<u64>, Vec<u64>) = spans.unzip();
        starts.sort_unstable();
        ends.sort_unstable();
        (starts, ends)
    }
    // Copies lost around second `t`: the last request before may be in `t` itself, so
    // `from <= t <= to`.
    fn losing(s: &(Vec<u64>, Vec<u64>), t: u64) -> usize {
        s.0.partition_point(|&x| x <= t).saturating_sub(s.1.partition_point(|&x| x < t))
    }
    // Copies that surely outlived second `t`: requested before it and hit after it.
    fn keeping(s: &(Vec<u64>, Vec<u64>), t: u64) -> usize {
        s.0.partition_point(|&x| x < t).saturating_sub(s.1.partition_point(|&x| x <= t))
    }
    let lost_index = sorted(lost.iter().map(|s| (s.from, s.to)));
    let young_index = sorted(young.into_iter());
    let kept_index = sorted(kept.into_iter());
    let mut candidates: Vec<(usize, u64)> = lost
        .iter()
        .flat_map(|s| [s.from, s.to])
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .filter_map(|t| {
            let l = losing(&lost_index, t);
            let ok = l >= INVALIDATION_PATHS && l * 5 >= (l + keeping(&kept_index, t)) * 4;
            ok.then_some((l, t))
        })
        .collect();
    // Biggest first; each miss belongs to at most one invalidation.
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut moments = Vec::new();
    let mut taken = vec![false; lost.len()];
    // Each candidate costs a pass over the lost copies: the strongest ones are enough (an
    // invalidation covers many objects, so it ranks first).
    for (_, t) in candidates.into_iter().take(MOMENTS_EXAMINED) {
        let covered: Vec<usize> =
            (0..lost.len()).filter(|&j| !taken[j] && lost[j].from <= t && t <= lost[j].to).collect();
        if covered.len() < INVALIDATION_PATHS {
            continue;
        }
        let isolated = covered.iter().all(|&j| losses.get(&owner[j]).copied() == Some(1));
        if losing(&young_index, t) < 2 && !isolated {
            continue;
        }
        // Reported as the first miss it caused.
        moments.push(covered.iter().map(|&j| lost[j].to).min().unwrap_or(t));
        for j in covered {
            taken[j] = true;
            classes[lost[j].index] = Class::Invalidated;
        }
    }
    moments.sort_unstable();
    moments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: u64, ts: u64, logged: Logged, query: u64, agent: u64) -> Request {
        Request {
            section: 1,
            path,
            pop: 0,
            ts,
            seq: ts,
            logged,
            query,
            cookie: 0,
            agent,
            family: 1,
            key: 0,
            size: 1000,
            config_ttl: u32::MAX,
        }
    }

    #[test]
    fn what_is_kept_per_request_and_per_agent_is_bounded() {
        // docs/compat/doctor.md (Memory): the inference keeps one record and one class per
        // cacheable request, and nothing else per request.
        assert!(size_of::<Request>() + size_of::<Class>() <= 104, "{}", size_of::<Request>() + size_of::<Class>());
        // Agents are remembered once each, however often they are seen, and at most MOST of them.
        let mut agents = Agents::default();
        let mut buf = String::new();
        for _ in 0..1000 {
            assert_eq!(agents.of("Mozilla/5.0%20Firefox/128.0", &mut buf).1, 2);
            assert_eq!(agents.of("-", &mut buf), (0, 0));
        }
        assert_eq!(agents.seen.len(), 2);
        for i in 0..Agents::MOST + 10 {
            agents.of(&format!("agent-{i}"), &mut buf);
            assert!(agents.seen.len() <= Agents::MOST);
        }
    }

    #[test]
    fn a_keyed_user_agent_is_found_and_query_strings_are_not_blamed() {
        // Six agents, query strings that change but are not keyed (a new one hits).
        let mut reqs = Vec::new();
        let mut t = 0;
        for round in 0..10u64 {
            for agent in 1..=6u64 {
                let logged = if round == 0 { Logged::Miss } else { Logged::Hit };
                reqs.push(req(1, t, logged, round * 10 + agent, agent));
                t += 1;
            }
        }
        let inf = infer(reqs, |_| KeyKnowledge::Infer);
        assert_eq!(inf.sections[&1].dims, dim::AGENT);
        let fragmented = inf.classes.iter().filter(|c| matches!(c, Class::Fragmented { .. })).count();
        assert_eq!((fragmented, inf.classes.iter().filter(|c| **c == Class::Cold).count()), (5, 1));
    }

    #[test]
    fn a_short_lifetime_makes_refetches_expiries() {
        let reqs: Vec<Request> =
            (0..60).map(|t| req(1, t, if t % 5 == 0 { Logged::Miss } else { Logged::Hit }, 0, 1)).collect();
        let inf = infer(reqs, |_| KeyKnowledge::Infer);
        assert_eq!(inf.sections[&1].lifetime, Some(5));
        assert_eq!(inf.classes.iter().filter(|c| matches!(c, Class::Expired { .. })).count(), 11);
        assert!(inf.invalidations.is_empty(), "expiries one by one are not an invalidation");
    }

    #[test]
    fn identical_requests_that_always_miss_are_never_reused() {
        let reqs: Vec<Request> = (0..20).map(|t| req(1 + t % 2, t, Logged::Miss, 0, 1)).collect();
        let inf = infer(reqs, |_| KeyKnowledge::Infer);
        assert!(inf.sections[&1].never_reused);
        assert!(inf.classes.iter().all(|c| *c == Class::NotReused));
        // A new query string every time is not "never reused": it is the key changing.
        let reqs: Vec<Request> = (0..20).map(|t| req(1, t, Logged::Miss, 100 + t, 1)).collect();
        let inf = infer(reqs, |_| KeyKnowledge::Infer);
        assert!(!inf.sections[&1].never_reused);
        assert_eq!(inf.sections[&1].dims, dim::QUERY);
    }

    #[test]
    fn many_paths_missing_at_one_moment_is_an_invalidation() {
        // Five paths first fetched at different times, all refetched at 30 (however young).
        let mut reqs = Vec::new();
        for path in 1..=5u64 {
            for t in (path * 4)..60u64 {
                let logged = if t == path * 4 || t == 30 { Logged::Miss } else { Logged::Hit };
                reqs.push(req(path, t, logged, 0, 1));
            }
        }
        let inf = infer(reqs, |_| KeyKnowledge::Infer);
        assert_eq!(inf.invalidations, vec![30]);
        assert_eq!(inf.classes.iter().filter(|c| **c == Class::Invalidated).count(), 5);
    }
}
