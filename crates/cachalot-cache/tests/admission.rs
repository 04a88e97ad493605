//! TinyLFU admission against plain LRU on a Zipf trace, both printed
//! (`cargo test -p cachalot-cache --test admission -- --nocapture`).

#[path = "support/zipf_trace.rs"]
mod zipf_trace;

#[test]
fn tinylfu_beats_plain_lru_on_a_zipf_trace() {
    // 20,000 objects of 1–64 KiB (about 650 MB), a cache of 1% of that, Zipf 0.9.
    let (objects, alpha, capacity, requests) = (20_000, 0.9, 6_500_000, 400_000);
    let lru = zipf_trace::hit_ratio(objects, alpha, capacity, requests, false, 42);
    let tinylfu = zipf_trace::hit_ratio(objects, alpha, capacity, requests, true, 42);
    println!(
        "Zipf {alpha}, {objects} objects, cache {capacity} bytes: LRU {:.1} %, TinyLFU {:.1} %",
        lru * 100.0,
        tinylfu * 100.0
    );
    assert!(tinylfu > lru, "TinyLFU {tinylfu} vs LRU {lru}");
}
