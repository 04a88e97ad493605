//! Log analysis: the hit ratio by CacheHitRate's definition and why each miss happened.
//!
//! Counting follows `cachalot_telemetry::outcome` (the definition the edge's metrics use):
//! a cacheable request is a GET/HEAD/OPTIONS whose result is Hit, RefreshHit or Miss with a
//! status below 400; a hit is Hit, RefreshHit or an Origin Shield hit.
//!
//! Every cacheable miss is classified by looking at the requests before it for the same
//! path at the same POP (requests are sorted by time first):
//! - **cold**: the first request for the path at that POP;
//! - **expiry**: the same variant (query string and cookies, or the cache key with
//!   `--config`) was fetched there before — it expired (RefreshHits are counted apart);
//! - **fragmentation**: the path was fetched there before under another variant that was
//!   still fresh (within the behavior's DefaultTTL with `--config`, else one day): the query
//!   string, the cookies or (with `--config`) a keyed header split the object. A dimension
//!   that a hit on a never-fetched variant shows is *not* keyed is not blamed;
//! - **evicted**: (with `--config`) refetched within its TTL with an identical key: evicted
//!   or invalidated; when the behavior keys headers that logs do not record (`Accept`), such
//!   misses are header fragmentation instead;
//! - **uncacheable**: (with `--config`) the behavior does not store the response.
//!
//! Errors and non-cacheable requests are counted apart. The classes map to the causes.

use crate::cause::Cause;
use crate::logs::{self, BadLine, LineSink, LogInput, LogInputError, ReadStats};
use crate::replay::{ConfigModel, KeyScratch, RequestView, hash64};
use cachalot_policy::parse::{cookie_pairs, query_pairs};
use cachalot_telemetry::outcome;
use cachalot_telemetry::parse::{LineError, LogLine};
use cachalot_telemetry::{Field, ResultType};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// A cause is named when it explains at least this share of misses.
pub const MATERIAL_SHARE: f64 = 0.05;
/// Without `--config`, a variant fetched this recently is taken as still cached.
pub const DEFAULT_HORIZON_SECS: u64 = 86_400;
/// Distinct values kept per parameter per path.
const VALUE_CAP: usize = 4096;

/// Requests, cacheable requests and hits of one slice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All requests.
    pub requests: u64,
    /// Cacheable requests (CacheHitRate's denominator).
    pub cacheable: u64,
    /// Hits (numerator).
    pub hits: u64,
}

impl Counts {
    fn add(&mut self, cacheable: bool, hit: bool) {
        self.requests += 1;
        self.cacheable += u64::from(cacheable);
        self.hits += u64::from(hit);
    }
    fn merge(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.cacheable += o.cacheable;
        self.hits += o.hits;
    }
    /// Hit ratio in percent; `None` when nothing is cacheable (no data, not 0 %).
    pub fn hit_ratio(&self) -> Option<f64> {
        (self.cacheable > 0).then(|| 100.0 * self.hits as f64 / self.cacheable as f64)
    }
}

#[derive(Debug, Clone, Copy)]
struct Event {
    path: u64,
    pop: u64,
    ts: u64,
    seq: u64,
    variant: u64,
    query: u32,
    cookie: u32,
    ttl: u32,
    keyed_headers: u8,
    /// 0 hit, 1 refresh hit, 2 miss.
    result: u8,
    with_config: bool,
}

#[derive(Default)]
struct ParamValues {
    values: HashMap<(u8, String), HashSet<u64>>,
}

struct Sink<'a> {
    config: Option<&'a ConfigModel>,
    scratch: KeyScratch,
    total: Counts,
    refresh_hits: u64,
    misses: u64,
    errors: u64,
    /// Lines whose file has no `x-edge-result-type` column.
    without_result_type: u64,
    not_cacheable: NotCacheable,
    by_result: HashMap<String, Counts>,
    by_pop: HashMap<String, Counts>,
    by_type: HashMap<String, Counts>,
    by_status: HashMap<String, Counts>,
    by_prefix: HashMap<String, Counts>,
    uris: HashMap<String, (u64, u64, String)>,
    params: HashMap<u64, ParamValues>,
    timeline: BTreeMap<u64, Counts>,
    events: Vec<Event>,
    seq: u64,
}

fn bump<K: std::hash::Hash + Eq + ?Sized + ToOwned<Owned = O>, O: std::hash::Hash + Eq + std::borrow::Borrow<K>>(
    map: &mut HashMap<O, Counts>,
    key: &K,
    cacheable: bool,
    hit: bool,
) {
    if let Some(c) = map.get_mut(key) {
        c.add(cacheable, hit);
    } else {
        let mut c = Counts::default();
        c.add(cacheable, hit);
        map.insert(key.to_owned(), c);
    }
}

/// `sc-status` as shown: the number, `000` (no response sent) or `-`.
fn status_label(raw: &str) -> &str {
    match raw.trim_start_matches('0') {
        "" if !raw.is_empty() => "000",
        _ => raw,
    }
}

fn prefix_of(path: &str) -> &str {
    match path.get(1..).and_then(|p| p.find('/')) {
        Some(i) => &path[..i + 2],
        None => "/",
    }
}

impl LineSink for Sink<'_> {
    fn begin_block(&mut self, seq: u64) {
        self.seq = seq << 32;
    }

    fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError> {
        let ts = line.timestamp()?;
        let status = line.status()?;
        let secs = ts.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let method = line.raw(Field::Method);
        let result = line.result_type(Field::EdgeResultType);
        let detailed = line.result_type(Field::EdgeDetailedResultType);
        let cacheable = outcome::is_cacheable_request(method, status, &result);
        let hit = cacheable && outcome::is_cache_hit(&result, &detailed);
        self.total.add(cacheable, hit);
        if status.is_some_and(|s| s >= 400) || result == ResultType::Error {
            self.errors += 1;
        }
        if !line.has(Field::EdgeResultType) {
            self.without_result_type += 1;
        }
        if !cacheable {
            self.not_cacheable.count(method, &result);
        }
        bump(&mut self.by_result, result.as_str(), cacheable, hit);
        let pop = line.raw(Field::EdgeLocation);
        bump(&mut self.by_pop, pop, cacheable, hit);
        let ctype_raw = line.raw(Field::ContentType);
        let ctype = ctype_raw.split(';').next().unwrap_or(ctype_raw).trim();
        bump(&mut self.by_type, ctype, cacheable, hit);
        bump(&mut self.by_status, status_label(line.raw(Field::Status)), cacheable, hit);
        let path = line.text(Field::UriStem);
        bump(&mut self.by_prefix, prefix_of(&path), cacheable, hit);
        self.timeline.entry(secs / 60 * 60).or_default().add(cacheable, hit);
        if !cacheable {
            return Ok(());
        }
        let code = match (&result, hit) {
            (ResultType::RefreshHit, _) => {
                self.refresh_hits += 1;
                1
            }
            (_, true) => 0,
            _ => {
                self.misses += 1;
                2
            }
        };
        let query = line.text(Field::UriQuery);
        let cookie = line.text(Field::Cookie);
        if code == 2 {
            match self.uris.get_mut(path.as_ref()) {
                Some(u) => u.0 += 1,
                None => {
                    self.uris.insert(path.to_string(), (1, 0, ctype.to_owned()));
                }
            }
            if !query.is_empty() || !cookie.is_empty() {
                let p = self.params.entry(hash64(path.as_bytes())).or_default();
                for (_, name, value) in query_pairs(&query) {
                    let set = p.values.entry((0, name.to_owned())).or_default();
                    if set.len() < VALUE_CAP {
                        set.insert(hash64(value.as_bytes()));
                    }
                }
                for (name, value) in cookie_pairs(&cookie) {
                    let set = p.values.entry((1, name.to_owned())).or_default();
                    if set.len() < VALUE_CAP {
                        set.insert(hash64(value.as_bytes()));
                    }
                }
            }
        }
        let qh = hash64(query.as_bytes());
        let ch = hash64(cookie.as_bytes());
        let (variant, ttl, keyed_headers) = match self.config {
            Some(cfg) => {
                let host = line.text(Field::Host);
                let host_header = line.text(Field::HostHeader);
                let ua = line.text(Field::UserAgent);
                let referer = line.text(Field::Referer);
                let view = RequestView {
                    method,
                    host: &host,
                    host_header: &host_header,
                    path: &path,
                    query: &query,
                    cookie: &cookie,
                    user_agent: &ua,
                    referer: &referer,
                    accept: "",
                    status: status.unwrap_or(200),
                };
                let d = cfg.decide(&view, pop, secs, &mut self.scratch);
                (d.key, d.ttl, d.keyed_headers)
            }
            None => (qh ^ ch.rotate_left(17), DEFAULT_HORIZON_SECS as u32, 0),
        };
        self.seq += 1;
        self.events.push(Event {
            path: hash64(path.as_bytes()),
            pop: hash64(pop.as_bytes()),
            ts: secs,
            seq: self.seq,
            variant,
            query: qh as u32,
            cookie: ch as u32,
            ttl,
            keyed_headers,
            result: code,
            with_config: self.config.is_some(),
        });
        Ok(())
    }
}

/// One slice of the hit ratio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slice {
    /// The POP, content type, status or path prefix.
    pub key: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Hit ratio in percent; `null` when nothing in the slice is cacheable.
    pub hit_ratio: Option<f64>,
}

/// Why requests were not cacheable (CacheHitRate's definition), each counted once, in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NotCacheable {
    /// All requests that are not cacheable.
    pub total: u64,
    /// The method is not GET, HEAD or OPTIONS.
    pub method: u64,
    /// `x-edge-result-type` is not Hit, RefreshHit or Miss (Error, Redirect, function- or
    /// Lambda-generated responses, …; absent when the logs have no such column).
    pub result_type: u64,
    /// A cacheable result with a status of 400 or more, or `000`.
    pub status: u64,
}

impl NotCacheable {
    fn count(&mut self, method: &str, result: &ResultType) {
        self.total += 1;
        if !outcome::is_download_method(method) {
            self.method += 1;
        } else if !matches!(result, ResultType::Hit | ResultType::RefreshHit | ResultType::Miss) {
            self.result_type += 1;
        } else {
            self.status += 1;
        }
    }

    fn merge(&mut self, o: &NotCacheable) {
        self.total += o.total;
        self.method += o.method;
        self.result_type += o.result_type;
        self.status += o.status;
    }
}

/// A URI ranked by misses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UriMisses {
    /// `cs-uri-stem`.
    pub uri: String,
    /// Cacheable misses.
    pub misses: u64,
    /// Cacheable requests.
    pub requests: u64,
    /// `sc-content-type`.
    pub content_type: String,
}

/// How many misses fall in each class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MissClasses {
    /// First request for the path at the POP.
    pub cold: u64,
    /// The same variant expired.
    pub expiry: u64,
    /// Revalidations (RefreshHit; hits, counted apart).
    pub refresh_hits: u64,
    /// Split by the query string.
    pub fragmentation_query: u64,
    /// Split by cookies.
    pub fragmentation_cookie: u64,
    /// Split by a keyed `Accept`-family header (with `--config`).
    pub fragmentation_header: u64,
    /// Split by another keyed header, such as `User-Agent` or `Authorization` (with `--config`).
    pub fragmentation_other_header: u64,
    /// Refetched within the TTL with the same key (with `--config`).
    pub evicted: u64,
    /// Not stored by the behavior (with `--config`).
    pub uncacheable: u64,
}

impl MissClasses {
    /// Counts a miss split by a keyed header: `kind` 1 is the Accept family, 2 any other header.
    fn count_header_split(&mut self, kind: u8) {
        if kind == 1 {
            self.fragmentation_header += 1;
        } else {
            self.fragmentation_other_header += 1;
        }
    }
}

/// A parameter that varies among a path's misses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaryingParameter {
    /// Name.
    pub name: String,
    /// `query` or `cookie`.
    pub kind: &'static str,
    /// Distinct values among the path's misses.
    pub variants: u64,
}

/// A path whose misses spread over many variants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fragmented {
    /// The path.
    pub path: String,
    /// Fragmentation misses of the path.
    pub misses: u64,
    /// Parameters that vary, most variants first.
    pub parameters: Vec<VaryingParameter>,
}

/// A cause the misses point to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The cause.
    pub cause: Cause,
    /// False for cold POPs.
    pub fault: bool,
    /// Misses it explains.
    pub misses: u64,
    /// Share of all misses, 0–1.
    pub share: f64,
    /// What was seen.
    pub message: String,
    /// The fix.
    pub fix: String,
}

/// A point of the hit-ratio timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Unix seconds at the start of the bucket.
    pub start: u64,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// JSON output version.
    pub version: u32,
    /// Files read.
    pub files: u64,
    /// Data lines read.
    pub lines: u64,
    /// Malformed lines skipped.
    pub bad_lines: u64,
    /// The first malformed lines, located.
    pub first_bad: Vec<BadLineOut>,
    /// Files cut short by a read or gzip error.
    pub truncated: Vec<BadLineOut>,
    /// Lines with fewer fields than their header, used because every field read was there.
    pub short_lines: u64,
    /// The first of them, located, saying which fields it lacks.
    pub first_short: Option<BadLineOut>,
    /// Totals.
    #[serde(flatten)]
    pub total: Counts,
    /// Overall hit ratio in percent (CacheHitRate); `null` when there is nothing to count.
    pub hit_ratio: Option<f64>,
    /// Why there is no hit ratio, when there is none.
    pub no_data: Option<String>,
    /// Hits over all requests, in percent (`null` for no request): what a naive count gives.
    pub hits_over_all_requests: Option<f64>,
    /// Requests per `x-edge-result-type` (most first).
    pub by_result_type: Vec<Slice>,
    /// Requests that are not cacheable, by reason.
    pub not_cacheable: NotCacheable,
    /// RefreshHits among the hits.
    pub refresh_hits: u64,
    /// Cacheable misses.
    pub misses: u64,
    /// Error responses (4xx/5xx or result Error).
    pub errors: u64,
    /// Per POP.
    pub by_pop: Vec<Slice>,
    /// Per content type.
    pub by_content_type: Vec<Slice>,
    /// Per status.
    pub by_status: Vec<Slice>,
    /// Per first path segment.
    pub by_prefix: Vec<Slice>,
    /// URIs with the most misses.
    pub top_misses: Vec<UriMisses>,
    /// Why the misses happened.
    pub miss_classes: MissClasses,
    /// The most fragmented paths.
    pub fragmentation: Vec<Fragmented>,
    /// Causes, biggest first.
    pub diagnosis: Vec<Diagnosis>,
    /// Hit ratio over time.
    pub timeline: Vec<Point>,
    /// The config used to key requests, when given.
    pub config: Option<String>,
    /// What was assumed.
    pub notes: Vec<String>,
}

/// A located bad line in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLineOut {
    /// File.
    pub file: String,
    /// Line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl From<&BadLine> for BadLineOut {
    fn from(b: &BadLine) -> Self {
        BadLineOut { file: b.file.clone(), line: b.line, message: b.message.clone() }
    }
}

/// Options of an analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows in the top lists.
    pub top: usize,
    /// Worker threads.
    pub threads: usize,
}

fn slices<K: ToString>(map: HashMap<K, Counts>, top: usize) -> Vec<Slice> {
    let mut v: Vec<Slice> =
        map.into_iter().map(|(k, c)| Slice { key: k.to_string(), hit_ratio: c.hit_ratio(), counts: c }).collect();
    v.sort_by(|a, b| b.counts.requests.cmp(&a.counts.requests).then_with(|| a.key.cmp(&b.key)));
    v.truncate(top);
    v
}

/// Why a report has no hit ratio (`None` when it has one).
fn no_data_reason(total: &Counts, read: &ReadStats, without_result_type: u64, not: &NotCacheable) -> Option<String> {
    if total.cacheable > 0 {
        return None;
    }
    Some(if read.lines == 0 && read.bad_lines == 0 {
        "the input holds no log line".to_owned()
    } else if read.lines == 0 {
        format!("none of the {} line(s) could be read (see the malformed lines)", read.bad_lines)
    } else if without_result_type == read.lines {
        "the logs have no x-edge-result-type column (the 12-field layout of CloudFront's first logs, or an export \
         without it), so hits cannot be told from misses"
            .to_owned()
    } else {
        format!(
            "none of the {} request(s) is cacheable: CacheHitRate counts GET, HEAD and OPTIONS requests answered Hit, \
             RefreshHit or Miss with a status below 400 ({} other method, {} other result type, {} error status)",
            total.requests, not.method, not.result_type, not.status
        )
    })
}

#[derive(Default)]
struct GroupVariant {
    fetched: Option<u64>,
    query: u32,
    cookie: u32,
}

/// How long each path was seen to stay cached: the oldest age (seconds since the same
/// variant was fetched, at any POP) at which it was still served as a hit; `None` for a path
/// never served from cache. `events` are sorted by path, then time.
///
/// Standard logs carry no `Cache-Control`, so this is what tells an origin's short `max-age`
/// (or `no-store`) apart from an eviction when the config's TTL is longer.
fn observed_lifetimes(events: &[Event]) -> HashMap<u64, Option<u64>> {
    let mut out: HashMap<u64, Option<u64>> = HashMap::new();
    let mut fetched: HashMap<u64, u64> = HashMap::new();
    let mut current = None;
    for e in events {
        if current != Some(e.path) {
            current = Some(e.path);
            fetched.clear();
        }
        let alive = out.entry(e.path).or_insert(None);
        match e.result {
            0 => {
                if let Some(&at) = fetched.get(&e.variant) {
                    let age = e.ts.saturating_sub(at);
                    *alive = Some(alive.map_or(age, |a| a.max(age)));
                }
            }
            _ => {
                fetched.insert(e.variant, e.ts);
            }
        }
    }
    out
}

/// Classifies the misses of one (path, POP) group, in time order. `lifetime` is the path's
/// [`observed_lifetimes`] entry.
fn classify(group: &[Event], lifetime: Option<u64>, classes: &mut MissClasses, frag_by_path: &mut HashMap<u64, u64>) {
    // A hit on a variant never fetched at this POP shows the dimensions it differs in are not keyed.
    let mut seen: HashMap<u64, (u32, u32)> = HashMap::new();
    let (mut query_keyed, mut cookie_keyed) = (true, true);
    for e in group {
        if e.result == 0 && !seen.contains_key(&e.variant) && !seen.is_empty() {
            if seen.values().all(|(q, _)| *q != e.query) {
                query_keyed = false;
            }
            if seen.values().all(|(_, c)| *c != e.cookie) {
                cookie_keyed = false;
            }
        }
        seen.insert(e.variant, (e.query, e.cookie));
    }
    let mut variants: HashMap<u64, GroupVariant> = HashMap::new();
    let mut first = true;
    for e in group {
        let known = variants.contains_key(&e.variant);
        if e.result != 2 {
            let v =
                variants.entry(e.variant).or_insert(GroupVariant { fetched: None, query: e.query, cookie: e.cookie });
            if e.result == 1 {
                v.fetched = Some(e.ts);
            } else if v.fetched.is_none() {
                // Warm before the log starts: count it as fetched now.
                v.fetched = Some(e.ts);
            }
            first = false;
            continue;
        }
        let horizon = u64::from(e.ttl);
        if e.with_config && e.ttl == 0 {
            classes.uncacheable += 1;
        } else if first {
            classes.cold += 1;
        } else if known {
            let fetched = variants.get(&e.variant).and_then(|v| v.fetched).unwrap_or(0);
            let interval = e.ts.saturating_sub(fetched);
            if e.with_config && interval < horizon {
                // Refetched within the config's TTL: the origin's Cache-Control may keep it for less.
                match lifetime {
                    // Never served from cache at all: the origin forbids keeping it.
                    None if e.keyed_headers == 0 => classes.uncacheable += 1,
                    // Refetched once it was older than it was ever seen cached: it expired.
                    Some(alive) if interval + 1 >= alive && e.keyed_headers == 0 => classes.expiry += 1,
                    _ if e.keyed_headers > 0 => {
                        classes.count_header_split(e.keyed_headers);
                        *frag_by_path.entry(e.path).or_default() += 1;
                    }
                    _ => classes.evicted += 1,
                }
            } else {
                classes.expiry += 1;
            }
        } else {
            // A new variant: was another one still fresh here?
            let fresh = variants
                .values()
                .filter(|v| v.fetched.is_some_and(|f| e.ts.saturating_sub(f) < horizon))
                .max_by_key(|v| v.fetched);
            match fresh {
                Some(other) => {
                    let q = other.query != e.query && query_keyed;
                    let c = other.cookie != e.cookie && cookie_keyed;
                    match (q, c) {
                        (true, false) => classes.fragmentation_query += 1,
                        (false, true) => classes.fragmentation_cookie += 1,
                        (true, true) => {
                            // Both differ: blame the query string for odd misses, cookies for even ones.
                            if (classes.fragmentation_query + classes.fragmentation_cookie).is_multiple_of(2) {
                                classes.fragmentation_query += 1;
                            } else {
                                classes.fragmentation_cookie += 1;
                            }
                        }
                        (false, false) if e.keyed_headers > 0 => classes.count_header_split(e.keyed_headers),
                        (false, false) => classes.expiry += 1,
                    }
                    if q || c || e.keyed_headers > 0 {
                        *frag_by_path.entry(e.path).or_default() += 1;
                    }
                }
                None => classes.cold += 1,
            }
        }
        first = false;
        let v = variants.entry(e.variant).or_insert(GroupVariant { fetched: None, query: e.query, cookie: e.cookie });
        v.fetched = Some(e.ts);
    }
}

/// Reads the logs and analyses them; `config` keys requests as the edge would.
pub fn analyze(
    inputs: &[LogInput],
    config: Option<&ConfigModel>,
    options: &Options,
    progress: Option<&std::sync::atomic::AtomicU64>,
) -> Result<Report, LogInputError> {
    let (sinks, read) = logs::read(
        inputs,
        options.threads,
        || Sink {
            config,
            scratch: KeyScratch::default(),
            total: Counts::default(),
            refresh_hits: 0,
            misses: 0,
            errors: 0,
            without_result_type: 0,
            not_cacheable: NotCacheable::default(),
            by_result: HashMap::new(),
            by_pop: HashMap::new(),
            by_type: HashMap::new(),
            by_status: HashMap::new(),
            by_prefix: HashMap::new(),
            uris: HashMap::new(),
            params: HashMap::new(),
            timeline: BTreeMap::new(),
            events: Vec::new(),
            seq: 0,
        },
        progress,
    )?;
    Ok(build(sinks, read, config, options))
}

fn merge_counts<K: std::hash::Hash + Eq>(into: &mut HashMap<K, Counts>, from: HashMap<K, Counts>) {
    for (k, c) in from {
        into.entry(k).or_default().merge(&c);
    }
}

fn build(sinks: Vec<Sink<'_>>, read: ReadStats, config: Option<&ConfigModel>, options: &Options) -> Report {
    let mut total = Counts::default();
    let (mut refresh_hits, mut misses, mut errors, mut without_result_type) = (0, 0, 0, 0);
    let mut not_cacheable = NotCacheable::default();
    let mut by_result = HashMap::new();
    let mut by_pop = HashMap::new();
    let mut by_type = HashMap::new();
    let mut by_status = HashMap::new();
    let mut by_prefix = HashMap::new();
    let mut uris: HashMap<String, (u64, u64, String)> = HashMap::new();
    let mut params: HashMap<u64, ParamValues> = HashMap::new();
    let mut timeline: BTreeMap<u64, Counts> = BTreeMap::new();
    let mut events = Vec::new();
    for s in sinks {
        total.merge(&s.total);
        refresh_hits += s.refresh_hits;
        misses += s.misses;
        errors += s.errors;
        without_result_type += s.without_result_type;
        not_cacheable.merge(&s.not_cacheable);
        merge_counts(&mut by_result, s.by_result);
        merge_counts(&mut by_pop, s.by_pop);
        merge_counts(&mut by_type, s.by_type);
        merge_counts(&mut by_status, s.by_status);
        merge_counts(&mut by_prefix, s.by_prefix);
        for (k, (m, r, t)) in s.uris {
            let u = uris.entry(k).or_insert((0, 0, t));
            u.0 += m;
            u.1 += r;
        }
        for (k, p) in s.params {
            let mine = params.entry(k).or_default();
            for (n, vals) in p.values {
                mine.values.entry(n).or_default().extend(vals);
            }
        }
        for (k, c) in s.timeline {
            timeline.entry(k).or_default().merge(&c);
        }
        events.extend(s.events);
    }
    events.sort_unstable_by_key(|e| (e.path, e.ts, e.seq));
    let lifetimes = observed_lifetimes(&events);
    events.sort_unstable_by_key(|e| (e.path, e.pop, e.ts, e.seq));
    let mut classes = MissClasses { refresh_hits, ..MissClasses::default() };
    let mut frag_by_path: HashMap<u64, u64> = HashMap::new();
    let mut start = 0;
    while start < events.len() {
        let (p, q) = (events[start].path, events[start].pop);
        let end = events[start..].iter().position(|e| e.path != p || e.pop != q).map_or(events.len(), |i| start + i);
        classify(&events[start..end], lifetimes.get(&p).copied().flatten(), &mut classes, &mut frag_by_path);
        start = end;
    }
    let names: HashMap<u64, &String> = uris.keys().map(|k| (hash64(k.as_bytes()), k)).collect();
    let mut fragmentation: Vec<Fragmented> = frag_by_path
        .iter()
        .map(|(p, m)| {
            let mut parameters: Vec<VaryingParameter> = params
                .get(p)
                .map(|pv| {
                    pv.values
                        .iter()
                        .filter(|(_, v)| v.len() > 1)
                        .map(|((kind, name), v)| VaryingParameter {
                            name: name.clone(),
                            kind: if *kind == 0 { "query" } else { "cookie" },
                            variants: v.len() as u64,
                        })
                        .collect()
                })
                .unwrap_or_default();
            parameters.sort_by(|a, b| b.variants.cmp(&a.variants).then_with(|| a.name.cmp(&b.name)));
            Fragmented { path: names.get(p).map_or_else(String::new, |s| (*s).clone()), misses: *m, parameters }
        })
        .collect();
    fragmentation.sort_by(|a, b| b.misses.cmp(&a.misses).then_with(|| a.path.cmp(&b.path)));
    fragmentation.truncate(options.top);
    // Every cacheable request is an event: count them per path, whatever thread read them.
    let mut requests_by_path: HashMap<u64, u64> = HashMap::new();
    for e in &events {
        *requests_by_path.entry(e.path).or_default() += 1;
    }
    let mut top_misses: Vec<UriMisses> = uris
        .into_iter()
        .filter(|(_, (m, _, _))| *m > 0)
        .map(|(uri, (m, _, t))| {
            let requests = requests_by_path.get(&hash64(uri.as_bytes())).copied().unwrap_or(m);
            UriMisses { uri, misses: m, requests, content_type: t }
        })
        .collect();
    top_misses.sort_by(|a, b| b.misses.cmp(&a.misses).then_with(|| a.uri.cmp(&b.uri)));
    top_misses.truncate(options.top);
    let diagnosis = diagnose(&classes, misses, &fragmentation, config.is_some());
    // Buckets of at most ~120 points.
    let span = match (timeline.keys().next(), timeline.keys().next_back()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let bucket = [60u64, 300, 900, 3600, 6 * 3600, 86_400].into_iter().find(|b| span / b <= 120).unwrap_or(86_400);
    let mut points: BTreeMap<u64, Counts> = BTreeMap::new();
    for (t, c) in timeline {
        points.entry(t / bucket * bucket).or_default().merge(&c);
    }
    let mut notes = Vec::new();
    match config {
        Some(c) => {
            notes.push(format!(
                "requests keyed with {} through cachalot-policy; TTL horizon = the behavior's DefaultTTL",
                c.label
            ));
            notes.extend(c.notices.iter().cloned());
        }
        None => notes.push(
            "no --config: a request's variant is its query string and cookies; a variant fetched less than a day \
             before counts as still cached; keyed headers and uncacheable behaviors cannot be told apart"
                .to_owned(),
        ),
    }
    Report {
        version: 1,
        files: read.files,
        lines: read.lines,
        bad_lines: read.bad_lines,
        first_bad: read.first_bad.iter().map(BadLineOut::from).collect(),
        truncated: read.truncated.iter().map(BadLineOut::from).collect(),
        short_lines: read.short_lines,
        first_short: read.first_short.as_ref().map(BadLineOut::from),
        hit_ratio: total.hit_ratio(),
        no_data: no_data_reason(&total, &read, without_result_type, &not_cacheable),
        hits_over_all_requests: (total.requests > 0).then(|| 100.0 * total.hits as f64 / total.requests as f64),
        by_result_type: slices(by_result, usize::MAX),
        not_cacheable,
        total,
        refresh_hits,
        misses,
        errors,
        by_pop: slices(by_pop, options.top),
        by_content_type: slices(by_type, options.top),
        by_status: slices(by_status, options.top),
        by_prefix: slices(by_prefix, options.top),
        top_misses,
        miss_classes: classes,
        fragmentation,
        diagnosis,
        timeline: points.into_iter().map(|(start, counts)| Point { start, counts }).collect(),
        config: config.map(|c| c.label.clone()),
        notes,
    }
}

fn diagnose(c: &MissClasses, misses: u64, frag: &[Fragmented], with_config: bool) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let params = |kind: &str| {
        let mut names: Vec<String> = Vec::new();
        for f in frag {
            for p in f.parameters.iter().filter(|p| p.kind == kind) {
                if !names.contains(&p.name) && names.len() < 4 {
                    names.push(p.name.clone());
                }
            }
        }
        names
    };
    let mut push = |cause: Cause, n: u64, message: String| {
        let share = if misses == 0 { 0.0 } else { n as f64 / misses as f64 };
        if n >= 10 && share >= MATERIAL_SHARE {
            out.push(Diagnosis {
                cause,
                fault: cause.is_fault(),
                misses: n,
                share,
                message,
                fix: cause.fix().to_owned(),
            });
        }
    };
    let q = params("query");
    push(
        Cause::QueryStringsInKey,
        c.fragmentation_query,
        format!(
            "{} misses fetched a path again under a different query string while another copy was cached{}",
            c.fragmentation_query,
            if q.is_empty() { String::new() } else { format!(" (varying: {})", q.join(", ")) }
        ),
    );
    let k = params("cookie");
    push(
        Cause::CookiesInKey,
        c.fragmentation_cookie,
        format!(
            "{} misses fetched a path again for a different cookie value{}",
            c.fragmentation_cookie,
            if k.is_empty() { String::new() } else { format!(" (varying: {})", k.join(", ")) }
        ),
    );
    push(
        Cause::AcceptOverKeyed,
        c.fragmentation_header,
        format!(
            "{} misses refetched an object that was still fresh under the same URL: the behavior keys a header \
             (Accept) that splits it",
            c.fragmentation_header
        ),
    );
    push(
        Cause::HeadersInKey,
        c.fragmentation_other_header,
        format!(
            "{} misses refetched an object that was still fresh under the same URL: the behavior keys a header \
             other than Accept (such as User-Agent) that splits it",
            c.fragmentation_other_header
        ),
    );
    push(
        Cause::TtlTooShort,
        c.expiry,
        format!(
            "{} misses refetched an object that had expired ({} more were revalidated as RefreshHit)",
            c.expiry, c.refresh_hits
        ),
    );
    if with_config {
        push(
            Cause::Uncacheable,
            c.uncacheable,
            format!("{} misses on behaviors that do not store the response", c.uncacheable),
        );
    }
    push(Cause::ColdPop, c.cold, format!("{} misses were the first request for the path at a POP", c.cold));
    out.sort_by(|a, b| b.misses.cmp(&a.misses).then_with(|| a.cause.cmp(&b.cause)));
    out
}

/// Plain-text report.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} lines in {} file{}{}",
        r.lines,
        r.files,
        if r.files == 1 { "" } else { "s" },
        if r.bad_lines > 0 { format!(", {} malformed line(s) skipped", r.bad_lines) } else { String::new() }
    );
    for b in &r.first_bad {
        let _ = writeln!(out, "  skipped {}:{}: {}", b.file, b.line, b.message);
    }
    for b in &r.truncated {
        let _ = writeln!(out, "  cut short {}:{}: {}", b.file, b.line, printable(&b.message));
    }
    if let Some(first) = &r.first_short {
        let _ = writeln!(
            out,
            "  {} line(s) had fewer fields than their header and were used; the first, {}:{}: {}",
            r.short_lines, first.file, first.line, first.message
        );
    }
    let _ = writeln!(out);
    match r.hit_ratio {
        Some(ratio) => {
            let _ = writeln!(
                out,
                "Hit ratio {ratio:.1}% ({} hits of {} cacheable requests; {} requests in all, {} errors, {} RefreshHits)",
                r.total.hits, r.total.cacheable, r.total.requests, r.errors, r.refresh_hits
            );
            if r.not_cacheable.total > 0 {
                let n = &r.not_cacheable;
                let _ = writeln!(
                    out,
                    "{} requests are not cacheable ({} other method, {} other result type, {} error status); \
                     counting every request, hits are {}",
                    n.total,
                    n.method,
                    n.result_type,
                    n.status,
                    percent(r.hits_over_all_requests)
                );
            }
        }
        None => {
            let _ = writeln!(out, "Hit ratio: no data ({})", r.no_data.as_deref().unwrap_or("nothing to count"));
        }
    }
    let _ = writeln!(out);
    table(
        &mut out,
        &["RESULT TYPE", "REQUESTS", "CACHEABLE", "HITS"],
        r.by_result_type
            .iter()
            .map(|s| {
                vec![
                    s.key.clone(),
                    s.counts.requests.to_string(),
                    s.counts.cacheable.to_string(),
                    s.counts.hits.to_string(),
                ]
            })
            .collect(),
    );
    if r.hit_ratio.is_none() {
        for n in &r.notes {
            let _ = writeln!(out, "note: {n}");
        }
        return out;
    }
    for (title, rows) in [
        ("POP", &r.by_pop),
        ("CONTENT TYPE", &r.by_content_type),
        ("STATUS", &r.by_status),
        ("PATH PREFIX", &r.by_prefix),
    ] {
        let _ = writeln!(out);
        table(
            &mut out,
            &[title, "REQUESTS", "CACHEABLE", "HITS", "HIT%"],
            rows.iter()
                .map(|s| {
                    vec![
                        s.key.clone(),
                        s.counts.requests.to_string(),
                        s.counts.cacheable.to_string(),
                        s.counts.hits.to_string(),
                        s.hit_ratio.map_or_else(|| "-".to_owned(), |h| format!("{h:.1}")),
                    ]
                })
                .collect(),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Worst URIs by misses");
    table(
        &mut out,
        &["URI", "MISSES", "REQUESTS", "CONTENT TYPE"],
        r.top_misses
            .iter()
            .map(|u| vec![u.uri.clone(), u.misses.to_string(), u.requests.to_string(), u.content_type.clone()])
            .collect(),
    );
    let c = &r.miss_classes;
    let _ = writeln!(out);
    let _ = writeln!(out, "Why {} cacheable requests missed", r.misses);
    let pct = |n: u64| if r.misses == 0 { 0.0 } else { 100.0 * n as f64 / r.misses as f64 };
    table(
        &mut out,
        &["CLASS", "MISSES", "SHARE%"],
        [
            ("first fetch at a cold POP", c.cold),
            ("expired (same variant fetched before)", c.expiry),
            ("fragmented by query string", c.fragmentation_query),
            ("fragmented by cookies", c.fragmentation_cookie),
            ("fragmented by a keyed Accept header", c.fragmentation_header),
            ("fragmented by another keyed header", c.fragmentation_other_header),
            ("evicted or invalidated", c.evicted),
            ("not stored by the behavior", c.uncacheable),
        ]
        .iter()
        .map(|(n, v)| vec![(*n).to_owned(), v.to_string(), format!("{:.1}", pct(*v))])
        .collect(),
    );
    let _ = writeln!(out, "(plus {} RefreshHits: expired objects revalidated with the origin)", c.refresh_hits);
    if !r.fragmentation.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Most fragmented paths");
        for f in &r.fragmentation {
            let ps: Vec<String> = f
                .parameters
                .iter()
                .map(|p| format!("{} {} ({} variants)", p.kind, printable(&p.name), p.variants))
                .collect();
            let _ = writeln!(
                out,
                "  {}  {} misses  {}",
                printable(&f.path),
                f.misses,
                if ps.is_empty() { "-".to_owned() } else { ps.join(", ") }
            );
        }
    }
    let _ = writeln!(out);
    if r.diagnosis.is_empty() {
        let _ = writeln!(out, "Diagnosis: no cause explains {:.0}% or more of the misses.", MATERIAL_SHARE * 100.0);
    } else {
        let _ = writeln!(out, "Diagnosis");
        for d in &r.diagnosis {
            let kind = if d.fault { "fault" } else { "expected" };
            let _ = writeln!(out, "  {} ({kind}, {:.1}% of misses): {}", d.cause.id(), d.share * 100.0, d.message);
            let _ = writeln!(out, "    fix: {}", d.fix);
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// A percentage, or `-` when there is nothing to count.
fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

/// Text from a log made safe for a terminal table: control characters (a decoded `%0A`,
/// `%09`, …) are written back as `%XX`, so one value stays on one line of one column.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    let rows: Vec<Vec<String>> =
        rows.into_iter().map(|r| r.into_iter().map(|c| printable(&c).into_owned()).collect()).collect();
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (x, c) in w.iter_mut().zip(r) {
            *x = (*x).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, (c, width)) in cells.iter().zip(&w).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<width$}  ");
            } else {
                let _ = write!(s, "{c:>width$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(head.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn bars(rows: &[(String, f64, String)], max: f64) -> String {
    let h = 22 * rows.len() + 4;
    let mut svg = format!("<svg class=\"bars\" viewBox=\"0 0 640 {h}\" role=\"img\">");
    for (i, (label, v, note)) in rows.iter().enumerate() {
        let y = 4 + i * 22;
        let width = if max > 0.0 { 400.0 * v / max } else { 0.0 };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"l\">{}</text><rect x=\"170\" y=\"{y}\" width=\"{width:.1}\" height=\"16\" rx=\"2\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{}\">{}</text>",
            y + 12,
            esc(label),
            esc(note),
            176.0 + width,
            y + 12,
            esc(note)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A self-contained HTML report (inline SVG and CSS, no external assets).
pub fn html(r: &Report) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cachalot analyze</title><style>\
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#1b1f24;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;width:100%}\
td,th{padding:3px 8px;border-bottom:1px solid #e3e6ea;text-align:right}td:first-child,th:first-child{text-align:left}\
.big{font-size:2.6em;font-weight:600}.bars rect{fill:#3a7bd5}.bars text{font-size:12px}.bars .l{font-size:12px}\
.line{fill:none;stroke:#3a7bd5;stroke-width:2}.fault{color:#b3261e}.ok{color:#2e7d32}code{background:#f3f4f6;padding:0 3px}\
</style></head><body>",
    );
    match r.hit_ratio {
        Some(ratio) => {
            let _ = write!(
                out,
                "<h1>Cache hit ratio</h1><p><span class=\"big\">{ratio:.1}%</span> of {} cacheable requests were hits \
                 ({} requests in {} file(s), {} not cacheable, {} errors, {} RefreshHits, {} malformed lines skipped).</p>",
                r.total.cacheable,
                r.total.requests,
                r.files,
                r.not_cacheable.total,
                r.errors,
                r.refresh_hits,
                r.bad_lines
            );
        }
        None => {
            let _ = write!(
                out,
                "<h1>Cache hit ratio</h1><p><span class=\"big\">no data</span> {}.</p>",
                esc(r.no_data.as_deref().unwrap_or("nothing to count"))
            );
        }
    }
    out.push_str("<h2>Diagnosis</h2>");
    if r.diagnosis.is_empty() {
        out.push_str("<p class=\"ok\">No cause explains 5% or more of the misses.</p>");
    }
    for d in &r.diagnosis {
        let _ = write!(
            out,
            "<p><b class=\"{}\">{}</b> — {:.1}% of misses. {}<br>Fix: {}</p>",
            if d.fault { "fault" } else { "ok" },
            d.cause.id(),
            d.share * 100.0,
            esc(&d.message),
            esc(&d.fix)
        );
    }
    let c = &r.miss_classes;
    let classes = [
        ("cold POP", c.cold),
        ("expired", c.expiry),
        ("query string", c.fragmentation_query),
        ("cookies", c.fragmentation_cookie),
        ("keyed Accept header", c.fragmentation_header),
        ("other keyed header", c.fragmentation_other_header),
        ("evicted", c.evicted),
        ("not stored", c.uncacheable),
    ];
    let max = classes.iter().map(|x| x.1).max().unwrap_or(0) as f64;
    let rows: Vec<(String, f64, String)> =
        classes.iter().map(|(n, v)| ((*n).to_owned(), *v as f64, format!("{v} misses"))).collect();
    let _ = write!(out, "<h2>Why requests missed</h2>{}", bars(&rows, max));
    let rows: Vec<(String, f64, String)> = r
        .by_pop
        .iter()
        .map(|s| {
            (s.key.clone(), s.hit_ratio.unwrap_or(0.0), format!("{} of {}", percent(s.hit_ratio), s.counts.cacheable))
        })
        .collect();
    let _ = write!(out, "<h2>Hit ratio per POP</h2>{}", bars(&rows, 100.0));
    if r.timeline.len() > 1 {
        let n = r.timeline.len() - 1;
        let pts: Vec<String> = r
            .timeline
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{:.1},{:.1}",
                    10.0 + 620.0 * i as f64 / n as f64,
                    150.0 - 1.4 * p.counts.hit_ratio().unwrap_or(0.0)
                )
            })
            .collect();
        let _ = write!(
            out,
            "<h2>Hit ratio over time</h2><svg viewBox=\"0 0 640 160\" role=\"img\"><line x1=\"10\" y1=\"10\" x2=\"630\" y2=\"10\" stroke=\"#ddd\"/>\
<line x1=\"10\" y1=\"150\" x2=\"630\" y2=\"150\" stroke=\"#ddd\"/><text x=\"12\" y=\"22\" font-size=\"11\">100%</text>\
<text x=\"12\" y=\"146\" font-size=\"11\">0%</text><polyline class=\"line\" points=\"{}\"/></svg>",
            pts.join(" ")
        );
    }
    for (title, rows) in [
        ("Result type", &r.by_result_type),
        ("POP", &r.by_pop),
        ("Content type", &r.by_content_type),
        ("Status", &r.by_status),
        ("Path prefix", &r.by_prefix),
    ] {
        let _ = write!(
            out,
            "<h2>By {}</h2><table><tr><th>{}</th><th>Requests</th><th>Cacheable</th><th>Hits</th><th>Hit%</th></tr>",
            esc(&title.to_lowercase()),
            esc(title)
        );
        for s in rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.key),
                s.counts.requests,
                s.counts.cacheable,
                s.counts.hits,
                s.hit_ratio.map_or_else(|| "-".to_owned(), |h| format!("{h:.1}"))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Worst URIs by misses</h2><table><tr><th>URI</th><th>Misses</th><th>Requests</th><th>Content type</th></tr>");
    for u in &r.top_misses {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.uri),
            u.misses,
            u.requests,
            esc(&u.content_type)
        );
    }
    out.push_str("</table>");
    if !r.fragmentation.is_empty() {
        out.push_str(
            "<h2>Most fragmented paths</h2><table><tr><th>Path</th><th>Misses</th><th>Varying parameters</th></tr>",
        );
        for f in &r.fragmentation {
            let ps: Vec<String> = f
                .parameters
                .iter()
                .map(|p| format!("{} <code>{}</code> ({})", p.kind, esc(&p.name), p.variants))
                .collect();
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&f.path),
                f.misses,
                ps.join(", ")
            );
        }
        out.push_str("</table>");
    }
    for n in &r.notes {
        let _ = write!(out, "<p><small>{}</small></p>", esc(n));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, variant: u64, query: u32, result: u8) -> Event {
        Event {
            path: 1,
            pop: 1,
            ts,
            seq: ts,
            variant,
            query,
            cookie: 0,
            ttl: 86_400,
            keyed_headers: 0,
            result,
            with_config: false,
        }
    }

    #[test]
    fn classes_follow_the_group_history() {
        let mut c = MissClasses::default();
        let mut f = HashMap::new();
        classify(&[ev(0, 1, 1, 2), ev(10, 2, 2, 2), ev(20, 1, 1, 0), ev(100_000, 1, 1, 2)], None, &mut c, &mut f);
        assert_eq!((c.cold, c.fragmentation_query, c.expiry), (1, 1, 1));
    }

    #[test]
    fn a_hit_on_an_unfetched_query_clears_the_query_string() {
        let mut c = MissClasses::default();
        let mut f = HashMap::new();
        classify(&[ev(0, 1, 1, 2), ev(5, 3, 3, 0), ev(10, 2, 2, 2)], None, &mut c, &mut f);
        assert_eq!((c.cold, c.fragmentation_query, c.expiry), (1, 0, 1));
    }
}
