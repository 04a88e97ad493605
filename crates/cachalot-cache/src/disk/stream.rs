//! A stream written into the disk store while readers follow it: viewers of the miss
//! (the one that started it, requests collapsed onto it, and requests arriving while it
//! is written) read each block as soon as it is on disk, checked against the CRC the
//! writer computed. Memory held is one block plus the chunk being written.
//!
//! The file is published (renamed into place, indexed) only when the body is complete and
//! matches its announced length. A stream nobody reads any more is abandoned, unless it
//! was detached (a copy between tiers). A failed or abandoned stream is never published:
//! its readers get an error, its temporary file is removed.

use super::format::{self, Meta};
use super::{Disk, crcs_of};
use crate::body::{BLOCK_SIZE, FileBody, write_all_at};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a stream's file goes.
pub(crate) struct Target {
    pub(crate) id: u64,
    pub(crate) generation: u64,
    pub(crate) file_id: [u8; 16],
    pub(crate) tmp: PathBuf,
    pub(crate) epoch: u64,
}

/// Writes one object's body into the disk store as it arrives.
pub struct StreamWriter {
    disk: Disk,
    target: Target,
    meta: Meta,
    body: FileBody,
    buffer: Vec<u8>,
    written: u64,
    detached: bool,
    done: bool,
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl StreamWriter {
    pub(crate) fn new(disk: Disk, target: Target, meta: Meta, body: FileBody) -> Self {
        StreamWriter {
            disk,
            target,
            meta,
            body,
            buffer: Vec::new(),
            written: 0,
            detached: false,
            done: false,
            on_end: None,
        }
    }

    /// The body readers follow.
    pub fn body(&self) -> FileBody {
        self.body.clone()
    }

    pub(crate) fn on_end(&mut self, f: Box<dyn FnOnce() + Send>) {
        self.on_end = Some(f);
    }

    /// Keeps writing even when nobody reads the body (a lower tier copying an upper one's file).
    pub fn detach(&mut self) {
        self.detached = true;
    }

    /// Whether nobody holds the object any more: go no further.
    pub fn abandoned(&self) -> bool {
        !self.detached && Arc::strong_count(&self.body.0) <= 1
    }

    /// Appends `chunk`.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        let total = self.written + (self.buffer.len() + chunk.len()) as u64;
        if self.body.0.declared.is_some_and(|d| total > d) {
            return Err("the body is longer than its announced length".to_owned());
        }
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() as u64 >= BLOCK_SIZE { self.flush(false).await } else { Ok(()) }
    }

    /// Writes the whole blocks buffered (all of it when `last`).
    async fn flush(&mut self, last: bool) -> Result<(), String> {
        let whole =
            if last { self.buffer.len() } else { self.buffer.len() / BLOCK_SIZE as usize * BLOCK_SIZE as usize };
        if whole == 0 {
            return Ok(());
        }
        let rest = self.buffer.split_off(whole);
        let data = std::mem::replace(&mut self.buffer, rest);
        let crcs = crcs_of(&data);
        let shared = self.body.0.clone();
        let offset = self.written;
        let wrote = tokio::task::spawn_blocking(move || write_all_at(&shared.file, &data, offset))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        if let Err(e) = wrote {
            self.disk.0.write_failed(&e);
            return Err(format!("cannot write the disk cache: {e}"));
        }
        self.written += whole as u64;
        {
            let mut p = self.body.0.progress.lock();
            p.written = self.written;
            p.crcs.extend(crcs);
        }
        self.body.0.notify.notify_waiters();
        Ok(())
    }

    /// The body is complete: writes the trailer and publishes the file. Readers see the
    /// whole body even when publishing is refused (a purge arrived meanwhile).
    pub async fn finish(mut self) -> Result<u64, String> {
        if let Err(why) = self.flush(true).await {
            self.fail_inner(&why);
            return Err(why);
        }
        if self.body.0.declared.is_some_and(|d| d != self.written) {
            let why = "the body ended before its announced length".to_owned();
            self.fail_inner(&why);
            return Err(why);
        }
        self.meta.body_len = self.written;
        self.meta.crcs = self.body.0.progress.lock().crcs.clone();
        let trailer = format::encode_trailer(&self.meta);
        let size = self.written + trailer.len() as u64;
        let shared = self.body.0.clone();
        let offset = self.written;
        let wrote = tokio::task::spawn_blocking(move || write_all_at(&shared.file, &trailer, offset))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        match wrote {
            Ok(()) => {
                let t = &self.target;
                self.disk.0.publish(t.id, t.generation, &t.tmp, &t.file_id, t.epoch, size);
            }
            Err(e) => {
                self.disk.0.write_failed(&e);
                self.disk.0.abandon(self.target.id, self.target.generation, &self.target.tmp);
            }
        }
        self.body.0.progress.lock().outcome = Some(Ok(self.written));
        self.body.0.notify.notify_waiters();
        self.done = true;
        if let Some(f) = self.on_end.take() {
            f();
        }
        Ok(self.written)
    }

    /// The stream failed: readers get `why`, nothing is published.
    pub fn fail(mut self, why: &str) {
        self.fail_inner(why);
    }

    fn fail_inner(&mut self, why: &str) {
        if self.done {
            return;
        }
        self.done = true;
        self.body.0.progress.lock().outcome = Some(Err(why.to_owned()));
        self.body.0.notify.notify_waiters();
        self.disk.0.abandon(self.target.id, self.target.generation, &self.target.tmp);
        if let Some(f) = self.on_end.take() {
            f();
        }
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        self.fail_inner("the stream stopped before its end");
    }
}

#[cfg(test)]
mod tests {
    use crate::body::{BLOCK_SIZE, ObjectBody};
    use crate::{CachedObject, DiskConfig, Tier};
    use cachalot_config::model::CacheSettings;
    use http::{HeaderMap, Method};

    /// A tier with a disk in a fresh temporary folder named after `name`, the key of `path`
    /// and an object template for it.
    fn disk_tier(name: &str, path: &str) -> (std::path::PathBuf, Tier, cachalot_policy::CacheKey, CachedObject) {
        let dir = std::env::temp_dir().join(format!("cachalot-stream-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let tier = Tier::with_disk("T", 1 << 20, &DiskConfig { path: dir.clone(), capacity_bytes: 64 << 20 });
        let settings = CacheSettings::path_only(0, 60, 600);
        let h = HeaderMap::new();
        let key = cachalot_policy::cache_key(
            "E1",
            &settings,
            &cachalot_policy::ViewerRequest::new(&Method::GET, path, None, &h),
        )
        .0;
        let template = CachedObject {
            status: 200,
            headers: Default::default(),
            body: ObjectBody::Memory(bytes::Bytes::new()),
            stored_at_ms: 0,
            ttl_secs: 60,
            stale_while_revalidate_secs: 0,
            stale_if_error_secs: 0,
            invalidation_target: path.into(),
            tags: vec![],
            edge_encoding: None,
        };
        (dir, tier, key, template)
    }

    /// The short last block, flushed but not yet marked complete, is read at its own length
    /// (reading a whole block there would take in the trailer and fail the checksum).
    #[tokio::test]
    async fn the_last_short_block_is_readable_before_the_stream_is_marked_complete() {
        let (dir, tier, key, template) = disk_tier("short", "/s");
        let len = BLOCK_SIZE + 1000;
        let (obj, mut writer) = tier.begin_stream(&key, template, Some(len), tier.epoch()).unwrap();
        writer.write(&vec![7u8; len as usize]).await.unwrap();
        writer.flush(true).await.unwrap();
        // A trailer-sized tail beyond the body, as finish() writes before marking completion.
        crate::body::write_all_at(&writer.body.0.file, &[1u8; 4096], len).unwrap();
        let mut reader = obj.body.reader(BLOCK_SIZE, None);
        let last = reader.next_chunk().await.unwrap().unwrap();
        assert_eq!(last.len(), 1000);
        writer.finish().await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Reads of a complete file body come in trips of several blocks: every range, across
    /// the trips' borders and past the end, gives the bytes asked for and nothing more.
    #[tokio::test]
    async fn ranges_across_read_ahead_trips_give_exactly_their_bytes() {
        let (dir, tier, key, template) = disk_tier("trips", "/t");
        let len = 9 * BLOCK_SIZE + 777;
        let full: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let (obj, mut writer) = tier.begin_stream(&key, template, Some(len), tier.epoch()).unwrap();
        writer.write(&full).await.unwrap();
        writer.finish().await.unwrap();
        let b = BLOCK_SIZE;
        for (start, end) in [
            (0, None),
            (3 * b + 7, Some(6 * b + 9)),
            (b - 1, Some(9 * b + 2)),
            (4 * b, Some(8 * b)),
            (len - 5, None),
            (len, None),
            (len + 10, None),
        ] {
            let mut reader = obj.body.reader(start, end);
            let mut got = Vec::new();
            while let Some(chunk) = reader.next_chunk().await {
                got.extend_from_slice(&chunk.unwrap());
            }
            let want = &full[(start.min(len) as usize)..(end.unwrap_or(len).min(len) as usize)];
            assert!(got == want, "{start}..{end:?}: {} bytes, {} wanted", got.len(), want.len());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
