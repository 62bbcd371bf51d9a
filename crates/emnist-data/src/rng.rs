//! The deterministic random numbers behind generated images, data orders and samples.

/// SplitMix64: tiny, fast and stable across releases (`rand`'s generators may change between
/// versions; our data orders and images must not).
pub struct Rng(u64);

impl Rng {
    /// The stream of one image (or, with `index == u64::MAX`, of a split's label order).
    pub fn derive(seed: u64, split: u64, index: u64) -> Rng {
        let mut r = Rng(seed);
        r.0 = r.next_u64() ^ split.wrapping_mul(0xa076_1d64_78bd_642f);
        r.0 = r.next_u64() ^ index.wrapping_mul(0xe703_7ed1_a0b4_28db);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn gauss(&mut self) -> f32 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// A random permutation of `0..n` (Fisher–Yates) from `rng`.
pub fn permutation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// A smooth random displacement field over the unit square (elastic distortion, Simard et al.
/// 2003): a 4×4 grid of Gaussian displacements, interpolated with smoothstep weights.
pub struct ElasticField {
    grid: [[f32; 2]; ElasticField::G * ElasticField::G],
}

impl ElasticField {
    const G: usize = 4;

    /// Displacements of standard deviation `amplitude`, drawn from `rng` (x then y, cell by cell).
    pub fn new(rng: &mut Rng, amplitude: f32) -> ElasticField {
        ElasticField { grid: std::array::from_fn(|_| [amplitude * rng.gauss(), amplitude * rng.gauss()]) }
    }

    /// The displacement at (`u`, `v`), each in [0, 1] (clamped).
    pub fn at(&self, u: f32, v: f32) -> [f32; 2] {
        let last = (Self::G - 1) as f32;
        let (u, v) = ((u * last).clamp(0.0, last - 1e-3), (v * last).clamp(0.0, last - 1e-3));
        let (i, j) = (u as usize, v as usize);
        let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
        let (fu, fv) = (smooth(u - i as f32), smooth(v - j as f32));
        std::array::from_fn(|k| {
            let g = |a: usize, b: usize| self.grid[b * Self::G + a][k];
            let top = g(i, j) + fu * (g(i + 1, j) - g(i, j));
            let bottom = g(i, j + 1) + fu * (g(i + 1, j + 1) - g(i, j + 1));
            top + fv * (bottom - top)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_deterministic_and_complete() {
        let a = permutation(1000, &mut Rng::derive(7, 1, 2));
        let b = permutation(1000, &mut Rng::derive(7, 1, 2));
        let c = permutation(1000, &mut Rng::derive(7, 1, 3));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }
}
