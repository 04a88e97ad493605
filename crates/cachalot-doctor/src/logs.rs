//! Streaming, multi-threaded reading of CloudFront logs in every format ([`crate::formats`]:
//! legacy standard logs, standard logging v2's `w3c`, `json`, `plain` and `parquet`, real-time
//! log records), built on `cachalot_telemetry::parse` (its field map, line splitter and value
//! decoding). Each file's format is told from its content when it is opened; one whose format
//! cannot be told is an error naming it, with a hint.
//!
//! One reader thread per run decompresses (gzip told apart by its magic bytes) and cuts
//! the input into blocks of whole lines (of a Parquet file it reads the footer only and hands
//! out row groups, which the workers decode); worker threads split and interpret the lines
//! into per-thread [`LineSink`]s that the caller merges. Blocks are handed out in order
//! but processed in any order, so sinks must not depend on line order (records carry
//! their timestamps; callers sort what needs sorting).
//!
//! A malformed line is counted and the first few are kept with their file and line
//! number; the rest of the file is still read. A file that cannot be opened is an error.
//!
//! A line with fewer columns than its `#Fields:` line (records written before a field was
//! added, under a newer header) is used when every field in [`USED_FIELDS`] that the header
//! declares is there, and counted apart. A UTF-8 byte-order mark at the start of a file is
//! skipped. When a file is cut short (a truncated `.gz`), its unterminated last line is
//! dropped and reported once, as where the file was cut.

use crate::formats::{self, Columns, Plan, Rewriter};
use cachalot_telemetry::Field;
use cachalot_telemetry::parse::{FieldMap, LineError, LogLine, UTF8_BOM, split_line};
use flate2::read::MultiGzDecoder;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// The decoded text of a raw value, as [`cachalot_telemetry::parse::decode_value`] gives it, but
/// decoded into `buf` (reused from line to line) instead of a new string: `-` is empty, a value
/// without `%` is itself.
pub fn decode_into<'a>(raw: &'a str, buf: &'a mut String) -> &'a str {
    if raw == "-" {
        return "";
    }
    if !raw.as_bytes().contains(&b'%') {
        return raw;
    }
    let bytes = raw.as_bytes();
    let mut out = std::mem::take(buf).into_bytes();
    out.clear();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        let next = memchr::memchr(b'%', &bytes[i + 1..]).map_or(bytes.len(), |j| i + 1 + j);
        out.extend_from_slice(&bytes[i..next]);
        i = next;
    }
    *buf = match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    buf.as_str()
}

/// How many bad lines are kept with their location.
pub const BAD_LINES_SHOWN: usize = 5;

/// Every field the doctor's commands read; a short line lacking none of them is used.
pub const USED_FIELDS: [Field; 18] = [
    Field::Date,
    Field::Time,
    Field::EdgeLocation,
    Field::ScBytes,
    Field::ClientIp,
    Field::Method,
    Field::Host,
    Field::UriStem,
    Field::Status,
    Field::Referer,
    Field::UserAgent,
    Field::UriQuery,
    Field::Cookie,
    Field::EdgeResultType,
    Field::HostHeader,
    Field::EdgeDetailedResultType,
    Field::ContentType,
    Field::ContentLength,
];

const BLOCK: usize = 1 << 20;

/// One log input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogInput {
    /// A file (plain or gzip).
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl LogInput {
    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            LogInput::File(p) => p.display().to_string(),
            LogInput::Stdin => "-".to_owned(),
        }
    }

    /// Size on disk, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            LogInput::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            LogInput::Stdin => None,
        }
    }
}

/// An input that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInputError {
    /// The argument or file.
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// How to fix it, when there is more to say than the message.
    pub hint: Option<String>,
}

impl LogInputError {
    fn new(name: impl Into<String>, message: impl Into<String>) -> LogInputError {
        LogInputError { name: name.into(), message: message.into(), hint: None }
    }
}

impl std::fmt::Display for LogInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Expands arguments into inputs: `-` is standard input, a folder is every file below it
/// (name order), a pattern with `*`, `?` or `[` is a glob, anything else a file that must exist.
pub fn expand(args: &[String]) -> Result<Vec<LogInput>, LogInputError> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(LogInput::Stdin);
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            let before = out.len();
            collect_files(path, &mut out);
            if out.len() == before {
                return Err(LogInputError::new(arg.clone(), "the folder holds no file"));
            }
        } else if arg.contains(['*', '?', '[']) && !path.exists() {
            let paths =
                glob::glob(arg).map_err(|e| LogInputError::new(arg.clone(), format!("invalid pattern: {e}")))?;
            let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
            if matched.is_empty() {
                return Err(LogInputError::new(arg.clone(), "the pattern matches no file"));
            }
            matched.sort();
            out.extend(matched.into_iter().map(LogInput::File));
        } else if path.is_file() {
            out.push(LogInput::File(path.to_path_buf()));
        } else {
            return Err(LogInputError::new(arg.clone(), "no such file or folder"));
        }
    }
    Ok(out)
}

fn collect_files(dir: &Path, out: &mut Vec<LogInput>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_files(&p, out);
        } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            out.push(LogInput::File(p));
        }
    }
}

/// A malformed line, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file (`-` for standard input).
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Counts of one read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files (or streams) read.
    pub files: u64,
    /// Data lines handed to the sinks.
    pub lines: u64,
    /// Malformed lines skipped.
    pub bad_lines: u64,
    /// The first [`BAD_LINES_SHOWN`] malformed lines, in input order.
    pub first_bad: Vec<BadLine>,
    /// Read or decompression errors that ended a file early (the lines before were read).
    pub truncated: Vec<BadLine>,
    /// Lines with fewer columns than their `#Fields:` line, used because every field read was there.
    pub short_lines: u64,
    /// The first of them, located, saying which columns it lacks.
    pub first_short: Option<BadLine>,
}

/// What a worker does with each line.
pub trait LineSink: Send {
    /// Called before the lines of each block; blocks are numbered in input order, so
    /// `(block, line within it)` orders lines as the input does.
    fn begin_block(&mut self, _seq: u64) {}

    /// Handles one data line; an error counts the line as malformed.
    fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError>;
}

struct Block {
    data: Vec<u8>,
    file: Arc<str>,
    /// Sequence number, to order bad lines.
    seq: u64,
    map: Arc<FieldMap>,
    /// How its lines are read.
    plan: Plan,
    /// A Parquet row group for the worker to decode (then `data` is empty).
    parquet: Option<ParquetGroup>,
}

/// A row group of a Parquet file: the worker decodes it into lines itself, so that decoding
/// uses every worker and not only the reader thread.
struct ParquetGroup {
    path: Arc<Path>,
    /// Index of the row group.
    group: usize,
    /// The file's row number (from 0) of its first row.
    first_row: u64,
}

/// What a worker keeps between blocks: the rewriter's buffers and the Parquet file it last read.
#[derive(Default)]
struct WorkerState {
    rewriter: Rewriter,
    parquet: Option<(Arc<Path>, crate::parquet_logs::ParquetFile)>,
}

struct BlockResult {
    seq: u64,
    file: Arc<str>,
    lines: u64,
    /// Bad lines as (line index in the block, message).
    bad: Vec<(u64, String)>,
    bad_count: u64,
    short: u64,
    /// The first short line used, as (line index in the block, message).
    first_short: Option<(u64, String)>,
    /// A Parquet row group that could not be read, as (line index in the block, message).
    cut: Option<(u64, String)>,
}

impl BlockResult {
    /// Nothing read yet of `block`.
    fn of(block: &Block) -> BlockResult {
        BlockResult {
            seq: block.seq,
            file: block.file.clone(),
            lines: 0,
            bad: Vec::new(),
            bad_count: 0,
            short: 0,
            first_short: None,
            cut: None,
        }
    }
}

/// Reads every input with `threads` workers, each feeding the sink `make()` builds.
/// `progress` is advanced by the bytes read from disk.
pub fn read<S: LineSink, F: Fn() -> S + Sync>(
    inputs: &[LogInput],
    threads: usize,
    make: F,
    progress: Option<&AtomicU64>,
) -> Result<(Vec<S>, ReadStats), LogInputError> {
    read_with(inputs, None, threads, make, progress)
}

/// [`read`], with the columns of headerless records (v2 `plain`, real-time records).
pub fn read_with<S: LineSink, F: Fn() -> S + Sync>(
    inputs: &[LogInput],
    columns: Option<&Columns>,
    threads: usize,
    make: F,
    progress: Option<&AtomicU64>,
) -> Result<(Vec<S>, ReadStats), LogInputError> {
    let threads = threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<Block>(threads * 2);
    let rx = Mutex::new(rx);
    let results: Mutex<Vec<BlockResult>> = Mutex::new(Vec::new());
    // Blocks' buffers, handed back by the workers: a new megabyte per block would cost a page
    // fault per 4 KiB.
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let mut stats = ReadStats::default();
    let mut first_lines: Vec<(Arc<str>, u64, u64)> = Vec::new(); // (file, seq, first line number)
    let sinks = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                let results = &results;
                let make = &make;
                let pool = &pool;
                scope.spawn(move || {
                    let mut sink = make();
                    let mut state = WorkerState::default();
                    loop {
                        let block = {
                            let Ok(guard) = rx.lock() else { break };
                            match guard.recv() {
                                Ok(b) => b,
                                Err(_) => break,
                            }
                        };
                        let r = match &block.parquet {
                            Some(group) => process_parquet(&block, group, &mut sink, &mut state),
                            None => process_block(&block, &mut sink, &mut state.rewriter),
                        };
                        if let Ok(mut all) = results.lock() {
                            all.push(r);
                        }
                        if block.data.capacity() >= BLOCK
                            && let Ok(mut free) = pool.lock()
                            && free.len() < 2 * threads + 2
                        {
                            free.push(block.data);
                        }
                    }
                    sink
                })
            })
            .collect();
        let outcome = feed(inputs, columns, &tx, progress, &mut stats, &mut first_lines, &pool);
        drop(tx);
        let sinks: Vec<S> = workers.into_iter().filter_map(|w| w.join().ok()).collect();
        outcome.map(|()| sinks)
    })?;
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|r| r.seq);
    // One cut per Parquet file, the first: as when reading stopped there.
    let mut cut_files: Vec<Arc<str>> = Vec::new();
    for r in &results {
        stats.lines += r.lines;
        stats.bad_lines += r.bad_count;
        let first = first_lines.iter().find(|(_, seq, _)| *seq == r.seq).map_or(1, |(_, _, l)| *l);
        stats.short_lines += r.short;
        if let (None, Some((index, message))) = (&stats.first_short, &r.first_short) {
            stats.first_short =
                Some(BadLine { file: r.file.to_string(), line: first + index, message: message.clone() });
        }
        if let Some((index, message)) = &r.cut
            && !cut_files.contains(&r.file)
        {
            cut_files.push(r.file.clone());
            let first = first_lines.iter().find(|(_, seq, _)| *seq == r.seq).map_or(1, |(_, _, l)| *l);
            stats.truncated.push(BadLine { file: r.file.to_string(), line: first + index, message: message.clone() });
        }
        for (index, message) in &r.bad {
            if stats.first_bad.len() < BAD_LINES_SHOWN {
                stats.first_bad.push(BadLine {
                    file: r.file.to_string(),
                    line: first + index,
                    message: message.clone(),
                });
            }
        }
    }
    Ok((sinks, stats))
}

/// Cuts every input into blocks of whole lines and sends them to the workers.
fn feed(
    inputs: &[LogInput],
    columns: Option<&Columns>,
    tx: &mpsc::SyncSender<Block>,
    progress: Option<&AtomicU64>,
    stats: &mut ReadStats,
    first_lines: &mut Vec<(Arc<str>, u64, u64)>,
    pool: &Mutex<Vec<Vec<u8>>>,
) -> Result<(), LogInputError> {
    let mut seq = 0u64;
    for input in inputs {
        let name: Arc<str> = input.name().into();
        let raw: Box<dyn Read> = match input {
            LogInput::File(p) => Box::new(
                std::fs::File::open(p)
                    .map_err(|e| LogInputError::new(name.to_string(), format!("cannot open: {e}")))?,
            ),
            LogInput::Stdin => Box::new(io::stdin()),
        };
        stats.files += 1;
        let mut reader = Counting { inner: raw, progress };
        let mut head = [0u8; 4];
        let got = read_full(&mut reader, &mut head).unwrap_or(0);
        if head[..got] == *b"PAR1" {
            let LogInput::File(path) = input else {
                return Err(LogInputError {
                    name: name.to_string(),
                    message: "Parquet cannot be read from standard input".into(),
                    hint: Some("give the file's path".into()),
                });
            };
            if !feed_parquet(path, &name, tx, progress, stats, first_lines, &mut seq) {
                return Ok(());
            }
            continue;
        }
        let chained = io::Cursor::new(head[..got].to_vec()).chain(reader);
        let mut source: Box<dyn Read> =
            if head[..got.min(2)] == [0x1f, 0x8b] { Box::new(MultiGzDecoder::new(chained)) } else { Box::new(chained) };
        let mut map = Arc::new(FieldMap::default());
        let mut plan: Option<Plan> = None;
        let mut carry: Vec<u8> = Vec::new();
        let mut line_no = 1u64;
        let mut first_read = true;
        loop {
            let mut data = match pool.lock().ok().and_then(|mut free| free.pop()) {
                Some(mut buffer) => {
                    buffer.clear();
                    buffer.extend_from_slice(&carry);
                    carry.clear();
                    buffer
                }
                None => std::mem::take(&mut carry),
            };
            let start = data.len();
            data.resize(start + BLOCK, 0);
            let (n, err) = match read_full(&mut source, &mut data[start..]) {
                Ok(n) => (n, None),
                Err(e) => (0, Some(e)),
            };
            data.truncate(start + n);
            if first_read && data.starts_with(UTF8_BOM) {
                data.drain(..UTF8_BOM.len());
            }
            first_read = false;
            if err.is_some() {
                // The file was cut inside this (unterminated) line: it is where the file ends,
                // reported once below, not a line to read.
                data.clear();
            }
            let at_end = n == 0;
            if !at_end {
                // Keep a partial last line for the next block (unless it is huge).
                match memchr::memrchr(b'\n', &data) {
                    Some(i) => {
                        carry.clear();
                        carry.extend_from_slice(&data[i + 1..]);
                        data.truncate(i + 1);
                    }
                    None if data.len() < crate::logs::MAX_CARRY => {
                        carry = data;
                        continue;
                    }
                    None => {}
                }
            }
            if plan.is_none() && (!data.is_empty() || at_end || err.is_some()) {
                if data.starts_with(b"PAR1") {
                    return Err(LogInputError {
                        name: name.to_string(),
                        message: "a compressed Parquet file".into(),
                        hint: Some("decompress it first: Parquet is read from its own file".into()),
                    });
                }
                match formats::detect(&data, columns) {
                    Ok(p) => plan = Some(p),
                    Err(e) => {
                        return Err(LogInputError { name: name.to_string(), message: e.message, hint: Some(e.hint) });
                    }
                }
            }
            let plan = plan.clone().unwrap_or(Plan::Tabs);
            if !data.is_empty() {
                let next_map = last_fields_line(&data).map(|l| Arc::new(FieldMap::from_fields_line(&l)));
                let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
                first_lines.push((name.clone(), seq, line_no));
                let block = Block { data, file: name.clone(), seq, map: map.clone(), plan, parquet: None };
                if tx.send(block).is_err() {
                    return Ok(());
                }
                seq += 1;
                line_no += lines;
                if let Some(m) = next_map {
                    map = m;
                }
            }
            if let Some(e) = err {
                let partial = if start > 0 { "; its incomplete last line was dropped" } else { "" };
                stats.truncated.push(BadLine {
                    file: name.to_string(),
                    line: line_no,
                    message: format!("read error: {e}{partial}"),
                });
                break;
            }
            if at_end {
                break;
            }
        }
    }
    Ok(())
}

/// Opens a Parquet file and sends one block per row group for the workers to decode; false
/// when the workers are gone. A file whose footer cannot be read is reported as cut at line 1.
fn feed_parquet(
    path: &Path,
    name: &Arc<str>,
    tx: &mpsc::SyncSender<Block>,
    progress: Option<&AtomicU64>,
    stats: &mut ReadStats,
    first_lines: &mut Vec<(Arc<str>, u64, u64)>,
    seq: &mut u64,
) -> bool {
    if let (Some(p), Some(size)) = (progress, std::fs::metadata(path).ok().map(|m| m.len())) {
        // The footer was read through the plain reader's first bytes; count the rest.
        p.fetch_add(size.saturating_sub(4), Ordering::Relaxed);
    }
    let file = match crate::parquet_logs::ParquetFile::open(path) {
        Ok(f) => f,
        Err(message) => {
            stats.truncated.push(BadLine { file: name.to_string(), line: 1, message: format!("Parquet: {message}") });
            return true;
        }
    };
    let shared: Arc<Path> = Arc::from(path);
    let mut line_no = 1u64;
    let mut first_row = 0u64;
    for (group, rows) in file.row_groups().into_iter().enumerate() {
        first_lines.push((name.clone(), *seq, line_no));
        let block = Block {
            data: Vec::new(),
            file: name.clone(),
            seq: *seq,
            map: Arc::new(FieldMap::default()),
            plan: Plan::Tabs,
            parquet: Some(ParquetGroup { path: shared.clone(), group, first_row }),
        };
        if tx.send(block).is_err() {
            return false;
        }
        // The sinks number lines by batch, as when the reader cut a block per batch.
        *seq += crate::parquet_logs::ParquetFile::batches(rows).max(1);
        line_no += rows;
        first_row += rows;
    }
    true
}

/// Decodes a Parquet row group and reads its lines like a block's.
fn process_parquet<S: LineSink>(
    block: &Block,
    group: &ParquetGroup,
    sink: &mut S,
    state: &mut WorkerState,
) -> BlockResult {
    let mut result = BlockResult::of(block);
    if state.parquet.as_ref().is_none_or(|(p, _)| *p != group.path) {
        state.parquet = None;
        match crate::parquet_logs::ParquetFile::open(&group.path) {
            Ok(f) => state.parquet = Some((group.path.clone(), f)),
            Err(message) => {
                result.cut = Some((0, format!("Parquet: {message}")));
                return result;
            }
        }
    }
    let Some((_, file)) = &state.parquet else { return result };
    // Lines of the row group so far, to locate what follows.
    let mut offset = 0u64;
    let mut batch = 0u64;
    let rewriter = &mut state.rewriter;
    let outcome = file.read_group(group.group, group.first_row, rewriter, |data, map, fresh| {
        if fresh {
            sink.begin_block(block.seq + batch);
            batch += 1;
        }
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        let part = Block { data, file: block.file.clone(), seq: block.seq, map, plan: Plan::Tabs, parquet: None };
        let r = process_lines(&part, sink, &mut Rewriter::default(), false);
        result.lines += r.lines;
        result.bad_count += r.bad_count;
        result.short += r.short;
        for (index, message) in r.bad {
            if result.bad.len() < BAD_LINES_SHOWN {
                result.bad.push((offset + index, message));
            }
        }
        if result.first_short.is_none() {
            result.first_short = r.first_short.map(|(index, message)| (offset + index, message));
        }
        offset += lines;
        true
    });
    if let Err(message) = outcome {
        result.cut = Some((offset, format!("Parquet: {message}")));
    }
    result
}

/// A line longer than this without a line end is cut into a block of its own.
const MAX_CARRY: usize = 8 << 20;

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if got > 0 {
                    return Ok(got);
                }
                return Err(e);
            }
        }
    }
    Ok(got)
}

struct Counting<'a> {
    inner: Box<dyn Read>,
    progress: Option<&'a AtomicU64>,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The last `#Fields:` line of a block, if any.
fn last_fields_line(data: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"#Fields:");
    let mut last = None;
    for i in finder.find_iter(data) {
        if i == 0 || data[i - 1] == b'\n' {
            last = Some(i);
        }
    }
    let i = last?;
    let end = memchr::memchr(b'\n', &data[i..]).map_or(data.len(), |j| i + j);
    Some(String::from_utf8_lossy(&data[i..end]).trim_end().to_owned())
}

fn process_block<S: LineSink>(block: &Block, sink: &mut S, rewriter: &mut Rewriter) -> BlockResult {
    process_lines(block, sink, rewriter, true)
}

/// Reads the lines of a block; `begin`: the block starts here (not a later part of a row group).
fn process_lines<S: LineSink>(block: &Block, sink: &mut S, rewriter: &mut Rewriter, begin: bool) -> BlockResult {
    if begin {
        sink.begin_block(block.seq);
    }
    let mut map = block.map.clone();
    let mut result = BlockResult::of(block);
    let data = &block.data;
    let mut pos = 0usize;
    let mut index = 0u64;
    let mut scratch;
    let mut rewritten: Vec<u8> = Vec::new();
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        let mut line = &data[pos..end];
        pos = end + 1;
        let this = index;
        index += 1;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() || line.iter().all(|b| matches!(b, b'\t' | b' ')) {
            continue;
        }
        if line[0] == b'#' {
            if line.starts_with(b"#Fields:") && block.plan == Plan::Tabs {
                map = Arc::new(FieldMap::from_fields_line(&String::from_utf8_lossy(line)));
            }
            continue;
        }
        if let Plan::Rewrite(plan) = &block.plan {
            match rewriter.rewrite(plan, line, &mut rewritten) {
                Ok(m) => {
                    map = m;
                    line = &rewritten;
                }
                Err(message) => {
                    result.bad_count += 1;
                    if result.bad.len() < BAD_LINES_SHOWN {
                        result.bad.push((this, format!("{} record: {message}", plan.label)));
                    }
                    continue;
                }
            }
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(_) => {
                scratch = String::from_utf8_lossy(line).into_owned();
                &scratch
            }
        };
        let outcome = match split_line(text, &map) {
            Ok(l) => match short_line(&l, &map) {
                Ok(short) => sink.line(&l).map(|()| short).map_err(|e| e.to_string()),
                Err(message) => Err(message),
            },
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(short) => {
                result.lines += 1;
                if let Some(message) = short {
                    result.short += 1;
                    if result.first_short.is_none() {
                        result.first_short = Some((this, message));
                    }
                }
            }
            Err(message) => {
                result.bad_count += 1;
                if result.bad.len() < BAD_LINES_SHOWN {
                    result.bad.push((this, message));
                }
            }
        }
    }
    result
}

/// For a line with fewer columns than its header: `Ok(Some(what it lacks))` when every
/// field the doctor reads is there, `Err(message)` when one is not; `Ok(None)` for a whole line.
fn short_line(line: &LogLine<'_>, map: &FieldMap) -> Result<Option<String>, String> {
    if line.short_by() == 0 || map.is_implicit() {
        return Ok(None);
    }
    let expected = line.columns() + line.short_by();
    let absent: Vec<Field> = (line.columns()..expected).filter_map(|i| map.column(i)).collect();
    let names = |fields: &[Field]| fields.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ");
    let needed: Vec<Field> = absent.iter().copied().filter(|f| USED_FIELDS.contains(f)).collect();
    if !needed.is_empty() {
        return Err(format!(
            "expected {expected} tab-separated fields, found {}; it lacks {}, which this command reads",
            line.columns(),
            names(&needed)
        ));
    }
    Ok(Some(format!(
        "{} of the {expected} fields its header declares (no {}); used: every field read is there",
        line.columns(),
        if absent.is_empty() { "named field".to_owned() } else { names(&absent) }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(u64, Vec<String>);
    impl LineSink for Count {
        fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError> {
            line.timestamp()?;
            self.0 += 1;
            self.1.push(line.raw(Field::UriStem).to_owned());
            Ok(())
        }
    }

    fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn line(uri: &str) -> String {
        let mut cols = vec!["-"; 33];
        cols[0] = "2024-03-01";
        cols[1] = "10:00:00";
        cols[7] = uri;
        cols[8] = "200";
        cols.join("\t") + "\n"
    }

    #[test]
    fn bad_lines_are_counted_and_located_and_the_rest_is_read() {
        let dir = std::env::temp_dir().join(format!("doctor-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from("#Version: 1.0\n");
        text.push_str(&line("/a"));
        text.push_str("garbage line\n");
        text.push_str(&line("/b"));
        text.push_str(&line("/c").replace("2024-03-01", "yesterday"));
        text.push_str(line("/d").trim_end());
        let p = write(&dir, "x.log", text.as_bytes());
        let (sinks, stats) = read(&[LogInput::File(p.clone())], 2, || Count(0, Vec::new()), None).unwrap();
        let total: u64 = sinks.iter().map(|s| s.0).sum();
        assert_eq!(total, 3);
        assert_eq!(stats.bad_lines, 2);
        assert_eq!(stats.first_bad[0].line, 3);
        assert_eq!(stats.first_bad[1].line, 5);
        assert!(stats.first_bad[0].to_string().starts_with(&format!("{}:3:", p.display())));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn gzip_truncated_is_reported_and_earlier_lines_read() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("doctor-logs-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..2000 {
            enc.write_all(line(&format!("/p{i}")).as_bytes()).unwrap();
        }
        let gz = enc.finish().unwrap();
        let p = write(&dir, "t.gz", &gz[..gz.len() - 10]);
        let (sinks, stats) = read(&[LogInput::File(p)], 1, || Count(0, Vec::new()), None).unwrap();
        assert!(sinks[0].0 > 0);
        assert_eq!(stats.truncated.len(), 1);
        // The line the file was cut in is reported once, as the cut, not also as a malformed line.
        assert_eq!(stats.bad_lines, 0, "{:?}", stats.first_bad);
        assert_eq!(stats.truncated[0].line, sinks[0].0 + 1);
        assert!(stats.truncated[0].message.contains("incomplete last line was dropped"), "{:?}", stats.truncated);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let dir = std::env::temp_dir().join(format!("doctor-logs-bom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fields = cachalot_telemetry::format::FIELDS_LINE;
        let text = format!("\u{feff}#Version: 1.0\n{fields}\n{}{}", line("/a"), line("/b"));
        let p = write(&dir, "bom.log", text.as_bytes());
        let (sinks, stats) = read(&[LogInput::File(p)], 1, || Count(0, Vec::new()), None).unwrap();
        assert_eq!((sinks[0].0, stats.bad_lines), (2, 0), "{:?}", stats.first_bad);
        // Without a header, the mark would otherwise spoil the first record's date.
        let p = write(&dir, "bom-data.log", format!("\u{feff}{}", line("/c")).as_bytes());
        let (sinks, stats) = read(&[LogInput::File(p)], 1, || Count(0, Vec::new()), None).unwrap();
        assert_eq!((sinks[0].0, stats.bad_lines), (1, 0), "{:?}", stats.first_bad);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn short_lines_are_used_when_every_field_read_is_there() {
        let dir = std::env::temp_dir().join(format!("doctor-logs-short-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fields = cachalot_telemetry::format::FIELDS_LINE;
        let cut = |l: String, n: usize| l.trim_end().split('\t').take(n).collect::<Vec<_>>().join("\t") + "\n";
        let text = format!(
            "#Version: 1.0\n{fields}\n{}{}{}{}",
            line("/whole"),
            cut(line("/thirty-one"), 31),
            cut(line("/thirty-one-again"), 31),
            cut(line("/twenty"), 20)
        );
        let p = write(&dir, "short.log", text.as_bytes());
        let (sinks, stats) = read(&[LogInput::File(p)], 1, || Count(0, Vec::new()), None).unwrap();
        assert_eq!(sinks[0].1, ["/whole", "/thirty-one", "/thirty-one-again"]);
        assert_eq!(stats.short_lines, 2);
        let first = stats.first_short.unwrap();
        assert_eq!(first.line, 4);
        assert!(first.message.contains("31 of the 33") && first.message.contains("sc-range-start"), "{first}");
        assert_eq!(stats.bad_lines, 1);
        assert!(stats.first_bad[0].message.contains("x-edge-detailed-result-type"), "{:?}", stats.first_bad);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn decoding_into_a_buffer_gives_what_decode_value_gives() {
        let mut buf = String::new();
        for raw in ["-", "", "/a", "a%20b", "%", "%%41", "%4", "%zz%41", "a%C3%A9%FF", "%E2%82", "100%", "%2541"] {
            let want = cachalot_telemetry::parse::decode_value(raw).into_owned();
            assert_eq!(decode_into(raw, &mut buf), want, "{raw}");
        }
    }

    #[test]
    fn missing_inputs_are_errors() {
        assert!(expand(&["/nonexistent/file.log".into()]).is_err());
        assert!(expand(&["/nonexistent/*.gz".into()]).is_err());
        assert_eq!(expand(&["-".into()]).unwrap(), vec![LogInput::Stdin]);
    }
}
