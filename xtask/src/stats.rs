//! The statistics the regression decisions rest on: robust location estimates, confidence
//! bounds from rank distributions, multiple-testing control and quantiles (pure `std`).
//!
//! The intended use follows `DETECTION.md`:
//! - Interleaved rounds give one paired log-ratio `d = ln(m_head) − ln(m_base)` per round and
//!   benchmark. [`hodges_lehmann`] estimates the change and [`signed_rank_bound`] gives the
//!   one-sided lower confidence bound that must exceed the benchmark's threshold before it is
//!   called `regressed`. Because each round re-runs both sides, run-to-run drift is inside `d`.
//! - Across the suite, [`holm`] (or [`bonferroni_alpha`]) controls the family-wise error.
//! - A single stored baseline against a single new run (criterion-style) uses the two-sample
//!   functions [`mann_whitney_p_greater`], [`hl_two_sample_shift`] and [`shift_interval`]. Those
//!   treat the samples of one run as independent draws, which they are not: run-to-run variation
//!   (code layout, CPU frequency, neighbours) shifts a whole run at once. Their answers describe
//!   within-run uncertainty only and must not be read as evidence of a regression on their own.
//! - [`quantile`] turns A/A calibration results into thresholds (e.g. the 99th percentile of
//!   `|Δ|`).
//!
//! # Input contract
//! Every sample value must be finite: a NaN or an infinity is an upstream bug (a zero time, a
//! failed parse), so every function **panics** on one rather than returning a number that
//! silently means nothing. Point estimators ([`median`], [`hodges_lehmann`],
//! [`hl_two_sample_shift`], [`quantile`], [`mann_whitney_p_greater`]) also panic on empty input;
//! the confidence-bound functions return `None` when the sample is too small (including empty)
//! to reach the requested level. `alpha` must lie in `(0, 1)`.
//!
//! The rank-based bounds assume continuous data. Ties (e.g. timer-quantised values) make them
//! slightly approximate; they remain the usual Walsh-average / pairwise-difference bounds.

use std::cmp::Ordering;

/// Largest sample size for which [`signed_rank_bound`] uses the exact null distribution of the
/// signed-rank statistic; above it the normal approximation with continuity correction is used.
pub const SIGNED_RANK_EXACT_MAX_N: usize = 50;

fn assert_finite(xs: &[f64], what: &str) {
    if let Some(x) = xs.iter().find(|x| !x.is_finite()) {
        panic!("stats: {what} contains a non-finite value ({x})");
    }
}

fn assert_alpha(alpha: f64) {
    assert!(
        alpha > 0.0 && alpha < 1.0,
        "stats: alpha must lie in (0, 1), got {alpha}"
    );
}

/// The `k`-th smallest (0-based) of `xs`, reordering `xs`. `xs` must be non-empty and NaN-free.
fn select(xs: &mut [f64], k: usize) -> f64 {
    *xs.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Median of a non-empty slice with NaN already excluded; reorders `xs`.
fn median_in_place(xs: &mut [f64]) -> f64 {
    let n = xs.len();
    let hi = select(xs, n / 2);
    if n % 2 == 1 {
        hi
    } else {
        // After selection everything left of n/2 is <= hi; its maximum is the lower middle.
        let lo = xs[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        lo + (hi - lo) / 2.0
    }
}

/// Median of `xs` (mean of the two middle values for an even length).
///
/// # Panics
/// If `xs` is empty or contains a non-finite value.
pub fn median(xs: &[f64]) -> f64 {
    assert!(!xs.is_empty(), "stats: median of an empty sample");
    assert_finite(xs, "sample");
    median_in_place(&mut xs.to_vec())
}

/// All `n(n+1)/2` Walsh averages `(d_i + d_j) / 2`, `i <= j`, unsorted.
fn walsh_averages(d: &[f64]) -> Vec<f64> {
    let mut w = Vec::with_capacity(d.len() * (d.len() + 1) / 2);
    for (i, &a) in d.iter().enumerate() {
        for &b in &d[i..] {
            w.push(a + (b - a) / 2.0);
        }
    }
    w
}

/// One-sample Hodges–Lehmann estimator: the median of all Walsh averages `(d_i + d_j) / 2`,
/// `i <= j`. It estimates the pseudo-median (the centre of symmetry for symmetric data), is as
/// efficient as the mean under normal noise and robust to a few outlying rounds.
///
/// Time and memory are `O(n²)`; meant for per-round differences (tens to hundreds of values).
///
/// # Panics
/// If `d` is empty or contains a non-finite value.
pub fn hodges_lehmann(d: &[f64]) -> f64 {
    assert!(!d.is_empty(), "stats: Hodges–Lehmann of an empty sample");
    assert_finite(d, "sample");
    median_in_place(&mut walsh_averages(d))
}

/// Exact null distribution of the Wilcoxon signed-rank statistic `T+` for `n` pairs: entry `t`
/// is the number of subsets of `{1, …, n}` with sum `t` (out of `2^n`), for `t` in
/// `0..=n(n+1)/2`. Exact in `u64` for `n <= 63`.
pub fn signed_rank_null_counts(n: usize) -> Vec<u64> {
    assert!(
        n <= 63,
        "stats: exact signed-rank counts overflow above n = 63"
    );
    let max = n * (n + 1) / 2;
    let mut counts = vec![0u64; max + 1];
    counts[0] = 1;
    for r in 1..=n {
        // Adding rank r: counts'[t] = counts[t] + counts[t - r]; go downwards to reuse the row.
        let top = r * (r + 1) / 2;
        for t in (r..=top).rev() {
            counts[t] += counts[t - r];
        }
    }
    counts
}

/// `P(T+ <= t)` under H0 for `n` pairs, exact (for `n <= 63`).
pub fn signed_rank_cdf(n: usize, t: usize) -> f64 {
    let counts = signed_rank_null_counts(n);
    let cum: u64 = counts.iter().take(t + 1).sum();
    cum as f64 / 2f64.powi(n as i32)
}

/// The order index `k` (1-based) of the Walsh average that is the one-sided lower bound at level
/// `1 - alpha`: the largest `k` with `P(T+ <= k - 1) <= alpha` under H0. `None` when even
/// `k = 1` fails, i.e. `2^-n > alpha`.
///
/// Exact for `n <= `[`SIGNED_RANK_EXACT_MAX_N`]; above, the normal approximation to `T+`
/// (mean `n(n+1)/4`, variance `n(n+1)(2n+1)/24`) with continuity correction. The
/// approximation errs on the safe side: near the seam it gives a `k` up to a few ranks smaller
/// than the exact one in the far tail (`n = 50`, `alpha = 0.001`: 317 vs 324), never larger.
pub fn signed_rank_k(n: usize, alpha: f64) -> Option<usize> {
    assert_alpha(alpha);
    if n == 0 {
        return None;
    }
    let m = n * (n + 1) / 2;
    let k = if n <= SIGNED_RANK_EXACT_MAX_N {
        // Compare integer counts against alpha·2^n: both exact in f64 (counts < 2^53).
        let limit = alpha * 2f64.powi(n as i32);
        let mut cum = 0u64;
        let mut k = 0;
        for c in signed_rank_null_counts(n) {
            cum += c;
            if cum as f64 <= limit {
                k += 1;
            } else {
                break;
            }
        }
        k
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
        // P(T+ <= k-1) ≈ Φ((k - 1 + 0.5 - mean) / sd) <= alpha  ⇔  k <= mean + 0.5 + z_α·sd.
        let k = (mean + 0.5 + normal_quantile(alpha) * sd).floor();
        if k < 1.0 { 0 } else { (k as usize).min(m) }
    };
    (k >= 1).then_some(k)
}

/// One-sided lower confidence bound at level `1 - alpha` for the pseudo-median of `d`, from the
/// Wilcoxon signed-rank distribution: the `k`-th smallest Walsh average with `k` from
/// [`signed_rank_k`]. `P(bound > true location) <= alpha` for continuous symmetric noise.
///
/// For the decision rule: `regressed` when this bound exceeds the threshold.
/// Returns `None` when `d` is too short for the level (for `alpha = 0.01` that is `n < 7`,
/// since `2^-7 ≈ 0.0078`; for `alpha = 0.05`, `n < 5`).
///
/// # Panics
/// If `d` contains a non-finite value or `alpha` is outside `(0, 1)`.
pub fn signed_rank_bound(d: &[f64], alpha: f64) -> Option<f64> {
    assert_finite(d, "sample");
    let k = signed_rank_k(d.len(), alpha)?;
    Some(select(&mut walsh_averages(d), k - 1))
}

/// One-sided upper confidence bound at level `1 - alpha` for the pseudo-median of `d`: the
/// `k`-th largest Walsh average (mirror image of [`signed_rank_bound`]).
/// `P(bound < true location) <= alpha`. `None` when `d` is too short.
///
/// # Panics
/// If `d` contains a non-finite value or `alpha` is outside `(0, 1)`.
pub fn signed_rank_upper_bound(d: &[f64], alpha: f64) -> Option<f64> {
    assert_finite(d, "sample");
    let k = signed_rank_k(d.len(), alpha)?;
    let mut w = walsh_averages(d);
    let m = w.len();
    Some(select(&mut w, m - k))
}

/// Two-sided confidence interval at level `1 - alpha` for the pseudo-median of `d`: each end is
/// the one-sided bound at `alpha / 2` (so `(lower, upper)` =
/// (`signed_rank_bound(d, alpha/2)`, `signed_rank_upper_bound(d, alpha/2)`)), and the interval
/// misses the true location with probability at most `alpha` in total.
/// `None` when `d` is too short (for `alpha = 0.05`, `n < 6`).
///
/// # Panics
/// If `d` contains a non-finite value or `alpha` is outside `(0, 1)`.
pub fn signed_rank_interval(d: &[f64], alpha: f64) -> Option<(f64, f64)> {
    assert_finite(d, "sample");
    let k = signed_rank_k(d.len(), alpha / 2.0)?;
    let mut w = walsh_averages(d);
    let m = w.len();
    let lo = select(&mut w, k - 1);
    let hi = select(&mut w, m - k);
    Some((lo.min(hi), lo.max(hi)))
}

/// One-sided Wilcoxon signed-rank p-value of `H0: location <= shift` against
/// `H1: location > shift` for paired differences `d`: `P(T+ >= t)` under H0, where `T+` is the
/// sum of the ranks of `|d_i - shift|` over the positive `d_i - shift` (zeros dropped, ties
/// given mid-ranks). Dual to [`signed_rank_bound`]: the bound at level `1 - alpha` exceeds
/// `shift` exactly when this p-value is at most `alpha` (without ties). Exact for
/// `n <= `[`SIGNED_RANK_EXACT_MAX_N`], the normal approximation with continuity correction
/// above. No differences at all give 1.
///
/// # Panics
/// If `d` or `shift` is not finite.
pub fn signed_rank_p_greater(d: &[f64], shift: f64) -> f64 {
    assert_finite(d, "sample");
    assert!(shift.is_finite(), "stats: the shift must be finite");
    let mut centred: Vec<f64> = d.iter().map(|x| x - shift).filter(|x| *x != 0.0).collect();
    let n = centred.len();
    if n == 0 {
        return 1.0;
    }
    centred.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Sum of mid-ranks of the positive differences, doubled to stay in integers.
    let mut t2 = 0usize;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && centred[j + 1].abs() == centred[i].abs() {
            j += 1;
        }
        // Ranks i+1..=j+1, mid-rank (i + j + 2) / 2.
        let positives = centred[i..=j].iter().filter(|x| **x > 0.0).count();
        t2 += positives * (i + j + 2);
        i = j + 1;
    }
    if n <= SIGNED_RANK_EXACT_MAX_N {
        // P(T+ >= t) = 1 - P(T+ <= ceil(t) - 1).
        let t = t2.div_ceil(2);
        if t == 0 {
            return 1.0;
        }
        let counts = signed_rank_null_counts(n);
        let below: u64 = counts.iter().take(t).sum();
        (1.0 - below as f64 / 2f64.powi(n as i32)).clamp(0.0, 1.0)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
        let t = t2 as f64 / 2.0;
        (1.0 - normal_cdf((t - 0.5 - mean) / sd)).clamp(0.0, 1.0)
    }
}

/// A small seeded generator (SplitMix64) for the harness's own choices (benchmark order, which
/// side runs first), so that a run is reproducible from its seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Holm–Bonferroni step-down: which hypotheses are rejected at family-wise error `alpha`, in
/// input order. Sorting the p-values ascending, `p_(i)` (1-based) is rejected while
/// `p_(i) <= alpha / (m - i + 1)`; the first failure stops, and nothing after it is rejected.
/// Ties keep input order (they are then rejected or kept together anyway). Empty input gives an
/// empty vector.
///
/// # Panics
/// If a p-value is NaN or outside `[0, 1]`, or `alpha` is outside `(0, 1)`.
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<bool> {
    assert_alpha(alpha);
    assert!(
        p_values.iter().all(|p| (0.0..=1.0).contains(p)),
        "stats: p-values must lie in [0, 1]"
    );
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut rejected = vec![false; m];
    for (i, &idx) in order.iter().enumerate() {
        if p_values[idx] <= alpha / (m - i) as f64 {
            rejected[idx] = true;
        } else {
            break;
        }
    }
    rejected
}

/// The per-test level of the Bonferroni correction for `m` tests: `alpha / m`.
///
/// # Panics
/// If `m == 0` or `alpha` is outside `(0, 1)`.
pub fn bonferroni_alpha(alpha: f64, m: usize) -> f64 {
    assert_alpha(alpha);
    assert!(m > 0, "stats: Bonferroni over zero tests");
    alpha / m as f64
}

/// One-sided Mann–Whitney p-value for "`b` is stochastically greater than `a`" (e.g. `a` the
/// baseline's samples, `b` the new run's: a small p means the new run is slower).
///
/// Uses `U_b = R_b − m(m+1)/2` from mid-ranks of the pooled sample, the normal approximation
/// with tie-corrected variance and a continuity correction; adequate for `n, m >= 8`.
/// Returns 1 when every value is tied (no evidence either way).
///
/// Independence caveat (module docs): samples within one run share that run's drift, so a
/// small p here does not show a change that survives a re-run.
///
/// # Panics
/// If either sample is empty or contains a non-finite value.
pub fn mann_whitney_p_greater(a: &[f64], b: &[f64]) -> f64 {
    mann_whitney_p_values(a, b).0
}

/// Both one-sided Mann–Whitney p-values from one ranking: `(p_greater, p_less)`, where
/// `p_greater` is [`mann_whitney_p_greater`]`(a, b)` ("`b` is stochastically greater than `a`")
/// and `p_less` is the same for "`b` is stochastically smaller" (equal to
/// `mann_whitney_p_greater(b, a)`). Both are 1 when every value is tied.
///
/// # Panics
/// If either sample is empty or contains a non-finite value.
pub fn mann_whitney_p_values(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert!(
        !a.is_empty() && !b.is_empty(),
        "stats: Mann–Whitney needs two non-empty samples"
    );
    assert_finite(a, "first sample");
    assert_finite(b, "second sample");
    let (n, m) = (a.len() as f64, b.len() as f64);
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, false))
        .chain(b.iter().map(|&x| (x, true)))
        .collect();
    pooled.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let total = pooled.len();
    let (mut rank_sum_b, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < total {
        let mut j = i;
        while j + 1 < total && pooled[j + 1].0.total_cmp(&pooled[i].0) == Ordering::Equal {
            j += 1;
        }
        // Positions i..=j (0-based) share the mid-rank of ranks i+1..=j+1.
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        let in_b = pooled[i..=j].iter().filter(|p| p.1).count() as f64;
        rank_sum_b += mid_rank * in_b;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let u_b = rank_sum_b - m * (m + 1.0) / 2.0;
    let u_a = n * m - u_b;
    let big_n = n + m;
    let var = n * m / 12.0 * ((big_n + 1.0) - tie_term / (big_n * (big_n - 1.0)));
    if var <= 0.0 {
        return (1.0, 1.0);
    }
    let sd = var.sqrt();
    let p = |u: f64| normal_cdf(-((u - n * m / 2.0 - 0.5) / sd));
    (p(u_b), p(u_a))
}

/// All `n·m` pairwise differences `b_j − a_i`, unsorted.
fn pairwise_differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for &y in b {
        out.extend(a.iter().map(|&x| y - x));
    }
    out
}

/// Two-sample Hodges–Lehmann shift estimate: the median of all pairwise differences
/// `b_j − a_i`. Pass logarithms of times to get the log of the ratio `b / a`.
/// Time and memory are `O(n·m)`.
///
/// # Panics
/// If either sample is empty or contains a non-finite value.
pub fn hl_two_sample_shift(a: &[f64], b: &[f64]) -> f64 {
    assert!(
        !a.is_empty() && !b.is_empty(),
        "stats: two-sample shift needs two non-empty samples"
    );
    assert_finite(a, "first sample");
    assert_finite(b, "second sample");
    median_in_place(&mut pairwise_differences(a, b))
}

/// The order index `k` (1-based) for [`shift_interval`]:
/// `k = floor(n·m/2 − z_{1−α/2}·sqrt(n·m·(n+m+1)/12))` (normal approximation, no tie
/// correction); `None` when `k < 1`.
pub fn shift_interval_k(n: usize, m: usize, alpha: f64) -> Option<usize> {
    assert_alpha(alpha);
    let (nf, mf) = (n as f64, m as f64);
    let z = normal_quantile(1.0 - alpha / 2.0);
    let k = (nf * mf / 2.0 - z * (nf * mf * (nf + mf + 1.0) / 12.0).sqrt()).floor();
    (k >= 1.0).then_some(k as usize)
}

/// Two-sided confidence interval at level `1 - alpha` for the shift `b − a` (Mann–Whitney /
/// Hodges–Lehmann): `(D_(k), D_(nm+1−k))` of the sorted pairwise differences `D`, with `k` from
/// [`shift_interval_k`]. `None` when the samples are too small for the level.
///
/// Independence caveat (module docs): this is within-run uncertainty only; it cannot see
/// run-to-run drift, so a stored-baseline comparison must not gate on it alone.
///
/// # Panics
/// If either sample contains a non-finite value or `alpha` is outside `(0, 1)`.
pub fn shift_interval(a: &[f64], b: &[f64], alpha: f64) -> Option<(f64, f64)> {
    assert_finite(a, "first sample");
    assert_finite(b, "second sample");
    let k = shift_interval_k(a.len(), b.len(), alpha)?;
    let mut d = pairwise_differences(a, b);
    let nm = d.len();
    let lo = select(&mut d, k - 1);
    let hi = select(&mut d, nm - k);
    Some((lo, hi))
}

/// Above this many pairwise differences [`shift_analysis`] stops materialising them (8 bytes
/// each) and finds order statistics by counting over the sorted samples instead.
pub const PAIRWISE_BUFFER_MAX: usize = 1 << 22;

/// Reusable buffers for [`shift_analysis`], so a suite of comparisons allocates once.
#[derive(Debug, Default, Clone)]
pub struct ShiftScratch {
    diffs: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
}

/// The two-sample Hodges–Lehmann shift of `b − a` and its Mann–Whitney (Moses) interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftAnalysis {
    /// [`hl_two_sample_shift`]`(a, b)`.
    pub estimate: f64,
    /// [`shift_interval`]`(a, b, alpha)`: `None` when the samples are too small for the level.
    pub interval: Option<(f64, f64)>,
}

/// [`hl_two_sample_shift`] and [`shift_interval`] in one pass: the `n·m` differences are
/// computed once into `scratch`, and the median and both interval ranks are found by selection
/// within the partitions left by the previous one (no sort). Above [`PAIRWISE_BUFFER_MAX`]
/// differences, order statistics come from bisection over values with a linear-time count on
/// the sorted samples, so memory stays `O(n + m)`. Results equal the two separate functions'.
///
/// # Panics
/// If either sample is empty or contains a non-finite value, or `alpha` is outside `(0, 1)`.
pub fn shift_analysis(
    a: &[f64],
    b: &[f64],
    alpha: f64,
    scratch: &mut ShiftScratch,
) -> ShiftAnalysis {
    shift_analysis_with_limit(a, b, alpha, scratch, PAIRWISE_BUFFER_MAX)
}

fn shift_analysis_with_limit(
    a: &[f64],
    b: &[f64],
    alpha: f64,
    scratch: &mut ShiftScratch,
    limit: usize,
) -> ShiftAnalysis {
    assert!(
        !a.is_empty() && !b.is_empty(),
        "stats: two-sample shift needs two non-empty samples"
    );
    assert_finite(a, "first sample");
    assert_finite(b, "second sample");
    let k = shift_interval_k(a.len(), b.len(), alpha);
    let nm = a.len().saturating_mul(b.len());
    let mid = nm / 2;
    if nm <= limit {
        let d = &mut scratch.diffs;
        d.clear();
        d.reserve(nm);
        for &y in b {
            d.extend(a.iter().map(|&x| y - x));
        }
        let hi = select(d, mid);
        let (left, right) = d.split_at_mut(mid);
        let right = &mut right[1..];
        let estimate = if nm % 2 == 1 {
            hi
        } else {
            let lo = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            lo + (hi - lo) / 2.0
        };
        // k <= nm/2 - 1 by construction, so the lower end lies left of the median and the
        // upper end (index nm - k) right of it; select within those partitions only.
        let interval = k.map(|k| {
            let at = |i: usize, left: &mut [f64], right: &mut [f64]| {
                if i < mid {
                    select(left, i)
                } else if i == mid {
                    hi
                } else {
                    select(right, i - mid - 1)
                }
            };
            let lo = at(k - 1, left, right);
            let up = at(nm - k, left, right);
            (lo, up)
        });
        ShiftAnalysis { estimate, interval }
    } else {
        let (sa, sb) = (&mut scratch.a, &mut scratch.b);
        sa.clear();
        sa.extend_from_slice(a);
        sa.sort_unstable_by(f64::total_cmp);
        sb.clear();
        sb.extend_from_slice(b);
        sb.sort_unstable_by(f64::total_cmp);
        let hi = kth_difference_sorted(sa, sb, mid);
        let estimate = if nm % 2 == 1 {
            hi
        } else {
            let lo = kth_difference_sorted(sa, sb, mid - 1);
            lo + (hi - lo) / 2.0
        };
        let interval = k.map(|k| {
            (
                kth_difference_sorted(sa, sb, k - 1),
                kth_difference_sorted(sa, sb, nm - k),
            )
        });
        ShiftAnalysis { estimate, interval }
    }
}

/// Maps an `f64` to an `i64` with the same order as [`f64::total_cmp`]; its own inverse.
fn ordered_key(x: i64) -> i64 {
    if x < 0 { x ^ i64::MAX } else { x }
}

/// The `k`-th smallest (0-based) of the differences `b_j − a_i` for ascending `a` and `b`,
/// without materialising them: bisection over the ordered bit patterns of `f64` for the smallest
/// value `v` with `#{b_j − a_i <= v} > k`, counting in `O(n + m)` with two pointers (rounded
/// subtraction is monotone in each argument, so the count is exact for the computed
/// differences). At most 64 counting passes.
fn kth_difference_sorted(a: &[f64], b: &[f64], k: usize) -> f64 {
    let n = a.len();
    let count_le = |v: f64| -> usize {
        let (mut p, mut count) = (0, 0usize);
        for &y in b {
            while p < n && y - a[p] > v {
                p += 1;
            }
            count += n - p;
        }
        count
    };
    let to_f64 = |key: i64| f64::from_bits(ordered_key(key) as u64);
    let mut lo = ordered_key((b[0] - a[n - 1]).to_bits() as i64);
    let mut hi = ordered_key((b[b.len() - 1] - a[0]).to_bits() as i64);
    while lo < hi {
        let mid = (i128::from(lo) + (i128::from(hi) - i128::from(lo)) / 2) as i64;
        if count_le(to_f64(mid)) > k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    to_f64(lo)
}

/// Quantile `q` of an ascending-sorted sample by linear interpolation between order statistics
/// (Hyndman–Fan type 7, the default of R and NumPy): position `h = (n − 1)·q`, value
/// `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`.
///
/// # Panics
/// If `sorted` is empty or contains a non-finite value, or `q` is outside `[0, 1]`.
/// Sortedness is checked only in debug builds.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "stats: quantile of an empty sample");
    assert!(
        (0.0..=1.0).contains(&q),
        "stats: quantile q must lie in [0, 1], got {q}"
    );
    assert_finite(sorted, "sample");
    debug_assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "stats: quantile needs sorted input"
    );
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    match sorted.get(lo + 1) {
        Some(&next) => sorted[lo] + (h - lo as f64) * (next - sorted[lo]),
        None => sorted[lo],
    }
}

/// Polynomial with coefficients from the highest power down, evaluated at `x`.
fn horner(coefficients: &[f64], x: f64) -> f64 {
    coefficients.iter().fold(0.0, |acc, &c| acc * x + c)
}

/// Standard normal CDF `Φ(x)` (Hart's rational approximation as given by West, 2005): about
/// 1e-15 absolute; in the lower tail better than 1e-10 relative for `|x| < 7.07` and 1e-7 beyond
/// (where `Φ < 1e-12`, far below any level used here).
pub fn normal_cdf(x: f64) -> f64 {
    assert!(!x.is_nan(), "stats: normal_cdf of NaN");
    let ax = x.abs();
    let tail = if ax > 37.0 {
        0.0
    } else {
        let e = (-ax * ax / 2.0).exp();
        if ax < 7.071_067_811_865_47 {
            let num = horner(
                &[
                    3.526_249_659_989_11e-2,
                    0.700_383_064_443_688,
                    6.373_962_203_531_65,
                    33.912_866_078_383,
                    112.079_291_497_871,
                    221.213_596_169_931,
                    220.206_867_912_376,
                ],
                ax,
            ) * e;
            let den = horner(
                &[
                    8.838_834_764_831_84e-2,
                    1.755_667_163_182_64,
                    16.064_177_579_207,
                    86.780_732_202_946_1,
                    296.564_248_779_674,
                    637.333_633_378_831,
                    793.826_512_519_948,
                    440.413_735_824_752,
                ],
                ax,
            );
            num / den
        } else {
            let f = ax + 1.0 / (ax + 2.0 / (ax + 3.0 / (ax + 4.0 / (ax + 0.65))));
            e / f / 2.506_628_274_631
        }
    };
    if x > 0.0 { 1.0 - tail } else { tail }
}

/// Standard normal quantile `Φ⁻¹(p)` for `p` in `(0, 1)`, by bisection on [`normal_cdf`]
/// (so it is as accurate as that, about 1e-15 in `p`).
///
/// # Panics
/// If `p` is outside `(0, 1)`.
pub fn normal_quantile(p: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "stats: normal_quantile needs p in (0, 1), got {p}"
    );
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo + (hi - lo) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_rank_p_is_dual_to_the_bound() {
        // All 10 differences above the shift: T+ = 55, p = 2^-10.
        let d: Vec<f64> = (1..=10).map(|i| 0.1 + i as f64 * 0.01).collect();
        assert_eq!(signed_rank_p_greater(&d, 0.0), 1.0 / 1024.0);
        // All below: p = 1.
        assert_eq!(signed_rank_p_greater(&d, 1.0), 1.0);
        // Duality with the lower bound at several levels and shifts.
        let d = [
            0.12, -0.03, 0.25, 0.08, 0.15, 0.31, -0.01, 0.22, 0.09, 0.18, 0.05, 0.27,
        ];
        for alpha in [0.01, 0.05, 0.1] {
            let bound = signed_rank_bound(&d, alpha).unwrap();
            for shift in [-0.1, 0.0, 0.02, 0.05, 0.1, 0.2] {
                let p = signed_rank_p_greater(&d, shift);
                assert_eq!(
                    bound > shift,
                    p <= alpha,
                    "alpha {alpha} shift {shift} bound {bound} p {p}"
                );
            }
        }
    }

    #[test]
    fn splitmix_is_seeded_and_shuffles_every_item() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut items: Vec<usize> = (0..20).collect();
        a.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(items, sorted);
        assert!((0..1000).all(|_| a.below(3) < 3));
    }

    #[track_caller]
    fn check(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol,
            "got {got}, want {want} (tolerance {tol})"
        );
    }

    /// xorshift64* with Box–Muller normals: deterministic, good enough for coverage checks.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
        fn normals(&mut self, n: usize, shift: f64) -> Vec<f64> {
            (0..n).map(|_| shift + self.normal()).collect()
        }
    }

    #[test]
    fn median_known_answers() {
        check(median(&[3.0, 1.0, 2.0]), 2.0, 0.0);
        check(median(&[4.0, 1.0, 3.0, 2.0]), 2.5, 0.0);
        check(median(&[7.5]), 7.5, 0.0);
        check(median(&[1.0, 1.0, 1.0, 100.0]), 1.0, 0.0);
    }

    #[test]
    #[should_panic(expected = "empty")]
    fn median_empty_panics() {
        median(&[]);
    }

    #[test]
    #[should_panic(expected = "non-finite")]
    fn median_nan_panics() {
        median(&[1.0, f64::NAN, 2.0]);
    }

    #[test]
    fn hodges_lehmann_by_hand() {
        // Walsh averages of [1,2,3]: 1, 1.5, 2, 2, 2.5, 3 → median (2+2)/2.
        check(hodges_lehmann(&[1.0, 2.0, 3.0]), 2.0, 0.0);
        // [0,0,10]: 0, 0, 0, 5, 5, 10 → 2.5 (median 0, mean 3.33).
        check(hodges_lehmann(&[0.0, 0.0, 10.0]), 2.5, 0.0);
        // [1,2,4]: 1, 1.5, 2, 2.5, 3, 4 → (2+2.5)/2.
        check(hodges_lehmann(&[4.0, 1.0, 2.0]), 2.25, 0.0);
        check(hodges_lehmann(&[-0.3]), -0.3, 0.0);
        // Robust: one wild round barely moves it.
        let d = [0.01, 0.02, 0.015, 0.012, 0.018, 0.011, 0.9];
        assert!(hodges_lehmann(&d) < 0.02);
    }

    #[test]
    #[should_panic(expected = "non-finite")]
    fn hodges_lehmann_rejects_infinity() {
        hodges_lehmann(&[1.0, f64::INFINITY]);
    }

    #[test]
    fn signed_rank_null_matches_tables() {
        // Every count table sums to 2^n and is symmetric.
        for n in [1, 5, 10, 30, 50] {
            let c = signed_rank_null_counts(n);
            assert_eq!(c.iter().sum::<u64>(), 1u64 << n);
            assert!(c.iter().eq(c.iter().rev()));
        }
        // n = 3: subsets of {1,2,3} by sum: 0:{} 1:{1} 2:{2} 3:{3},{1,2} 4:{1,3} 5:{2,3} 6:{1,2,3}.
        assert_eq!(signed_rank_null_counts(3), vec![1, 1, 1, 2, 1, 1, 1]);
        check(signed_rank_cdf(7, 0), 1.0 / 128.0, 0.0);
        // n = 10: P(T+ <= 5) = 10/1024 ≈ 0.0098, P(T+ <= 6) = 14/1024.
        check(signed_rank_cdf(10, 5), 10.0 / 1024.0, 0.0);
        check(signed_rank_cdf(10, 6), 14.0 / 1024.0, 0.0);
        // n = 6: P(T+ <= 2) = 3/64 ≈ 0.047.
        check(signed_rank_cdf(6, 2), 3.0 / 64.0, 0.0);
    }

    #[test]
    fn signed_rank_k_matches_critical_values() {
        // k = critical value + 1 (critical value: largest t with P(T+ <= t) <= alpha).
        assert_eq!(signed_rank_k(6, 0.01), None);
        assert_eq!(signed_rank_k(7, 0.01), Some(1));
        assert_eq!(signed_rank_k(10, 0.01), Some(6));
        assert_eq!(signed_rank_k(6, 0.05), Some(3));
        assert_eq!(signed_rank_k(4, 0.05), None);
        assert_eq!(signed_rank_k(5, 0.05), Some(1));
        assert_eq!(signed_rank_k(0, 0.5), None);
        // Standard one-sided tables, n = 20: T = 60 (0.05), 52 (0.025), 43 (0.01), 37 (0.005).
        assert_eq!(signed_rank_k(20, 0.05), Some(61));
        assert_eq!(signed_rank_k(20, 0.025), Some(53));
        assert_eq!(signed_rank_k(20, 0.01), Some(44));
        assert_eq!(signed_rank_k(20, 0.005), Some(38));
    }

    #[test]
    fn signed_rank_normal_approximation_joins_exact() {
        // At the seam (n = 50) the normal formula is conservative (never a larger k than the
        // exact one) and close: it lags by a few ranks in the far tail, where T+ is lighter
        // tailed than the normal. Exact values cross-checked with an independent Python DP.
        for (alpha, exact_k, approx_k) in [
            (0.001, 324, 317),
            (0.005, 374, 371),
            (0.01, 398, 397),
            (0.05, 467, 467),
        ] {
            assert_eq!(signed_rank_k(50, alpha), Some(exact_k));
            let nf = 50.0f64;
            let mean = nf * (nf + 1.0) / 4.0;
            let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
            let approx = (mean + 0.5 + normal_quantile(alpha) * sd).floor();
            assert_eq!(approx, f64::from(approx_k), "alpha {alpha}");
        }
        // Monotone across the seam.
        assert!(signed_rank_k(51, 0.01).unwrap() > signed_rank_k(50, 0.01).unwrap());
    }

    #[test]
    fn signed_rank_bound_known_answers() {
        let d: Vec<f64> = (1..=7).map(f64::from).collect();
        assert_eq!(signed_rank_bound(&d, 0.01), Some(1.0));
        assert_eq!(signed_rank_upper_bound(&d, 0.01), Some(7.0));
        assert_eq!(signed_rank_bound(&d[..6], 0.01), None);
        assert_eq!(signed_rank_bound(&[], 0.01), None);
        // d = 1..10, k = 6: Walsh averages ascending 1, 1.5, 2, 2, 2.5, 2.5, … → 2.5;
        // by symmetry the 6th largest is 11 − 2.5.
        let d: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(signed_rank_bound(&d, 0.01), Some(2.5));
        assert_eq!(signed_rank_upper_bound(&d, 0.01), Some(8.5));
        // Two-sided at 0.02 uses 0.01 on each side.
        assert_eq!(signed_rank_interval(&d, 0.02), Some((2.5, 8.5)));
        assert_eq!(signed_rank_interval(&d[..5], 0.05), None);
        // The bound sits below the estimate, which sits below the upper bound.
        let hl = hodges_lehmann(&d);
        assert!(signed_rank_bound(&d, 0.05).unwrap() < hl);
        assert!(hl < signed_rank_upper_bound(&d, 0.05).unwrap());
    }

    #[test]
    #[should_panic(expected = "non-finite")]
    fn signed_rank_bound_rejects_nan() {
        signed_rank_bound(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, f64::NAN], 0.01);
    }

    #[test]
    #[should_panic(expected = "alpha")]
    fn signed_rank_bound_rejects_bad_alpha() {
        signed_rank_bound(&[0.0; 10], 0.0);
    }

    /// Share of 1000 seeded trials of `n` N(delta, 1) values whose bound lies above delta.
    fn lower_bound_misses(n: usize, alpha: f64, seed: u64) -> usize {
        let delta = 0.05;
        let mut rng = Rng(seed);
        (0..1000)
            .filter(|_| signed_rank_bound(&rng.normals(n, delta), alpha).unwrap() > delta)
            .count()
    }

    #[test]
    fn signed_rank_bound_coverage_exact_regime() {
        // n = 10, alpha = 0.01: exact miss rate 10/1024 ≈ 0.98 %, ~9.8 of 1000 (sd ≈ 3.1).
        let misses = lower_bound_misses(10, 0.01, 0x9e37_79b9_7f4a_7c15);
        assert!((1..=22).contains(&misses), "misses {misses}");
        // alpha = 0.05 (exact 0.0420 at n = 10 → 42 of 1000, sd ≈ 6.3).
        let misses = lower_bound_misses(10, 0.05, 12345);
        assert!((20..=65).contains(&misses), "misses {misses}");
    }

    #[test]
    fn signed_rank_bound_coverage_normal_regime() {
        let misses = lower_bound_misses(60, 0.01, 0xdead_beef);
        assert!((1..=22).contains(&misses), "misses {misses}");
    }

    #[test]
    fn signed_rank_interval_coverage() {
        let mut rng = Rng(7);
        let misses = (0..1000)
            .filter(|_| {
                let (lo, hi) = signed_rank_interval(&rng.normals(12, -0.2), 0.05).unwrap();
                !(lo <= -0.2 && -0.2 <= hi)
            })
            .count();
        // Exact two-sided miss rate at n = 12 is a little under 0.05.
        assert!((20..=70).contains(&misses), "misses {misses}");
    }

    #[test]
    fn holm_textbook() {
        // Sorted: 0.005 <= 0.05/4 ✓, 0.01 <= 0.05/3 ✓, 0.03 <= 0.05/2 ✗ → stop.
        assert_eq!(
            holm(&[0.01, 0.04, 0.03, 0.005], 0.05),
            vec![true, false, false, true]
        );
        // Step-down: 0.04 would pass alpha/1 but is never reached.
        assert_eq!(holm(&[0.04, 0.03], 0.05), vec![false, false]);
        assert_eq!(holm(&[0.02, 0.04], 0.05), vec![true, true]);
        assert_eq!(holm(&[0.5, 0.9], 0.05), vec![false, false]);
        assert_eq!(holm(&[], 0.05), Vec::<bool>::new());
        assert_eq!(holm(&[0.0125], 0.05), vec![true]);
    }

    #[test]
    #[should_panic(expected = "p-values")]
    fn holm_rejects_nan() {
        holm(&[0.01, f64::NAN], 0.05);
    }

    #[test]
    fn bonferroni() {
        check(bonferroni_alpha(0.01, 4), 0.0025, 1e-18);
        check(bonferroni_alpha(0.05, 1), 0.05, 0.0);
    }

    #[test]
    fn mann_whitney_separated_and_identical() {
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let b: Vec<f64> = (11..=20).map(f64::from).collect();
        // U_b = 100, mean 50, sd sqrt(175): z = 49.5/13.229 → p = 9.1336e-5 (Python erfc).
        check(
            mann_whitney_p_greater(&a, &b),
            9.133_589_555_477_52e-5,
            1e-12,
        );
        assert!(mann_whitney_p_greater(&b, &a) > 0.9999);
        // Same sample: U at its mean; with the continuity correction p = Φ(0.5/sd) > 0.5.
        let p = mann_whitney_p_greater(&a, &a);
        check(
            p,
            normal_cdf(
                0.5 / (100.0f64 * 21.0 / 12.0 * (1.0 - 10.0 * 6.0 / (20.0 * 19.0 * 21.0))).sqrt(),
            ),
            1e-12,
        );
        // Everything tied: no evidence.
        assert_eq!(mann_whitney_p_greater(&[5.0; 8], &[5.0; 9]), 1.0);
    }

    #[test]
    fn mann_whitney_false_alarm_rate() {
        let mut rng = Rng(99);
        let flagged = (0..1000)
            .filter(|_| mann_whitney_p_greater(&rng.normals(20, 0.0), &rng.normals(20, 0.0)) < 0.05)
            .count();
        assert!((25..=75).contains(&flagged), "flagged {flagged}");
    }

    #[test]
    fn two_sample_shift_by_hand() {
        // b − a for a = [1,2,3], b = [2,4,6]: 1,0,−1, 3,2,1, 5,4,3 → median 2.
        check(
            hl_two_sample_shift(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]),
            2.0,
            0.0,
        );
        check(hl_two_sample_shift(&[1.0, 2.0], &[1.5, 2.5]), 0.5, 0.0);
    }

    #[test]
    fn shift_interval_known_answers() {
        // n = m = 10, alpha = 0.05: 50 − 1.96·13.229 = 24.07 → k = 24 (the exact table gives 24).
        assert_eq!(shift_interval_k(10, 10, 0.05), Some(24));
        assert_eq!(shift_interval_k(2, 2, 0.05), None);
        assert_eq!(shift_interval(&[1.0, 2.0], &[3.0, 4.0], 0.05), None);
        // a = 0..9, b = a + 3: differences are 3 + (j − i), j − i in −9..=9 with 10 − |j−i|
        // copies; the 24th smallest is at j − i = −3 (cumulative 1+2+…+7 = 28 ≥ 24 > 21).
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
        assert_eq!(shift_interval(&a, &b, 0.05), Some((0.0, 6.0)));
        check(hl_two_sample_shift(&a, &b), 3.0, 0.0);
    }

    #[test]
    fn shift_interval_coverage() {
        let mut rng = Rng(2024);
        let misses = (0..1000)
            .filter(|_| {
                let (lo, hi) =
                    shift_interval(&rng.normals(15, 0.0), &rng.normals(12, 0.7), 0.05).unwrap();
                !(lo <= 0.7 && 0.7 <= hi)
            })
            .count();
        assert!((25..=75).contains(&misses), "misses {misses}");
    }

    #[test]
    fn mann_whitney_both_sides_match_single() {
        let mut rng = Rng(31);
        for (n, m) in [(5, 9), (20, 20), (1, 3)] {
            let (a, b) = (rng.normals(n, 0.0), rng.normals(m, 0.3));
            let (greater, less) = mann_whitney_p_values(&a, &b);
            check(greater, mann_whitney_p_greater(&a, &b), 1e-15);
            check(less, mann_whitney_p_greater(&b, &a), 1e-12);
        }
        assert_eq!(mann_whitney_p_values(&[0.0; 3], &[0.0; 4]), (1.0, 1.0));
    }

    #[test]
    fn shift_analysis_matches_separate_functions_on_both_paths() {
        let mut rng = Rng(77);
        let mut scratch = ShiftScratch::default();
        let mut cases: Vec<(Vec<f64>, Vec<f64>)> = [(1, 1), (2, 3), (7, 7), (10, 13), (40, 31)]
            .into_iter()
            .map(|(n, m)| (rng.normals(n, 0.0), rng.normals(m, 0.4)))
            .collect();
        // Ties and zeros, as timer-quantised data gives.
        cases.push((
            vec![0.0, 1.0, 1.0, 2.0, 2.0, 2.0],
            vec![1.0, 1.0, 2.0, 3.0, 0.0],
        ));
        cases.push((vec![5.0; 12], vec![5.0; 9]));
        for (a, b) in &cases {
            for alpha in [0.05, 0.002] {
                let want = ShiftAnalysis {
                    estimate: hl_two_sample_shift(a, b),
                    interval: shift_interval(a, b, alpha),
                };
                assert_eq!(shift_analysis(a, b, alpha, &mut scratch), want);
                // limit 0 forces the counting path.
                let counted = shift_analysis_with_limit(a, b, alpha, &mut scratch, 0);
                assert_eq!(counted, want, "counting path, n {} m {}", a.len(), b.len());
            }
        }
    }

    #[test]
    fn quantile_interpolates() {
        let x = [1.0, 2.0, 3.0, 4.0];
        check(quantile(&x, 0.0), 1.0, 0.0);
        check(quantile(&x, 1.0), 4.0, 0.0);
        check(quantile(&x, 0.5), 2.5, 0.0);
        check(quantile(&x, 0.25), 1.75, 1e-15);
        check(quantile(&[42.0], 0.99), 42.0, 0.0);
        // 99th percentile of 0..=100 is 99; of 1..=1000 (step 1) it is 1 + 999·0.99 = 990.01.
        let h: Vec<f64> = (0..=100).map(f64::from).collect();
        check(quantile(&h, 0.99), 99.0, 1e-9);
        let t: Vec<f64> = (1..=1000).map(f64::from).collect();
        check(quantile(&t, 0.99), 990.01, 1e-9);
    }

    #[test]
    #[should_panic(expected = "q must lie")]
    fn quantile_rejects_bad_q() {
        quantile(&[1.0], 1.5);
    }

    #[test]
    fn normal_functions_known_values() {
        // References from Python's math.erfc.
        check(normal_cdf(0.0), 0.5, 1e-16);
        check(normal_cdf(1.0), 0.841_344_746_068_542_9, 1e-15);
        check(normal_cdf(-3.0), 0.001_349_898_031_630_095_7, 1e-16);
        let rel = (normal_cdf(-8.0) / 6.220_960_574_271_819e-16 - 1.0).abs();
        assert!(rel < 1e-7, "rel {rel}");
        let rel = (normal_cdf(-5.0) / 2.866_515_718_791_946e-7 - 1.0).abs();
        assert!(rel < 1e-10, "rel {rel}");
        check(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12);
        check(normal_quantile(0.01), -2.326_347_874_040_841, 1e-12);
        check(normal_quantile(0.5), 0.0, 1e-15);
    }
}
