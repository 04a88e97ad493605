//! The purge log: invalidations made while cache files may exist that the index does not
//! know yet (the start-up scan is still running, or the node stopped before removing them).
//!
//! Each record (time, distribution, path) is appended and synced before the purge returns;
//! a cache file stored at or before a record's time that the record matches is a miss and
//! is removed, whether found by a lookup or by the scan. Once the scan is over and every
//! matching file has been removed, the log is emptied. A torn last record (a crash while
//! appending) is ignored.

use cachalot_policy::invalidation::InvalidationPath;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// One invalidation path of one purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PurgeRecord {
    pub(crate) at_ms: u64,
    pub(crate) distribution: String,
    pub(crate) path: InvalidationPath,
}

impl PurgeRecord {
    /// Whether a file of `distribution` stored at `stored_at_ms` with this target and these tags is purged.
    pub(crate) fn applies(&self, distribution: &str, target: &str, tags: &[String], stored_at_ms: u64) -> bool {
        stored_at_ms <= self.at_ms && self.distribution == distribution && self.path.matches(target, tags)
    }
}

fn path_text(p: &InvalidationPath) -> String {
    match p {
        InvalidationPath::Exact(p) => p.clone(),
        InvalidationPath::Prefix(p) => format!("{p}*"),
        InvalidationPath::Tag(t) => format!("#{t}"),
    }
}

fn encode(r: &PurgeRecord) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&r.at_ms.to_le_bytes());
    for text in [r.distribution.as_str(), &path_text(&r.path)] {
        payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
        payload.extend_from_slice(text.as_bytes());
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn decode_all(mut data: &[u8]) -> Vec<PurgeRecord> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let crc = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        let Some(payload) = data.get(8..8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        data = &data[8 + len..];
        let Some(record) = decode_one(payload) else { continue };
        out.push(record);
    }
    out
}

fn decode_one(p: &[u8]) -> Option<PurgeRecord> {
    let at_ms = u64::from_le_bytes(p.get(..8)?.try_into().ok()?);
    let mut rest = &p[8..];
    let mut text = || -> Option<String> {
        let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let s = std::str::from_utf8(rest.get(4..4 + n)?).ok()?.to_owned();
        rest = &rest[4 + n..];
        Some(s)
    };
    let distribution = text()?;
    let path = InvalidationPath::parse(&text()?).ok()?;
    Some(PurgeRecord { at_ms, distribution, path })
}

/// The persistent purge log of one disk tier.
pub(crate) struct PurgeLog {
    path: PathBuf,
    file: File,
    records: Vec<PurgeRecord>,
}

impl PurgeLog {
    /// Opens (or creates) `dir/purges.log` and reads its records.
    pub(crate) fn open(dir: &Path) -> io::Result<PurgeLog> {
        let path = dir.join("purges.log");
        let mut data = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut data)?;
        }
        let records = decode_all(&data);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut log = PurgeLog { path, file, records };
        if log.encoded_len() != data.len() {
            // A torn tail: rewrite what is valid so later appends are readable.
            log.rewrite()?;
        }
        Ok(log)
    }

    fn encoded_len(&self) -> usize {
        self.records.iter().map(|r| encode(r).len()).sum()
    }

    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let mut f = File::create(&tmp)?;
        for r in &self.records {
            f.write_all(&encode(r))?;
        }
        f.sync_data()?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }

    /// Appends `records` and syncs them to disk.
    pub(crate) fn append(&mut self, records: Vec<PurgeRecord>) -> io::Result<()> {
        let mut bytes = Vec::new();
        for r in &records {
            bytes.extend_from_slice(&encode(r));
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.records.extend(records);
        Ok(())
    }

    /// Forgets every record (each has been applied to every file).
    pub(crate) fn clear(&mut self) -> io::Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        self.records.clear();
        self.rewrite()
    }

    /// Whether a file with these properties is purged by a record.
    pub(crate) fn purges(&self, distribution: &str, target: &str, tags: &[String], stored_at_ms: u64) -> bool {
        self.records.iter().any(|r| r.applies(distribution, target, tags, stored_at_ms))
    }

    /// Whether the log holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_dropped() {
        let dir = std::env::temp_dir().join(format!("cachalot-purges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = PurgeLog::open(&dir).unwrap();
        let record = |at_ms, p: &str| PurgeRecord {
            at_ms,
            distribution: "E1".to_owned(),
            path: InvalidationPath::parse(p).unwrap(),
        };
        log.append(vec![record(10, "/img/*"), record(20, "#red")]).unwrap();
        {
            let mut f = OpenOptions::new().append(true).open(dir.join("purges.log")).unwrap();
            f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        }
        let mut log = PurgeLog::open(&dir).unwrap();
        assert!(log.purges("E1", "/img/a.png", &[], 10));
        assert!(!log.purges("E1", "/img/a.png", &[], 11), "stored after the purge");
        assert!(!log.purges("E2", "/img/a.png", &[], 1), "another distribution");
        assert!(log.purges("E1", "/x", &["red".to_owned()], 20));
        log.append(vec![record(30, "/x")]).unwrap();
        let mut log = PurgeLog::open(&dir).unwrap();
        assert!(log.purges("E1", "/x", &[], 30), "appended after the torn tail was cut");
        log.clear().unwrap();
        assert!(PurgeLog::open(&dir).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
