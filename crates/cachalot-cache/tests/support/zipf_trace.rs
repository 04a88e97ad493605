//! A Zipf request trace and a byte-bounded cache driven by it: the hit ratio of the disk
//! tier's policy (TinyLFU admission over LRU) against plain LRU. Shared by the test
//! below and `examples/zipf.rs`.

#![allow(dead_code)]

use cachalot_cache::eviction::{Admission, ByteLru};

/// Draws ranks 0..n with probability proportional to 1 / (rank + 1)^alpha.
pub(crate) struct Zipf {
    cumulative: Vec<f64>,
    rng: fastrand::Rng,
}

impl Zipf {
    pub(crate) fn new(n: usize, alpha: f64, seed: u64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(alpha);
                total
            })
            .collect::<Vec<_>>();
        Zipf { cumulative, rng: fastrand::Rng::with_seed(seed) }
    }

    pub(crate) fn next(&mut self) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = self.rng.f64() * total;
        self.cumulative.partition_point(|c| *c < x).min(self.cumulative.len() - 1)
    }
}

/// Hit ratio of a cache of `capacity` bytes over `requests` requests for `objects` objects
/// whose sizes are drawn (seeded) between 1 and 64 KiB. `tinylfu`: admission on.
pub(crate) fn hit_ratio(objects: usize, alpha: f64, capacity: u64, requests: usize, tinylfu: bool, seed: u64) -> f64 {
    let mut sizes = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let size: Vec<u64> = (0..objects).map(|_| sizes.u64(1024..=64 * 1024)).collect();
    // Ranks are shuffled over ids so popularity does not follow the id order.
    let mut ids: Vec<u64> = (0..objects as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
    fastrand::Rng::with_seed(seed).shuffle(&mut ids);
    let mut cache: ByteLru<()> = ByteLru::new(capacity, (capacity / (32 * 1024)) as usize, tinylfu);
    let mut zipf = Zipf::new(objects, alpha, seed);
    let mut hits = 0usize;
    for _ in 0..requests {
        let rank = zipf.next();
        let id = ids[rank];
        cache.record(id);
        if cache.touch(id) {
            hits += 1;
        } else {
            let _: Admission<()> = cache.admit(id, size[rank], ());
        }
    }
    hits as f64 / requests as f64
}
