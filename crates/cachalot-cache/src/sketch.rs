//! TinyLFU's frequency sketch: how often a key was asked for recently, in a few bits per
//! key, so that admission can compare a newcomer with the object it would push out.
//!
//! A count-min sketch of four rows of saturating 4-bit counters (conservative update),
//! behind a "doorkeeper" Bloom filter that absorbs each key's first sighting, so one-hit
//! wonders never reach the counters. Every `sample` additions all counters are halved and
//! the doorkeeper cleared, so old popularity fades (Einziger, Friedman, Manes, "TinyLFU: A
//! Highly Efficient Cache Admission Policy", ACM TOS 2017, <https://arxiv.org/abs/1512.00727>).

/// Counters saturate here (4 bits).
const MAX_COUNT: u8 = 15;
/// Seeds that spread one 64-bit hash over the four rows.
const SEEDS: [u64; 4] = [0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f, 0x1656_67b1_9e37_79f9, 0x27d4_eb2f_1656_67c5];

/// Approximate recent access counts of 64-bit key hashes.
#[derive(Debug, Clone)]
pub struct FrequencySketch {
    rows: [Vec<u8>; 4],
    mask: u64,
    doorkeeper: Vec<u64>,
    door_mask: u64,
    additions: u64,
    sample: u64,
}

impl FrequencySketch {
    /// A sketch sized for a cache of about `entries` objects.
    pub fn new(entries: usize) -> Self {
        let width = entries.clamp(64, 1 << 22).next_power_of_two();
        let door_bits = (width * 8) as u64;
        FrequencySketch {
            rows: std::array::from_fn(|_| vec![0u8; width]),
            mask: width as u64 - 1,
            doorkeeper: vec![0u64; (door_bits / 64) as usize],
            door_mask: door_bits - 1,
            additions: 0,
            sample: width as u64 * 10,
        }
    }

    fn slot(&self, hash: u64, row: usize) -> usize {
        let h = (hash ^ SEEDS[row]).wrapping_mul(SEEDS[(row + 1) % 4]);
        ((h ^ (h >> 29)) & self.mask) as usize
    }

    fn door_bits(&self, hash: u64) -> [u64; 2] {
        let a = hash.wrapping_mul(SEEDS[0]);
        let b = hash.rotate_left(32).wrapping_mul(SEEDS[2]);
        [(a >> 7) & self.door_mask, (b >> 7) & self.door_mask]
    }

    fn door_contains(&self, hash: u64) -> bool {
        self.door_bits(hash).iter().all(|bit| self.doorkeeper[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// Records one access to `hash`.
    pub fn increment(&mut self, hash: u64) {
        if !self.door_contains(hash) {
            for bit in self.door_bits(hash) {
                self.doorkeeper[(bit / 64) as usize] |= 1 << (bit % 64);
            }
        } else {
            let slots: [usize; 4] = std::array::from_fn(|r| self.slot(hash, r));
            let min = (0..4).map(|r| self.rows[r][slots[r]]).min().unwrap_or(0);
            if min < MAX_COUNT {
                for (r, s) in slots.iter().enumerate() {
                    if self.rows[r][*s] == min {
                        self.rows[r][*s] += 1;
                    }
                }
            }
        }
        self.additions += 1;
        if self.additions >= self.sample {
            self.age();
        }
    }

    /// The estimated number of recent accesses to `hash`.
    pub fn estimate(&self, hash: u64) -> u8 {
        let counted = (0..4).map(|r| self.rows[r][self.slot(hash, r)]).min().unwrap_or(0);
        counted + u8::from(self.door_contains(hash))
    }

    /// Halves every counter and forgets first sightings.
    fn age(&mut self) {
        for row in &mut self.rows {
            for c in row.iter_mut() {
                *c >>= 1;
            }
        }
        self.doorkeeper.iter_mut().for_each(|w| *w = 0);
        self.additions /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sighting_stays_in_the_doorkeeper_and_counts_grow_after() {
        let mut s = FrequencySketch::new(1024);
        assert_eq!(s.estimate(42), 0);
        s.increment(42);
        assert_eq!(s.estimate(42), 1, "seen once: the doorkeeper only");
        for _ in 0..5 {
            s.increment(42);
        }
        assert_eq!(s.estimate(42), 6);
        assert_eq!(s.estimate(43), 0, "another key is untouched");
    }

    #[test]
    fn counts_saturate_and_age() {
        let mut s = FrequencySketch::new(64);
        for _ in 0..100 {
            s.increment(7);
        }
        assert_eq!(s.estimate(7), MAX_COUNT + 1);
        // Enough other traffic to reach the sample size halves the counts.
        for k in 0..700u64 {
            s.increment(1_000_000 + k);
        }
        assert!(s.estimate(7) <= 8, "{}", s.estimate(7));
    }
}
