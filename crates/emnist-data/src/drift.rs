//! Drift statistics between what a deployment saw and its training data: the population stability
//! index of two distributions over the same categories, and the two-sample Kolmogorov–Smirnov test
//! of two samples of a number (with its p-value from the asymptotic Kolmogorov distribution).

use serde::Serialize;

/// Shares below this count as this much in [`psi`], so that a category one side lacks adds a
/// large but finite term.
pub const PSI_EPSILON: f64 = 1e-4;

/// How a population stability index is usually read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PsiReading {
    /// Below 0.1: no meaningful change.
    Stable,
    /// 0.1 to 0.25: a change worth watching.
    Moderate,
    /// Above 0.25: the population has shifted.
    Shift,
}

impl PsiReading {
    /// The usual reading of `psi`: below 0.1 stable, up to 0.25 moderate, above that a shift.
    pub fn of(psi: f64) -> PsiReading {
        if psi < 0.1 {
            PsiReading::Stable
        } else if psi <= 0.25 {
            PsiReading::Moderate
        } else {
            PsiReading::Shift
        }
    }

    /// The reading in words, with its range.
    pub fn describe(self) -> &'static str {
        match self {
            PsiReading::Stable => "stable (< 0.1)",
            PsiReading::Moderate => "moderate change (0.1 to 0.25)",
            PsiReading::Shift => "shift (> 0.25)",
        }
    }
}

/// The population stability index of `actual` against `expected`, two lists of shares over the
/// same categories: Σ (a − e) · ln(a / e), each share raised to at least [`PSI_EPSILON`].
/// 0 for identical distributions; it grows as they part.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    assert_eq!(expected.len(), actual.len(), "psi needs shares over the same categories");
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_EPSILON), a.max(PSI_EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The two-sample Kolmogorov–Smirnov test of two samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KsTest {
    /// The largest distance between the two empirical distribution functions, in [0, 1].
    pub statistic: f64,
    /// The chance of a statistic at least this large if both samples came from one distribution,
    /// from the asymptotic Kolmogorov distribution (good for samples of more than about 30 each).
    pub p_value: f64,
    /// The samples' sizes.
    pub n: usize,
    pub m: usize,
}

/// The two-sample Kolmogorov–Smirnov test of `a` against `b` (two-sided); `None` when either is
/// empty. NaN values are not expected (ink means never are).
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsTest> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let sorted = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let (a, b) = (sorted(a), sorted(b));
    let (n, m) = (a.len(), b.len());
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    // Walk the merged values; at each distinct value both distribution functions step past every
    // copy of it (ties), then their distance is measured.
    while i < n && j < m {
        let v = a[i].min(b[j]);
        while i < n && a[i] <= v {
            i += 1;
        }
        while j < m && b[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let en = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    Some(KsTest { statistic: d, p_value: kolmogorov_sf(en * d), n, m })
}

/// P(K > x) for the Kolmogorov distribution (the limit of √n · D): the alternating series
/// 2 Σ (−1)^(k−1) e^(−2k²x²) where it converges fast, the theta-function form of P(K ≤ x)
/// below 1.18.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.18 {
        let w = std::f64::consts::PI * std::f64::consts::PI / (8.0 * x * x);
        let cdf: f64 = (1..=20)
            .map(|k| {
                let odd = (2 * k - 1) as f64;
                (-odd * odd * w).exp()
            })
            .sum::<f64>()
            * (2.0 * std::f64::consts::PI).sqrt()
            / x;
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let kf = k as f64;
        let term = (-2.0 * kf * kf * x * x).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-18 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Mean and (population) standard deviation of `v`; zeros for an empty slice.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    // The expected values below were computed once with scipy 1.17.1 (the project's .venv):
    // `scipy.stats.ks_2samp(a, b)` for the statistic, `scipy.stats.kstwobign.sf(sqrt(n*m/(n+m)) * D)`
    // for the asymptotic p-value, `scipy.special.kolmogorov(x)` for the survival function, and
    // numpy for the PSI (shares clipped below at 1e-4).
    // (`ks_2samp(..., method='asymp')` itself evaluates `kstwo.sf(D, round(en))`, the one-sample
    // distribution at an effective size, not the limit: 0.1875 for the small case, 0.04944 for the
    // larger one.)

    #[test]
    fn kolmogorov_survival_matches_scipy() {
        for (x, want) in [
            (0.2, 0.999999999999495),
            (0.5, 0.9639452436648751),
            (1.0, 0.26999967167735456),
            (1.36, 0.049485876755377876),
            (2.0, 0.0006709252557796953),
            (3.0, 3.045995948942526e-08),
        ] {
            let got = kolmogorov_sf(x);
            assert!(close(got, want, 1e-12 + 1e-9 * want), "x = {x}: {got} vs {want}");
        }
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        // Both forms agree where they meet.
        assert!(close(kolmogorov_sf(1.18 - 1e-12), kolmogorov_sf(1.18), 1e-10));
    }

    #[test]
    fn ks_matches_scipy_on_small_samples() {
        let a = [0.12, 0.35, 0.08, 0.41, 0.27, 0.19, 0.33, 0.05];
        let b = [0.22, 0.31, 0.44, 0.29, 0.51, 0.38, 0.47, 0.26, 0.36, 0.40];
        let t = ks_2samp(&a, &b).unwrap();
        assert_eq!((t.n, t.m), (8, 10));
        assert!(close(t.statistic, 0.5, 1e-12), "{t:?}");
        assert!(close(t.p_value, 0.21646022494742512, 1e-10), "{t:?}");
        // The test is symmetric.
        assert_eq!(ks_2samp(&b, &a).unwrap().statistic, t.statistic);
    }

    #[test]
    fn ks_handles_ties_like_scipy() {
        let a = [0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.5];
        let b = [0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.4, 0.5, 0.5];
        let t = ks_2samp(&a, &b).unwrap();
        assert!(close(t.statistic, 0.380952380952381, 1e-12), "{t:?}");
        assert!(close(t.p_value, 0.6171949793981648, 1e-10), "{t:?}");
    }

    #[test]
    fn ks_matches_scipy_on_larger_samples() {
        let a: Vec<f64> = (0..300).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
        let b: Vec<f64> = (0..250).map(|j| (((j * 53) % 97) as f64 / 97.0).powf(1.3)).collect();
        let t = ks_2samp(&a, &b).unwrap();
        assert!(close(t.statistic, 0.11533333333333334, 1e-12), "{t:?}");
        assert!(close(t.p_value, 0.05315042569248951, 1e-10), "{t:?}");
        // One sample against itself: no distance, nothing to reject.
        let same = ks_2samp(&a, &a).unwrap();
        assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
        assert!(ks_2samp(&a, &[]).is_none());
    }

    #[test]
    fn psi_matches_numpy_and_reads_as_usual() {
        let p = psi(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.4, 0.1, 0.1]);
        assert!(close(p, 0.8104820328029091, 1e-12), "{p}");
        let p = psi(&[0.25; 4], &[0.3, 0.2, 0.25, 0.25]);
        assert!(close(p, 0.02027325540540821, 1e-12), "{p}");
        assert_eq!(psi(&[0.7, 0.3], &[0.7, 0.3]), 0.0);
        assert_eq!(PsiReading::of(0.02), PsiReading::Stable);
        assert_eq!(PsiReading::of(0.1), PsiReading::Moderate);
        assert_eq!(PsiReading::of(0.25), PsiReading::Moderate);
        assert_eq!(PsiReading::of(0.81), PsiReading::Shift);
    }

    #[test]
    fn mean_and_std() {
        assert_eq!(mean_std(&[]), (0.0, 0.0));
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!(close(m, 2.5, 1e-12) && close(s, 1.25f64.sqrt(), 1e-12));
    }
}
