//! Page popularity as a Zipf law: the exponent `s` that makes the observed
//! page counts most likely, and how far the law is from them.
//!
//! Pages are ranked by their count (most asked first), as a scenario ranks
//! them by file order. The log-likelihood of counts `c_r` at ranks `r` of
//! `N` pages is `−s Σ c_r ln r − n ln H(N, s)`; it is concave in `s`, so its
//! one maximum is where the model's mean log-rank equals the observed one,
//! found by bisection. The fit measure is the Kolmogorov–Smirnov distance
//! between the observed and the fitted rank distributions.

/// Largest exponent searched: beyond it, the first page is all the traffic.
pub const S_MAX: f64 = 10.0;

/// A KS distance above this says a Zipf law describes the pages badly.
pub const KS_GOOD: f64 = 0.05;

/// A fitted Zipf law.
#[derive(Clone, Debug, PartialEq)]
pub struct ZipfFit {
    /// The exponent (0: every page equally popular).
    pub s: f64,
    /// Distinct pages.
    pub pages: usize,
    /// Kolmogorov–Smirnov distance between observed and fitted ranks.
    pub ks: f64,
}

impl ZipfFit {
    /// Whether the law describes the pages well ([`KS_GOOD`]).
    pub fn good(&self) -> bool {
        self.ks <= KS_GOOD
    }
}

/// Fits the counts of distinct pages (sorted in place, most first).
pub fn fit(counts: &mut [u64]) -> ZipfFit {
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let n_pages = counts.len();
    let n: u64 = counts.iter().sum();
    if n_pages <= 1 || n == 0 {
        return ZipfFit {
            s: 0.0,
            pages: n_pages,
            ks: 0.0,
        };
    }
    let ln_rank: Vec<f64> = (1..=n_pages).map(|r| (r as f64).ln()).collect();
    let observed = counts
        .iter()
        .zip(&ln_rank)
        .map(|(&c, l)| c as f64 * l)
        .sum::<f64>()
        / n as f64;
    // The model's mean log-rank falls as s grows: bisect for the observed one.
    let (mut lo, mut hi) = (0.0_f64, S_MAX);
    if mean_ln_rank(&ln_rank, lo) <= observed {
        hi = 0.0;
    } else if mean_ln_rank(&ln_rank, hi) >= observed {
        lo = S_MAX;
    } else {
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mean_ln_rank(&ln_rank, mid) > observed {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    let s = 0.5 * (lo + hi);
    ZipfFit {
        s,
        pages: n_pages,
        ks: ks_distance(counts, n, &ln_rank, s),
    }
}

/// `E[ln r]` under Zipf(`s`) over `ln_rank.len()` ranks.
fn mean_ln_rank(ln_rank: &[f64], s: f64) -> f64 {
    let (mut h, mut weighted) = (0.0, 0.0);
    for &l in ln_rank {
        let p = (-s * l).exp();
        h += p;
        weighted += p * l;
    }
    weighted / h
}

fn ks_distance(counts: &[u64], n: u64, ln_rank: &[f64], s: f64) -> f64 {
    let h: f64 = ln_rank.iter().map(|&l| (-s * l).exp()).sum();
    let (mut emp, mut model, mut worst) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (&c, &l) in counts.iter().zip(ln_rank) {
        emp += c as f64 / n as f64;
        model += (-s * l).exp() / h;
        worst = worst.max((emp - model).abs());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts exactly proportional to a Zipf law give its exponent back.
    #[test]
    fn exact_counts_give_the_exponent_back() {
        for s in [0.6, 1.0, 1.4] {
            let mut counts: Vec<u64> = (1..=200_i32)
                .map(|r| (1e7 * f64::from(r).powf(-s)).round() as u64)
                .collect();
            let f = fit(&mut counts);
            assert!((f.s - s).abs() < 0.005, "{s}: {f:?}");
            assert!(f.good(), "{f:?}");
        }
    }

    #[test]
    fn uniform_pages_fit_zero_and_one_page_is_no_law() {
        let f = fit(&mut [100; 50]);
        assert!(f.s < 1e-9, "{f:?}");
        assert!(fit(&mut [7]).s.abs() < f64::EPSILON);
        assert_eq!(fit(&mut []).pages, 0);
    }

    /// Two pages taking nearly everything over a long flat tail: no Zipf law.
    #[test]
    fn a_bad_fit_is_flagged() {
        let mut counts = vec![10_000, 10_000];
        counts.extend(std::iter::repeat_n(50, 400));
        let f = fit(&mut counts);
        assert!(!f.good(), "{f:?}");
    }
}
