//! Object bodies: whole in memory, or in a file of a disk tier — complete, or still being
//! written by a stream that readers follow as it grows.
//!
//! A file body is read block by block ([`BLOCK_SIZE`]); every block is checked against
//! its CRC32 before a byte of it is handed out, so a damaged file is never served: the
//! reader fails, the file is removed, and the next request is a miss. Reading a range
//! reads only the blocks it touches.

use bytes::Bytes;
use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes per checksummed block of a file body.
pub const BLOCK_SIZE: u64 = 256 * 1024;

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
            ObjectBody::File(f) => Source::File(f.0.clone()),
        };
        BodyReader { source, next: start, end: end.unwrap_or(u64::MAX), pending: None }
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
        let mut out = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        for (i, chunk) in out.chunks_mut(BLOCK_SIZE as usize).enumerate() {
            read_exact_at(&self.0.file, chunk, i as u64 * BLOCK_SIZE)?;
            if crcs.get(i) != Some(&crc32fast::hash(chunk)) {
                (self.0.on_damage)();
                return Err(damaged());
            }
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

/// Block `index` of a file body, checked, once it has been written; empty past the end.
async fn read_block(shared: Arc<FileShared>, index: u64) -> io::Result<Bytes> {
    let start = index * BLOCK_SIZE;
    let (end, crc) = loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let p = shared.progress.lock();
            match &p.outcome {
                Some(Err(why)) => return Err(io::Error::other(why.clone())),
                Some(Ok(len)) if start >= *len => return Ok(Bytes::new()),
                Some(Ok(len)) => break ((start + BLOCK_SIZE).min(*len), p.crcs.get(index as usize).copied()),
                // Written but not yet complete: the last block may be a short one.
                None if p.crcs.len() > index as usize => {
                    break ((start + BLOCK_SIZE).min(p.written), p.crcs.get(index as usize).copied());
                }
                None => {}
            }
        }
        notified.await;
    };
    let Some(crc) = crc else { return Err(io::Error::other("the cache file lacks a block checksum")) };
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; (end - start) as usize];
        read_exact_at(&shared.file, &mut buf, start)?;
        if crc32fast::hash(&buf) != crc {
            (shared.on_damage)();
            return Err(damaged());
        }
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(io::Error::other)?
}

enum Source {
    Memory(Bytes),
    File(Arc<FileShared>),
}

type BlockFuture = Pin<Box<dyn Future<Output = io::Result<Bytes>> + Send>>;

/// Reads a range of a body chunk by chunk (see [`ObjectBody::reader`]).
pub struct BodyReader {
    source: Source,
    next: u64,
    end: u64,
    pending: Option<BlockFuture>,
}

impl BodyReader {
    /// The next chunk; `None` at the end of the range. An error ends the reader.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.next >= self.end {
            return Poll::Ready(None);
        }
        match &self.source {
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
            Source::File(shared) => {
                let index = self.next / BLOCK_SIZE;
                let shared = shared.clone();
                let fut = self.pending.get_or_insert_with(|| Box::pin(read_block(shared, index)));
                match fut.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        self.pending = None;
                        self.end = self.next;
                        Poll::Ready(Some(Err(e)))
                    }
                    Poll::Ready(Ok(block)) => {
                        self.pending = None;
                        let block_start = index * BLOCK_SIZE;
                        let from = (self.next - block_start) as usize;
                        if from >= block.len() {
                            self.end = self.next;
                            return Poll::Ready(None);
                        }
                        let to = (block.len() as u64).min(self.end - block_start) as usize;
                        self.next = block_start + to as u64;
                        if (block.len() as u64) < BLOCK_SIZE {
                            // The last block: nothing lies beyond it.
                            self.end = self.end.min(self.next);
                        }
                        Poll::Ready(Some(Ok(block.slice(from..to))))
                    }
                }
            }
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
