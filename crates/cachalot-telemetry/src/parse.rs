//! Reading CloudFront standard access logs: CloudFront's own files and Cachalot's.
//!
//! [`LogReader`] streams records from any [`Read`]: gzip or plain text (told apart by the
//! gzip magic bytes), `#Fields:` headers mapping columns by name (older files with fewer
//! fields, reordered or unknown extra columns all work; header lines may recur, as in
//! `zcat *.gz`), CRLF line ends, trailing tabs, `-` anywhere, IPv6 addresses.
//!
//! Two ways to consume it:
//! - [`LogReader::next_line`] lends a [`LogLine`] borrowing the reader's buffer: fields are
//!   split with `memchr` and nothing is allocated until a value is asked for (percent-decoding
//!   only allocates when the value contains `%`). This is the fast path for analysis.
//! - `Iterator<Item = Result<LogRecord, ParseError>>` yields owned, typed, decoded records.
//!
//! A malformed line becomes an `Err` item naming the file and line; reading goes on with the
//! next line. An I/O or gzip error ends the stream after its `Err` item.

use crate::civil;
use crate::format::{Field, LogRecord, ResultType};
use flate2::read::MultiGzDecoder;
use memchr::memchr;
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Lines longer than this are reported as errors and skipped (CloudFront does not log
/// requests with URLs over 8 KB or headers over 20 KB, so real lines are far shorter).
pub const MAX_LINE_BYTES: usize = 4 << 20;

const READ_CHUNK: usize = 256 << 10;

/// The UTF-8 byte-order mark, skipped at the start of a file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How the columns of a file map to [`Field`]s, from its `#Fields:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    /// The field of each column; `None` for a name this version does not know.
    columns: Vec<Option<Field>>,
    /// True when no `#Fields:` line has been seen: columns are taken as a prefix of
    /// CloudFront's order (fields were only ever appended), with at least `MIN_IMPLICIT`.
    implicit: bool,
    /// Columns are CloudFront's fields in order (a fast path when splitting).
    standard: bool,
}

/// A headerless line needs at least the fields up to `sc-status`.
const MIN_IMPLICIT: usize = 9;

impl FieldMap {
    /// CloudFront's current 33 fields in order.
    pub fn standard() -> FieldMap {
        FieldMap { columns: Field::ALL.iter().copied().map(Some).collect(), implicit: false, standard: true }
    }

    /// The map for files without a `#Fields:` line.
    fn implicit() -> FieldMap {
        FieldMap { implicit: true, ..FieldMap::standard() }
    }

    /// Builds the map from a `#Fields:` header line (the `#Fields:` prefix is optional).
    pub fn from_fields_line(line: &str) -> FieldMap {
        let names = line.strip_prefix("#Fields:").unwrap_or(line);
        let columns: Vec<Option<Field>> = names.split_ascii_whitespace().map(Field::from_name).collect();
        let standard = columns.len() == 33 && columns.iter().zip(Field::ALL).all(|(c, f)| *c == Some(f));
        FieldMap { columns, implicit: false, standard }
    }

    /// Whether files with this map carry `field`.
    pub fn has(&self, field: Field) -> bool {
        self.columns.contains(&Some(field))
    }

    /// The field of column `index` (0-based); `None` past the end or for an unknown name.
    pub fn column(&self, index: usize) -> Option<Field> {
        self.columns.get(index).copied().flatten()
    }

    /// True when no `#Fields:` line was seen (columns taken in CloudFront's order).
    pub fn is_implicit(&self) -> bool {
        self.implicit
    }

    /// Number of columns each line must have.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the header named no column at all.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    fn is_standard(&self) -> bool {
        self.standard && !self.implicit
    }
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap::implicit()
    }
}

/// What is wrong with one line (without its location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Fewer columns than the `#Fields:` line declares.
    FieldCount {
        /// Columns declared.
        expected: usize,
        /// Columns found.
        found: usize,
    },
    /// A value that does not fit its field's type.
    InvalidValue {
        /// The field.
        field: Field,
        /// The raw value (cut to 80 bytes).
        value: String,
    },
    /// The line exceeds [`MAX_LINE_BYTES`].
    TooLong,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::FieldCount { expected, found } => {
                write!(f, "expected {expected} tab-separated fields, found {found}")
            }
            LineError::InvalidValue { field, value } => write!(f, "invalid {} value `{value}`", field.name()),
            LineError::TooLong => write!(f, "line longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

impl std::error::Error for LineError {}

fn invalid(field: Field, value: &str) -> LineError {
    let mut end = value.len().min(80);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    LineError::InvalidValue { field, value: value[..end].to_owned() }
}

/// What went wrong while reading a log.
#[derive(Debug)]
pub enum ParseErrorKind {
    /// A malformed line; reading goes on.
    Line(LineError),
    /// Reading or decompressing failed; the stream ends.
    Io(io::Error),
}

/// An error item: the file, the 1-based line number and what went wrong.
#[derive(Debug)]
pub struct ParseError {
    /// The name the reader was given (usually the path).
    pub file: Arc<str>,
    /// 1-based line number (the line being read, for I/O errors).
    pub line: u64,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ParseErrorKind::Line(e) => write!(f, "{}:{}: {e}", self.file, self.line),
            ParseErrorKind::Io(e) => write!(f, "{}:{}: read error: {e}", self.file, self.line),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ParseErrorKind::Line(e) => Some(e),
            ParseErrorKind::Io(e) => Some(e),
        }
    }
}

/// One data line split into fields, borrowing the line.
///
/// [`LogLine::raw`] gives the bytes as logged; [`LogLine::text`] decodes them; the typed
/// accessors parse on demand. Fields missing from the file read as `-`.
#[derive(Debug, Clone)]
pub struct LogLine<'a> {
    line: &'a str,
    /// Byte range of each field in `line`, by [`Field::index`]; [`MISSING`] when absent.
    spans: [(u32, u32); 33],
    /// Columns found in the line.
    found: u32,
    /// Columns the line should have (its `#Fields:` line, or the minimum without one).
    expected: u32,
}

/// Calls `f` with the index of every tab in `bytes`, in order.
///
/// Eight bytes at a time (SWAR): a line has ~32 tabs in ~450 bytes, and testing words
/// is about twice as fast as one `memchr` call per field.
#[inline]
fn for_each_tab(bytes: &[u8], mut f: impl FnMut(usize)) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder();
    for (k, chunk) in chunks.enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ (u64::from(b'\t') * ONES);
        // High bit of each byte set exactly where the byte of `x` is zero (no false positives).
        let mut mask = !(((x & LOW7) + LOW7) | x | LOW7);
        while mask != 0 {
            f(k * 8 + (mask.trailing_zeros() / 8) as usize);
            mask &= mask - 1;
        }
    }
    let base = bytes.len() - tail.len();
    for (i, &b) in tail.iter().enumerate() {
        if b == b'\t' {
            f(base + i);
        }
    }
}

/// Marks a field the file does not carry (read as `-`).
const MISSING: (u32, u32) = (u32::MAX, u32::MAX);

/// Splits one data line (without its line end) according to `map`; a line with fewer
/// columns than `map` declares is an error (see [`split_line`] for the lenient form).
pub fn parse_line<'a>(line: &'a str, map: &FieldMap) -> Result<LogLine<'a>, LineError> {
    let split = split_line(line, map)?;
    if split.found < split.expected {
        return Err(LineError::FieldCount { expected: split.expected as usize, found: split.found as usize });
    }
    Ok(split)
}

/// Splits one data line like [`parse_line`], but also accepts a line with fewer columns than
/// `map` declares: the columns it lacks read as absent ([`LogLine::has`] is false for them and
/// [`LogLine::short_by`] counts them), so a caller can use the line when every field it
/// reads is there.
pub fn split_line<'a>(line: &'a str, map: &FieldMap) -> Result<LogLine<'a>, LineError> {
    // Offsets fit in u32: lines are at most MAX_LINE_BYTES plus one read chunk.
    let Ok(len) = u32::try_from(line.len()) else { return Err(LineError::TooLong) };
    let mut spans = [MISSING; 33];
    let mut start = 0u32;
    let mut col = 0usize;
    if map.standard {
        for_each_tab(line.as_bytes(), |tab| {
            if let Some(span) = spans.get_mut(col) {
                *span = (start, tab as u32);
            }
            col += 1;
            start = tab as u32 + 1;
        });
        if let Some(span) = spans.get_mut(col) {
            *span = (start, len);
        }
    } else {
        let columns = map.columns.as_slice();
        for_each_tab(line.as_bytes(), |tab| {
            if let Some(Some(field)) = columns.get(col) {
                spans[field.index()] = (start, tab as u32);
            }
            col += 1;
            start = tab as u32 + 1;
        });
        if let Some(Some(field)) = columns.get(col) {
            spans[field.index()] = (start, len);
        }
    }
    let found = col + 1;
    let expected = if map.implicit { MIN_IMPLICIT } else { map.columns.len() };
    // Both fit in u32: at most one column per byte of a line shorter than 4 GiB.
    Ok(LogLine { line, spans, found: found as u32, expected: expected as u32 })
}

/// The decoded text of a raw value: `-` is empty; `%XX` is decoded once (invalid UTF-8
/// after decoding is replaced with U+FFFD; a `%` not followed by two hex digits stays).
pub fn decode_value(raw: &str) -> Cow<'_, str> {
    if raw == "-" {
        return Cow::Borrowed("");
    }
    let bytes = raw.as_bytes();
    // Most values are short and have no `%`: a plain scan beats memchr's setup cost here.
    let Some(first) = bytes.iter().position(|&b| b == b'%') else { return Cow::Borrowed(raw) };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(b'%');
                i += 1;
            }
        }
        let next = memchr(b'%', &bytes[i..]).map_or(bytes.len(), |j| i + j);
        out.extend_from_slice(&bytes[i..next]);
        i = next;
    }
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn parse_u64(field: Field, raw: &str) -> Result<Option<u64>, LineError> {
    if raw == "-" {
        return Ok(None);
    }
    let b = raw.as_bytes();
    if b.is_empty() || b.len() > 20 {
        return Err(invalid(field, raw));
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(invalid(field, raw));
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or_else(|| invalid(field, raw))?;
    }
    Ok(Some(v))
}

/// Seconds as CloudFront logs them (`0.082`, `12`, `3.5`) into a duration.
fn parse_seconds(field: Field, raw: &str) -> Result<Option<Duration>, LineError> {
    if raw == "-" {
        return Ok(None);
    }
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let bad = || invalid(field, raw);
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let secs = if int.is_empty() { 0 } else { parse_u64(field, int)?.ok_or_else(bad)? };
    let mut nanos: u32 = 0;
    let mut scale: u32 = 100_000_000;
    for c in frac.bytes() {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        // Digits past nanoseconds are ignored.
        nanos += u32::from(c - b'0') * scale;
        scale /= 10;
    }
    Ok(Some(Duration::new(secs, nanos)))
}

impl<'a> LogLine<'a> {
    /// The whole line as read (CR and LF removed).
    pub fn line(&self) -> &'a str {
        self.line
    }

    /// Whether the line carries `field` (false when the file has no such column, or when the
    /// line stops before it).
    pub fn has(&self, field: Field) -> bool {
        self.spans[field.index()] != MISSING
    }

    /// How many columns the line lacks compared with its `#Fields:` line (0 for a complete line).
    pub fn short_by(&self) -> usize {
        self.expected.saturating_sub(self.found) as usize
    }

    /// Columns found in the line.
    pub fn columns(&self) -> usize {
        self.found as usize
    }

    /// The value as logged (`-` when absent or when the file has no such column).
    pub fn raw(&self, field: Field) -> &'a str {
        let (start, end) = self.spans[field.index()];
        if (start, end) == MISSING {
            return "-";
        }
        // Spans end at tabs or the line's end, which are char boundaries.
        self.line.get(start as usize..end as usize).unwrap_or("-")
    }

    /// The decoded value (empty when absent).
    pub fn text(&self, field: Field) -> Cow<'a, str> {
        decode_value(self.raw(field))
    }

    /// `date` + `time` as a point in time.
    pub fn timestamp(&self) -> Result<SystemTime, LineError> {
        let date = self.raw(Field::Date);
        let time = self.raw(Field::Time);
        let days = civil::parse_date(date).ok_or_else(|| invalid(Field::Date, date))?;
        let secs = civil::parse_time(time).ok_or_else(|| invalid(Field::Time, time))?;
        Ok(civil::from_unix_seconds(days * 86_400 + secs))
    }

    /// `sc-status`; `None` for `000` or `-`.
    pub fn status(&self) -> Result<Option<u16>, LineError> {
        let raw = self.raw(Field::Status);
        match parse_u64(Field::Status, raw)? {
            Some(0) | None => Ok(None),
            Some(v) => u16::try_from(v).map(Some).map_err(|_| invalid(Field::Status, raw)),
        }
    }

    /// An unsigned integer field (`sc-bytes`, `cs-bytes`, `sc-content-len`, …); `None` for `-`.
    pub fn number(&self, field: Field) -> Result<Option<u64>, LineError> {
        parse_u64(field, self.raw(field))
    }

    /// A seconds field (`time-taken`, `time-to-first-byte`); `None` for `-`.
    pub fn seconds(&self, field: Field) -> Result<Option<Duration>, LineError> {
        parse_seconds(field, self.raw(field))
    }

    /// A result-type field (`x-edge-result-type`, `x-edge-response-result-type`,
    /// `x-edge-detailed-result-type`).
    pub fn result_type(&self, field: Field) -> ResultType {
        ResultType::parse(&self.text(field))
    }

    /// `c-ip`; `None` for `-`.
    pub fn client_ip(&self) -> Result<Option<IpAddr>, LineError> {
        let raw = self.raw(Field::ClientIp);
        if raw == "-" {
            return Ok(None);
        }
        let text = decode_value(raw);
        text.parse().map(Some).map_err(|_| invalid(Field::ClientIp, raw))
    }

    /// The typed, decoded, owned record.
    pub fn to_record(&self) -> Result<LogRecord, LineError> {
        let s = |f: Field| self.text(f).into_owned();
        let port = match self.number(Field::ClientPort)? {
            Some(p) => Some(u16::try_from(p).map_err(|_| invalid(Field::ClientPort, self.raw(Field::ClientPort)))?),
            None => None,
        };
        Ok(LogRecord {
            timestamp: self.timestamp()?,
            edge_location: s(Field::EdgeLocation),
            sc_bytes: self.number(Field::ScBytes)?.unwrap_or(0),
            client_ip: self.client_ip()?,
            method: s(Field::Method),
            host: s(Field::Host),
            uri_stem: s(Field::UriStem),
            status: self.status()?,
            referer: s(Field::Referer),
            user_agent: s(Field::UserAgent),
            query: s(Field::UriQuery),
            cookie: s(Field::Cookie),
            result_type: self.result_type(Field::EdgeResultType),
            request_id: s(Field::EdgeRequestId),
            host_header: s(Field::HostHeader),
            protocol: s(Field::Protocol),
            cs_bytes: self.number(Field::CsBytes)?.unwrap_or(0),
            time_taken: self.seconds(Field::TimeTaken)?.unwrap_or(Duration::ZERO),
            forwarded_for: s(Field::ForwardedFor),
            ssl_protocol: s(Field::SslProtocol),
            ssl_cipher: s(Field::SslCipher),
            response_result_type: self.result_type(Field::EdgeResponseResultType),
            protocol_version: s(Field::ProtocolVersion),
            fle_status: s(Field::FleStatus),
            fle_encrypted_fields: self.number(Field::FleEncryptedFields)?,
            client_port: port,
            time_to_first_byte: self.seconds(Field::TimeToFirstByte)?,
            detailed_result_type: self.result_type(Field::EdgeDetailedResultType),
            content_type: s(Field::ContentType),
            content_length: self.number(Field::ContentLength)?,
            range_start: self.number(Field::RangeStart)?,
            range_end: self.number(Field::RangeEnd)?,
        })
    }
}

/// Appends `YYYY-MM-DD<tab>HH:MM:SS` for whole Unix seconds (UTC): the `date` and `time` columns
/// of a record whose source gives its time as a number (standard logging v2's `timestamp(ms)`,
/// real-time logs' `timestamp`), so such records read like any other.
pub fn push_date_time(out: &mut Vec<u8>, unix_seconds: i64) {
    let c = civil::Civil::from_unix(unix_seconds);
    civil::push_date(out, &c);
    out.push(b'\t');
    civil::push_time(out, &c);
}

/// Parses one line of a standard 33-field file into a record (header lines are errors).
pub fn parse_record(line: &str) -> Result<LogRecord, LineError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    parse_line(line, &FieldMap::standard())?.to_record()
}

enum Source<R> {
    /// Not read yet: the format is decided on the first read.
    Start(R),
    Plain(io::Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<io::Chain<Cursor<Vec<u8>>, R>>>),
    /// Transient state while deciding.
    Taken,
}

impl<R: Read> Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Source::Start(_) = self {
            let Source::Start(mut inner) = std::mem::replace(self, Source::Taken) else {
                return Ok(0);
            };
            let mut head = [0u8; 2];
            let mut got = 0;
            while got < 2 {
                match inner.read(&mut head[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let chained = Cursor::new(head[..got].to_vec()).chain(inner);
            *self = if head[..got] == [0x1f, 0x8b] {
                Source::Gzip(Box::new(MultiGzDecoder::new(chained)))
            } else {
                Source::Plain(chained)
            };
        }
        match self {
            Source::Plain(r) => r.read(out),
            Source::Gzip(r) => r.read(out),
            Source::Start(_) | Source::Taken => Ok(0),
        }
    }
}

/// A streaming reader of standard log records (see the module docs).
pub struct LogReader<R> {
    source: Source<R>,
    name: Arc<str>,
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
    /// End of valid data in `buf`.
    filled: usize,
    eof: bool,
    finished: bool,
    /// Discarding the rest of an over-long line.
    skipping: bool,
    line_number: u64,
    map: FieldMap,
    /// Holds a line that was not valid UTF-8, after lossy conversion.
    scratch: String,
}

impl LogReader<File> {
    /// Opens a log file (plain or gzip); errors name the path.
    #[allow(clippy::disallowed_methods, reason = "reading log files is this reader's job")]
    pub fn open(path: impl AsRef<Path>) -> io::Result<LogReader<File>> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(LogReader::new(file, path.display().to_string()))
    }
}

impl<R: Read> LogReader<R> {
    /// Reads from `reader`; `name` labels error items (usually the file's path).
    pub fn new(reader: R, name: impl Into<Arc<str>>) -> LogReader<R> {
        LogReader {
            source: Source::Start(reader),
            name: name.into(),
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            eof: false,
            finished: false,
            skipping: false,
            line_number: 0,
            map: FieldMap::implicit(),
            scratch: String::new(),
        }
    }

    /// The name given at construction.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The column map in force (from the last `#Fields:` line seen).
    pub fn field_map(&self) -> &FieldMap {
        &self.map
    }

    /// Number of the last line read (1-based; 0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    fn error(&self, line: u64, kind: ParseErrorKind) -> ParseError {
        ParseError { file: self.name.clone(), line, kind }
    }

    /// Reads more input; returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() - self.filled < READ_CHUNK {
            self.buf.resize(self.filled + READ_CHUNK, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.filled += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next data line, borrowing the reader's buffer (header and blank lines are
    /// consumed silently). `None` at the end of input.
    pub fn next_line(&mut self) -> Option<Result<LogLine<'_>, ParseError>> {
        let (start, end) = loop {
            if self.finished {
                return None;
            }
            let (start, end) = match memchr(b'\n', &self.buf[self.pos..self.filled]) {
                Some(i) => {
                    let start = self.pos;
                    self.pos += i + 1;
                    if self.skipping {
                        // The tail of an over-long line already reported.
                        self.skipping = false;
                        continue;
                    }
                    (start, start + i)
                }
                None if self.eof => {
                    if self.pos == self.filled || self.skipping {
                        self.finished = true;
                        return None;
                    }
                    let start = self.pos;
                    self.pos = self.filled;
                    (start, self.filled)
                }
                None => {
                    if self.filled - self.pos >= MAX_LINE_BYTES {
                        let reported = !self.skipping;
                        self.pos = self.filled;
                        if reported {
                            self.skipping = true;
                            self.line_number += 1;
                            let line = self.line_number;
                            return Some(Err(self.error(line, ParseErrorKind::Line(LineError::TooLong))));
                        }
                    }
                    match self.fill() {
                        Ok(more) => self.eof = !more,
                        Err(e) => {
                            self.finished = true;
                            let line = self.line_number + 1;
                            return Some(Err(self.error(line, ParseErrorKind::Io(e))));
                        }
                    }
                    continue;
                }
            };
            self.line_number += 1;
            let mut end = end;
            if end > start && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
            // A file saved by an editor may open with a UTF-8 byte-order mark.
            let start =
                if self.line_number == 1 && self.buf[start..end].starts_with(UTF8_BOM) { start + 3 } else { start };
            let line = &self.buf[start..end];
            if line.is_empty() || line.iter().all(|b| matches!(b, b'\t' | b' ')) {
                continue;
            }
            if line[0] == b'#' {
                if line.starts_with(b"#Fields:") {
                    self.map = FieldMap::from_fields_line(&String::from_utf8_lossy(line));
                }
                continue;
            }
            break (start, end);
        };
        let line_number = self.line_number;
        let bytes = &self.buf[start..end];
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                self.scratch = String::from_utf8_lossy(bytes).into_owned();
                &self.scratch
            }
        };
        Some(parse_line(text, &self.map).map_err(|e| ParseError {
            file: self.name.clone(),
            line: line_number,
            kind: ParseErrorKind::Line(e),
        }))
    }

    /// Whether the column map is CloudFront's current standard one.
    pub fn has_standard_fields(&self) -> bool {
        self.map.is_standard()
    }
}

impl<R: Read> Iterator for LogReader<R> {
    type Item = Result<LogRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match self.next_line()? {
            Ok(line) => line.to_record(),
            Err(e) => return Some(Err(e)),
        };
        Some(result.map_err(|e| self.error(self.line_number, ParseErrorKind::Line(e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FIELDS_LINE, VERSION_LINE};

    const SAMPLE: &str = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-";

    fn file(lines: &[&str]) -> String {
        let mut s = format!("{VERSION_LINE}\n{FIELDS_LINE}\n");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    #[test]
    fn parses_a_documented_sample() {
        let r = parse_record(SAMPLE).unwrap();
        assert_eq!(r.edge_location, "LAX1");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.user_agent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)");
        assert_eq!(r.result_type, ResultType::Hit);
        assert_eq!(r.client_port, Some(11040));
        assert_eq!(r.time_taken, Duration::from_millis(1));
        assert_eq!(r.content_length, Some(78));
        assert_eq!(r.range_start, None);
        assert_eq!(r.referer, "");
    }

    #[test]
    fn reader_handles_crlf_trailing_tabs_and_errors() {
        let bad = SAMPLE.replacen("\t392\t", "\tlots\t", 1);
        let text = file(&[&format!("{SAMPLE}\t\r"), "", &bad, "2019-12-04\t21:02:31\tLAX1", SAMPLE]);
        let items: Vec<_> = LogReader::new(text.as_bytes(), "t.log").collect();
        assert_eq!(items.len(), 4);
        assert!(items[0].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert_eq!((e.file.as_ref(), e.line), ("t.log", 5));
        assert!(e.to_string().contains("sc-bytes"), "{e}");
        let e = items[2].as_ref().unwrap_err();
        assert_eq!(e.line, 6);
        assert!(matches!(e.kind, ParseErrorKind::Line(LineError::FieldCount { expected: 33, found: 3 })));
        assert!(items[3].is_ok());
    }

    #[test]
    fn older_files_with_fewer_fields_map_by_name() {
        let text = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken\n\
2014-05-23\t01:13:11\tFRA2\t182\t2001:db8::1\tGET\td111111abcdef8.cloudfront.net\t/view/my/file.html\t200\twww.displaymyfiles.com\tMozilla/4.0%20(compatible;%20MSIE%205.0b1;%20Mac_PowerPC)\t-\tzip=98101\tRefreshHit\tMRVMF7KydIvxMWfJIglgwHQwZsbG2IhRJ07sn9AkKUFSHS9EXAMPLE==\td111111abcdef8.cloudfront.net\thttp\t-\t0.001\n";
        let mut reader = LogReader::new(text.as_bytes(), "old.log");
        let r = reader.next().unwrap().unwrap();
        assert_eq!(r.client_ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(r.cookie, "zip=98101");
        assert_eq!(r.result_type, ResultType::RefreshHit);
        assert_eq!(r.response_result_type, ResultType::Absent);
        assert_eq!(r.client_port, None);
        assert!(!reader.has_standard_fields());
        assert!(reader.next().is_none());
    }

    #[test]
    fn reordered_and_unknown_columns() {
        let text = "#Fields: cs-uri-stem x-new-thing date time sc-status\n/a%20b\tzzz\t2020-01-02\t03:04:05\t404\n";
        let mut reader = LogReader::new(text.as_bytes(), "x");
        let line = reader.next_line().unwrap().unwrap();
        assert_eq!(line.text(Field::UriStem), "/a b");
        assert_eq!(line.raw(Field::UriStem), "/a%20b");
        assert_eq!(line.status().unwrap(), Some(404));
        assert_eq!(line.raw(Field::EdgeLocation), "-");
        assert_eq!(civil::unix_seconds(line.timestamp().unwrap()), 1_577_934_245);
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let text = file(&[SAMPLE, SAMPLE]);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let n = LogReader::new(bytes.as_slice(), "a.gz").filter(|r| r.is_ok()).count();
        assert_eq!(n, 2);
        // A truncated gzip stream ends with an I/O error item, not a panic.
        let cut = &bytes[..bytes.len() / 2];
        let items: Vec<_> = LogReader::new(cut, "cut.gz").collect();
        assert!(matches!(items.last(), Some(Err(ParseError { kind: ParseErrorKind::Io(_), .. }))));
    }

    #[test]
    fn invalid_utf8_and_000_status() {
        let mut bytes = file(&[]).into_bytes();
        let line = SAMPLE.replacen("\t200\t", "\t000\t", 1).replacen("/index.html", "/\u{1}x", 1);
        let mut raw = line.into_bytes();
        raw.push(b'\n');
        let mut odd = SAMPLE.as_bytes().to_vec();
        odd[60] = 0xff;
        odd.push(b'\n');
        bytes.extend_from_slice(&raw);
        bytes.extend_from_slice(&odd);
        let items: Vec<_> = LogReader::new(bytes.as_slice(), "x").collect();
        assert_eq!(items[0].as_ref().unwrap().status, None);
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn overlong_line_is_reported_and_skipped() {
        let mut text = file(&[]);
        text.push_str(&"x".repeat(MAX_LINE_BYTES + 2 * READ_CHUNK));
        text.push('\n');
        text.push_str(SAMPLE);
        let items: Vec<_> = LogReader::new(text.as_bytes(), "x").collect();
        assert_eq!(items.len(), 2);
        let e = items[0].as_ref().unwrap_err();
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, ParseErrorKind::Line(LineError::TooLong)), "{e}");
        assert!(items[1].is_ok());
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_header() {
        let text = format!("\u{feff}{}", file(&[SAMPLE]));
        let mut reader = LogReader::new(text.as_bytes(), "bom.log");
        assert!(reader.next().unwrap().is_ok());
        assert!(reader.has_standard_fields());
        assert!(reader.next().is_none());
    }

    #[test]
    fn split_line_accepts_short_lines_and_says_what_is_missing() {
        let short: Vec<&str> = SAMPLE.split('\t').take(31).collect();
        let short = short.join("\t");
        let map = FieldMap::standard();
        assert!(matches!(parse_line(&short, &map), Err(LineError::FieldCount { expected: 33, found: 31 })));
        let line = split_line(&short, &map).unwrap();
        assert_eq!((line.short_by(), line.columns()), (2, 31));
        assert!(line.has(Field::ContentLength) && !line.has(Field::RangeStart));
        assert_eq!(line.raw(Field::RangeEnd), "-");
        assert_eq!(line.number(Field::ContentLength).unwrap(), Some(78));
        assert_eq!(split_line(SAMPLE, &map).unwrap().short_by(), 0);
    }

    #[test]
    fn decoding_is_lenient_and_single_pass() {
        assert_eq!(decode_value("-"), "");
        assert_eq!(decode_value("%2D"), "-");
        assert_eq!(decode_value("a%20b%2520c"), "a b%20c");
        assert_eq!(decode_value("%C3%A9t%c3%a9"), "\u{e9}t\u{e9}");
        assert_eq!(decode_value("100%"), "100%");
        assert_eq!(decode_value("%4"), "%4");
        assert_eq!(decode_value("%zz%41"), "%zzA");
        assert_eq!(decode_value("%FF"), "\u{fffd}");
        assert!(matches!(decode_value("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn tab_scan_matches_a_naive_scan() {
        let mut inputs: Vec<Vec<u8>> = vec![b"".to_vec(), b"\t".to_vec(), b"a\tb\t\t".to_vec(), vec![b'\t'; 17]];
        let mut x: u32 = 12345;
        for len in 0..200 {
            inputs.push(
                (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        [b'\t', b'a', 0x09 ^ 0x80, 0x08, 0x0a, 0xff][(x >> 16) as usize % 6]
                    })
                    .collect(),
            );
        }
        for input in inputs {
            let mut fast = Vec::new();
            for_each_tab(&input, |i| fast.push(i));
            let naive: Vec<usize> = input.iter().enumerate().filter(|(_, b)| **b == b'\t').map(|(i, _)| i).collect();
            assert_eq!(fast, naive, "{input:?}");
        }
    }

    #[test]
    fn date_time_from_unix_seconds_reads_back() {
        let mut out = Vec::new();
        push_date_time(&mut out, 1_731_620_046);
        assert_eq!(out, b"2024-11-14\t21:34:06");
        let text = format!("#Fields: date time\n{}\n", String::from_utf8(out).unwrap());
        let mut reader = LogReader::new(text.as_bytes(), "x");
        let line = reader.next_line().unwrap().unwrap();
        assert_eq!(civil::unix_seconds(line.timestamp().unwrap()), 1_731_620_046);
    }

    #[test]
    fn seconds_parse_like_cloudfront_writes_them() {
        let p = |s| parse_seconds(Field::TimeTaken, s);
        assert_eq!(p("0.082").unwrap(), Some(Duration::from_millis(82)));
        assert_eq!(p("12").unwrap(), Some(Duration::from_secs(12)));
        assert_eq!(p(".5").unwrap(), Some(Duration::from_millis(500)));
        assert_eq!(p("-").unwrap(), None);
        assert!(p("1e3").is_err());
        assert!(p(".").is_err());
        assert!(p("-1").is_err());
    }
}
