//! Which key each request touches: a small fast PRNG and the key distributions
//! (uniform, YCSB's zipfian with theta 0.99, and a single hot key).

use clap::ValueEnum;

/// SplitMix64: tiny, fast, and good enough to pick keys and operations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) (Lemire's multiply-shift; n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// How requests spread over the key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// YCSB's zipfian (theta 0.99): a few keys get most requests; popular keys are
    /// scattered over the key space.
    Zipfian,
    /// Every request on the same key.
    Hotkey,
}

/// YCSB's skew constant.
pub const ZIPFIAN_THETA: f64 = 0.99;

/// Above this many items the generalized harmonic number is summed exactly up to here and
/// the tail is integrated (Euler-Maclaurin, error far below 1e-9 relative).
const ZETA_EXACT_TERMS: u64 = 1_000_000;

/// zeta(n, theta) = sum over i in 1..=n of 1 / i^theta.
pub fn zeta(n: u64, theta: f64) -> f64 {
    let exact = n.min(ZETA_EXACT_TERMS);
    let mut sum = 0.0;
    for i in 1..=exact {
        sum += 1.0 / (i as f64).powf(theta);
    }
    if n > exact {
        // Midpoint rule for the tail: integral of x^-theta from exact+0.5 to n+0.5.
        let e = 1.0 - theta;
        sum += ((n as f64 + 0.5).powf(e) - (exact as f64 + 0.5).powf(e)) / e;
    }
    sum
}

/// YCSB's `ZipfianGenerator` (Gray et al., "Quickly Generating Billion-Record Synthetic
/// Databases"): ranks in [0, n), rank 0 the most popular.
#[derive(Clone, Copy, Debug)]
pub struct Zipfian {
    n: u64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    theta: f64,
    half_pow_theta: f64,
}

impl Zipfian {
    pub fn new(n: u64, theta: f64) -> Zipfian {
        assert!(n > 0, "zipfian over an empty key space");
        let zetan = zeta(n, theta);
        let zeta2 = zeta(2.min(n), theta);
        let eta = if n > 2 {
            (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan)
        } else {
            0.0
        };
        Zipfian {
            n,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
            theta,
            half_pow_theta: 0.5f64.powf(theta),
        }
    }

    /// The next rank.
    pub fn rank(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 || self.n == 1 {
            return 0;
        }
        if uz < 1.0 + self.half_pow_theta || self.n == 2 {
            return 1;
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }

    /// Probability of rank 0 (for tests and reports).
    pub fn p_first(&self) -> f64 {
        1.0 / self.zetan
    }

    pub fn theta(&self) -> f64 {
        self.theta
    }
}

/// Picks key indexes in [0, n).
#[derive(Clone, Copy, Debug)]
pub enum KeyChooser {
    Uniform {
        n: u64,
    },
    /// Zipfian ranks, scattered by `rank * mult mod n` (a bijection: `mult` is coprime
    /// with n) so the hot keys are not all neighbours.
    Zipfian {
        z: Zipfian,
        mult: u64,
    },
    Hot,
}

impl KeyChooser {
    /// Computing zipfian's constant is O(min(n, 10^6)): build once and copy to workers.
    pub fn new(dist: Distribution, n: u64) -> KeyChooser {
        let n = n.max(1);
        match dist {
            Distribution::Uniform => KeyChooser::Uniform { n },
            Distribution::Zipfian => KeyChooser::Zipfian {
                z: Zipfian::new(n, ZIPFIAN_THETA),
                mult: coprime_multiplier(n),
            },
            Distribution::Hotkey => KeyChooser::Hot,
        }
    }

    pub fn next(&self, rng: &mut Rng) -> u64 {
        match self {
            KeyChooser::Uniform { n } => rng.below(*n),
            KeyChooser::Zipfian { z, mult } => {
                ((z.rank(rng) as u128 * *mult as u128) % z.n as u128) as u64
            }
            KeyChooser::Hot => 0,
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A multiplier coprime with n, far from 1, so `i * m mod n` permutes [0, n).
fn coprime_multiplier(n: u64) -> u64 {
    if n <= 2 {
        return 1;
    }
    let mut m = 0x9E37_79B9_7F4A_7C15 % n;
    loop {
        if m > 1 && gcd(m, n) == 1 {
            return m;
        }
        m = (m + 1) % n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_range_and_covers_it() {
        let chooser = KeyChooser::new(Distribution::Uniform, 10);
        let mut rng = Rng::new(1);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[chooser.next(&mut rng) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
    }

    #[test]
    fn zipfian_is_skewed_and_in_range() {
        let n = 1000u64;
        let samples = 200_000u64;
        let chooser = KeyChooser::new(Distribution::Zipfian, n);
        let mut rng = Rng::new(42);
        let mut counts = vec![0u64; n as usize];
        for _ in 0..samples {
            let k = chooser.next(&mut rng);
            assert!(k < n, "key {k} out of range");
            counts[k as usize] += 1;
        }
        let uniform_share = samples / n;
        let top = *counts.iter().max().unwrap();
        // The most popular key gets about 1/zeta(1000, 0.99) ~ 13% of requests, ~130x
        // its uniform share.
        assert!(top > 50 * uniform_share, "top key got {top}");
        let KeyChooser::Zipfian { z, mult } = chooser else {
            unreachable!()
        };
        assert_eq!(mult % n, mult);
        let expected = z.p_first() * samples as f64;
        assert!(
            (counts[0] as f64 - expected).abs() < expected * 0.05,
            "rank 0 (key 0) got {}, expected ~{expected}",
            counts[0]
        );
        // The ten most popular keys are not neighbours (scattered by the permutation).
        let mut order: Vec<usize> = (0..n as usize).collect();
        order.sort_by_key(|&k| std::cmp::Reverse(counts[k]));
        let top10 = &order[..10];
        assert!(top10.iter().any(|&k| k > 100), "{top10:?}");
        // Many keys are touched at all (it is a distribution, not a few constants).
        assert!(counts.iter().filter(|&&c| c > 0).count() > 900);
    }

    #[test]
    fn zipfian_permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 10, 97, 1000, 1024, 10_000] {
            let m = coprime_multiplier(n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let k = ((i as u128 * m as u128) % n as u128) as usize;
                assert!(!seen[k], "n={n}: {k} twice");
                seen[k] = true;
            }
        }
    }

    #[test]
    fn zipfian_tiny_key_spaces() {
        let mut rng = Rng::new(7);
        for n in [1u64, 2, 3] {
            let c = KeyChooser::new(Distribution::Zipfian, n);
            for _ in 0..1000 {
                assert!(c.next(&mut rng) < n);
            }
        }
    }

    #[test]
    fn zeta_tail_approximation_matches_exact_sum() {
        let n = ZETA_EXACT_TERMS * 3;
        let mut exact = 0.0;
        for i in 1..=n {
            exact += 1.0 / (i as f64).powf(ZIPFIAN_THETA);
        }
        let approx = zeta(n, ZIPFIAN_THETA);
        assert!(
            ((approx - exact) / exact).abs() < 1e-9,
            "{approx} vs {exact}"
        );
    }

    #[test]
    fn hotkey_is_one_key() {
        let c = KeyChooser::new(Distribution::Hotkey, 1000);
        let mut rng = Rng::new(3);
        assert!((0..100).all(|_| c.next(&mut rng) == 0));
    }
}
