//! The seeded pseudo-random generator of this crate: the log generator's reproducible traffic
//! and the log writer's unique file-name parts both draw from it. Not cryptographic.

/// xoshiro256** seeded through splitmix64: the same seed always gives the same sequence.
#[derive(Debug, Clone)]
pub struct SeededRng([u64; 4]);

impl SeededRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> SeededRng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        SeededRng([next(), next(), next(), next()])
    }

    /// The next 64 random bits.
    pub fn u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64 }
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Zipf-like rank in `[0, n)`: rank r has weight about 1/(r+1).
    pub fn zipf(&mut self, n: usize) -> usize {
        let n = n.max(1) as f64;
        let r = ((n + 1.0).powf(self.f64()) - 1.0).floor();
        (r as usize).min(n as usize - 1)
    }

    /// `len` characters drawn from `alphabet` (which must not be empty).
    pub fn token(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_sequence_and_draws_stay_in_range() {
        let draw = |seed| {
            let mut rng = SeededRng::new(seed);
            (0..64).map(|_| rng.u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut rng = SeededRng::new(1);
        for n in [1, 2, 3, 1000] {
            assert!((0..1000).all(|_| rng.below(n) < n));
            assert!((0..1000).all(|_| rng.zipf(n as usize) < n as usize));
        }
        assert_eq!(rng.below(0), 0);
        assert!((0..1000).map(|_| rng.f64()).all(|x| (0.0..1.0).contains(&x)));
        assert!(rng.token(12, b"AB").bytes().all(|b| b == b'A' || b == b'B'));
    }
}
