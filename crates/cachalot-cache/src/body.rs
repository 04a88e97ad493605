//! Object bodies: whole in memory, or in a file of a disk tier — complete, or still being
//! written by a stream that readers follow as it grows.
//!
//! A file body is read block by block ([`BLOCK_SIZE`]); every block is checked against
//! its CRC32 before a byte of it is handed out, so a damaged file is never served: the
//! reader fails, the file is removed, and the next request is a miss. Reading a range
//! reads only the blocks it touches.
//!
//! A reader fetches up to [`BATCH_BLOCKS`] blocks per trip to the blocking pool, into
//! pooled buffers it does not zero first, and starts the next trip while it hands out the last
//! block of the previous one: it holds at most `BATCH_BLOCKS + 1` blocks (1.25 MiB), and
//! no blocking thread ever waits for a viewer.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes per checksummed block of a file body.
pub const BLOCK_SIZE: u64 = 256 * 1024;
/// Blocks read per trip to the blocking pool (1 MiB): a trip costs a thread hand-off
/// each way, more than reading a block from the page cache.
const BATCH_BLOCKS: u64 = 4;
/// The next trip starts when this many blocks or fewer are left to hand out, so the
/// disk works while the viewer's connection sends.
const REFILL_AT: usize = 1;

/// A stored response's body.
#[derive(Clone)]
pub enum ObjectBody {
    /// The whole body, in memory.
    Memory(Bytes),
    /// In a file of a disk tier (possibly still arriving).
    File(FileBody),
}

impl std::fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectBody::Memory(b) => write!(f, "Memory({} bytes)", b.len()),
            ObjectBody::File(b) => write!(f, "File({:?} bytes)", b.len()),
        }
    }
}

impl From<Bytes> for ObjectBody {
    fn from(b: Bytes) -> Self {
        ObjectBody::Memory(b)
    }
}

impl ObjectBody {
    /// Its length, when known (a stream without a declared length learns it at the end).
    pub fn len(&self) -> Option<u64> {
        match self {
            ObjectBody::Memory(b) => Some(b.len() as u64),
            ObjectBody::File(f) => f.len(),
        }
    }

    /// Whether it is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes, when the body is in memory.
    pub fn memory(&self) -> Option<&Bytes> {
        match self {
            ObjectBody::Memory(b) => Some(b),
            ObjectBody::File(_) => None,
        }
    }

    /// The file, when the body is on disk.
    pub fn file(&self) -> Option<&FileBody> {
        match self {
            ObjectBody::Memory(_) => None,
            ObjectBody::File(f) => Some(f),
        }
    }

    /// A reader of bytes `start..end` (`end` exclusive; `None`: to the end).
    pub fn reader(&self, start: u64, end: Option<u64>) -> BodyReader {
        let source = match self {
            ObjectBody::Memory(b) => Source::Memory(b.clone()),
            ObjectBody::File(f) => Source::File(FileCursor::new(f.0.clone())),
        };
        BodyReader { source, next: start, end: end.unwrap_or(u64::MAX) }
    }

    /// Waits until the whole body is there; its length, or why it never will be.
    pub async fn completion(&self) -> Result<u64, String> {
        match self {
            ObjectBody::Memory(b) => Ok(b.len() as u64),
            ObjectBody::File(f) => f.completion().await,
        }
    }
}

/// How far a file body has been written.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Bytes written so far.
    pub(crate) written: u64,
    /// CRC32 of each complete block.
    pub(crate) crcs: Vec<u32>,
    /// `Ok(length)` once complete; `Err(why)` when the write failed.
    pub(crate) outcome: Option<Result<u64, String>>,
}

pub(crate) struct FileShared {
    pub(crate) file: std::fs::File,
    /// Length announced before the body arrived.
    pub(crate) declared: Option<u64>,
    pub(crate) progress: Mutex<Progress>,
    pub(crate) notify: tokio::sync::Notify,
    /// Which store and id the file belongs to (store address, id).
    pub(crate) home: (usize, u64),
    /// Called when a block fails its checksum: the file is removed.
    pub(crate) on_damage: Box<dyn Fn() + Send + Sync>,
}

/// A body in a file of a disk tier. Cheap to clone.
#[derive(Clone)]
pub struct FileBody(pub(crate) Arc<FileShared>);

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileBody({:?})", self.len())
    }
}

impl FileBody {
    /// Its length, when known.
    pub fn len(&self) -> Option<u64> {
        match &self.0.progress.lock().outcome {
            Some(Ok(len)) => Some(*len),
            _ => self.0.declared,
        }
    }

    /// Whether it is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Whether the whole body has been written.
    pub fn is_complete(&self) -> bool {
        matches!(self.0.progress.lock().outcome, Some(Ok(_)))
    }

    pub(crate) async fn completion(&self) -> Result<u64, String> {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = self.0.progress.lock().outcome.clone() {
                return outcome;
            }
            notified.await;
        }
    }

    /// Reads and checks the whole body (blocking; the body must be complete).
    pub(crate) fn read_all_blocking(&self) -> io::Result<Bytes> {
        let (len, crcs) = {
            let p = self.0.progress.lock();
            match &p.outcome {
                Some(Ok(len)) => (*len, p.crcs.clone()),
                _ => return Err(io::Error::other("the body is not complete")),
            }
        };
        let mut out = Vec::new();
        read_into(&self.0.file, &mut out, usize::try_from(len).map_err(io::Error::other)?, 0)?;
        let blocks = out.chunks(BLOCK_SIZE as usize);
        if blocks.len() != crcs.len() || blocks.zip(&crcs).any(|(block, crc)| crc32fast::hash(block) != *crc) {
            (self.0.on_damage)();
            return Err(damaged());
        }
        Ok(Bytes::from(out))
    }
}

fn damaged() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a block of the cache file failed its checksum")
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub(crate) fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt as _;
        file.read_exact_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt as _;
        let mut done = 0;
        while done < buf.len() {
            let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Writes all of `buf` at `offset`.
pub(crate) fn write_all_at(file: &std::fs::File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt as _;
        file.write_all_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt as _;
        let mut done = 0;
        while done < buf.len() {
            done += file.seek_write(&buf[done..], offset + done as u64)?;
        }
        Ok(())
    }
}

/// Reads `len` bytes at `offset` into `buf` (emptied first), which is not zeroed: the
/// kernel writes into its spare capacity.
pub(crate) fn read_into(file: &std::fs::File, buf: &mut Vec<u8>, len: usize, offset: u64) -> io::Result<()> {
    buf.clear();
    buf.reserve_exact(len);
    #[cfg(unix)]
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut *buf), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    #[cfg(not(unix))]
    {
        buf.resize(len, 0);
        read_exact_at(file, buf, offset)?;
    }
    // The spare capacity may exceed `len`: what was read beyond it is not this read's.
    buf.truncate(len);
    Ok(())
}

/// Block buffers given back once the connections that sent them are done with them. A
/// fresh buffer of a block's size is mapped anew by the allocator (or its heap trimmed
/// meanwhile), and the kernel then faults in and zeroes every page of it: about a tenth
/// of a disk hit's CPU. At most [`POOL_BLOCKS`] wait here (16 MiB).
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const POOL_BLOCKS: usize = 64;

/// An empty buffer with room for a block, from the pool when it has one.
fn block_buffer() -> Vec<u8> {
    POOL.lock().pop().unwrap_or_else(|| Vec::with_capacity(BLOCK_SIZE as usize))
}

/// A block read into a pooled buffer, which goes back to the pool when the last slice of
/// it is dropped.
struct PooledBlock(Vec<u8>);

impl AsRef<[u8]> for PooledBlock {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PooledBlock {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() == BLOCK_SIZE as usize {
            let mut pool = POOL.lock();
            if pool.len() < POOL_BLOCKS {
                pool.push(buf);
            }
        }
    }
}

/// What one trip to the blocking pool brings back: the checked blocks read, in order, and
/// the error that stopped it before the end (a block failing its checksum, a failed read,
/// a stream that broke off).
type Batch = (Vec<Bytes>, Option<io::Error>);
type BatchFuture = Pin<Box<dyn Future<Output = Batch> + Send>>;

/// Up to `count` blocks of a file body from block `first`, each checked, waiting until at
/// least the first is written; none past the end of the body.
async fn read_blocks(shared: Arc<FileShared>, first: u64, count: u64) -> Batch {
    let start = first * BLOCK_SIZE;
    let wanted = |crcs: &[u32]| {
        let from = usize::try_from(first).unwrap_or(usize::MAX).min(crcs.len());
        let to = usize::try_from(first.saturating_add(count)).unwrap_or(usize::MAX).min(crcs.len());
        crcs[from..to].to_vec()
    };
    let (limit, crcs) = loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let p = shared.progress.lock();
            match &p.outcome {
                Some(Err(why)) => return (Vec::new(), Some(io::Error::other(why.clone()))),
                Some(Ok(len)) if start >= *len => return (Vec::new(), None),
                Some(Ok(len)) => break (*len, wanted(&p.crcs)),
                // Written but not yet complete: the last block may be a short one.
                None if p.crcs.len() as u64 > first => break (p.written, wanted(&p.crcs)),
                None => {}
            }
        }
        notified.await;
    };
    if crcs.is_empty() {
        return (Vec::new(), Some(io::Error::other("the cache file lacks a block checksum")));
    }
    let read = tokio::task::spawn_blocking(move || {
        let mut blocks = Vec::with_capacity(crcs.len());
        for (index, crc) in (first..).zip(crcs) {
            let from = index * BLOCK_SIZE;
            let len = (from + BLOCK_SIZE).min(limit).saturating_sub(from);
            let mut buf = block_buffer();
            match read_into(&shared.file, &mut buf, len as usize, from) {
                Ok(()) if crc32fast::hash(&buf) == crc => blocks.push(Bytes::from_owner(PooledBlock(buf))),
                Ok(()) => {
                    (shared.on_damage)();
                    return (blocks, Some(damaged()));
                }
                Err(e) => return (blocks, Some(e)),
            }
        }
        (blocks, None)
    });
    read.await.unwrap_or_else(|e| (Vec::new(), Some(io::Error::other(e))))
}

enum Source {
    Memory(Bytes),
    File(FileCursor),
}

/// Where a reader of a file body stands: blocks read ahead and the trip under way.
struct FileCursor {
    shared: Arc<FileShared>,
    /// Checked blocks not yet handed out; the first is the block the reader is in.
    ahead: VecDeque<Bytes>,
    /// The trip reading the blocks after those in `ahead`.
    pending: Option<BatchFuture>,
    /// Why reading stopped, told once the blocks read before it are handed out.
    failed: Option<io::Error>,
    /// Nothing of the body or of the range lies after the blocks in `ahead`.
    exhausted: bool,
}

impl FileCursor {
    fn new(shared: Arc<FileShared>) -> Self {
        FileCursor { shared, ahead: VecDeque::new(), pending: None, failed: None, exhausted: false }
    }

    /// The next chunk of `next..end`, moving `next` past it (see [`BodyReader::poll_chunk`]).
    fn poll_chunk(&mut self, next: &mut u64, end: &mut u64, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if let Some(block) = self.ahead.pop_front() {
                let index = *next / BLOCK_SIZE;
                let block_start = index * BLOCK_SIZE;
                let from = (*next - block_start) as usize;
                if from >= block.len() {
                    // The range starts past the end of the body.
                    *end = *next;
                    self.ahead.clear();
                    return Poll::Ready(None);
                }
                let to = (block.len() as u64).min(*end - block_start) as usize;
                *next = block_start + to as u64;
                if (block.len() as u64) < BLOCK_SIZE {
                    // The last block: nothing lies beyond it.
                    *end = (*end).min(*next);
                }
                if *next < *end {
                    self.refill(*next, *end, cx);
                }
                return Poll::Ready(Some(Ok(block.slice(from..to))));
            }
            if let Some(e) = self.failed.take() {
                *end = *next;
                return Poll::Ready(Some(Err(e)));
            }
            if self.exhausted {
                *end = *next;
                return Poll::Ready(None);
            }
            if self.pending.is_none() {
                self.start(*next, *end);
                continue;
            }
            let Some(pending) = self.pending.as_mut() else { continue };
            match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(batch) => {
                    self.pending = None;
                    self.take(batch);
                }
            }
        }
    }

    /// Starts the next trip early when few blocks are left and none is under way.
    fn refill(&mut self, next: u64, end: u64, cx: &mut Context<'_>) {
        if self.pending.is_some() || self.failed.is_some() || self.exhausted || self.ahead.len() > REFILL_AT {
            return;
        }
        self.start(next, end);
        // Polled once now, so that the read begins while the blocks in hand are sent.
        if let Some(pending) = self.pending.as_mut()
            && let Poll::Ready(batch) = pending.as_mut().poll(cx)
        {
            self.pending = None;
            self.take(batch);
        }
    }

    /// Sets off the trip for the blocks after those in `ahead`, up to the end of the range.
    fn start(&mut self, next: u64, end: u64) {
        let first = next / BLOCK_SIZE + self.ahead.len() as u64;
        let last = if end == u64::MAX { u64::MAX } else { end.saturating_sub(1) / BLOCK_SIZE };
        if first > last || next >= end {
            self.exhausted = true;
            return;
        }
        let count = BATCH_BLOCKS.min((last - first).saturating_add(1));
        self.pending = Some(Box::pin(read_blocks(self.shared.clone(), first, count)));
    }

    fn take(&mut self, (blocks, failed): Batch) {
        if blocks.is_empty() && failed.is_none() {
            self.exhausted = true;
        }
        for block in blocks {
            let short = (block.len() as u64) < BLOCK_SIZE;
            self.ahead.push_back(block);
            if short {
                self.exhausted = true;
                break;
            }
        }
        self.failed = failed;
    }
}

/// Reads a range of a body chunk by chunk (see [`ObjectBody::reader`]).
pub struct BodyReader {
    source: Source,
    next: u64,
    end: u64,
}

impl BodyReader {
    /// The next chunk; `None` at the end of the range. An error ends the reader.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.next >= self.end {
            return Poll::Ready(None);
        }
        match &mut self.source {
            Source::Memory(b) => {
                let end = self.end.min(b.len() as u64);
                if self.next >= end {
                    self.end = self.next;
                    return Poll::Ready(None);
                }
                let out = b.slice(self.next as usize..end as usize);
                self.next = end;
                Poll::Ready(Some(Ok(out)))
            }
            Source::File(f) => f.poll_chunk(&mut self.next, &mut self.end, cx),
        }
    }

    /// The next chunk (see [`BodyReader::poll_chunk`]).
    pub async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Bytes left to read, when known.
    pub fn remaining(&self) -> Option<u64> {
        (self.end != u64::MAX).then(|| self.end.saturating_sub(self.next))
    }
}
