//! The only source of randomness the core may use.
//!
//! Upstream Karpenter draws from Go's global `math/rand` in a few places (for example when a
//! NodeClaim label needs a concrete value for an `Exists`/`Gt`/`Lt` requirement). joist keeps the
//! core reproducible instead: every function that needs a random choice takes a `&mut SeededRng`
//! that the driver created from an explicit seed (`joist simulate --seed N`, a test's constant, or
//! the controller's own seed). Same seed and same input give the same decisions.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, 2014): 64 bits of state, full period 2^64,
//! passes BigCrush, and is trivially cheap. It is not cryptographic and must never be used for
//! anything secret.

/// A small deterministic pseudo-random generator (SplitMix64).
///
/// Exists so that the core never reads ambient randomness: callers own the state and pass it in,
/// which makes every draw reproducible from the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededRng {
    /// The SplitMix64 counter; advanced by a fixed odd constant on every draw.
    state: u64,
}

/// SplitMix64's increment (the golden-ratio constant), odd so that the counter has full period.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SeededRng {
    /// Creates a generator whose whole output sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Returns the next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a uniformly distributed integer in `0..bound`, without modulo bias.
    ///
    /// A `bound` of 0 stands for the full 2^64 range (there is no empty range to draw from), so the
    /// result is simply [`next_u64`](Self::next_u64).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return self.next_u64();
        }
        // Lemire's multiply-and-reject: the high word of x*bound is uniform once the few low words
        // that would over-represent some outputs are rejected.
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            let low = product as u64;
            if low >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Returns a uniformly distributed integer in `lo..=hi` (both inclusive), without bias.
    ///
    /// If `lo > hi` the bounds are swapped rather than panicking, so the result always lies between
    /// the two arguments.
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        // The width of an i64 range always fits in u64; wrapping to 0 means the full 2^64 range,
        // which `below` treats as "any u64".
        let width = hi.wrapping_sub(lo) as u64;
        let offset = self.below(width.wrapping_add(1));
        lo.wrapping_add(offset as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence_and_different_seeds_differ() {
        let mut a = SeededRng::new(42);
        let mut b = SeededRng::new(42);
        let mut c = SeededRng::new(43);
        let sa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let sb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let sc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
    }

    #[test]
    fn matches_the_splitmix64_reference_output() {
        // Reference values of SplitMix64 seeded with 1234567 (from the published C implementation).
        let mut rng = SeededRng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn range_inclusive_stays_within_bounds_and_covers_them() {
        let mut rng = SeededRng::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = rng.range_inclusive(-2, 2);
            assert!((-2..=2).contains(&v), "{v} out of range");
            seen[(v + 2) as usize] = true;
        }
        assert!(
            seen.iter().all(|s| *s),
            "every value of a small range is drawn: {seen:?}"
        );
    }

    #[test]
    fn range_inclusive_handles_degenerate_swapped_and_full_ranges() {
        let mut rng = SeededRng::new(9);
        assert_eq!(rng.range_inclusive(5, 5), 5);
        let swapped = rng.range_inclusive(10, 3);
        assert!((3..=10).contains(&swapped));
        // The full i64 range must not overflow.
        let _ = rng.range_inclusive(i64::MIN, i64::MAX);
        let top = rng.range_inclusive(i64::MAX - 1, i64::MAX);
        assert!(top >= i64::MAX - 1);
    }

    #[test]
    fn below_is_roughly_uniform() {
        let mut rng = SeededRng::new(11);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[rng.below(3) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "skewed counts {counts:?}");
        }
    }
}
