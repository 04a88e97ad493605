//! Prints the hit ratio of the disk tier's policy (TinyLFU admission over a byte-bounded
//! LRU) beside plain LRU on Zipf traces, for a few skews and cache sizes:
//!
//! ```text
//! cargo run --release -p cachalot-cache --example zipf
//! ```

#[path = "../tests/support/zipf_trace.rs"]
mod zipf_trace;

fn main() {
    let objects = 100_000;
    let requests = 2_000_000;
    // Sizes are 1–64 KiB, about 3.3 GB for the whole catalog.
    let catalog = 3_300_000_000u64;
    println!("{objects} objects of 1-64 KiB, {requests} requests, seed 42");
    println!("{:>6} {:>8} {:>10} {:>10}", "alpha", "cache", "LRU %", "TinyLFU %");
    for alpha in [0.8, 0.9, 1.0] {
        for share in [0.001, 0.01, 0.1] {
            let capacity = (catalog as f64 * share) as u64;
            let lru = zipf_trace::hit_ratio(objects, alpha, capacity, requests, false, 42);
            let tiny = zipf_trace::hit_ratio(objects, alpha, capacity, requests, true, 42);
            println!("{alpha:>6} {:>7}% {:>10.1} {:>10.1}", share * 100.0, lru * 100.0, tiny * 100.0);
        }
    }
}
