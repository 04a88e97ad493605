//! What a cached object really costs in memory, measured with a counting allocator: the
//! memory store's byte accounting matches the heap it holds, and headers cost little more
//! than their text.
//!
//! One test per binary: the allocator counts every thread of the process.

use bytes::Bytes;
use cachalot_cache::object::heap_bytes;
use cachalot_cache::{CachedObject, StoredHeaders, Tier};
use cachalot_config::model::{CacheSettings, NameRule};
use cachalot_policy::CacheKey;
use http::{HeaderMap, HeaderValue, Method};
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Heap bytes live, each allocation charged as [`heap_bytes`] charges it.
fn live() -> isize {
    let stats = dhat::HeapStats::get();
    (stats.curr_bytes + stats.curr_blocks * heap_bytes(0)) as isize
}

fn key(path: &str) -> CacheKey {
    let settings = CacheSettings {
        query_strings: NameRule::All,
        accept_encoding_gzip: true,
        accept_encoding_brotli: true,
        ..CacheSettings::path_only(0, 60, 600)
    };
    let h = HeaderMap::new();
    cachalot_policy::cache_key(
        "E0BENCH0EDGE01",
        &settings,
        &cachalot_policy::ViewerRequest::new(&Method::GET, path, None, &h),
    )
    .0
}

/// The headers nginx sends with a static file, as the edge keeps them.
fn origin_headers(n: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("server", HeaderValue::from_static("nginx/1.22.1"));
    h.insert("date", HeaderValue::from_static("Mon, 07 Dec 2026 05:18:45 GMT"));
    h.insert("content-type", HeaderValue::from_static("application/octet-stream"));
    h.insert("content-length", HeaderValue::from_static("1024"));
    h.insert("last-modified", HeaderValue::from_static("Mon, 07 Dec 2026 05:18:40 GMT"));
    h.insert("etag", HeaderValue::from_str(&format!("\"6934ff20-{n:x}\"")).unwrap());
    h.insert("cache-control", HeaderValue::from_static("max-age=86400"));
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
    h
}

#[test]
fn a_cached_object_costs_what_the_cache_charges_for_it() {
    const OBJECTS: usize = 5_000;
    let _profiler = dhat::Profiler::builder().testing().build();
    const BODY: usize = 1024;

    // Headers: packed, they cost their text plus one allocation and its shared counter
    // (a `HeaderMap` of the same eight headers took about 1.4 KB).
    let map = origin_headers(1);
    let text: usize = map.iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum();
    // Averaged over many, so an allocation the test harness makes on another thread while
    // this one measures does not count against one object.
    const PACKED: usize = 1_000;
    let mut packed = Vec::with_capacity(PACKED);
    let before = live();
    for _ in 0..PACKED {
        packed.push(StoredHeaders::from_map(&map));
    }
    let headers_cost = (live() - before) as usize / PACKED;
    assert!(headers_cost <= text + 64, "{headers_cost} bytes of heap for {text} bytes of header text");
    drop(packed);

    let tier = Tier::new("T", 1 << 40);
    let keys: Vec<String> = (0..OBJECTS).map(|n| format!("/1k.bin?n={n}")).collect();
    // Warm up what the store builds once (its tables grow with entries; counted below).
    tier.insert(key("/warm"), object("/warm", 0, BODY), tier.epoch());
    let _ = tier.weighted_size();
    let before = live();
    let charged_before = tier.weighted_size();
    let mut payload = 0;
    for (n, path) in keys.iter().enumerate() {
        let k = key(path);
        let obj = object(path, n, BODY);
        payload += BODY + obj.headers.text_len() + k.as_str().len();
        tier.insert(k.clone(), obj, tier.epoch());
        // Served once, as a hit would: its body's shared counter is allocated now.
        if let Some(cachalot_cache::Lookup::Fresh(o)) = tier.lookup_held(&k, 0) {
            drop(o.body.memory().cloned());
        }
    }
    let charged = (tier.weighted_size() - charged_before) as f64;
    let held = (live() - before) as f64;
    let per_object = held / OBJECTS as f64;
    let beyond = (held - payload as f64) / OBJECTS as f64;
    eprintln!(
        "{OBJECTS} objects of {BODY} bytes: {per_object:.0} bytes held each, {beyond:.0} beyond body, header text and key; charged {:.0} each",
        charged / OBJECTS as f64
    );
    assert_eq!(tier.entry_count(), OBJECTS as u64 + 1);
    assert!((charged - held).abs() <= held * 0.05, "the cache charges {charged} bytes for {held} bytes it holds");
}

fn object(path: &str, n: usize, body: usize) -> Arc<CachedObject> {
    Arc::new(CachedObject {
        status: 200,
        headers: StoredHeaders::from_map(&origin_headers(n)),
        body: Bytes::from(vec![b'x'; body]).into(),
        stored_at_ms: 0,
        ttl_secs: 86_400,
        stale_while_revalidate_secs: 0,
        stale_if_error_secs: 0,
        invalidation_target: path.into(),
        tags: Vec::new(),
        edge_encoding: None,
    })
}
