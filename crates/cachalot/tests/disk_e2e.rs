//! The disk tier end to end: the real `cachalot serve` binary with `DiskCacheSize`, a
//! folder-backed S3 origin, a plain HTTP client that checksums bodies as they stream, and
//! the server's resident memory read from `/proc` — the tests of the "disk tier and
//! streaming objects" contract (interface §8). CloudFront's documented behaviour for large
//! objects and ranges: <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RangeGETs.html>.
#![cfg(target_os = "linux")]

#[path = "serve/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use support::{Serve, TempDir, http_get};

const MIB: u64 = 1 << 20;
const DISTRIBUTION: &str = "EDISKTEST00001";

/// A config with one POP (`pop` holds its extra fields) in front of the bucket `media`.
fn write_config(dir: &Path, pop: &str) {
    let config = format!(
        r#"{{"Buckets": {{"media": "media"}},
            "Pops": [{{"Id": "LOCAL50-C1", "Listen": "127.0.0.1:0", "Region": "us-east-1"{pop}}}],
            "Distributions": [{{"Id": "{DISTRIBUTION}", "DomainName": "d0disk0test01.cloudfront.net", "DistributionConfig": {{
              "CallerReference": "disk", "Comment": "", "Enabled": true,
              "Origins": {{"Quantity": 1, "Items": [{{"Id": "media", "DomainName": "media.s3.amazonaws.com", "S3OriginConfig": {{"OriginAccessIdentity": ""}}}}]}},
              "DefaultCacheBehavior": {{"TargetOriginId": "media", "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}}}}]}}"#
    );
    std::fs::create_dir_all(dir.join("media")).unwrap();
    std::fs::write(dir.join("node.json"), config).unwrap();
}

/// Writes `len` bytes that differ per file and per position; returns their CRC32.
fn write_object(dir: &Path, name: &str, len: u64) -> u32 {
    let path = dir.join("media").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut hasher = crc32fast::Hasher::new();
    let mut x = name.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| h.rotate_left(5) ^ u64::from(b)) | 1;
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&buf[..n]).unwrap();
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    f.flush().unwrap();
    hasher.finalize()
}

/// A response read as it streams: status, headers, bytes received, their CRC32, and
/// whether the body ended as announced.
struct Streamed {
    status: u16,
    headers: Vec<(String, String)>,
    len: u64,
    crc: u32,
    complete: bool,
}

impl Streamed {
    fn header(&self, name: &str) -> &str {
        support::header(&self.headers, name)
    }
}

/// GET (or HEAD) with `headers`, reading the body in chunks (never whole), calling
/// `each` after every read with the bytes so far.
fn stream(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], mut each: impl FnMut(u64)) -> Streamed {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: d0disk0test01.cloudfront.net\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap_or(0) == 0 {
            panic!("no response head: {}", String::from_utf8_lossy(&head));
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    assert!(support::header(&headers, "transfer-encoding").is_empty(), "bodies here have a length: {headers:?}");
    let expected: u64 =
        if method == "HEAD" { 0 } else { support::header(&headers, "content-length").parse().unwrap_or(0) };
    let mut hasher = crc32fast::Hasher::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while len < expected {
        let want = buf.len().min((expected - len) as usize);
        match s.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                len += n as u64;
                each(len);
            }
        }
    }
    Streamed { status, headers, len, crc: hasher.finalize(), complete: len == expected }
}

fn get(addr: SocketAddr, path: &str) -> Streamed {
    stream(addr, "GET", path, &[], |_| {})
}

/// Resident memory of a process, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().trim_end_matches("kB").trim());
    kb.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Samples a process's resident memory every few milliseconds until dropped; the peak.
struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let (peak, stop) = (Arc::new(AtomicU64::new(rss(pid))), Arc::new(AtomicBool::new(false)));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssWatch { peak, stop, thread: Some(thread) }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// One sample of `/metrics` (`name{labels}` exactly), 0 when absent.
fn metric(serve: &Serve, series: &str) -> u64 {
    let (_, _, body) = http_get(serve.admin, "/metrics", &[]);
    let text = String::from_utf8_lossy(&body).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

const DISK_WRITES: &str = r#"cachalot_cache_disk_writes_total{tier="LOCAL50-C1"}"#;

/// Waits (bounded) until the POP has written `n` objects to disk: they are acknowledged.
fn acknowledged(serve: &Serve, n: u64) {
    for _ in 0..1500 {
        if metric(serve, DISK_WRITES) >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("only {} of {n} objects written to disk:\n{}", metric(serve, DISK_WRITES), serve.log());
}

fn kill9(serve: Serve) {
    let _ = Command::new("kill").args(["-KILL", &serve.child.id().to_string()]).status();
    drop(serve);
}

/// A tier of 8 MiB of memory and 512 MiB of disk serves 200 distinct 1 MiB objects twice:
/// the second pass is all hits (no origin request), from disk, and resident memory stays
/// within 8 MiB (memory tier) + 64 MiB (in-flight budget) + 64 MiB of working space above
/// what the server used at start — far below the 200 MiB the objects take.
#[test]
fn two_passes_over_200_one_mib_objects_hit_from_disk_with_memory_bounded() {
    let dir = TempDir::new("disk-200");
    write_config(&dir.0, r#", "CacheSize": "8MiB", "DiskCacheSize": "512MiB""#);
    let crcs: Vec<u32> = (0..200).map(|i| write_object(&dir.0, &format!("o/{i}.bin"), MIB)).collect();
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let start = rss(serve.child.id());
    let watch = RssWatch::start(serve.child.id());
    for (i, crc) in crcs.iter().enumerate() {
        let r = get(serve.pop, &format!("/o/{i}.bin"));
        assert_eq!((r.status, r.header("x-cache"), r.crc), (200, "Miss from cloudfront", *crc), "{}", serve.log());
    }
    acknowledged(&serve, 200);
    for (i, crc) in crcs.iter().enumerate() {
        let r = get(serve.pop, &format!("/o/{i}.bin"));
        assert_eq!((r.status, r.header("x-cache"), r.crc), (200, "Hit from cloudfront", *crc), "object {i}");
    }
    let peak = watch.peak();
    let disk_hits = metric(&serve, r#"cachalot_cache_hits_total{tier="LOCAL50-C1",store="disk"}"#);
    println!("RSS at start {} MiB, peak {} MiB; disk hits {disk_hits}", start / MIB, peak / MIB);
    assert!(disk_hits >= 150, "most second-pass hits come from disk: {disk_hits}");
    assert!(peak < start + (8 + 64 + 64) * MIB, "peak RSS {} MiB from {} MiB at start", peak / MIB, start / MIB);
    assert!(serve.stop().success());
}

/// After a clean stop the cache is warm: hits with `age` continuing, the same bodies, and an
/// invalidation made before the stop still applies. After `kill -9` in the middle of a
/// stream of writes: every object acknowledged as stored is a hit with the right body,
/// anything else is a miss or a whole, correct hit, and no partial file is left.
#[test]
fn restarts_keep_the_cache_warm_and_a_kill_never_leaves_a_partial_object() {
    let dir = TempDir::new("disk-restart");
    write_config(&dir.0, r#", "CacheSize": "1MiB", "DiskCacheSize": "512MiB""#);
    // 100 KiB objects are buffered (and written behind); 700 KiB ones stream to disk.
    let mut objects: Vec<(String, u32)> = Vec::new();
    for i in 0..12 {
        let (name, len) =
            if i % 2 == 0 { (format!("s/{i}.bin"), 100 * 1024) } else { (format!("m/{i}.bin"), 700 * 1024) };
        objects.push((format!("/{name}"), write_object(&dir.0, &name, len)));
    }
    let later: Vec<(String, u32)> =
        (0..30).map(|i| (format!("/k/{i}.bin"), write_object(&dir.0, &format!("k/{i}.bin"), 300 * 1024))).collect();
    let big = write_object(&dir.0, "big.bin", 48 * MIB);
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    for (path, crc) in &objects {
        let r = get(serve.pop, path);
        assert_eq!(r.crc, *crc, "{path}: {} {} bytes complete {} {:?}", r.status, r.len, r.complete, r.headers);
    }
    acknowledged(&serve, objects.len() as u64);
    // An invalidation before the stop.
    let invalidated = "/s/4.bin";
    if let Some(aws) = support::aws_cli() {
        let invalidation =
            ["cloudfront", "create-invalidation", "--distribution-id", DISTRIBUTION, "--paths", invalidated];
        support::aws_run(&aws, serve.admin, &dir.0, "text", &invalidation);
    } else {
        println!("SKIPPED (the invalidation part): python3 is not installed");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(serve.stop().success());

    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    for (path, crc) in &objects {
        let r = get(serve.pop, path);
        if path == invalidated && support::aws_cli().is_some() {
            assert_eq!(r.header("x-cache"), "Miss from cloudfront", "invalidated before the restart");
            continue;
        }
        assert_eq!((r.header("x-cache"), r.crc), ("Hit from cloudfront", *crc), "{path} after a clean restart");
        assert!(r.header("age").parse::<u64>().unwrap_or(0) >= 2, "age continues: {:?}", r.header("age"));
    }

    // A stream of writes: the first ten acknowledged, the rest in flight when killed.
    let before = metric(&serve, DISK_WRITES);
    for (path, crc) in &later[..10] {
        assert_eq!(get(serve.pop, path).crc, *crc);
    }
    acknowledged(&serve, before + 10);
    let pop = serve.pop;
    let writer = std::thread::spawn({
        let later = later.clone();
        move || {
            for (path, _) in &later[10..] {
                if std::panic::catch_unwind(|| get(pop, path)).is_err() {
                    return;
                }
            }
        }
    });
    // Killed while the 48 MiB object streams to disk (after its first megabyte arrived).
    let _ = stream(serve.pop, "GET", "/big.bin", &[], |n| {
        if n >= MIB {
            let _ = Command::new("kill").args(["-KILL", &serve.child.id().to_string()]).status();
        }
    });
    kill9(serve);
    let _ = writer.join();

    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    assert!(
        cachalot_test::files_with_extension(&dir.0.join("state/cache"), &["tmp"]).is_empty(),
        "partial files are gone"
    );
    for (path, crc) in objects.iter().chain(&later[..10]) {
        if path == invalidated {
            continue;
        }
        let r = get(serve.pop, path);
        assert_eq!((r.header("x-cache"), r.crc), ("Hit from cloudfront", *crc), "{path} after kill -9");
    }
    for (path, crc) in later[10..].iter().chain([&("/big.bin".to_owned(), big)]) {
        let r = get(serve.pop, path);
        assert_eq!(r.crc, *crc, "{path}: a hit or a miss, never a damaged body ({})", r.header("x-cache"));
    }
    assert_eq!(metric(&serve, r#"cachalot_cache_disk_damaged_files_total{tier="LOCAL50-C1"}"#), 0, "{}", serve.log());
    assert!(serve.stop().success());
}

/// Damaged cache files are never served: a small object read whole is a miss that
/// refetches; a large one is cut off before the damaged block, then refetched.
#[test]
fn damaged_cache_files_are_refetched_never_served() {
    let dir = TempDir::new("disk-damage");
    write_config(&dir.0, r#", "CacheSize": "8MiB", "DiskCacheSize": "256MiB""#);
    let small = write_object(&dir.0, "small.bin", 100 * 1024);
    let large = write_object(&dir.0, "large.bin", 3 * MIB);
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    get(serve.pop, "/small.bin");
    get(serve.pop, "/large.bin");
    acknowledged(&serve, 2);
    assert!(serve.stop().success());
    let mut files = cachalot_test::files_with_extension(&dir.0.join("state/cache"), &["obj"]);
    files.sort_by_key(|f| std::fs::metadata(f).unwrap().len());
    assert_eq!(files.len(), 2);
    let flip = |f: &Path, at: u64| {
        let mut bytes = std::fs::read(f).unwrap();
        bytes[at as usize] ^= 0x20;
        std::fs::write(f, bytes).unwrap();
    };
    flip(&files[0], 50_000);
    flip(&files[1], 3 * MIB - 1000);

    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let r = get(serve.pop, "/small.bin");
    assert_eq!((r.header("x-cache"), r.crc), ("Miss from cloudfront", small), "{}", serve.log());
    let cut = get(serve.pop, "/large.bin");
    assert!(!cut.complete && cut.len <= 3 * MIB - 256 * 1024, "cut off before the damaged block: {} bytes", cut.len);
    let again = get(serve.pop, "/large.bin");
    assert_eq!((again.header("x-cache"), again.crc), ("Miss from cloudfront", large));
    assert_eq!(metric(&serve, r#"cachalot_cache_disk_damaged_files_total{tier="LOCAL50-C1"}"#), 2);
    assert!(serve.log().contains("failed its checksum"), "{}", serve.log());
}

/// A 1 GiB sparse file behind the folder origin: HEAD and a 10-byte range answer at once,
/// and a full GET streams with resident memory flat (within 64 MiB of where it started).
#[test]
fn a_one_gib_file_answers_head_ranges_and_whole_gets_with_flat_memory() {
    let dir = TempDir::new("disk-sparse");
    write_config(&dir.0, "");
    std::fs::File::create(dir.0.join("media/video.mp4")).unwrap().set_len(1 << 30).unwrap();
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let start = rss(serve.child.id());
    let watch = RssWatch::start(serve.child.id());
    let head = stream(serve.pop, "HEAD", "/video.mp4", &[], |_| {});
    assert_eq!((head.status, head.header("content-length")), (200, "1073741824"), "{}", serve.log());
    let part = stream(serve.pop, "GET", "/video.mp4", &[("range", "bytes=100-109")], |_| {});
    assert_eq!((part.status, part.header("content-range"), part.len), (206, "bytes 100-109/1073741824", 10));
    let whole = get(serve.pop, "/video.mp4");
    assert!(whole.complete && whole.len == 1 << 30, "{} bytes", whole.len);
    let peak = watch.peak();
    println!("RSS at start {} MiB, peak {} MiB", start / MIB, peak / MIB);
    assert!(peak < start + 64 * MIB, "peak RSS {} MiB from {} MiB", peak / MIB, start / MIB);
}

/// 16 concurrent misses of distinct 60 MiB objects with a 64 MiB memory tier (16 MiB per
/// object at most): nothing is buffered whole; resident memory stays within the 64 MiB
/// in-flight budget plus 64 MiB of working space above where it started. Then, with a disk
/// tier, 16 concurrent viewers of one 60 MiB object share one fetch written to disk.
#[test]
fn sixteen_concurrent_60_mib_misses_stay_within_the_memory_budget() {
    let dir = TempDir::new("disk-concurrent");
    write_config(&dir.0, r#", "CacheSize": "64MiB""#);
    for i in 0..16 {
        std::fs::File::create(dir.0.join(format!("media/v{i}.bin"))).unwrap().set_len(60 * MIB).unwrap();
    }
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let start = rss(serve.child.id());
    let watch = RssWatch::start(serve.child.id());
    let pop = serve.pop;
    let viewers: Vec<_> = (0..16).map(|i| std::thread::spawn(move || get(pop, &format!("/v{i}.bin")).len)).collect();
    for v in viewers {
        assert_eq!(v.join().unwrap(), 60 * MIB);
    }
    let peak = watch.peak();
    println!("relayed: RSS at start {} MiB, peak {} MiB", start / MIB, peak / MIB);
    assert!(peak < start + (64 + 64) * MIB, "peak RSS {} MiB from {} MiB", peak / MIB, start / MIB);
    assert!(serve.stop().success());

    write_config(&dir.0, r#", "CacheSize": "64MiB", "DiskCacheSize": "1GiB""#);
    let crc = write_object(&dir.0, "shared.bin", 60 * MIB);
    let serve = Serve::start(&["--config", "node.json", "--state", "state2"], &dir.0);
    let start = rss(serve.child.id());
    let watch = RssWatch::start(serve.child.id());
    let pop = serve.pop;
    let viewers: Vec<_> = (0..16).map(|_| std::thread::spawn(move || get(pop, "/shared.bin").crc)).collect();
    for v in viewers {
        assert_eq!(v.join().unwrap(), crc);
    }
    let peak = watch.peak();
    println!("to disk: RSS at start {} MiB, peak {} MiB", start / MIB, peak / MIB);
    assert!(peak < start + (64 + 64) * MIB, "peak RSS {} MiB from {} MiB", peak / MIB, start / MIB);
    acknowledged(&serve, 1);
    assert_eq!(metric(&serve, DISK_WRITES), 1, "one fetch, one file");
}

/// An unusable cache folder: the node serves from memory and the origin, says so once in
/// its log, and exposes it in `/metrics`.
#[test]
fn an_unusable_cache_folder_is_one_warning_and_a_gauge() {
    let dir = TempDir::new("disk-unusable");
    std::fs::write(dir.0.join("blocker"), b"a file where the folder should be").unwrap();
    write_config(&dir.0, r#", "DiskCacheSize": "64MiB", "DiskCachePath": "blocker/cache""#);
    let crc = write_object(&dir.0, "a.bin", 200 * 1024);
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    assert_eq!(get(serve.pop, "/a.bin").header("x-cache"), "Miss from cloudfront", "{}", serve.log());
    let again = get(serve.pop, "/a.bin");
    assert_eq!((again.header("x-cache"), again.crc), ("Hit from cloudfront", crc));
    assert_eq!(metric(&serve, r#"cachalot_cache_disk_failing{tier="LOCAL50-C1"}"#), 1);
    let log = serve.log();
    assert_eq!(log.matches("cannot be used").count(), 1, "{log}");
    assert!(log.contains("blocker/cache"), "{log}");
}

/// A full disk (a 2 MiB tmpfs as the cache folder): writes fail, the node keeps serving
/// from memory and the origin, warns once and sets the gauge. Needs to mount a tmpfs
/// (root); where it cannot, it says so and checks nothing more.
#[test]
fn a_full_disk_keeps_serving_with_one_warning() {
    let dir = TempDir::new("disk-full");
    let mount = dir.0.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("SKIPPED: cannot mount a tmpfs here (not root?); the full-disk test did not run");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    write_config(&dir.0, r#", "CacheSize": "16MiB", "DiskCacheSize": "64MiB", "DiskCachePath": "small/cache""#);
    let crcs: Vec<u32> = (0..6).map(|i| write_object(&dir.0, &format!("f/{i}.bin"), 900 * 1024)).collect();
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    for (i, crc) in crcs.iter().enumerate() {
        let r = get(serve.pop, &format!("/f/{i}.bin"));
        assert_eq!((r.status, r.crc), (200, *crc));
    }
    for _ in 0..200 {
        if metric(&serve, r#"cachalot_cache_disk_failing{tier="LOCAL50-C1"}"#) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&serve, r#"cachalot_cache_disk_failing{tier="LOCAL50-C1"}"#), 1, "{}", serve.log());
    for (i, crc) in crcs.iter().enumerate() {
        let r = get(serve.pop, &format!("/f/{i}.bin"));
        assert_eq!((r.header("x-cache"), r.crc), ("Hit from cloudfront", *crc), "served from memory");
    }
    let log = serve.log();
    assert_eq!(log.matches("cannot write to the disk cache").count(), 1, "{log}");
    assert!(serve.stop().success());
}
