//! The log sink: takes formatted log lines from the request path and writes CloudFront's
//! gzip files in the background.
//!
//! - **Never blocks a request.** [`LogSink::submit`] does a `try_send` on a bounded channel;
//!   when the channel is full the line is dropped and counted (`dropped`), never waited for.
//!   The default capacity (131,072 lines) absorbs bursts far beyond one flush of a busy edge.
//! - **One writer thread** groups lines per distribution destination and UTC hour of the
//!   request, streaming each group through a gzip encoder into a hidden temporary file
//!   (`.<name>.tmp`) in the destination folder.
//! - **Readers never see partial files.** On each flush the gzip stream is finished, synced
//!   and renamed to `<prefix><DistributionId>.YYYY-MM-DD-HH.<unique>.gz`; every published file
//!   is complete, with the two header lines. Flushes happen every `flush_interval`, when the
//!   wall clock crosses an hour, on [`LogSink::flush`] and on [`LogSink::shutdown`] — so an
//!   hour may have several files, as on CloudFront.
//! - **A crash loses at most a second.** Open files are flushed to disk (a gzip sync flush)
//!   at most a second after lines arrive, and each temporary file is locked by its writer
//!   for as long as it writes it. A temporary file that nobody holds is an orphan of a
//!   writer that died (`kill -9`, power loss): the sink salvages its complete lines into a
//!   published file, in every folder it writes to or is told to [`watch`](LogSink::watch),
//!   at start and at every flush. A live writer's file, even another process's, is never
//!   touched.

use crate::civil::{self, Civil};
use crate::format;
use crate::rng::SeededRng;
use cachalot_config::logging::{self, LogDelivery, OutputFormat};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Sink settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Lines the channel holds before new ones are dropped.
    pub capacity: usize,
    /// How often open files are finished and published.
    pub flush_interval: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig { capacity: 131_072, flush_interval: Duration::from_secs(60) }
    }
}

/// Where one distribution's log files go, and what they hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogDestination {
    folder: PathBuf,
    prefix: Vec<String>,
    distribution_id: String,
    layout: Layout,
}

/// What a destination's files hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Layout {
    /// The legacy standard log: 33 fields, two header lines.
    Legacy,
    /// A standard logging (v2) delivery.
    V2(Arc<LogDelivery>),
}

/// The kinds of file the sink writes, for per-format counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// The legacy standard log.
    Legacy,
    /// A v2 delivery's format.
    V2(OutputFormat),
}

impl FileFormat {
    /// Every kind, in counter order.
    pub const ALL: [FileFormat; 5] = [
        FileFormat::Legacy,
        FileFormat::V2(OutputFormat::Json),
        FileFormat::V2(OutputFormat::Plain),
        FileFormat::V2(OutputFormat::W3c),
        FileFormat::V2(OutputFormat::Parquet),
    ];

    /// The `format` label of the per-format counters.
    pub fn label(self) -> &'static str {
        match self {
            FileFormat::Legacy => "legacy",
            FileFormat::V2(f) => f.as_str(),
        }
    }

    /// Position in [`FileFormat::ALL`].
    pub fn index(self) -> usize {
        match self {
            FileFormat::Legacy => 0,
            FileFormat::V2(OutputFormat::Json) => 1,
            FileFormat::V2(OutputFormat::Plain) => 2,
            FileFormat::V2(OutputFormat::W3c) => 3,
            FileFormat::V2(OutputFormat::Parquet) => 4,
        }
    }
}

impl LogDestination {
    /// Files for `distribution_id` under `folder` (the local folder the `Logging.Bucket`
    /// maps to), inside the key `prefix`. As on CloudFront a prefix is a folder path (a
    /// missing trailing `/` is implied); empty, `.` and `..` segments are dropped so the
    /// files stay inside `folder`.
    pub fn new(folder: impl Into<PathBuf>, prefix: &str, distribution_id: &str) -> LogDestination {
        let prefix = Path::new(prefix)
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        LogDestination {
            folder: folder.into(),
            prefix,
            distribution_id: distribution_id.to_owned(),
            layout: Layout::Legacy,
        }
    }

    /// A standard logging (v2) delivery's files under `folder` (the local folder its bucket maps
    /// to): the key's folders are the destination prefix and the suffix path of each hour.
    pub fn v2(folder: impl Into<PathBuf>, delivery: LogDelivery) -> LogDestination {
        LogDestination {
            folder: folder.into(),
            prefix: Vec::new(),
            distribution_id: delivery.distribution_id.clone(),
            layout: Layout::V2(Arc::new(delivery)),
        }
    }

    /// The v2 delivery, for a v2 destination.
    pub fn delivery(&self) -> Option<&LogDelivery> {
        match &self.layout {
            Layout::Legacy => None,
            Layout::V2(d) => Some(d),
        }
    }

    /// What the files hold.
    pub fn file_format(&self) -> FileFormat {
        match &self.layout {
            Layout::Legacy => FileFormat::Legacy,
            Layout::V2(d) => FileFormat::V2(d.format),
        }
    }

    /// The folder files are written to (`folder` joined with the prefix). For a v2 delivery,
    /// the folders that hold every hour's files: the prefix and the suffix path up to its first variable.
    pub fn directory(&self) -> PathBuf {
        let mut dir = self.folder.clone();
        dir.extend(&self.prefix);
        if let Layout::V2(d) = &self.layout {
            let fixed = d.suffix_path.split('{').next().unwrap_or("");
            // A segment cut by a variable is not a folder of every hour.
            let fixed = if d.suffix_path.contains('{') { fixed.rsplit_once('/').map_or("", |(a, _)| a) } else { fixed };
            dir.extend(
                d.prefix.split('/').chain(fixed.split('/')).filter(|s| !s.is_empty() && *s != "." && *s != ".."),
            );
        }
        dir
    }

    /// The folder of the files for the UTC hour `hour` (hours since the epoch).
    pub fn directory_for(&self, hour: i64) -> PathBuf {
        match &self.layout {
            Layout::Legacy => self.directory(),
            Layout::V2(d) => {
                let c = Civil::from_unix(hour.saturating_mul(3600));
                let at = logging::Hour { year: c.year, month: c.month, day: c.day, hour: c.hour };
                let mut dir = self.folder.clone();
                dir.extend(logging::object_folder(d, at));
                dir
            }
        }
    }

    /// The header lines every file starts with.
    fn header(&self) -> Vec<u8> {
        match &self.layout {
            Layout::Legacy => {
                let mut header = Vec::with_capacity(512);
                format::write_header(&mut header);
                header
            }
            Layout::V2(d) => crate::v2::header(d.format, &d.fields),
        }
    }

    /// The distribution id in the file names.
    pub fn distribution_id(&self) -> &str {
        &self.distribution_id
    }

    /// `<DistributionId>.YYYY-MM-DD-HH.<unique>.gz` for the UTC hour `hour` (hours since the
    /// epoch); a v2 parquet file ends in `.parquet` instead.
    pub fn file_name(&self, hour: i64, unique: &str) -> String {
        let c = Civil::from_unix(hour.saturating_mul(3600));
        let mut date = Vec::with_capacity(10);
        civil::push_date(&mut date, &c);
        let extension = if self.file_format() == FileFormat::V2(OutputFormat::Parquet) { "parquet" } else { "gz" };
        format!("{}.{}-{:02}.{unique}.{extension}", self.distribution_id, String::from_utf8_lossy(&date), c.hour)
    }
}

/// Counters of the sink, readable at any time.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Lines accepted into the channel.
    pub accepted: AtomicU64,
    /// Lines dropped because the channel was full or the sink was shut down.
    pub dropped: AtomicU64,
    /// Lines in published files.
    pub written: AtomicU64,
    /// Lines lost to I/O errors (file creation, write, rename).
    pub lost: AtomicU64,
    /// Files published.
    pub files: AtomicU64,
    /// I/O errors met.
    pub write_errors: AtomicU64,
    /// Lines salvaged from files a crashed writer left behind.
    pub recovered: AtomicU64,
    /// Per [`FileFormat`] (by [`FileFormat::index`]): lines, files and bytes published.
    pub formats: [FormatStats; 5],
}

/// One file format's counters.
#[derive(Debug, Default)]
pub struct FormatStats {
    /// Lines (records) in published files.
    pub written: AtomicU64,
    /// Files published.
    pub files: AtomicU64,
    /// Bytes of the published files.
    pub bytes: AtomicU64,
}

enum Msg {
    Line { dest: Arc<LogDestination>, hour: i64, line: Vec<u8> },
    Flush(SyncSender<()>),
    Shutdown(SyncSender<()>),
    Watch(PathBuf),
    WatchTree(PathBuf),
}

/// The background log writer (see the module docs).
pub struct LogSink {
    tx: SyncSender<Msg>,
    worker: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<SinkStats>,
    closed: AtomicBool,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl LogSink {
    /// Starts the writer thread.
    pub fn start(config: SinkConfig) -> io::Result<LogSink> {
        let (tx, rx) = mpsc::sync_channel(config.capacity.max(1));
        let stats = Arc::new(SinkStats::default());
        let writer = Writer {
            open: HashMap::new(),
            stats: stats.clone(),
            ids: UniqueIds::new(),
            watched: std::collections::HashSet::new(),
        };
        let interval = config.flush_interval.max(Duration::from_millis(1));
        let worker =
            std::thread::Builder::new().name("cachalot-logs".into()).spawn(move || run(rx, writer, interval))?;
        Ok(LogSink { tx, worker: Mutex::new(Some(worker)), stats, closed: AtomicBool::new(false) })
    }

    /// Queues one formatted line (with its `\n`) for the file of `dest` and the UTC hour of
    /// `timestamp`. Never blocks; returns false (and counts a drop) when the line could not
    /// be queued.
    pub fn submit(&self, dest: &Arc<LogDestination>, timestamp: SystemTime, line: Vec<u8>) -> bool {
        if self.closed.load(Ordering::Acquire) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let hour = civil::unix_seconds(timestamp).div_euclid(3600);
        match self.tx.try_send(Msg::Line { dest: dest.clone(), hour, line }) {
            Ok(()) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Salvages, now and at every flush, the files a crashed writer left in `dir` (log
    /// folders are also watched from their first line on).
    pub fn watch(&self, dir: &Path) {
        let _ = self.tx.send(Msg::Watch(dir.to_path_buf()));
    }

    /// Salvages now what crashed writers left in `dir` and every folder under it (a v2
    /// delivery's hours each have a folder of their own), and watches `dir` from now on.
    pub fn watch_tree(&self, dir: &Path) {
        let _ = self.tx.send(Msg::WatchTree(dir.to_path_buf()));
    }

    /// Publishes everything queued so far and waits until it is on disk.
    pub fn flush(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Publishes everything queued and stops the writer; later lines are dropped and counted.
    /// Idempotent; also run on drop.
    pub fn shutdown(&self) {
        let worker = match self.worker.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(worker) = worker else { return };
        // Lines submitted after this point are counted as dropped; the writer drains what
        // got into the channel, including lines racing with the flag.
        self.closed.store(true, Ordering::Release);
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Shutdown(ack)).is_ok() {
            let _ = done.recv();
        }
        let _ = worker.join();
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

impl Drop for LogSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the writer thread schedules flushes by the clock; the request path never does"
)]
fn run(rx: Receiver<Msg>, mut writer: Writer, interval: Duration) {
    let mut deadline = next_deadline(interval);
    loop {
        // Under load the queue is drained in batches between short sleeps, so senders never
        // have to wake this thread (a wake per request would cost a context switch each).
        let mut handled = 0usize;
        while let Ok(msg) = rx.try_recv() {
            handled += 1;
            if !handle(msg, &rx, &mut writer) {
                return;
            }
        }
        if Instant::now() >= deadline {
            writer.publish_all();
            deadline = next_deadline(interval);
        }
        writer.sync_due();
        if handled > 0 {
            std::thread::sleep(BATCH_PAUSE);
            continue;
        }
        // Idle: park until a message, the next sync flush or the next scheduled flush.
        let wake = writer.next_sync().map_or(deadline, |t| t.min(deadline));
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(msg) => {
                if !handle(msg, &rx, &mut writer) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                writer.publish_all();
                return;
            }
        }
    }
}

/// How long the writer sleeps between batches while lines keep coming.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Handles one message; false once the writer must stop.
fn handle(msg: Msg, rx: &Receiver<Msg>, writer: &mut Writer) -> bool {
    match msg {
        Msg::Line { dest, hour, line } => writer.append(dest, hour, &line),
        Msg::Flush(ack) => {
            writer.publish_all();
            let _ = ack.send(());
        }
        Msg::Watch(dir) => writer.watch(dir),
        Msg::WatchTree(dir) => writer.watch_tree(dir),
        Msg::Shutdown(ack) => {
            // Lines queued after Shutdown (submitted concurrently) still get written.
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Line { dest, hour, line } = msg {
                    writer.append(dest, hour, &line);
                }
            }
            writer.publish_all();
            let _ = ack.send(());
            return false;
        }
    }
    true
}

/// The next flush: after `interval`, or at the next UTC hour if that comes first.
#[allow(clippy::disallowed_methods, reason = "flush scheduling runs on the writer thread")]
fn next_deadline(interval: Duration) -> Instant {
    let now = civil::unix_seconds(SystemTime::now());
    let to_hour = Duration::from_secs((3600 - now.rem_euclid(3600)).unsigned_abs());
    Instant::now() + interval.min(to_hour)
}

struct OpenFile {
    tmp_path: PathBuf,
    final_path: PathBuf,
    format: FileFormat,
    /// Lines reach the encoder in blocks: deflate's cost per call is several times its cost
    /// per byte of a log line. A sync flush empties the block first, so it bounds what a crash
    /// loses as before.
    encoder: BufWriter<GzEncoder<BufWriter<File>>>,
    lines: u64,
    /// Lines written since the last sync flush, and when the first of them came.
    unsynced_since: Option<Instant>,
}

struct Writer {
    open: HashMap<(Arc<LogDestination>, i64), OpenFile>,
    stats: Arc<SinkStats>,
    ids: UniqueIds,
    /// Folders searched for files a crashed writer left.
    watched: std::collections::HashSet<PathBuf>,
}

/// Bytes of lines gathered before they are compressed.
const LINE_BLOCK: usize = 32 << 10;

/// Longest time a written line stays only in memory.
const SYNC_EVERY: Duration = Duration::from_secs(1);

impl Writer {
    fn append(&mut self, dest: Arc<LogDestination>, hour: i64, line: &[u8]) {
        let key = (dest, hour);
        if !self.open.contains_key(&key) {
            match self.create(&key.0, hour) {
                Ok(file) => {
                    self.open.insert(key.clone(), file);
                }
                Err(e) => {
                    self.io_error(&key.0.directory(), &e, 1);
                    return;
                }
            }
        }
        let Some(file) = self.open.get_mut(&key) else { return };
        match file.encoder.write_all(line) {
            Ok(()) => {
                file.lines += 1;
                file.unsynced_since.get_or_insert_with(now);
            }
            Err(e) => {
                let lost = file.lines + 1;
                if let Some(file) = self.open.remove(&key) {
                    let _ = fs::remove_file(&file.tmp_path);
                    self.io_error(&file.tmp_path, &e, lost);
                }
            }
        }
    }

    fn create(&mut self, dest: &LogDestination, hour: i64) -> io::Result<OpenFile> {
        let dir = dest.directory_for(hour);
        fs::create_dir_all(&dir)?;
        if !self.watched.contains(&dir) {
            self.watch(dir.clone());
        }
        let v2 = dest.delivery().is_some();
        let (final_path, tmp_path) = loop {
            // CloudFront's legacy names end in 12 base32 characters, v2 names in 8 hex digits.
            let unique = if v2 { self.ids.next_hex() } else { self.ids.next() };
            let name = dest.file_name(hour, &unique);
            let final_path = dir.join(&name);
            let tmp_path = dir.join(format!(".{name}.tmp"));
            if !final_path.exists() && !tmp_path.exists() {
                break (final_path, tmp_path);
            }
        };
        let file = File::options().write(true).create_new(true).open(&tmp_path)?;
        // Held until the file is published: tells recovery (in any process) that it is alive.
        file.try_lock().map_err(|e| io::Error::other(format!("cannot lock {}: {e}", tmp_path.display())))?;
        // Fast compression: the writer shares the cores with the edge (about 5:1 on log lines).
        let mut encoder = GzEncoder::new(BufWriter::with_capacity(64 << 10, file), Compression::fast());
        encoder.write_all(&dest.header())?;
        let encoder = BufWriter::with_capacity(LINE_BLOCK, encoder);
        Ok(OpenFile { tmp_path, final_path, format: dest.file_format(), encoder, lines: 0, unsynced_since: None })
    }

    /// Sync-flushes files holding lines older than [`SYNC_EVERY`], so a crash loses little.
    fn sync_due(&mut self) {
        let now = now();
        let mut failed = Vec::new();
        for (key, file) in &mut self.open {
            if file.unsynced_since.is_some_and(|t| now.duration_since(t) >= SYNC_EVERY) {
                file.unsynced_since = None;
                if let Err(e) = file.encoder.flush() {
                    failed.push((key.clone(), e));
                }
            }
        }
        for (key, e) in failed {
            if let Some(file) = self.open.remove(&key) {
                let _ = fs::remove_file(&file.tmp_path);
                self.io_error(&file.tmp_path, &e, file.lines);
            }
        }
    }

    /// When the oldest unsynced line is due to be flushed to disk.
    fn next_sync(&self) -> Option<Instant> {
        self.open.values().filter_map(|f| f.unsynced_since).min().map(|t| t + SYNC_EVERY)
    }

    /// Remembers `dir` and salvages what crashed writers left there.
    fn watch(&mut self, dir: PathBuf) {
        self.recover(&dir);
        self.watched.insert(dir);
    }

    /// Salvages what crashed writers left in `dir` and below, and remembers `dir`.
    fn watch_tree(&mut self, dir: PathBuf) {
        let mut stack = vec![(dir.clone(), 0usize)];
        while let Some((at, depth)) = stack.pop() {
            self.recover(&at);
            // Suffix paths are short; the bound keeps a symlink loop from running forever.
            if depth >= 16 {
                continue;
            }
            let Ok(entries) = fs::read_dir(&at) else { continue };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
        self.watched.insert(dir);
    }

    fn recover_all(&mut self) {
        let dirs: Vec<PathBuf> = self.watched.iter().cloned().collect();
        for dir in dirs {
            self.recover(&dir);
        }
    }

    /// Publishes the complete lines of every orphaned temporary file in `dir`.
    fn recover(&mut self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(final_name) =
                name.to_str().and_then(|n| n.strip_prefix('.')).and_then(|n| n.strip_suffix(".tmp")).map(str::to_owned)
            else {
                continue;
            };
            let tmp = entry.path();
            if self.open.values().any(|f| f.tmp_path == tmp) {
                continue;
            }
            match recover_file(&tmp, &dir.join(&final_name)) {
                Ok(Some(lines)) => {
                    self.stats.recovered.fetch_add(lines, Ordering::Relaxed);
                    tracing::info!(path = %tmp.display(), lines, "published an access log file a crashed writer left");
                }
                Ok(None) => {}
                Err(e) => {
                    self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(path = %tmp.display(), error = %e, "could not recover an access log file");
                }
            }
        }
    }

    fn publish_all(&mut self) {
        self.recover_all();
        for (_, file) in self.open.drain() {
            let lines = file.lines;
            let tmp = file.tmp_path.clone();
            let format = file.format;
            match publish(file) {
                Ok(bytes) => {
                    self.stats.written.fetch_add(lines, Ordering::Relaxed);
                    self.stats.files.fetch_add(1, Ordering::Relaxed);
                    let per = &self.stats.formats[format.index()];
                    per.written.fetch_add(lines, Ordering::Relaxed);
                    per.files.fetch_add(1, Ordering::Relaxed);
                    per.bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    self.stats.lost.fetch_add(lines, Ordering::Relaxed);
                    tracing::warn!(path = %tmp.display(), error = %e, lines, "could not publish access log file");
                }
            }
        }
    }

    fn io_error(&self, path: &Path, e: &io::Error, lost: u64) {
        self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
        self.stats.lost.fetch_add(lost, Ordering::Relaxed);
        tracing::warn!(path = %path.display(), error = %e, "access log write failed");
    }
}

#[allow(clippy::disallowed_methods, reason = "the writer thread times its own flushes")]
fn now() -> Instant {
    Instant::now()
}

/// Salvages an orphaned temporary file: its header lines and complete records (a crash cuts
/// the gzip stream and maybe a record) go to `final_path` as a complete file — a parquet file
/// when `final_path` names one — and the temporary file is removed. `Ok(None)` when a live
/// writer holds the file.
#[allow(clippy::disallowed_methods, reason = "salvaging log files is the writer thread's job")]
fn recover_file(tmp: &Path, final_path: &Path) -> io::Result<Option<u64>> {
    let file = File::open(tmp)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(None),
        Err(fs::TryLockError::Error(e)) => return Err(e),
    }
    let text = read_gzip_lenient(&file);
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let all: Vec<&[u8]> = text[..complete].split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let header_lines = all.iter().take_while(|l| l.starts_with(b"#")).count();
    let (header, lines) = all.split_at(header_lines);
    if !lines.is_empty() {
        let target = match final_path.file_name().and_then(|n| n.to_str()) {
            Some(name) if final_path.exists() => {
                // A file of that name was published: keep both.
                let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
                final_path.with_file_name(format!("{stem}R.{extension}"))
            }
            _ => final_path.to_path_buf(),
        };
        let staging = tmp.with_extension("recovering");
        if is_parquet(final_path) {
            let out = File::create(&staging)?;
            // Parquet spools json lines: there is no header line.
            let spooled = bytes::Bytes::copy_from_slice(&text[..complete]);
            let rows: Vec<bytes::Bytes> =
                spooled.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| spooled.slice_ref(l)).collect();
            crate::v2::write_parquet(&rows, &out)?;
            out.sync_data()?;
        } else {
            let mut out = GzEncoder::new(BufWriter::new(File::create(&staging)?), Compression::fast());
            for line in header.iter().chain(lines) {
                out.write_all(line)?;
                out.write_all(b"\n")?;
            }
            let inner = out.finish()?.into_inner().map_err(|e| e.into_error())?;
            inner.sync_data()?;
        }
        fs::rename(&staging, target)?;
    }
    fs::remove_file(tmp)?;
    Ok(Some(lines.len() as u64))
}

/// Everything a gzip stream yields before it ends or breaks off.
fn read_gzip_lenient(file: &File) -> Vec<u8> {
    let mut text = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(io::BufReader::new(file));
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match io::Read::read(&mut decoder, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&chunk[..n]),
        }
    }
    text
}

fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
}

/// Finishes, syncs and renames a file into place; returns its size. A parquet destination's
/// spooled records become the parquet file here, the temporary file staying locked until then.
#[allow(clippy::disallowed_methods, reason = "publishing log files is the writer thread's job")]
fn publish(file: OpenFile) -> io::Result<u64> {
    let buffered = file.encoder.into_inner().map_err(|e| e.into_error())?.finish()?;
    let inner = buffered.into_inner().map_err(|e| e.into_error())?;
    if file.format == FileFormat::V2(OutputFormat::Parquet) {
        inner.sync_data()?;
        let text = bytes::Bytes::from(read_gzip_lenient(&File::open(&file.tmp_path)?));
        let lines: Vec<bytes::Bytes> =
            text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| text.slice_ref(l)).collect();
        let staging = file.tmp_path.with_extension("building");
        let out = File::create(&staging)?;
        crate::v2::write_parquet(&lines, &out)?;
        out.sync_data()?;
        let size = out.metadata()?.len();
        fs::rename(&staging, &file.final_path)?;
        drop(inner);
        fs::remove_file(&file.tmp_path)?;
        return Ok(size);
    }
    inner.sync_data()?;
    let size = inner.metadata()?.len();
    drop(inner);
    fs::rename(&file.tmp_path, &file.final_path)?;
    Ok(size)
}

/// Unique file-name parts in CloudFront's style (uppercase letters and digits), different
/// across threads, restarts and machines sharing a folder with overwhelming probability.
struct UniqueIds {
    rng: SeededRng,
}

impl UniqueIds {
    #[allow(clippy::disallowed_methods, reason = "seeds file-name uniqueness, not a timestamp")]
    fn new() -> UniqueIds {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(nanos, std::process::id(), std::thread::current().id()), &mut h);
        UniqueIds { rng: SeededRng::new(std::hash::Hasher::finish(&h)) }
    }

    fn next(&mut self) -> String {
        let z = self.rng.u64();
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..12).map(|i| char::from(ALPHABET[((z >> (i * 5)) & 31) as usize])).collect()
    }

    /// Eight lowercase hex digits, as v2 file names end.
    fn next_hex(&mut self) -> String {
        format!("{:08x}", self.rng.u64() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_a_folder_inside_the_bucket() {
        let d = LogDestination::new("/logs", "a/b", "E1");
        assert_eq!(d.directory(), PathBuf::from("/logs/a/b"));
        let d = LogDestination::new("/logs", "../../etc/./x/", "E1");
        assert_eq!(d.directory(), PathBuf::from("/logs/etc/x"));
        let d = LogDestination::new("/logs", "", "E1");
        assert_eq!(d.directory(), PathBuf::from("/logs"));
        assert_eq!(d.file_name(18_214 * 24 + 20, "RT4KCN4SGK9"), "E1.2019-11-14-20.RT4KCN4SGK9.gz");
    }

    #[test]
    fn unique_ids_differ() {
        let mut ids = UniqueIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
