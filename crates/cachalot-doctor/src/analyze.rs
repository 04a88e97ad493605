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
use crate::infer::{self, Class, Inference, KeyKnowledge, Logged, Request, dim, family_name};
use crate::logs::{self, BadLine, LineSink, LogInput, LogInputError, ReadStats};
use crate::replay::{BehaviorInfo, ConfigModel, FastMap, KeyScratch, RequestView, hash64};
use cachalot_config::model::NameRule;
use cachalot_policy::parse::{cookie_pairs, query_pairs};
use cachalot_telemetry::outcome;
use cachalot_telemetry::parse::{LineError, LogLine};
use cachalot_telemetry::{Field, ResultType};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// A cause is named when it explains at least this share of misses.
pub const MATERIAL_SHARE: f64 = 0.05;

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

/// What the report needs to know about a section (a behavior, or a first path segment).
#[derive(Default)]
struct SectionSeen {
    /// How it is named in messages.
    label: String,
    /// Requests per content type.
    types: FastMap<String, u64>,
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
    by_result: FastMap<String, Counts>,
    by_pop: FastMap<String, Counts>,
    by_type: FastMap<String, Counts>,
    by_status: FastMap<String, Counts>,
    by_prefix: FastMap<String, Counts>,
    uris: FastMap<String, (u64, u64, String)>,
    timeline: BTreeMap<u64, Counts>,
    requests: Vec<Request>,
    /// Query strings and cookies of fetches (misses and RefreshHits), by hash: what a miss
    /// is compared with.
    strings: FastMap<u64, String>,
    sections: FastMap<u64, SectionSeen>,
    seq: u64,
    /// Buffers the decoded values of a line are written to, reused from line to line.
    text: TextBuffers,
    agents: infer::Agents,
}

/// Buffers for the decoded values of one line (path, query string, cookies, `User-Agent`,
/// host, `Host` header, referer), so that a line allocates nothing.
#[derive(Default)]
struct TextBuffers([String; 7]);

fn bump<K: std::hash::Hash + Eq + ?Sized + ToOwned<Owned = O>, O: std::hash::Hash + Eq + std::borrow::Borrow<K>>(
    map: &mut FastMap<O, Counts>,
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

/// Hash of a logged value; 0 for an absent one.
fn hash_value(v: &str) -> u64 {
    if v.is_empty() { 0 } else { hash64(v.as_bytes()) }
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
        let mut text = std::mem::take(&mut self.text);
        let outcome = self.cacheable_line(
            line,
            &mut text,
            CacheableLine { secs, status, method, result, cacheable, hit, ctype, pop },
        );
        self.text = text;
        outcome
    }
}

/// What [`Sink::line`] has read of a line before the cacheable request's part.
struct CacheableLine<'a> {
    secs: u64,
    status: Option<u16>,
    method: &'a str,
    result: ResultType,
    cacheable: bool,
    hit: bool,
    ctype: &'a str,
    pop: &'a str,
}

impl Sink<'_> {
    /// The rest of [`LineSink::line`]: the prefix and timeline, and for a cacheable request what
    /// the inference needs.
    fn cacheable_line(
        &mut self,
        line: &LogLine<'_>,
        text: &mut TextBuffers,
        seen: CacheableLine<'_>,
    ) -> Result<(), LineError> {
        let CacheableLine { secs, status, method, result, cacheable, hit, ctype, pop } = seen;
        let [b_path, b_query, b_cookie, b_agent, b_host, b_host_header, b_referer] = &mut text.0;
        let path = logs::decode_into(line.raw(Field::UriStem), b_path);
        bump(&mut self.by_prefix, prefix_of(path), cacheable, hit);
        self.timeline.entry(secs / 60 * 60).or_default().add(cacheable, hit);
        if !cacheable {
            return Ok(());
        }
        let logged = match (result, hit) {
            (ResultType::RefreshHit, _) => {
                self.refresh_hits += 1;
                Logged::Refresh
            }
            (_, true) => Logged::Hit,
            _ => {
                self.misses += 1;
                Logged::Miss
            }
        };
        if logged == Logged::Miss {
            match self.uris.get_mut(path) {
                Some(u) => u.0 += 1,
                None => {
                    self.uris.insert(path.to_string(), (1, 0, ctype.to_owned()));
                }
            }
        }
        let query = logs::decode_into(line.raw(Field::UriQuery), b_query);
        let cookie = logs::decode_into(line.raw(Field::Cookie), b_cookie);
        let agent_raw = line.raw(Field::UserAgent);
        let (agent_hash, family) = self.agents.of(agent_raw, b_agent);
        let (section, key, config_ttl) = match self.config {
            Some(cfg) => {
                let host = logs::decode_into(line.raw(Field::Host), b_host);
                let host_header = logs::decode_into(line.raw(Field::HostHeader), b_host_header);
                let referer = logs::decode_into(line.raw(Field::Referer), b_referer);
                let view = RequestView {
                    method,
                    host,
                    host_header,
                    path,
                    query,
                    cookie,
                    user_agent: logs::decode_into(agent_raw, b_agent),
                    referer,
                    accept: "",
                    accept_encoding: "",
                    status: status.unwrap_or(200),
                };
                let d = cfg.decide(&view, pop, secs, &mut self.scratch);
                self.sections.entry(d.section).or_insert_with(|| SectionSeen {
                    label: match cfg.behavior(d.section) {
                        Some(b) => format!("behavior {}", b.label),
                        None => "requests no distribution of the config serves".to_owned(),
                    },
                    types: FastMap::default(),
                });
                (d.section, d.key, d.ttl)
            }
            None => {
                let prefix = prefix_of(path);
                let section = hash64(prefix.as_bytes());
                self.sections
                    .entry(section)
                    .or_insert_with(|| SectionSeen { label: prefix.to_owned(), types: FastMap::default() });
                (section, 0, u32::MAX)
            }
        };
        if let Some(seen) = self.sections.get_mut(&section) {
            match seen.types.get_mut(ctype) {
                Some(n) => *n += 1,
                None => {
                    seen.types.insert(ctype.to_owned(), 1);
                }
            }
        }
        let (query_hash, cookie_hash) = (hash_value(query), hash_value(cookie));
        if logged != Logged::Hit {
            for (h, v) in [(query_hash, query), (cookie_hash, cookie)] {
                if h != 0 && !self.strings.contains_key(&h) {
                    self.strings.insert(h, v.to_string());
                }
            }
        }
        let size = line.number(Field::ContentLength)?.or(line.number(Field::ScBytes)?).unwrap_or(0);
        self.seq += 1;
        self.requests.push(Request {
            section,
            path: hash64(path.as_bytes()),
            pop: hash64(pop.as_bytes()) as u32,
            ts: secs,
            seq: self.seq,
            logged,
            query: query_hash,
            cookie: cookie_hash,
            agent: agent_hash,
            family,
            key,
            size: size.min(u64::from(u32::MAX)) as u32,
            config_ttl,
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
        } else if !matches!(*result, ResultType::Hit | ResultType::RefreshHit | ResultType::Miss) {
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

/// How many misses fall in each class (every cacheable miss is in exactly one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MissClasses {
    /// No copy of the object at the POP (or a tier it shares).
    pub cold: u64,
    /// The object's own copy had outlived how long copies live.
    pub expiry: u64,
    /// Revalidations (RefreshHit; hits, counted apart).
    pub refresh_hits: u64,
    /// Split by the query string.
    pub fragmentation_query: u64,
    /// Split by cookies.
    pub fragmentation_cookie: u64,
    /// Split by a keyed header that follows the browser: `Accept` (logs alone: the browser family).
    pub fragmentation_header: u64,
    /// Split by a keyed raw `Accept-Encoding` (with `--config`).
    pub fragmentation_accept_encoding: u64,
    /// Split by another keyed header, such as `User-Agent`.
    pub fragmentation_other_header: u64,
    /// A real variant of the object (few values that change the response, like an image width): not a fault.
    pub variants: u64,
    /// The object's own copy was still fresh: evicted.
    pub evicted: u64,
    /// Many objects lost fresh copies at one moment: an invalidation.
    pub invalidated: u64,
    /// Never served from cache: the origin forbids caching.
    pub uncacheable: u64,
    /// Never served from cache: the behavior does not cache.
    pub caching_disabled: u64,
    /// Never served from cache: the key changes on every request (a function adds a per-request value).
    pub key_changes: u64,
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
    /// Moments (Unix seconds) at which many objects lost fresh copies at once (invalidations).
    pub invalidations: Vec<u64>,
    /// What was assumed, and the model inferred for each section.
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
    /// The columns of headerless records (`--fields`, `--realtime-config`).
    pub columns: Option<crate::formats::Columns>,
}

fn slices<K: ToString>(map: FastMap<K, Counts>, top: usize) -> Vec<Slice> {
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

/// Reads the logs and analyses them; `config` keys requests as the edge would.
pub fn analyze(
    inputs: &[LogInput],
    config: Option<&ConfigModel>,
    options: &Options,
    progress: Option<&std::sync::atomic::AtomicU64>,
) -> Result<Report, LogInputError> {
    let (sinks, read) = logs::read_with(
        inputs,
        options.columns.as_ref(),
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
            by_result: FastMap::default(),
            by_pop: FastMap::default(),
            by_type: FastMap::default(),
            by_status: FastMap::default(),
            by_prefix: FastMap::default(),
            uris: FastMap::default(),
            timeline: BTreeMap::new(),
            requests: Vec::new(),
            strings: FastMap::default(),
            sections: FastMap::default(),
            seq: 0,
            text: TextBuffers::default(),
            agents: infer::Agents::default(),
        },
        progress,
    )?;
    Ok(build(sinks, read, config, options))
}

fn merge_counts<K: std::hash::Hash + Eq>(into: &mut FastMap<K, Counts>, from: FastMap<K, Counts>) {
    for (k, c) in from {
        into.entry(k).or_default().merge(&c);
    }
}

/// What a behavior keys that logs do not record and that follows the browser.
fn keys_browser_header(b: &BehaviorInfo) -> bool {
    b.headers.iter().any(|h| h == "accept" || h == "accept-encoding")
}

/// Whether a section's query (or cookie) names are in its key.
fn selects(rule: Option<&NameRule>, name: &str) -> bool {
    rule.is_none_or(|r| r.selects_with(name, |a, b| a == b))
}

/// `name → value` of a query string or cookie header (repeated names joined).
fn pairs(text: &str, cookie: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |n: &str, v: &str| {
        let e = out.entry(n.to_owned()).or_default();
        if !e.is_empty() {
            e.push('\u{1f}');
        }
        e.push_str(v);
    };
    if cookie {
        for (n, v) in cookie_pairs(text) {
            add(n, v);
        }
    } else {
        for (_, n, v) in query_pairs(text) {
            add(n, v);
        }
    }
    out
}

/// Names whose values differ between two query strings or cookie headers, among `keyed`.
fn differing(a: &str, b: &str, cookie: bool, rule: Option<&NameRule>) -> Vec<String> {
    let (pa, pb) = (pairs(a, cookie), pairs(b, cookie));
    let mut names: Vec<String> =
        pa.keys().chain(pb.keys()).filter(|n| pa.get(*n) != pb.get(*n) && selects(rule, n)).cloned().collect();
    names.sort();
    names.dedup();
    names
}

/// A query parameter takes at most this many values per object to be a real variant.
pub const VARIANT_VALUES: usize = 8;

/// Response sizes seen for each value of a parameter.
type SizesByValue = BTreeMap<String, Vec<u32>>;

/// A path's fragmentation misses, and the distinct values of each `(kind, name)` among them.
type PathSplits = (u64, BTreeMap<(&'static str, String), BTreeSet<String>>);

/// Query parameters that are real variants in their section: few values per object, and
/// responses that differ between values (median sizes more than 5 % apart), like an image
/// width. Keyed `(section, name)`.
fn real_variants(inf: &Inference, strings: &FastMap<u64, String>) -> BTreeSet<(u64, String)> {
    // (section, name) → path → value → sizes
    let mut seen: BTreeMap<(u64, String), BTreeMap<u64, SizesByValue>> = BTreeMap::new();
    for r in &inf.requests {
        if r.logged == Logged::Hit || r.query == 0 {
            continue;
        }
        let Some(q) = strings.get(&r.query) else { continue };
        for (name, value) in pairs(q, false) {
            seen.entry((r.section, name))
                .or_default()
                .entry(r.path)
                .or_default()
                .entry(value)
                .or_default()
                .push(r.size);
        }
    }
    let mut out = BTreeSet::new();
    for (key, paths) in seen {
        let few = paths.values().all(|values| values.len() <= VARIANT_VALUES);
        let differ = paths.values().any(|values| {
            let mut medians: Vec<u32> = values
                .values()
                .map(|sizes| {
                    let mut s = sizes.clone();
                    s.sort_unstable();
                    s[s.len() / 2]
                })
                .collect();
            medians.sort_unstable();
            medians.len() >= 2 && medians.windows(2).any(|w| u64::from(w[1]) * 100 > u64::from(w[0]) * 105)
        });
        if few && differ {
            out.insert(key);
        }
    }
    out
}

/// What split a fragmentation miss from the copy it should have hit.
enum Split {
    /// Query parameters (named) that are not real variants.
    Query(Vec<String>),
    /// Only real variants differ: not a fault.
    Variant,
    Cookie(Vec<String>),
    /// A keyed header that logs record (`User-Agent`).
    Header(&'static str),
    /// The browser family: a keyed header that follows the browser (`Accept`, `Accept-Encoding`).
    Browser(&'static str),
    /// Nothing the logs show.
    Unseen,
}

/// Why nothing of a section is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NotReusedWhy {
    CachingDisabled,
    KeyChanges,
    OriginForbids,
}

/// What a section serves, from its most common content type.
fn content_of(types: &FastMap<String, u64>) -> (String, crate::lint::Content) {
    let mut v: Vec<(&String, &u64)> = types.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let t = v.first().map_or("", |x| x.0.as_str()).to_ascii_lowercase();
    let content = if ["image/", "video/", "audio/"].iter().any(|p| t.starts_with(p)) {
        crate::lint::Content::Media
    } else if t.starts_with("font/")
        || ["css", "javascript", "ecmascript", "wasm", "font", "pdf", "zip", "octet-stream"]
            .iter()
            .any(|p| t.contains(p))
    {
        crate::lint::Content::Static
    } else {
        crate::lint::Content::Dynamic
    };
    (if t.is_empty() { "-".to_owned() } else { t }, content)
}

/// Counts of named things, most first.
fn ranked(m: &BTreeMap<String, u64>, n: usize) -> Vec<String> {
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter().take(n).map(|(k, _)| k.clone()).collect()
}

/// Everything the diagnosis needs besides the class counts.
#[derive(Default)]
struct Evidence {
    query_names: BTreeMap<String, u64>,
    cookie_names: BTreeMap<String, u64>,
    header_names: BTreeMap<String, u64>,
    families: BTreeSet<u8>,
    agents: BTreeSet<u64>,
    variant_names: BTreeSet<String>,
    /// Ages of expired copies.
    expired_ages: Vec<u64>,
    /// Sections (label, content type) whose expiries were counted, with their behavior.
    expiry_sections: BTreeMap<u64, u64>,
    /// Never-reused sections: (why, misses, label, content type, content kind, function).
    not_reused: BTreeMap<u64, (NotReusedWhy, u64)>,
}

#[allow(clippy::too_many_lines)]
fn build(sinks: Vec<Sink<'_>>, read: ReadStats, config: Option<&ConfigModel>, options: &Options) -> Report {
    let mut total = Counts::default();
    let (mut refresh_hits, mut misses, mut errors, mut without_result_type) = (0, 0, 0, 0);
    let mut not_cacheable = NotCacheable::default();
    let mut by_result = FastMap::default();
    let mut by_pop = FastMap::default();
    let mut by_type = FastMap::default();
    let mut by_status = FastMap::default();
    let mut by_prefix = FastMap::default();
    let mut uris: FastMap<String, (u64, u64, String)> = FastMap::default();
    let mut timeline: BTreeMap<u64, Counts> = BTreeMap::new();
    let mut requests = Vec::new();
    let mut strings: FastMap<u64, String> = FastMap::default();
    let mut sections: FastMap<u64, SectionSeen> = FastMap::default();
    // One allocation for every request, not a doubling per sink merged.
    requests.reserve_exact(sinks.iter().map(|s| s.requests.len()).sum());
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
        for (k, c) in s.timeline {
            timeline.entry(k).or_default().merge(&c);
        }
        requests.extend(s.requests);
        strings.extend(s.strings);
        for (k, seen) in s.sections {
            let mine = sections
                .entry(k)
                .or_insert_with(|| SectionSeen { label: seen.label.clone(), types: FastMap::default() });
            for (t, n) in seen.types {
                *mine.types.entry(t).or_default() += n;
            }
        }
    }
    // Every cacheable request: counted per path, whatever thread read it.
    let mut requests_by_path: FastMap<u64, u64> = FastMap::default();
    for r in &requests {
        *requests_by_path.entry(r.path).or_default() += 1;
    }
    let behavior = |section: u64| config.and_then(|c| c.behavior(section));
    let knowledge = |section: u64| match config {
        Some(_) => KeyKnowledge::Known {
            extra: if behavior(section).is_some_and(keys_browser_header) { dim::FAMILY } else { 0 },
            hidden: behavior(section)
                .is_some_and(|b| b.headers.iter().any(|h| !matches!(h.as_str(), "user-agent" | "host" | "referer"))),
        },
        None => KeyKnowledge::Infer,
    };
    let inf = infer::infer_with(requests, knowledge, options.threads.max(1));
    let variants = real_variants(&inf, &strings);
    let text = |h: u64| strings.get(&h).map_or("", String::as_str);

    let mut classes = MissClasses { refresh_hits, ..MissClasses::default() };
    let mut ev = Evidence::default();
    // path → (fragmentation misses, (kind, name) → distinct values seen in those misses)
    let mut frag_by_path: BTreeMap<u64, PathSplits> = BTreeMap::new();
    let mut premature_across_families: Vec<(usize, u8, u8)> = Vec::new();
    let mut premature_same_family = 0u64;
    for (i, c) in inf.classes.iter().enumerate() {
        let r = &inf.requests[i];
        let model = inf.sections.get(&r.section);
        let dims = model.map_or(0, |m| m.dims);
        let info = behavior(r.section);
        match *c {
            Class::Hit | Class::Refresh => {}
            Class::Cold => classes.cold += 1,
            Class::Expired { age } => {
                classes.expiry += 1;
                ev.expired_ages.push(age);
                *ev.expiry_sections.entry(r.section).or_default() += 1;
            }
            Class::Premature { against, .. } => {
                // A behavior keying a header logs do not record (Accept, Accept-Language, …)
                // splits objects that look identical here.
                let unseen = info
                    .and_then(|b| b.headers.iter().find(|h| !matches!(h.as_str(), "user-agent" | "host" | "referer")));
                match unseen.map(String::as_str) {
                    Some("accept") => classes.fragmentation_header += 1,
                    Some("accept-encoding") => classes.fragmentation_accept_encoding += 1,
                    Some(_) => classes.fragmentation_other_header += 1,
                    None => {
                        // Without the config: copies lost to a browser of another family point to
                        // a key part logs do not record; told apart below, once all are counted.
                        let fetcher = &inf.requests[against];
                        if config.is_none() && fetcher.family != r.family {
                            premature_across_families.push((i, r.family, fetcher.family));
                        } else {
                            premature_same_family += 1;
                        }
                        classes.evicted += 1;
                    }
                }
                if let Some(h) = unseen {
                    *ev.header_names.entry(header_display(h)).or_default() += 1;
                }
            }
            Class::Invalidated => classes.invalidated += 1,
            Class::NotReused => {
                let why = match info {
                    Some(b) if b.caching_disabled || r.config_ttl == 0 => NotReusedWhy::CachingDisabled,
                    Some(b) if b.function_varies_key => NotReusedWhy::KeyChanges,
                    Some(_) => NotReusedWhy::OriginForbids,
                    None if config.is_some() => NotReusedWhy::CachingDisabled,
                    None => match sections.get(&r.section).map(|s| content_of(&s.types).1) {
                        Some(crate::lint::Content::Media | crate::lint::Content::Static) => {
                            NotReusedWhy::CachingDisabled
                        }
                        _ => NotReusedWhy::OriginForbids,
                    },
                };
                match why {
                    NotReusedWhy::CachingDisabled => classes.caching_disabled += 1,
                    NotReusedWhy::KeyChanges => classes.key_changes += 1,
                    NotReusedWhy::OriginForbids => classes.uncacheable += 1,
                }
                ev.not_reused.entry(r.section).or_insert((why, 0)).1 += 1;
            }
            Class::Fragmented { against } => {
                let a = &inf.requests[against];
                let keyed_query =
                    if dims & dim::CONFIG != 0 { info.map(|b| &b.query).filter(|q| !q.is_none()) } else { None };
                let query_in_key = dims & dim::QUERY != 0 || keyed_query.is_some();
                let keyed_cookie =
                    if dims & dim::CONFIG != 0 { info.map(|b| &b.cookies).filter(|q| !q.is_none()) } else { None };
                let cookie_in_key = dims & dim::COOKIE != 0 || keyed_cookie.is_some();
                let agent_in_key =
                    dims & dim::AGENT != 0 || info.is_some_and(|b| b.headers.iter().any(|h| h == "user-agent"));
                let split = if query_in_key && r.query != a.query {
                    let names = differing(text(r.query), text(a.query), false, keyed_query);
                    if !names.is_empty() && names.iter().all(|n| variants.contains(&(r.section, n.clone()))) {
                        ev.variant_names.extend(names);
                        Split::Variant
                    } else {
                        Split::Query(
                            names.into_iter().filter(|n| !variants.contains(&(r.section, n.clone()))).collect(),
                        )
                    }
                } else if cookie_in_key && r.cookie != a.cookie {
                    Split::Cookie(differing(text(r.cookie), text(a.cookie), true, keyed_cookie))
                } else if agent_in_key && r.agent != a.agent {
                    Split::Header("User-Agent")
                } else if dims & dim::FAMILY != 0 && r.family != a.family {
                    let accept = info.is_none_or(|b| b.headers.iter().any(|h| h == "accept"));
                    Split::Browser(if accept { "Accept" } else { "Accept-Encoding" })
                } else {
                    Split::Unseen
                };
                let entry = frag_by_path.entry(r.path).or_default();
                match split {
                    Split::Variant => {
                        classes.variants += 1;
                        continue;
                    }
                    Split::Query(names) => {
                        classes.fragmentation_query += 1;
                        let q = pairs(text(r.query), false);
                        for n in names {
                            *ev.query_names.entry(n.clone()).or_default() += 1;
                            let value = q.get(&n).cloned().unwrap_or_default();
                            entry.1.entry(("query", n)).or_default().insert(value);
                        }
                    }
                    Split::Cookie(names) => {
                        classes.fragmentation_cookie += 1;
                        let c = pairs(text(r.cookie), true);
                        for n in names {
                            *ev.cookie_names.entry(n.clone()).or_default() += 1;
                            let value = c.get(&n).cloned().unwrap_or_default();
                            entry.1.entry(("cookie", n)).or_default().insert(value);
                        }
                    }
                    Split::Header(name) => {
                        classes.fragmentation_other_header += 1;
                        *ev.header_names.entry(name.to_owned()).or_default() += 1;
                        ev.agents.insert(r.agent);
                        entry.1.entry(("header", name.to_owned())).or_default().insert(format!("{:x}", r.agent));
                    }
                    Split::Browser(name) => {
                        if name == "Accept" {
                            classes.fragmentation_header += 1;
                        } else {
                            classes.fragmentation_accept_encoding += 1;
                        }
                        *ev.header_names.entry(name.to_owned()).or_default() += 1;
                        ev.families.extend([r.family, a.family]);
                        entry
                            .1
                            .entry(("header", name.to_owned()))
                            .or_default()
                            .insert(family_name(r.family).to_owned());
                    }
                    Split::Unseen => {
                        classes.fragmentation_other_header += 1;
                        *ev.header_names.entry("a keyed value logs do not record".to_owned()).or_default() += 1;
                    }
                }
                entry.0 += 1;
            }
        }
    }
    // Fresh copies lost, nearly always to a browser of another family: not evictions but a
    // keyed header that follows the browser, which logs do not record.
    let across = premature_across_families.len() as u64;
    if across >= 10 && across >= 4 * premature_same_family {
        classes.evicted -= across;
        classes.fragmentation_header += across;
        *ev.header_names.entry("Accept".to_owned()).or_default() += across;
        for (i, family, other) in premature_across_families {
            ev.families.extend([family, other]);
            let entry = frag_by_path.entry(inf.requests[i].path).or_default();
            entry.0 += 1;
            entry.1.entry(("header", "Accept".to_owned())).or_default().insert(family_name(family).to_owned());
        }
    }
    let names: HashMap<u64, &String> = uris.keys().map(|k| (hash64(k.as_bytes()), k)).collect();
    let mut fragmentation: Vec<Fragmented> = frag_by_path
        .into_iter()
        .filter(|(_, (m, _))| *m > 0)
        .map(|(p, (m, params))| {
            let mut parameters: Vec<VaryingParameter> = params
                .into_iter()
                .map(|((kind, name), values)| VaryingParameter { name, kind, variants: values.len() as u64 })
                .collect();
            parameters.sort_by(|a, b| b.variants.cmp(&a.variants).then_with(|| a.name.cmp(&b.name)));
            Fragmented { path: names.get(&p).map_or_else(String::new, |s| (*s).clone()), misses: m, parameters }
        })
        .collect();
    fragmentation.sort_by(|a, b| b.misses.cmp(&a.misses).then_with(|| a.path.cmp(&b.path)));
    fragmentation.truncate(options.top);
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
    let diagnosis = diagnose(&classes, misses, &ev, &inf, &sections, config);
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
                "requests keyed with {} through cachalot-policy; how long copies live is read from the log \
                 (capped by each behavior's TTL), since logs do not carry the origin's Cache-Control",
                c.label
            ));
            for section in inf.sections.keys() {
                let Some(b) = c.behavior(*section) else { continue };
                if let Some(f) = &b.function {
                    notes.push(format!(
                        "behavior {} runs viewer-request function {f}, which is not run here{}",
                        b.label,
                        if b.function_varies_key {
                            "; its code writes a per-request value (a random number or the clock) into the request"
                        } else {
                            ""
                        }
                    ));
                }
                let unlogged: Vec<String> = b
                    .headers
                    .iter()
                    .filter(|h| !matches!(h.as_str(), "user-agent" | "host" | "referer"))
                    .map(|h| header_display(h))
                    .collect();
                if !unlogged.is_empty() {
                    notes.push(format!(
                        "behavior {} keys {}, which standard logs do not record: browsers of one family are taken to \
                         send the same Accept and Accept-Encoding, and requests that look alike may still have \
                         different keys",
                        b.label,
                        unlogged.join(", ")
                    ));
                }
            }
        }
        None => {
            notes.push(
                "no --config: the cache key, how long copies live and whether POPs share a tier are inferred from \
                 the logged results (see the model of each section below); headers logs do not record are \
                 represented by the browser family"
                    .to_owned(),
            );
            for (section, m) in &inf.sections {
                let label = sections.get(section).map_or("?", |s| s.label.as_str());
                notes.push(format!("model of {}: {}", printable(label), describe(m)));
            }
        }
    }
    if !ev.variant_names.is_empty() {
        notes.push(format!(
            "{} misses fetched real variants ({}): at most {VARIANT_VALUES} values per object and responses that \
             differ in size; not counted as fragmentation",
            classes.variants,
            ev.variant_names.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !inf.invalidations.is_empty() {
        notes.push(format!(
            "{} misses followed {} invalidation(s) (many paths lost fresh copies at once, at {}); an invalidation is \
             not a short TTL",
            classes.invalidated,
            inf.invalidations.len(),
            inf.invalidations.iter().map(|t| clock(*t)).collect::<Vec<_>>().join(", ")
        ));
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
        invalidations: inf.invalidations.clone(),
        notes,
    }
}

/// `HH:MM:SS` UTC of Unix seconds.
fn clock(t: u64) -> String {
    format!("{:02}:{:02}:{:02} UTC", t / 3600 % 24, t / 60 % 60, t % 60)
}

/// A header name as people write it (`user-agent` → `User-Agent`).
fn header_display(h: &str) -> String {
    h.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A section's inferred model in words.
fn describe(m: &infer::SectionModel) -> String {
    if m.never_reused {
        return format!("{} requests, nothing ever served from cache", m.requests);
    }
    let mut parts = Vec::new();
    for (d, word) in [
        (dim::QUERY, "query string"),
        (dim::COOKIE, "cookies"),
        (dim::AGENT, "User-Agent"),
        (dim::FAMILY, "a header that follows the browser"),
    ] {
        if m.dims & d != 0 {
            parts.push(word);
        }
    }
    let key = if parts.is_empty() { "the path".to_owned() } else { format!("the path + {}", parts.join(" + ")) };
    let life = match m.lifetime {
        Some(l) => format!("copies seen cached up to about {l} s"),
        None => "no copy seen cached twice".to_owned(),
    };
    let tier = if m.shared { "; POPs share a tier" } else { "" };
    format!("{} requests, key = {key}, {life}{tier}", m.requests)
}

fn diagnose(
    c: &MissClasses,
    misses: u64,
    ev: &Evidence,
    inf: &Inference,
    sections: &FastMap<u64, SectionSeen>,
    config: Option<&ConfigModel>,
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let mut push = |cause: Cause, fault: bool, n: u64, message: String| {
        let share = if misses == 0 { 0.0 } else { n as f64 / misses as f64 };
        if n >= 10 && share >= MATERIAL_SHARE {
            out.push(Diagnosis { cause, fault, misses: n, share, message, fix: cause.fix().to_owned() });
        }
    };
    let varying = |names: &BTreeMap<String, u64>| {
        let r = ranked(names, 4);
        if r.is_empty() {
            String::new()
        } else {
            format!(" (varying: {})", r.iter().map(|n| printable(n).into_owned()).collect::<Vec<_>>().join(", "))
        }
    };
    push(
        Cause::QueryStringsInKey,
        true,
        c.fragmentation_query,
        format!(
            "{} misses fetched a path again under a different query string while another copy was cached{}",
            c.fragmentation_query,
            varying(&ev.query_names)
        ),
    );
    push(
        Cause::CookiesInKey,
        true,
        c.fragmentation_cookie,
        format!(
            "{} misses fetched a path again for a different cookie value while another copy was cached{}",
            c.fragmentation_cookie,
            varying(&ev.cookie_names)
        ),
    );
    let families = ev.families.iter().map(|f| family_name(*f)).collect::<Vec<_>>().join(", ");
    push(
        Cause::AcceptOverKeyed,
        true,
        c.fragmentation_header,
        if config.is_some() {
            format!(
                "{} misses: a browser of another family ({families}) refetched an object still cached for another; \
                 the behavior keys the raw Accept header, which differs between browsers",
                c.fragmentation_header
            )
        } else {
            format!(
                "{} misses split along browser families ({families}): each family refetched objects still cached \
                 for another, while browsers of one family shared copies; a header that follows the browser is in \
                 the key, most likely Accept, or Accept-Encoding keyed raw (standard logs record neither)",
                c.fragmentation_header
            )
        },
    );
    push(
        Cause::AcceptEncodingKeyed,
        true,
        c.fragmentation_accept_encoding,
        format!(
            "{} misses: browsers sending another Accept-Encoding ({families}) refetched objects still cached; the \
             behavior keys the raw Accept-Encoding header",
            c.fragmentation_accept_encoding
        ),
    );
    let headers =
        ranked(&ev.header_names, 4).into_iter().filter(|h| h != "Accept" && h != "Accept-Encoding").collect::<Vec<_>>();
    push(
        Cause::HeadersInKey,
        true,
        c.fragmentation_other_header,
        format!(
            "{} misses: a request with another value of a keyed header refetched an object still cached (varying: \
             {}{})",
            c.fragmentation_other_header,
            headers.join(", "),
            if ev.agents.is_empty() {
                String::new()
            } else {
                format!("; {} distinct User-Agent values", ev.agents.len())
            }
        ),
    );
    if c.expiry > 0 {
        let mut ages = ev.expired_ages.clone();
        ages.sort_unstable();
        let typical = ages[ages.len() / 2];
        let cap = config.and_then(|cfg| {
            ev.expiry_sections
                .iter()
                .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
                .and_then(|(s, _)| cfg.behavior(*s))
                .map(|b| {
                    if b.max_ttl <= typical + 1 {
                        format!("; the behavior's MaxTTL is {} s", b.max_ttl)
                    } else if b.default_ttl <= typical + 1 {
                        format!("; the behavior's DefaultTTL is {} s and the origin sends no max-age", b.default_ttl)
                    } else {
                        format!(
                            "; the behavior allows {} s, so the origin's Cache-Control (max-age) is what keeps them \
                             short (MinTTL is {} s)",
                            b.default_ttl, b.min_ttl
                        )
                    }
                })
        });
        push(
            Cause::TtlTooShort,
            typical < crate::probe::SHORT_TTL_SECS,
            c.expiry,
            format!(
                "{} misses refetched an object that had expired: copies lived about {typical} s{} ({} more were \
                 revalidated as RefreshHit)",
                c.expiry,
                cap.unwrap_or_default(),
                c.refresh_hits
            ),
        );
    }
    // Never-reused sections, by cause: the message names the biggest section.
    let mut by_why: BTreeMap<NotReusedWhy, (u64, u64)> = BTreeMap::new(); // why → (misses, biggest section)
    for (section, (why, n)) in &ev.not_reused {
        let e = by_why.entry(*why).or_insert((0, *section));
        let biggest = ev.not_reused.get(&e.1).map_or(0, |x| x.1);
        e.0 += n;
        if *n > biggest {
            e.1 = *section;
        }
    }
    for (why, (n, section)) in by_why {
        let seen = sections.get(&section);
        let label = seen.map_or_else(|| "?".to_owned(), |s| printable(&s.label).into_owned());
        let (ctype, _) = seen.map_or_else(|| ("-".to_owned(), crate::lint::Content::Dynamic), |s| content_of(&s.types));
        let info = config.and_then(|c| c.behavior(section));
        let alike = "not even a repeat of an identical request";
        let (cause, message) = match (why, info) {
            (NotReusedWhy::CachingDisabled, Some(b)) => (
                Cause::CachingDisabled,
                format!(
                    "{n} misses on {label}, which stores nothing (MaxTTL {}{}): every request goes to the origin",
                    b.max_ttl,
                    if b.caching_disabled && b.max_ttl > 0 { ", every header forwarded" } else { "" }
                ),
            ),
            (NotReusedWhy::CachingDisabled, None) => (
                Cause::CachingDisabled,
                format!(
                    "{n} misses on {label} ({ctype}): nothing there is ever served from cache, {alike}; for media and \
                     static files that is most likely a behavior that does not cache (Managed-CachingDisabled, \
                     MaxTTL 0). An origin's no-store, or a key that changes on every request, looks the same in logs: \
                     --config tells them apart"
                ),
            ),
            (NotReusedWhy::KeyChanges, b) => (
                Cause::KeyChangesPerRequest,
                format!(
                    "{n} misses on {label}: nothing is ever served from cache, {alike}, although the behavior caches; \
                     its viewer-request function {} writes a per-request value (a random number or the clock) into \
                     the request, so the cache key changes on every request",
                    b.and_then(|b| b.function.as_deref()).unwrap_or("?")
                ),
            ),
            (NotReusedWhy::OriginForbids, Some(b)) => (
                Cause::Uncacheable,
                format!(
                    "{n} misses on {label}: the behavior caches (MinTTL {} s, MaxTTL {} s), yet nothing is ever served \
                     from cache, {alike}: the origin forbids caching (Cache-Control no-store, private, no-cache or \
                     max-age=0)",
                    b.min_ttl, b.max_ttl
                ),
            ),
            (NotReusedWhy::OriginForbids, None) => (
                Cause::Uncacheable,
                format!(
                    "{n} misses on {label} ({ctype}): nothing there is ever served from cache, {alike}; for pages and \
                     API responses that is most likely the origin's Cache-Control (no-store, private, no-cache or \
                     max-age=0). A behavior that does not cache looks the same in logs: --config tells them apart"
                ),
            ),
        };
        push(cause, true, n, message);
    }
    if !inf.invalidations.is_empty() {
        let churn = inf.invalidations.len() > INVALIDATIONS_FOR_CHURN;
        push(
            Cause::InvalidationChurn,
            churn,
            c.invalidated,
            format!(
                "{} misses followed {} invalidation(s): many paths lost fresh copies at one moment{}",
                c.invalidated,
                inf.invalidations.len(),
                if churn {
                    "; that often, versioned URLs keep the cache warm instead"
                } else {
                    " (expected after an invalidation, not a fault)"
                }
            ),
        );
    }
    push(Cause::ColdPop, false, c.cold, format!("{} misses were the first request for the object at a POP", c.cold));
    out.sort_by(|a, b| b.misses.cmp(&a.misses).then_with(|| a.cause.cmp(&b.cause)));
    out
}

/// More invalidations than this in the logs is churn (a fault).
pub const INVALIDATIONS_FOR_CHURN: usize = 4;

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
            ("expired (its copy outlived how long copies live)", c.expiry),
            ("fragmented by query string", c.fragmentation_query),
            ("fragmented by cookies", c.fragmentation_cookie),
            ("fragmented by a header that follows the browser (Accept)", c.fragmentation_header),
            ("fragmented by a keyed Accept-Encoding", c.fragmentation_accept_encoding),
            ("fragmented by another keyed header", c.fragmentation_other_header),
            ("a real variant (few values, responses differ)", c.variants),
            ("invalidated", c.invalidated),
            ("evicted (its copy was still fresh)", c.evicted),
            ("never reused: the origin forbids caching", c.uncacheable),
            ("never reused: the behavior does not cache", c.caching_disabled),
            ("never reused: the key changes every request", c.key_changes),
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
        ("Accept (browser)", c.fragmentation_header),
        ("Accept-Encoding", c.fragmentation_accept_encoding),
        ("other keyed header", c.fragmentation_other_header),
        ("real variants", c.variants),
        ("invalidated", c.invalidated),
        ("evicted", c.evicted),
        ("origin forbids", c.uncacheable),
        ("caching disabled", c.caching_disabled),
        ("key changes", c.key_changes),
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
