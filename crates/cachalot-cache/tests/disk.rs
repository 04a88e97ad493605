//! The disk store under a tier: objects larger than memory, restarts, damaged files,
//! purges across restarts, streams read while written, an unusable folder.

use bytes::Bytes;
use cachalot_cache::{CachedObject, DiskConfig, Lookup, ObjectBody, Tier};
use cachalot_config::model::CacheSettings;
use cachalot_policy::CacheKey;
use cachalot_policy::invalidation::InvalidationPath;
use http::{HeaderMap, HeaderValue, Method};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_700_000_000_000;

fn key(path: &str) -> CacheKey {
    let settings = CacheSettings::path_only(0, 60, 600);
    let h = HeaderMap::new();
    cachalot_policy::cache_key("E1", &settings, &cachalot_policy::ViewerRequest::new(&Method::GET, path, None, &h)).0
}

/// A body that differs per path and per byte, so a misplaced or damaged byte shows.
fn content(path: &str, len: usize) -> Bytes {
    let seed = path.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    Bytes::from(
        (0..len).map(|i| (seed.wrapping_add(i as u32).wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>(),
    )
}

fn object(path: &str, len: usize, ttl: u64) -> Arc<CachedObject> {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/octet-stream"));
    headers.insert("etag", HeaderValue::from_static("\"v1\""));
    Arc::new(CachedObject {
        status: 200,
        headers: (&headers).into(),
        body: ObjectBody::Memory(content(path, len)),
        stored_at_ms: NOW,
        ttl_secs: ttl,
        stale_while_revalidate_secs: 0,
        stale_if_error_secs: 0,
        invalidation_target: path.into(),
        tags: vec!["red".to_owned()],
        edge_encoding: None,
    })
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachalot-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tier(dir: &Path, memory: u64, disk: u64) -> Tier {
    Tier::with_disk("T", memory, &DiskConfig { path: dir.to_owned(), capacity_bytes: disk })
}

/// Waits (bounded) until `n` objects have been written to disk.
async fn written(tier: &Tier, n: u64) {
    for _ in 0..2000 {
        if tier.report().disk_writes >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("only {} of {n} objects were written", tier.report().disk_writes);
}

async fn loaded(tier: &Tier) {
    for _ in 0..2000 {
        if tier.disk_loaded() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the disk index was not rebuilt");
}

async fn body_of(obj: &CachedObject) -> Vec<u8> {
    let mut reader = obj.body.reader(0, None);
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk().await {
        out.extend_from_slice(&chunk.expect("a readable body"));
    }
    out
}

/// Cache files under `dir`, finished or being written.
fn obj_files(dir: &Path) -> Vec<PathBuf> {
    cachalot_test::files_with_extension(dir, &["obj", "tmp"])
}

#[tokio::test]
async fn objects_larger_than_memory_are_kept_on_disk_and_survive_a_restart() {
    let dir = folder("restart");
    let t = tier(&dir, 64 * 1024, 64 << 20);
    for i in 0..20 {
        let p = format!("/big/{i}");
        assert!(t.insert(key(&p), object(&p, 300_000, 60), t.epoch()), "stored on disk");
    }
    written(&t, 20).await;
    assert_eq!(t.report().memory_objects, 0, "too large for memory");
    let Lookup::Fresh(found) = t.lookup(&key("/big/3"), NOW + 1_000).await else { panic!("a disk hit") };
    assert!(found.body.file().is_some(), "served from its file");
    assert_eq!(body_of(&found).await, content("/big/3", 300_000));
    drop(found);
    drop(t);

    // A new process on the same folder: hits at once, same expiry and age.
    let t = tier(&dir, 64 * 1024, 64 << 20);
    let Lookup::Fresh(again) = t.lookup(&key("/big/7"), NOW + 30_000).await else { panic!("warm after restart") };
    assert_eq!((again.stored_at_ms, again.ttl_secs, again.age_secs(NOW + 30_000)), (NOW, 60, 30));
    assert_eq!(again.headers.get("etag").unwrap(), "\"v1\"");
    assert_eq!(again.tags, vec!["red".to_owned()]);
    assert_eq!(body_of(&again).await, content("/big/7", 300_000));
    assert!(matches!(t.lookup(&key("/big/7"), NOW + 60_000).await, Lookup::Stale(_)), "expires when it did");
    loaded(&t).await;
    let r = t.report();
    assert_eq!((r.disk_objects, r.disk_hits), (20, 2), "{r:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn small_disk_hits_come_back_into_memory() {
    let dir = folder("promote");
    let t = tier(&dir, 1 << 20, 16 << 20);
    t.insert(key("/s"), object("/s", 1000, 60), t.epoch());
    written(&t, 1).await;
    drop(t);
    let t = tier(&dir, 1 << 20, 16 << 20);
    let Lookup::Fresh(o) = t.lookup(&key("/s"), NOW).await else { panic!("a disk hit") };
    assert_eq!(o.body.memory().map(|b| b.to_vec()), Some(content("/s", 1000).to_vec()));
    assert!(matches!(t.lookup_held(&key("/s"), NOW), Some(Lookup::Fresh(_))), "now in memory");
    let r = t.report();
    assert_eq!((r.disk_hits, r.memory_hits), (1, 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn damaged_partial_and_foreign_files_are_misses_and_removed() {
    let dir = folder("damage");
    let t = tier(&dir, 16 * 1024, 64 << 20);
    for p in ["/flip", "/late-flip", "/cut", "/trailer", "/ok"] {
        t.insert(key(p), object(p, 600_000, 60), t.epoch());
    }
    written(&t, 5).await;
    drop(t);
    let path_of = |p: &str| {
        obj_files(&dir)
            .into_iter()
            .find(|f| std::fs::read(f).unwrap().windows(p.len() + 1).any(|w| w == format!("{p}\u{1f}").as_bytes()))
            .unwrap()
    };
    let flip = |f: &Path, at: usize| {
        let mut bytes = std::fs::read(f).unwrap();
        bytes[at] ^= 0x40;
        std::fs::write(f, bytes).unwrap();
    };
    flip(&path_of("/flip"), 10);
    flip(&path_of("/late-flip"), 500_000);
    let cut = path_of("/cut");
    let len = std::fs::metadata(&cut).unwrap().len();
    std::fs::File::options().write(true).open(&cut).unwrap().set_len(len - 100).unwrap();
    let trailer = path_of("/trailer");
    let len = std::fs::metadata(&trailer).unwrap().len() as usize;
    flip(&trailer, len - 40);
    let stray = dir.join("tmp").join("0123-9.tmp");
    std::fs::write(&stray, b"half a write").unwrap();

    let t = tier(&dir, 16 * 1024, 64 << 20);
    assert!(!stray.exists(), "partial writes of the last run are removed at start");
    // The first block fails its checksum before anything is handed out: a miss.
    let flipped = t.lookup(&key("/flip"), NOW).await;
    if let Lookup::Fresh(o) = &flipped {
        let mut r = o.body.reader(0, None);
        assert!(r.next_chunk().await.unwrap().is_err(), "never the bad bytes");
    }
    // A block further in fails when it is reached: the reader errors, never the bad bytes.
    let Lookup::Fresh(late) = t.lookup(&key("/late-flip"), NOW).await else { panic!("the trailer is intact") };
    let mut r = late.body.reader(0, None);
    let mut good = 0;
    let failed = loop {
        match r.next_chunk().await {
            Some(Ok(c)) => good += c.len(),
            Some(Err(_)) => break true,
            None => break false,
        }
    };
    assert!(failed && good < 500_000, "stopped before the damaged block ({good} bytes)");
    assert!(matches!(t.lookup(&key("/late-flip"), NOW).await, Lookup::Miss), "removed once found damaged");
    assert!(matches!(t.lookup(&key("/cut"), NOW).await, Lookup::Miss), "a partial file");
    assert!(matches!(t.lookup(&key("/trailer"), NOW).await, Lookup::Miss), "a damaged trailer");
    assert!(matches!(t.lookup(&key("/ok"), NOW).await, Lookup::Fresh(_)));
    loaded(&t).await;
    assert_eq!(obj_files(&dir), vec![path_of("/ok")], "every bad file is gone");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn purges_apply_to_files_the_index_does_not_know_yet_and_survive_a_restart() {
    let dir = folder("purge");
    let t = tier(&dir, 16 * 1024, 64 << 20);
    for p in ["/img/a", "/img/b", "/css/c"] {
        t.insert(key(p), object(p, 100_000, 600), t.epoch());
    }
    written(&t, 3).await;
    drop(t);
    // Restarted: purge at once, before (or while) the index is rebuilt.
    let t = tier(&dir, 16 * 1024, 64 << 20);
    t.purge("E1", &[InvalidationPath::parse("/img/*").unwrap()], NOW + 10);
    assert!(matches!(t.lookup(&key("/img/a"), NOW + 20).await, Lookup::Miss));
    assert!(matches!(t.lookup(&key("/css/c"), NOW + 20).await, Lookup::Fresh(_)));
    t.purge("E1", &[InvalidationPath::parse("#red").unwrap()], NOW + 30);
    assert!(matches!(t.lookup(&key("/css/c"), NOW + 40).await, Lookup::Miss), "by tag");
    drop(t);
    let t = tier(&dir, 16 * 1024, 64 << 20);
    for p in ["/img/a", "/img/b", "/css/c"] {
        assert!(matches!(t.lookup(&key(p), NOW + 50).await, Lookup::Miss), "{p} stays purged");
    }
    loaded(&t).await;
    assert!(obj_files(&dir).is_empty(), "{:?}", obj_files(&dir));
    // A fetch that started before a purge does not store what it fetched.
    let started = t.epoch();
    t.purge("E1", &[InvalidationPath::parse("/late").unwrap()], NOW + 60);
    assert!(!t.insert(key("/late"), object("/late", 100_000, 600), started));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_stream_is_read_while_it_is_written_and_published_when_complete() {
    let dir = folder("stream");
    let t = tier(&dir, 16 * 1024, 64 << 20);
    let total = 3 * cachalot_cache::BLOCK_SIZE as usize + 1234;
    let full = content("/video", total);
    let template = CachedObject { body: ObjectBody::Memory(Bytes::new()), ..(*object("/video", 0, 60)).clone() };
    let (obj, mut writer) = t.begin_stream(&key("/video"), template, Some(total as u64), t.epoch()).unwrap();
    let Some(Lookup::Fresh(follower)) = t.lookup_held(&key("/video"), NOW) else { panic!("findable while written") };
    let reading = tokio::spawn(async move { body_of(&follower).await });
    for chunk in full.chunks(100_000) {
        writer.write(chunk).await.unwrap();
        assert!(!writer.abandoned(), "readers hold it");
    }
    assert_eq!(writer.finish().await.unwrap(), total as u64);
    assert_eq!(reading.await.unwrap(), full.to_vec());
    // A range reads only its blocks.
    let mut r = obj.body.reader(cachalot_cache::BLOCK_SIZE + 5, Some(cachalot_cache::BLOCK_SIZE + 15));
    assert_eq!(r.next_chunk().await.unwrap().unwrap(), full.slice(262_149..262_159));
    assert!(r.next_chunk().await.is_none());
    drop(obj);
    assert!(t.lookup_held(&key("/video"), NOW).is_none(), "published: no longer growing");
    let Lookup::Fresh(stored) = t.lookup(&key("/video"), NOW).await else { panic!("stored") };
    assert_eq!(body_of(&stored).await, full.to_vec());

    // A stream nobody holds any more is abandoned, and a short one is never published.
    let template = CachedObject { body: ObjectBody::Memory(Bytes::new()), ..(*object("/gone", 0, 60)).clone() };
    let (obj, writer) = t.begin_stream(&key("/gone"), template.clone(), Some(10), t.epoch()).unwrap();
    drop(obj);
    assert!(writer.abandoned());
    writer.fail("no viewer");
    let (obj, mut writer) = t.begin_stream(&key("/short"), template, Some(10), t.epoch()).unwrap();
    writer.write(b"12345").await.unwrap();
    assert!(writer.finish().await.is_err());
    assert!(obj.body.completion().await.is_err(), "readers learn it failed");
    assert!(matches!(t.lookup(&key("/gone"), NOW).await, Lookup::Miss));
    assert!(matches!(t.lookup(&key("/short"), NOW).await, Lookup::Miss));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn eviction_keeps_the_disk_within_its_size() {
    let dir = folder("evict");
    let t = tier(&dir, 16 * 1024, 2 << 20);
    for i in 0..40 {
        let p = format!("/o{i}");
        // Each newcomer is asked for more often than the oldest, so it wins admission.
        for _ in 0..2 + i / 4 {
            t.lookup(&key(&p), NOW).await;
        }
        t.insert(key(&p), object(&p, 200_000, 60), t.epoch());
    }
    for _ in 0..2000 {
        if t.report().disk_writes + t.report().disk_admission_rejections >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = t.report();
    assert!(r.disk_bytes <= 2 << 20 && r.disk_evictions > 0, "{r:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let on_disk: u64 = obj_files(&dir).iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    assert!(on_disk <= 2 << 20, "{on_disk} bytes of files");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_unusable_folder_leaves_a_memory_tier_that_says_so() {
    let dir = folder("unusable");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let t = tier(&file.join("cache"), 1 << 20, 16 << 20);
    assert!(t.insert(key("/m"), object("/m", 1000, 60), t.epoch()), "memory still stores");
    assert!(matches!(t.lookup(&key("/m"), NOW).await, Lookup::Fresh(_)));
    assert!(matches!(t.lookup(&key("/n"), NOW).await, Lookup::Miss));
    assert!(t.report().disk_failing);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_refresh_rewrites_the_expiry_on_disk_at_once() {
    let dir = folder("refresh");
    let t = tier(&dir, 16 * 1024, 64 << 20);
    t.insert(key("/r"), object("/r", 300_000, 60), t.epoch());
    written(&t, 1).await;
    let Lookup::Stale(old) = t.lookup(&key("/r"), NOW + 61_000).await else { panic!("expired on disk") };
    let refreshed = Arc::new(old.refreshed(NOW + 61_000, 60, &HeaderMap::new()));
    assert!(t.insert(key("/r"), refreshed, t.epoch()));
    let Lookup::Fresh(now) = t.lookup(&key("/r"), NOW + 62_000).await else { panic!("fresh again at once") };
    assert_eq!((now.stored_at_ms, body_of(&now).await), (NOW + 61_000, content("/r", 300_000).to_vec()));
    drop((old, now));
    drop(t);
    let t = tier(&dir, 16 * 1024, 64 << 20);
    let Lookup::Fresh(again) = t.lookup(&key("/r"), NOW + 62_000).await else { panic!("and after a restart") };
    assert_eq!(again.stored_at_ms, NOW + 61_000);
    std::fs::remove_dir_all(&dir).unwrap();
}
