//! The log formats `analyze`, `replay` and `lint --logs` read, told apart by their content, and the
//! rewriting of each record into the standard layout the rest of the doctor reads.
//!
//! - **Legacy standard logs** (`#Version: 1.0`, `#Fields:` with CloudFront's 33 fields or fewer in
//!   older files, tab-separated) and **v2 `w3c`** files with tabs: split in place by the telemetry
//!   parser ([`Plan::Tabs`]).
//! - **v2 `w3c`** with another delimiter (space, `,`, `|`, `;`, told from the first record), or with
//!   fields the legacy layout lacks (`timestamp(ms)` instead of `date` and `time`); **v2 `plain`**
//!   (no header: the columns come from `--fields`); **v2 `json`** (one object per line, keys the
//!   field names); **real-time log records** (tab-separated, no header: `--fields` or
//!   `--realtime-config`): each record is rewritten into the standard layout ([`Plan::Rewrite`]).
//! - **Parquet** (`PAR1` magic) is read by `crate::parquet_logs` and rewritten the same way.
//!
//! Sources: "Configure standard logging (v2)"
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>
//! (formats, delimiters, fields), "Standard logging reference"
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>
//! (field list), "Real-time logs"
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html> (field
//! list, and that records always carry their fields in that list's order).
//!
//! Values keep the legacy convention (percent-encoded, `-` when absent): a tab, CR or LF inside a
//! value (JSON escapes, Parquet strings) is percent-encoded on the way, so it can neither split a
//! record nor break the layout.

use cachalot_telemetry::Field;
use cachalot_telemetry::parse::{FieldMap, push_date_time};
use std::fmt;
use std::sync::Arc;

/// What one column of a record holds, for the doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A field of the legacy layout.
    Field(Field),
    /// Unix seconds, with an optional fraction (real-time and v2 `timestamp`).
    UnixSeconds,
    /// Unix milliseconds (v2 `timestamp(ms)`).
    UnixMillis,
    /// The path with the query string after `?` (real-time `cs-uri-stem`).
    UriWithQuery,
    /// A field the doctor does not read.
    Ignore,
}

/// The fields of real-time log records, in the order records carry them ("Real-time logs",
/// Fields). A configuration chooses a subset; its records keep this order.
pub const REALTIME_FIELDS: &[&str] = &[
    "timestamp",
    "c-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "x-edge-request-id",
    "x-host-header",
    "time-taken",
    "cs-protocol-version",
    "c-ip-version",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "cs-uri-query",
    "x-edge-response-result-type",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-result-type",
    "fle-encrypted-fields",
    "fle-status",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "c-port",
    "x-edge-detailed-result-type",
    "c-country",
    "cs-accept-encoding",
    "cs-accept",
    "cache-behavior-path-pattern",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
    "primary-distribution-id",
    "primary-distribution-dns-name",
    "origin-fbl",
    "origin-lbl",
    "asn",
];

/// The fields only standard logging v2 has, beyond the legacy 33 ("Standard logging reference").
pub const V2_ONLY_FIELDS: &[&str] = &[
    "timestamp(ms)",
    "origin-fbl",
    "origin-lbl",
    "asn",
    "c-country",
    "cache-behavior-path-pattern",
    "distribution-tenant-id",
    "connection-id",
    "timestamp",
    "DistributionId",
];

/// A column of a standard log (legacy or v2) by its name, or by the Parquet column name Athena's
/// CloudFront tables use for it (`cs(Host)` → `cs_host`, `timestamp(ms)` → `timestamp_ms`).
pub fn standard_target(name: &str) -> Option<Target> {
    if let Some(f) = Field::from_name(name) {
        return Some(Target::Field(f));
    }
    match name {
        "timestamp(ms)" | "timestamp_ms" => return Some(Target::UnixMillis),
        "timestamp" => return Some(Target::UnixSeconds),
        _ => {}
    }
    if V2_ONLY_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        return Some(Target::Ignore);
    }
    let lower = name.to_ascii_lowercase();
    for f in Field::ALL {
        if column_name(f.name()) == lower {
            return Some(Target::Field(f));
        }
    }
    if V2_ONLY_FIELDS.iter().any(|f| column_name(f) == lower) {
        return Some(Target::Ignore);
    }
    None
}

/// A column of a real-time log record by its name.
pub fn realtime_target(name: &str) -> Option<Target> {
    // Real-time logs name some fields apart from standard logs, and swap two of them: their
    // `cs-host` is the viewer's Host header (standard logs' `x-host-header`), their
    // `x-host-header` the distribution's domain name (standard logs' `cs(Host)`).
    Some(match name {
        "timestamp" => Target::UnixSeconds,
        "cs-host" => Target::Field(Field::HostHeader),
        "x-host-header" => Target::Field(Field::Host),
        "cs-uri-stem" => Target::UriWithQuery,
        "cs-user-agent" => Target::Field(Field::UserAgent),
        "cs-referer" => Target::Field(Field::Referer),
        "cs-cookie" => Target::Field(Field::Cookie),
        _ if !REALTIME_FIELDS.contains(&name) && !name.starts_with("cmcd-") => return None,
        _ => match Field::from_name(name) {
            Some(f) => Target::Field(f),
            None => Target::Ignore,
        },
    })
}

/// Athena's column name for a field name.
fn column_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '-' | '(' => out.push('_'),
            ')' => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The columns of records that carry no header, as the user names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Field names, in the order records carry them.
    pub names: Vec<String>,
    /// Named with real-time logs' vocabulary.
    pub realtime: bool,
    /// Where they came from (`--fields`, or the config file), for messages.
    pub source: String,
}

/// Names only real-time logs use: a `--fields` list holding one is read as real-time records.
const REALTIME_ONLY: &[&str] = &[
    "cs-host",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "c-ip-version",
    "cs-accept",
    "cs-accept-encoding",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
    "primary-distribution-id",
    "primary-distribution-dns-name",
];

impl Columns {
    /// Parses `--fields`: names separated by commas or spaces, in the records' order. The list is
    /// real-time records' when it holds a name only real-time logs use (`cs-host`, `cs-user-agent`,
    /// …), else standard logging v2's.
    pub fn from_list(list: &str) -> Result<Columns, String> {
        let names: Vec<String> = list.split([',', ' ', '\t']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if names.is_empty() {
            return Err("--fields names no field".into());
        }
        let realtime = names.iter().any(|n| REALTIME_ONLY.contains(&n.as_str()) || n.starts_with("cmcd-"));
        for n in &names {
            let known = if realtime { realtime_target(n) } else { standard_target(n) };
            if known.is_none() {
                let vocabulary = if realtime { "real-time log" } else { "standard log (v2)" };
                return Err(format!("--fields: `{n}` is not a {vocabulary} field name"));
            }
        }
        Ok(Columns { names, realtime, source: "--fields".into() })
    }

    /// Reads the JSON `aws cloudfront get-realtime-log-config` prints (or the `RealtimeLogConfig`
    /// inside it, or an object with `Fields`). The records carry the chosen fields in the
    /// documented order whatever the order of the list, so the columns are put in that order.
    pub fn from_realtime_config(file: &str, text: &str) -> Result<Columns, String> {
        let root: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{file}: not valid JSON: {e}"))?;
        let config = root.get("RealtimeLogConfig").unwrap_or(&root);
        let Some(fields) = config.get("Fields").and_then(serde_json::Value::as_array) else {
            return Err(format!(
                "{file}: $.RealtimeLogConfig.Fields: missing; give the output of aws cloudfront get-realtime-log-config"
            ));
        };
        let mut names = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let Some(name) = f.as_str() else {
                return Err(format!("{file}: $.RealtimeLogConfig.Fields[{i}]: not a string"));
            };
            if !REALTIME_FIELDS.contains(&name) {
                return Err(format!(
                    "{file}: $.RealtimeLogConfig.Fields[{i}]: `{name}` is a field whose place in the records is not \
                     known here; pass --fields with the records' columns in order instead"
                ));
            }
            names.push(name.to_owned());
        }
        names.sort_by_key(|n| REALTIME_FIELDS.iter().position(|f| f == n));
        names.dedup();
        Ok(Columns { names, realtime: true, source: file.to_owned() })
    }

    fn targets(&self) -> Vec<Target> {
        self.names
            .iter()
            .map(|n| {
                let t = if self.realtime { realtime_target(n) } else { standard_target(n) };
                t.unwrap_or(Target::Ignore)
            })
            .collect()
    }
}

/// The syntax of a rewritten format's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Values separated by this byte.
    Delimited(u8),
    /// One JSON object per line.
    Json,
}

/// How the records of a format become the standard layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Their syntax.
    pub syntax: Syntax,
    /// What each column holds (delimited records).
    pub columns: Vec<Target>,
    /// The format, for messages (`v2 json`, `real-time`, …).
    pub label: &'static str,
}

/// How a file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Tab-separated columns the telemetry parser maps itself (header lines may recur).
    Tabs,
    /// Each record rewritten into the standard layout first.
    Rewrite(Arc<Rewrite>),
}

/// A file whose format cannot be told, or that cannot be read as told: the message and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undetected {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Undetected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (hint: {})", self.message, self.hint)
    }
}

const DELIMITERS: [u8; 5] = [b'\t', b'|', b',', b';', b' '];

/// The delimiter that cuts the most of the first records (up to 8) into exactly `n` values (tab
/// first on a tie); `None` when it cuts none.
fn delimiter_for<'a>(records: impl Iterator<Item = &'a [u8]>, n: usize) -> Option<u8> {
    let sample: Vec<&[u8]> = records.take(8).collect();
    let mut best: Option<(usize, u8)> = None;
    for d in DELIMITERS {
        let fits = sample.iter().filter(|l| memchr::memchr_iter(d, l).count() + 1 == n).count();
        if fits > 0 && best.is_none_or(|(b, _)| fits > b) {
            best = Some((fits, d));
        }
    }
    best.map(|(_, d)| d)
}

fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
}

fn looks_like_date(v: &[u8]) -> bool {
    v.len() == 10
        && v[4] == b'-'
        && v[7] == b'-'
        && v.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}

fn looks_like_epoch(v: &[u8]) -> bool {
    let int = v.split(|b| *b == b'.').next().unwrap_or(v);
    (9..=11).contains(&int.len()) && v.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// Tells the format of a file from its first bytes (decompressed, byte-order mark removed).
pub fn detect(head: &[u8], columns: Option<&Columns>) -> Result<Plan, Undetected> {
    let fields_hint = "pass --fields with the records' columns in order (for example --fields \
                       date,time,x-edge-location,cs-uri-stem,sc-status,x-edge-result-type), or for real-time \
                       records --realtime-config with the output of aws cloudfront get-realtime-log-config";
    let mut it = lines(head).peekable();
    let Some(first) = it.peek().copied() else { return Ok(Plan::Tabs) };
    if first.starts_with(b"#") {
        let fields = lines(head).find(|l| l.starts_with(b"#Fields:"));
        let Some(fields) = fields else { return Ok(Plan::Tabs) };
        let text = String::from_utf8_lossy(&fields[b"#Fields:".len()..]).into_owned();
        let names: Vec<&str> = text.split_ascii_whitespace().collect();
        let delimiter = delimiter_for(lines(head).filter(|l| !l.starts_with(b"#")), names.len()).unwrap_or(b'\t');
        let targets: Vec<Target> = names.iter().map(|n| standard_target(n).unwrap_or(Target::Ignore)).collect();
        let has = |t: Target| targets.contains(&t);
        let dated = has(Target::Field(Field::Date)) && has(Target::Field(Field::Time));
        if delimiter == b'\t' && (dated || !(has(Target::UnixMillis) || has(Target::UnixSeconds))) {
            return Ok(Plan::Tabs);
        }
        return Ok(Plan::Rewrite(Arc::new(Rewrite {
            syntax: Syntax::Delimited(delimiter),
            columns: targets,
            label: "v2 w3c",
        })));
    }
    if first.starts_with(b"{") {
        return Ok(Plan::Rewrite(Arc::new(Rewrite { syntax: Syntax::Json, columns: Vec::new(), label: "v2 json" })));
    }
    if let Some(columns) = columns {
        let n = columns.names.len();
        let Some(delimiter) = delimiter_for(lines(head).filter(|l| !l.starts_with(b"#")), n) else {
            return Err(Undetected {
                message: format!(
                    "none of the first records has the {n} fields {} names, separated by a tab, `|`, `,`, `;` or a space",
                    columns.source
                ),
                hint: "check that the list names every column of the records, in order".into(),
            });
        };
        let label = if columns.realtime { "real-time" } else { "v2 plain" };
        return Ok(Plan::Rewrite(Arc::new(Rewrite {
            syntax: Syntax::Delimited(delimiter),
            columns: columns.targets(),
            label,
        })));
    }
    let first_value = first.split(|b| DELIMITERS.contains(b)).next().unwrap_or(first);
    let tabs = memchr::memchr(b'\t', first).is_some();
    if tabs && looks_like_date(first_value) {
        // A legacy file without its header lines: columns in CloudFront's order.
        return Ok(Plan::Tabs);
    }
    if looks_like_epoch(first_value) && tabs {
        return Err(Undetected {
            message: "these look like real-time log records (tab-separated, opening with a Unix timestamp), which \
                      carry no header naming their columns"
                .into(),
            hint: fields_hint.into(),
        });
    }
    if looks_like_date(first_value) {
        return Err(Undetected {
            message: "this looks like a standard logging (v2) plain file, which has no header naming its columns"
                .into(),
            hint: fields_hint.into(),
        });
    }
    Err(Undetected {
        message: "not a CloudFront log: no #Fields header, not JSON lines, not Parquet, and no record opening with a \
                  date or a timestamp"
            .into(),
        hint:
            "give CloudFront standard logs (legacy or v2: w3c, json, plain, parquet; plain or gzip) or real-time log \
               records; for headerless records pass --fields"
                .into(),
    })
}

/// The bit of a field in a record's set of fields.
fn bit(f: Field) -> u64 {
    1u64 << f.index()
}

/// Rewrites records into the standard layout: the fields a record has, in CloudFront's order,
/// tab-separated. One per worker; buffers are reused from record to record.
pub struct Rewriter {
    /// Values, percent-encoding tabs and line ends.
    values: Vec<u8>,
    /// Span of each field's value in `values`.
    spans: [(u32, u32); 33],
    /// Fields set.
    mask: u64,
    /// Unix milliseconds, when given as a number.
    unix_ms: Option<i64>,
    /// The span of a real-time `cs-uri-stem` (path and query).
    uri: Option<(u32, u32)>,
    /// A JSON string being decoded.
    text: Vec<u8>,
    /// Field maps by set of fields.
    maps: Vec<(u64, Arc<FieldMap>)>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            values: Vec::new(),
            spans: [(0, 0); 33],
            mask: 0,
            unix_ms: None,
            uri: None,
            text: Vec::new(),
            maps: Vec::new(),
        }
    }
}

impl Rewriter {
    /// Starts a new record.
    pub fn reset(&mut self) {
        self.values.clear();
        self.mask = 0;
        self.unix_ms = None;
        self.uri = None;
    }

    fn push_value(&mut self, v: &[u8]) -> (u32, u32) {
        let start = self.values.len();
        if v.is_empty() {
            self.values.push(b'-');
        } else {
            // Runs without a tab or a line end are copied whole: values rarely hold one.
            let mut rest = v;
            while let Some(i) = memchr::memchr3(b'\t', b'\n', b'\r', rest) {
                self.values.extend_from_slice(&rest[..i]);
                self.values.extend_from_slice(match rest[i] {
                    b'\t' => b"%09",
                    b'\n' => b"%0A",
                    _ => b"%0D",
                });
                rest = &rest[i + 1..];
            }
            self.values.extend_from_slice(rest);
        }
        // Values of one record stay far below 4 GiB: lines are cut at 8 MiB.
        (start as u32, self.values.len() as u32)
    }

    /// Sets one column's value (`-` or empty when absent).
    pub fn set(&mut self, target: Target, v: &[u8]) -> Result<(), String> {
        match target {
            Target::Ignore => {}
            Target::Field(f) => {
                let span = self.push_value(v);
                self.spans[f.index()] = span;
                self.mask |= bit(f);
            }
            Target::UnixSeconds => {
                if v != b"-" && !v.is_empty() {
                    self.unix_ms = Some(parse_unix(v, false)?);
                }
            }
            Target::UnixMillis => {
                if v != b"-" && !v.is_empty() {
                    self.unix_ms = Some(parse_unix(v, true)?);
                }
            }
            Target::UriWithQuery => self.uri = Some(self.push_value(v)),
        }
        Ok(())
    }

    /// Writes the record into `out` (cleared first) and returns the map of its columns.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Arc<FieldMap> {
        if let Some((s, e)) = self.uri.take() {
            let uri = &self.values[s as usize..e as usize];
            let (stem, query) = match memchr::memchr(b'?', uri) {
                Some(q) => ((s, s + q as u32), Some((s + q as u32 + 1, e))),
                None => ((s, e), None),
            };
            if self.mask & bit(Field::UriStem) == 0 {
                self.spans[Field::UriStem.index()] = stem;
                self.mask |= bit(Field::UriStem);
            }
            if let Some(q) = query
                && (self.mask & bit(Field::UriQuery) == 0 || self.value(Field::UriQuery) == b"-")
            {
                let q = if q.0 == q.1 { self.push_value(b"-") } else { q };
                self.spans[Field::UriQuery.index()] = q;
                self.mask |= bit(Field::UriQuery);
            }
        }
        let dated = self.mask & (bit(Field::Date) | bit(Field::Time)) == bit(Field::Date) | bit(Field::Time);
        if !dated {
            // A date without a time (or the reverse) cannot place a record: the number, if any, does.
            self.mask &= !(bit(Field::Date) | bit(Field::Time));
        }
        out.clear();
        let mut first = true;
        for f in Field::ALL {
            if f == Field::Date && !dated {
                if let Some(ms) = self.unix_ms {
                    push_date_time(out, ms.div_euclid(1000));
                    self.mask |= bit(Field::Date) | bit(Field::Time);
                    first = false;
                }
                continue;
            }
            if f == Field::Time && !dated {
                continue;
            }
            if self.mask & bit(f) == 0 {
                continue;
            }
            if !first {
                out.push(b'\t');
            }
            first = false;
            let (s, e) = self.spans[f.index()];
            out.extend_from_slice(&self.values[s as usize..e as usize]);
        }
        self.map(self.mask)
    }

    fn value(&self, f: Field) -> &[u8] {
        let (s, e) = self.spans[f.index()];
        &self.values[s as usize..e as usize]
    }

    fn map(&mut self, mask: u64) -> Arc<FieldMap> {
        if let Some((_, m)) = self.maps.iter().find(|(k, _)| *k == mask) {
            return m.clone();
        }
        let names: Vec<&str> = Field::ALL.iter().filter(|f| mask & bit(**f) != 0).map(|f| f.name()).collect();
        let map = Arc::new(FieldMap::from_fields_line(&names.join(" ")));
        if self.maps.len() > 64 {
            self.maps.clear();
        }
        self.maps.push((mask, map.clone()));
        map
    }

    /// Rewrites one record of `plan` into `out`; the error says what is wrong with it.
    pub fn rewrite(&mut self, plan: &Rewrite, line: &[u8], out: &mut Vec<u8>) -> Result<Arc<FieldMap>, String> {
        self.reset();
        match plan.syntax {
            Syntax::Delimited(d) => {
                let found = memchr::memchr_iter(d, line).count() + 1;
                if found != plan.columns.len() {
                    return Err(format!(
                        "expected {} {}-separated fields, found {found}",
                        plan.columns.len(),
                        delimiter_name(d)
                    ));
                }
                for (target, value) in plan.columns.iter().zip(line.split(|b| *b == d)) {
                    self.set(*target, value)?;
                }
            }
            Syntax::Json => self.json(line)?,
        }
        Ok(self.finish(out))
    }

    fn json(&mut self, line: &[u8]) -> Result<(), String> {
        let mut p = JsonCursor { b: line, i: 0 };
        p.ws();
        p.expect(b'{')?;
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let mut key = std::mem::take(&mut self.text);
                key.clear();
                p.string(&mut key)?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                let target = std::str::from_utf8(&key).ok().and_then(json_target);
                let mut value = Vec::new();
                std::mem::swap(&mut value, &mut key);
                value.clear();
                p.value(&mut value)?;
                if let Some(t) = target {
                    self.set(t, &value)?;
                }
                self.text = value;
                p.ws();
                match p.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(p.error("`,` or `}`")),
                }
            }
        }
        p.ws();
        if p.i != line.len() {
            return Err(p.error("the end of the line after the object"));
        }
        Ok(())
    }
}

/// A JSON key: standard names first, then real-time names.
fn json_target(key: &str) -> Option<Target> {
    standard_target(key).or_else(|| realtime_target(key))
}

fn delimiter_name(d: u8) -> &'static str {
    match d {
        b'\t' => "tab",
        b'|' => "`|`",
        b',' => "`,`",
        b';' => "`;`",
        b' ' => "space",
        _ => "delimiter",
    }
}

/// Parses Unix seconds (`1731620046.814`) or milliseconds (`1731620046814`) into milliseconds.
fn parse_unix(v: &[u8], millis: bool) -> Result<i64, String> {
    let bad = || format!("invalid timestamp `{}`", String::from_utf8_lossy(&v[..v.len().min(40)]));
    let (int, frac) = match memchr::memchr(b'.', v) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if int.is_empty() || int.len() > 15 || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let whole: i64 = int.iter().fold(0i64, |a, b| a * 10 + i64::from(b - b'0'));
    if millis {
        return Ok(whole);
    }
    let mut ms = 0i64;
    for (i, d) in frac.iter().take(3).enumerate() {
        ms += i64::from(d - b'0') * [100, 10, 1][i];
    }
    Ok(whole * 1000 + ms)
}

/// A cursor over one line of JSON.
struct JsonCursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl JsonCursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn error(&self, expected: &str) -> String {
        let found = match self.peek() {
            Some(c) if c.is_ascii_graphic() => format!("`{}`", c as char),
            Some(c) => format!("byte 0x{c:02x}"),
            None => "the end of the line".to_owned(),
        };
        format!("not a JSON log record: expected {expected} at byte {}, found {found}", self.i + 1)
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("`{}`", c as char)))
        }
    }

    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        self.expect(b'"')?;
        loop {
            let rest = &self.b[self.i..];
            let Some(j) = memchr::memchr2(b'"', b'\\', rest) else {
                self.i = self.b.len();
                return Err(self.error("the closing `\"` of a string"));
            };
            out.extend_from_slice(&rest[..j]);
            self.i += j;
            if self.next() == Some(b'"') {
                return Ok(());
            }
            let escape = self.next();
            let c = match escape {
                Some(b'"') => b'"',
                Some(b'\\') => b'\\',
                Some(b'/') => b'/',
                Some(b'b') => 8,
                Some(b'f') => 12,
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b't') => b'\t',
                Some(b'u') => {
                    let mut code = self.hex4()?;
                    if (0xD800..0xDC00).contains(&code) && self.b[self.i..].starts_with(b"\\u") {
                        self.i += 2;
                        let low = self.hex4()?;
                        if (0xDC00..0xE000).contains(&low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        }
                    }
                    let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                _ => {
                    self.i -= 1;
                    return Err(self.error("an escape (`\\\"`, `\\\\`, `\\n`, `\\u00e9`, …)"));
                }
            };
            out.push(c);
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(digits) = self.b.get(self.i..self.i + 4) else {
            return Err(self.error("four hex digits"));
        };
        let mut v = 0u32;
        for d in digits {
            let Some(x) = (*d as char).to_digit(16) else { return Err(self.error("four hex digits")) };
            v = v * 16 + x;
        }
        self.i += 4;
        Ok(v)
    }

    /// A value: a string (decoded), a number or `true`/`false` as written, `null` as `-`.
    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        match self.peek() {
            Some(b'"') => self.string(out),
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                out.push(b'-');
                Ok(())
            }
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                out.extend_from_slice(b"true");
                Ok(())
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                out.extend_from_slice(b"false");
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                out.extend_from_slice(&self.b[start..self.i]);
                Ok(())
            }
            _ => Err(self.error("a string, a number, true, false or null (records are flat objects)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachalot_telemetry::parse::split_line;

    fn rewrite(plan: &Rewrite, line: &str) -> Result<(String, Arc<FieldMap>), String> {
        let mut r = Rewriter::default();
        let mut out = Vec::new();
        let map = r.rewrite(plan, line.as_bytes(), &mut out)?;
        Ok((String::from_utf8(out).unwrap(), map))
    }

    #[test]
    fn json_records_take_their_keys_in_any_order_and_escapes() {
        let plan = Rewrite { syntax: Syntax::Json, columns: Vec::new(), label: "v2 json" };
        let (line, map) = rewrite(
            &plan,
            r#"{"cs-uri-stem":"/a\tb","timestamp(ms)":"1731620046814","asn":16509,"sc-status":"200","x-edge-result-type":null,"cs(Cookie)":"\u00e9\ud83d\ude00"}"#,
        )
        .unwrap();
        assert_eq!(line, "2024-11-14\t21:34:06\t/a%09b\t200\t\u{e9}\u{1f600}\t-");
        let l = split_line(&line, &map).unwrap();
        assert_eq!(l.text(Field::UriStem), "/a\tb");
        assert_eq!(l.status().unwrap(), Some(200));
        assert!(l.has(Field::EdgeResultType) && !l.has(Field::EdgeLocation));
    }

    #[test]
    fn malformed_json_is_an_error_saying_where() {
        let plan = Rewrite { syntax: Syntax::Json, columns: Vec::new(), label: "v2 json" };
        for bad in [r#"{"a":"b""#, r#"{"a" "b"}"#, r#"{"a":["b"]}"#, r#"{"a":"\x"}"#, "{} trailing", r#"{"a":"\ud8"}"#]
        {
            let e = rewrite(&plan, bad).unwrap_err();
            assert!(e.starts_with("not a JSON log record: expected"), "{bad}: {e}");
        }
    }

    #[test]
    fn realtime_records_swap_host_names_and_split_the_query() {
        let columns = Columns::from_list("timestamp,cs-host,cs-uri-stem,x-host-header,sc-status").unwrap();
        assert!(columns.realtime);
        let plan = Rewrite { syntax: Syntax::Delimited(b'\t'), columns: columns.targets(), label: "real-time" };
        let (line, map) =
            rewrite(&plan, "1598921234.123\twww.example.com\t/a.jpg?w=1\td111111abcdef8.cloudfront.net\t200").unwrap();
        let l = split_line(&line, &map).unwrap();
        assert_eq!(l.raw(Field::Date), "2020-09-01");
        assert_eq!(l.raw(Field::Time), "00:47:14");
        assert_eq!(l.raw(Field::Host), "d111111abcdef8.cloudfront.net");
        assert_eq!(l.raw(Field::HostHeader), "www.example.com");
        assert_eq!((l.raw(Field::UriStem), l.raw(Field::UriQuery)), ("/a.jpg", "w=1"));
    }

    #[test]
    fn realtime_config_fields_take_the_documented_order() {
        let c = Columns::from_realtime_config(
            "rt.json",
            r#"{"RealtimeLogConfig": {"Name": "x", "SamplingRate": 100, "Fields": ["sc-status", "c-country", "timestamp"]}}"#,
        )
        .unwrap();
        assert_eq!(c.names, ["timestamp", "sc-status", "c-country"]);
        let e = Columns::from_realtime_config("rt.json", r#"{"RealtimeLogConfig": {"Fields": ["nope"]}}"#).unwrap_err();
        assert!(e.contains("Fields[0]") && e.contains("--fields"), "{e}");
    }

    #[test]
    fn detection() {
        let legacy = "#Version: 1.0\n#Fields: date time sc-status\n2024-01-01\t00:00:00\t200\n";
        assert_eq!(detect(legacy.as_bytes(), None).unwrap(), Plan::Tabs);
        let w3c_pipe = "#Version: 1.0\n#Fields: date time sc-status\n2024-01-01|00:00:00|200\n";
        assert!(
            matches!(detect(w3c_pipe.as_bytes(), None).unwrap(), Plan::Rewrite(r) if r.syntax == Syntax::Delimited(b'|'))
        );
        let w3c_ms = "#Fields: timestamp(ms) sc-status\n1731620046814\t200\n";
        assert!(matches!(detect(w3c_ms.as_bytes(), None).unwrap(), Plan::Rewrite(_)));
        assert!(matches!(detect(b"{\"date\":\"x\"}\n", None).unwrap(), Plan::Rewrite(r) if r.syntax == Syntax::Json));
        let e = detect(b"1598921234.123\t1.2.3.4\t200\n", None).unwrap_err();
        assert!(e.message.contains("real-time") && e.hint.contains("--realtime-config"), "{e}");
        let e = detect(b"2024-01-01|00:00:00|200\n", None).unwrap_err();
        assert!(e.message.contains("plain") && e.hint.contains("--fields"), "{e}");
        let e = detect(b"\x00\x01binary junk", None).unwrap_err();
        assert!(e.message.contains("not a CloudFront log"), "{e}");
        let columns = Columns::from_list("date time sc-status").unwrap();
        assert!(
            matches!(detect(b"2024-01-01;00:00:00;200\n", Some(&columns)).unwrap(), Plan::Rewrite(r) if r.syntax == Syntax::Delimited(b';'))
        );
        assert!(detect(b"2024-01-01;00:00:00\n", Some(&columns)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_detected_or_refused_and_rewritten_or_refused(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            json in "[{}\\[\\]\":,a-z0-9\\\\u ]{0,120}",
        ) {
            let columns = Columns::from_list("timestamp,cs-host,cs-uri-stem,x-host-header,sc-status").unwrap();
            for input in [data.as_slice(), json.as_bytes()] {
                for cols in [None, Some(&columns)] {
                    if let Ok(Plan::Rewrite(plan)) = detect(input, cols) {
                        let mut r = Rewriter::default();
                        let mut out = Vec::new();
                        for line in input.split(|b| *b == b'\n') {
                            if let Ok(map) = r.rewrite(&plan, line, &mut out) {
                                let text = String::from_utf8_lossy(&out).into_owned();
                                if let Ok(l) = split_line(&text, &map) {
                                    let _ = l.to_record();
                                }
                            }
                        }
                    }
                }
                let json_plan = Rewrite { syntax: Syntax::Json, columns: Vec::new(), label: "v2 json" };
                let _ = Rewriter::default().rewrite(&json_plan, input, &mut Vec::new());
            }
        }
    }

    #[test]
    fn names_map_across_vocabularies() {
        assert_eq!(standard_target("cs_user_agent"), Some(Target::Field(Field::UserAgent)));
        assert_eq!(standard_target("timestamp_ms"), Some(Target::UnixMillis));
        assert_eq!(standard_target("c-country"), Some(Target::Ignore));
        assert_eq!(standard_target("nope"), None);
        assert!(Columns::from_list("date,nope").is_err());
        assert_eq!(parse_unix(b"1731620046.8", false), Ok(1_731_620_046_800));
        assert!(parse_unix(b"17316x", false).is_err());
    }
}
