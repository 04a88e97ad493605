//! CloudFront's standard access log format: the record, its vocabularies and the writer.
//!
//! **API boundary.** Files written here are read by Athena, GoAccess, awk scripts and
//! `cachalot analyze`; the byte layout is covered by snapshot tests and must not drift:
//!
//! - two header lines, [`VERSION_LINE`] and [`FIELDS_LINE`];
//! - one line per request: the 33 [`Field`]s in order, separated by a tab, ended by `\n`;
//! - an empty or absent value is written `-`; text is percent-encoded as CloudFront does
//!   ([`encode_value`]); `sc-status` is `000` when no response was sent; `time-taken` and
//!   `time-to-first-byte` are seconds with millisecond precision (`0.082`).

use crate::civil::{self, Civil};
use cachalot_policy::DetailedResultType;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// The first header line of every log file.
pub const VERSION_LINE: &str = "#Version: 1.0";

/// The second header line of every log file: the 33 field names in order.
pub const FIELDS_LINE: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status \
cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol \
cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version \
fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len \
sc-range-start sc-range-end";

macro_rules! fields {
    ($($variant:ident => $name:literal,)*) => {
        /// One column of the standard log, in CloudFront's order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Field {
            /// All fields in the order CloudFront writes them.
            pub const ALL: [Field; 33] = [$(Field::$variant,)*];

            /// The W3C field name used in the `#Fields:` line.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// The field with this W3C name (exact spelling).
            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)* _ => None }
            }

            /// Position in [`Field::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

cachalot_config::for_legacy_log_fields!(fields);

/// A value of `x-edge-result-type`, `x-edge-response-result-type` or
/// `x-edge-detailed-result-type` as logged: one of CloudFront's spellings (policy's
/// vocabulary, [`DetailedResultType`], which holds every spelling of the three fields),
/// a spelling this version does not know, or nothing. The known values are also named
/// as constants (`ResultType::Hit`), so they read and match like variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ResultType {
    /// The field was `-` or the column is missing.
    #[default]
    Absent,
    /// One of CloudFront's spellings.
    Known(DetailedResultType),
    /// A value this version does not know, as logged.
    Other(Box<str>),
}

impl ResultType {
    /// The spelling in the log (`-` for [`ResultType::Absent`]).
    pub fn as_str(&self) -> &str {
        match self {
            ResultType::Absent => "-",
            ResultType::Known(known) => known.as_str(),
            ResultType::Other(s) => s,
        }
    }

    /// Parses a decoded field value; never fails.
    pub fn parse(s: &str) -> ResultType {
        match s {
            "" | "-" => ResultType::Absent,
            other => match other.parse::<DetailedResultType>() {
                Ok(known) => ResultType::Known(known),
                Err(()) => ResultType::Other(other.into()),
            },
        }
    }
}

impl From<DetailedResultType> for ResultType {
    fn from(known: DetailedResultType) -> Self {
        ResultType::Known(known)
    }
}

impl From<cachalot_policy::ResultType> for ResultType {
    fn from(result: cachalot_policy::ResultType) -> Self {
        ResultType::Known(result.same_spelling())
    }
}

/// Names each known value as a constant of [`ResultType`], from policy's one list.
macro_rules! known_result_types {
    ({ $($(#[$doc:meta])* $variant:ident,)* }) => {
        impl ResultType {
            $(
                $(#[$doc])*
                #[allow(non_upper_case_globals)] // Read and matched like the variants they stand for.
                pub const $variant: ResultType = ResultType::Known(DetailedResultType::$variant);
            )*
        }
    };
}

cachalot_policy::for_detailed_result_types!(known_result_types,);

/// One request as CloudFront logs it: the 33 standard-log fields, typed.
///
/// Text fields hold the *decoded* value; an empty string means "absent" and is
/// written `-`. The writer percent-encodes, the parser decodes, so
/// `parse(write(r)) == r` for every record whose times have whole-second
/// (`timestamp`) and whole-millisecond (`time_taken`, `time_to_first_byte`) precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// `date` + `time`: when the edge finished responding (UTC, logged to the second).
    pub timestamp: SystemTime,
    /// `x-edge-location`: the POP id, e.g. `LHR50-C1`.
    pub edge_location: String,
    /// `sc-bytes`: bytes sent to the viewer, headers included.
    pub sc_bytes: u64,
    /// `c-ip`: the viewer's address (`None` logs `-`).
    pub client_ip: Option<IpAddr>,
    /// `cs-method`.
    pub method: String,
    /// `cs(Host)`: the distribution's domain name (`d111111abcdef8.cloudfront.net`).
    pub host: String,
    /// `cs-uri-stem`: the path, without the query.
    pub uri_stem: String,
    /// `sc-status`; `None` is written `000` (the viewer left before a response).
    pub status: Option<u16>,
    /// `cs(Referer)`.
    pub referer: String,
    /// `cs(User-Agent)`.
    pub user_agent: String,
    /// `cs-uri-query`: the query without `?`.
    pub query: String,
    /// `cs(Cookie)`: the whole Cookie header when the distribution logs cookies.
    pub cookie: String,
    /// `x-edge-result-type`: the classification after the last byte was sent.
    pub result_type: ResultType,
    /// `x-edge-request-id` (= the `x-amz-cf-id` response header).
    pub request_id: String,
    /// `x-host-header`: the viewer's `Host` header.
    pub host_header: String,
    /// `cs-protocol`: `http`, `https`, `ws` or `wss`.
    pub protocol: String,
    /// `cs-bytes`: bytes received from the viewer, headers included.
    pub cs_bytes: u64,
    /// `time-taken`: from receiving the request to queueing the last byte.
    pub time_taken: Duration,
    /// `x-forwarded-for`: the `X-Forwarded-For` the viewer sent.
    pub forwarded_for: String,
    /// `ssl-protocol`, e.g. `TLSv1.3`; empty for plain HTTP.
    pub ssl_protocol: String,
    /// `ssl-cipher`, e.g. `TLS_AES_128_GCM_SHA256`; empty for plain HTTP.
    pub ssl_cipher: String,
    /// `x-edge-response-result-type`: the classification just before responding.
    pub response_result_type: ResultType,
    /// `cs-protocol-version`: `HTTP/1.1`, `HTTP/2.0`, …
    pub protocol_version: String,
    /// `fle-status`: field-level encryption status (empty when not configured).
    pub fle_status: String,
    /// `fle-encrypted-fields`.
    pub fle_encrypted_fields: Option<u64>,
    /// `c-port`: the viewer's source port.
    pub client_port: Option<u16>,
    /// `time-to-first-byte`: from receiving the request to writing the first byte.
    pub time_to_first_byte: Option<Duration>,
    /// `x-edge-detailed-result-type`.
    pub detailed_result_type: ResultType,
    /// `sc-content-type`.
    pub content_type: String,
    /// `sc-content-len`: the response's `Content-Length`.
    pub content_length: Option<u64>,
    /// `sc-range-start`: from `Content-Range`.
    pub range_start: Option<u64>,
    /// `sc-range-end`: from `Content-Range`.
    pub range_end: Option<u64>,
}

impl Default for LogRecord {
    fn default() -> Self {
        LogRecord {
            timestamp: SystemTime::UNIX_EPOCH,
            edge_location: String::new(),
            sc_bytes: 0,
            client_ip: None,
            method: String::new(),
            host: String::new(),
            uri_stem: String::new(),
            status: None,
            referer: String::new(),
            user_agent: String::new(),
            query: String::new(),
            cookie: String::new(),
            result_type: ResultType::Absent,
            request_id: String::new(),
            host_header: String::new(),
            protocol: String::new(),
            cs_bytes: 0,
            time_taken: Duration::ZERO,
            forwarded_for: String::new(),
            ssl_protocol: String::new(),
            ssl_cipher: String::new(),
            response_result_type: ResultType::Absent,
            protocol_version: String::new(),
            fle_status: String::new(),
            fle_encrypted_fields: None,
            client_port: None,
            time_to_first_byte: None,
            detailed_result_type: ResultType::Absent,
            content_type: String::new(),
            content_length: None,
            range_start: None,
            range_end: None,
        }
    }
}

/// Which bytes CloudFront writes as `%XX`: 0–32 (space included), 127 and above,
/// and `< > " # % { } | \ ^ ~ [ ] ` '`.
const fn encode_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i <= 32 || i >= 127;
        i += 1;
    }
    let special = b"<>\"#%{}|\\^~[]`'";
    let mut j = 0;
    while j < special.len() {
        t[special[j] as usize] = true;
        j += 1;
    }
    t
}

static NEEDS_ENCODING: [bool; 256] = encode_table();
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `value` as CloudFront logs text: `-` when empty, otherwise with the
/// bytes listed in the module docs percent-encoded (uppercase hex).
///
/// A value that is exactly `-` is written `%2D` so it cannot be mistaken for
/// "absent" (CloudFront's own behaviour there is undocumented).
pub fn encode_value(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        out.push(b'-');
        return;
    }
    if bytes == b"-" {
        out.extend_from_slice(b"%2D");
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if NEEDS_ENCODING[b as usize] {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

pub(crate) fn push_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => push_u64(out, v),
        None => out.push(b'-'),
    }
}

/// Appends seconds with millisecond precision (`0.082`), rounding to the nearest millisecond.
pub(crate) fn push_seconds(out: &mut Vec<u8>, d: Duration) {
    let millis = d.as_nanos().saturating_add(500_000) / 1_000_000;
    let millis = u64::try_from(millis).unwrap_or(u64::MAX);
    push_u64(out, millis / 1000);
    out.push(b'.');
    let frac = millis % 1000;
    out.extend_from_slice(&[b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
}

pub(crate) fn push_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    use std::io::Write;
    match ip {
        // Writing to a Vec cannot fail.
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push(b'-'),
    }
}

pub(crate) fn push_status(out: &mut Vec<u8>, status: Option<u16>) {
    match status {
        Some(s) if s >= 100 => push_u64(out, u64::from(s)),
        Some(s) => {
            // Statuses are three digits on the wire; keep the column width for odd values.
            out.extend_from_slice(&[b'0' + (s / 100) as u8, b'0' + (s / 10 % 10) as u8, b'0' + (s % 10) as u8]);
        }
        None => out.extend_from_slice(b"000"),
    }
}

/// Appends the two header lines (each ended by `\n`).
pub fn write_header(out: &mut Vec<u8>) {
    out.extend_from_slice(VERSION_LINE.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(FIELDS_LINE.as_bytes());
    out.push(b'\n');
}

/// Appends one record as a log line, `\n` included.
pub fn write_record(out: &mut Vec<u8>, r: &LogRecord) {
    let civil = Civil::from_unix(civil::unix_seconds(r.timestamp));
    civil::push_date(out, &civil);
    out.push(b'\t');
    civil::push_time(out, &civil);
    out.push(b'\t');
    encode_value(out, &r.edge_location);
    out.push(b'\t');
    push_u64(out, r.sc_bytes);
    out.push(b'\t');
    push_ip(out, r.client_ip);
    out.push(b'\t');
    encode_value(out, &r.method);
    out.push(b'\t');
    encode_value(out, &r.host);
    out.push(b'\t');
    encode_value(out, &r.uri_stem);
    out.push(b'\t');
    push_status(out, r.status);
    out.push(b'\t');
    encode_value(out, &r.referer);
    out.push(b'\t');
    encode_value(out, &r.user_agent);
    out.push(b'\t');
    encode_value(out, &r.query);
    out.push(b'\t');
    encode_value(out, &r.cookie);
    out.push(b'\t');
    encode_value(out, result_text(&r.result_type));
    out.push(b'\t');
    encode_value(out, &r.request_id);
    out.push(b'\t');
    encode_value(out, &r.host_header);
    out.push(b'\t');
    encode_value(out, &r.protocol);
    out.push(b'\t');
    push_u64(out, r.cs_bytes);
    out.push(b'\t');
    push_seconds(out, r.time_taken);
    out.push(b'\t');
    encode_value(out, &r.forwarded_for);
    out.push(b'\t');
    encode_value(out, &r.ssl_protocol);
    out.push(b'\t');
    encode_value(out, &r.ssl_cipher);
    out.push(b'\t');
    encode_value(out, result_text(&r.response_result_type));
    out.push(b'\t');
    encode_value(out, &r.protocol_version);
    out.push(b'\t');
    encode_value(out, &r.fle_status);
    out.push(b'\t');
    push_opt_u64(out, r.fle_encrypted_fields);
    out.push(b'\t');
    push_opt_u64(out, r.client_port.map(u64::from));
    out.push(b'\t');
    match r.time_to_first_byte {
        Some(d) => push_seconds(out, d),
        None => out.push(b'-'),
    }
    out.push(b'\t');
    encode_value(out, result_text(&r.detailed_result_type));
    out.push(b'\t');
    encode_value(out, &r.content_type);
    out.push(b'\t');
    push_opt_u64(out, r.content_length);
    out.push(b'\t');
    push_opt_u64(out, r.range_start);
    out.push(b'\t');
    push_opt_u64(out, r.range_end);
    out.push(b'\n');
}

/// The text written for a result type (`""`, hence `-`, when absent).
pub(crate) fn result_text(r: &ResultType) -> &str {
    match r {
        ResultType::Absent => "",
        other => other.as_str(),
    }
}

/// One record as a log line, `\n` included.
pub fn record_line(r: &LogRecord) -> String {
    let mut out = Vec::with_capacity(512);
    write_record(&mut out, r);
    // The writer only emits ASCII (every byte ≥ 127 is percent-encoded).
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn enc(s: &str) -> String {
        let mut out = Vec::new();
        encode_value(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_line_lists_the_33_fields_in_order() {
        let names: Vec<&str> = FIELDS_LINE.trim_start_matches("#Fields: ").split(' ').collect();
        assert_eq!(names.len(), 33);
        for (name, field) in names.iter().zip(Field::ALL) {
            assert_eq!(*name, field.name());
            assert_eq!(Field::from_name(name), Some(field));
        }
    }

    #[test]
    fn encoding_follows_cloudfront() {
        assert_eq!(enc(""), "-");
        assert_eq!(enc("-"), "%2D");
        assert_eq!(enc("a-b"), "a-b");
        assert_eq!(enc("Mozilla/5.0 (X11; Linux)"), "Mozilla/5.0%20(X11;%20Linux)");
        assert_eq!(enc("a\tb\nc\u{7f}"), "a%09b%0Ac%7F");
        assert_eq!(enc("<>\"#%{}|\\^~[]`'"), "%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27");
        assert_eq!(enc("/caf\u{e9}"), "/caf%C3%A9");
        assert_eq!(enc("/a%20b"), "/a%2520b");
        assert_eq!(enc("a=1&b=(2),c;d:e@f!g*h+i$j/k?l"), "a=1&b=(2),c;d:e@f!g*h+i$j/k?l");
    }

    #[test]
    fn seconds_have_millisecond_precision() {
        let s = |d: Duration| {
            let mut out = Vec::new();
            push_seconds(&mut out, d);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(s(Duration::from_millis(82)), "0.082");
        assert_eq!(s(Duration::from_micros(1_499)), "0.001");
        assert_eq!(s(Duration::from_micros(1_500)), "0.002");
        assert_eq!(s(Duration::from_millis(12_345)), "12.345");
        assert_eq!(s(Duration::ZERO), "0.000");
    }

    #[test]
    fn status_none_is_000() {
        let r = LogRecord { timestamp: UNIX_EPOCH, ..LogRecord::default() };
        let line = record_line(&r);
        let cols: Vec<&str> = line.trim_end().split('\t').collect();
        assert_eq!(cols.len(), 33);
        assert_eq!(cols[8], "000");
        assert!(cols.iter().all(|c| !c.is_empty()), "no empty column: {line}");
    }

    #[test]
    fn result_type_vocabulary_round_trips() {
        for s in ["Hit", "RefreshHit", "Miss", "Error", "OriginShieldHit", "FunctionGeneratedResponse"] {
            assert_eq!(ResultType::parse(s).as_str(), s);
            assert!(!matches!(ResultType::parse(s), ResultType::Other(_)));
        }
        assert_eq!(ResultType::parse("-"), ResultType::Absent);
        assert_eq!(ResultType::parse("Brand-new"), ResultType::Other("Brand-new".into()));
    }
}
