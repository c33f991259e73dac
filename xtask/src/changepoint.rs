//! Change points in a benchmark's history: where a series of per-commit values settles on a new
//! level, by E-divisive means with a permutation test.
//!
//! # Method
//! This is the procedure of Matteson and James ("A nonparametric approach for multiple change
//! point analysis of multivariate data", 2014), which MongoDB's `signal-processing-algorithms`
//! and Apache Otava (formerly Hunter) build on:
//! - The series is held as windows bounded by the change points accepted so far; at first one
//!   window, the whole series.
//! - In every window each pair of a split `tau` and an end `kappa` (segments `start..tau` and
//!   `tau..kappa`, both at least [`Options::min_size`] points) is scored by the energy statistic
//!   `Q = m·k/(m+k) · (2/(m·k) Σ|x−y| − 1/C(m,2) Σ|x−x'| − 1/C(k,2) Σ|y−y'|)` over the `m` points
//!   of the first segment and the `k` of the second: the distance between the segments less the
//!   distances within them, weighted by their sizes. It is zero for a series of one value, and
//!   is largest at the true position of a step.
//! - The strongest split over all windows is tested: each permutation shuffles every window on
//!   its own and takes the largest best `Q` over the windows;
//!   `p = (1 + #{permutations at least as strong}) / (permutations + 1)`. A split with
//!   `p <= alpha` is accepted (at `tau`; `kappa` only helped to find it), its window becomes two,
//!   and the search goes on; the first split that fails ends it.
//! - A window whose strongest split moves the level by less than [`Options::min_relative`] is
//!   closed without a test: instruction counts move by a few instructions with code layout,
//!   and a permutation test alone would call such a split significant, since it is blind to
//!   scale.
//! - Finally each change point's level before and after is the median of the segments between
//!   it and its neighbouring change points; while any change point then moves the level by less
//!   than `min_relative` (its neighbours may have absorbed it), the smallest is removed and the
//!   levels recomputed.
//!
//! MongoDB's and Otava's version fixes `kappa` at the end of the window. Searching it as
//! Matteson and James do costs several times the time, but finds a level that returns, such as a
//! regression fixed some commits later: in 5 % noise, between 30 commits before and 30 after,
//! both ends of a 5-commit +20 % excursion were found in 95 of 100 series (none with `kappa`
//! fixed), of a 10-commit +10 % one in 59 (2). The price is that a two-commit spike can become a
//! segment of three points with a neighbour (the segment's median is then the spike's level):
//! a +50 % spike of two commits in 5 % noise gave two change points in 49 of 200 series (1 with
//! `kappa` fixed). A one-commit spike adds as much to the distance within its segment as to the
//! distance between the segments, so it is reported no more often than in a flat series.
//!
//! Levels are medians rather than means so that one commit measured on a bad day does not move
//! the level of a short segment: with one +50 % value among 12 after a +20 % step, the root mean
//! square error of the relative size was 0.024 by medians and 0.055 by means (0.015 and 0.011
//! with no outlier, 40 and 40 points in 5 % noise). The search itself uses every value.
//!
//! The `p_value` of a change point is that of the test that accepted it; removing a neighbour
//! afterwards does not recompute it.
//!
//! # Input contract
//! Every value must be finite: a NaN or an infinity is an upstream bug (a failed parse, a zero
//! time), so [`detect`] **panics** on one, as the functions of [`crate::stats`] do. Values are
//! expected positive (times, counts), since the relative size divides by the level before.
//! Options outside their documented ranges also panic.
//!
//! # Costs
//! Scoring every split of a window of `n` points takes `O(n²)` time and `O(n)` memory: as each
//! point joins the end of the second segment, its distances to the earlier points update the
//! between and within sums of every `tau` at once. A test costs `O(permutations · n²)` at most;
//! each window's permuted scores are drawn once, lazily, and reused by every later test, and a
//! test stops as soon as it can no longer reach `alpha`, so a series with no change point costs
//! a few permutations. One test over 300 points took about 70 ms on a loaded machine, a series
//! of 300 points with 5 shifts in 10 % noise about 140 ms.

use crate::stats::{self, SplitMix64};

/// How [`detect`] searches and what it reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Significance level of each split's permutation test, in `(0, 1)`.
    pub alpha: f64,
    /// Permutations per test, at least 1; the smallest possible p-value is
    /// `1 / (permutations + 1)`, so it must be at least `1 / alpha - 1` for anything to be found.
    pub permutations: usize,
    /// Fewest points in a segment, at least 2 (the within-segment distance needs a pair).
    pub min_size: usize,
    /// Shifts smaller than this relative size are not reported (instruction counts move by a
    /// few instructions from layout noise); finite and not negative.
    pub min_relative: f64,
    /// Seed of the permutations: a series and a seed give the same change points every time.
    pub seed: u64,
}

impl Default for Options {
    /// `alpha = 0.01` with 199 permutations, the fewest whose smallest p-value (0.005) clears
    /// `alpha` with room for one permutation at least as strong (99, 199 and 499 found the same
    /// steps in 5 % noise, 100 series per size); segments of at least 3 points, so that a
    /// one-commit spike never has a segment of its own and a new level is reported once it has
    /// lasted 3 commits; shifts of at least 0.1 %, far above layout noise in instruction counts
    /// (a few instructions in 10⁵) and far below anything a wall time could resolve.
    fn default() -> Options {
        Options {
            alpha: 0.01,
            permutations: 199,
            min_size: 3,
            min_relative: 0.001,
            seed: 0x0c4a_9e5e_ed00_0001,
        }
    }
}

/// One level shift in a series.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChangePoint {
    /// Index of the first point of the new level.
    pub index: usize,
    /// The median of the segment before, from the previous change point (or the start) up to
    /// `index`.
    pub before: f64,
    /// The median of the segment after, from `index` up to the next change point (or the end).
    pub after: f64,
    /// `after / before - 1` (zero when the two are equal).
    pub relative: f64,
    /// The p-value of the permutation test that accepted the split.
    pub p_value: f64,
}

/// Change points in order of index. Deterministic for a given seed.
///
/// A series shorter than `2 * min_size` has none.
///
/// # Panics
/// If a value is not finite, or an option is outside its documented range.
pub fn detect(values: &[f64], options: &Options) -> Vec<ChangePoint> {
    assert_options(options);
    if let Some(value) = values.iter().find(|value| !value.is_finite()) {
        panic!("changepoint: the series contains a non-finite value ({value})");
    }
    let accepted = divide(values, options);
    describe(values, accepted, options.min_relative)
}

fn assert_options(options: &Options) {
    assert!(
        options.alpha > 0.0 && options.alpha < 1.0,
        "changepoint: alpha must lie in (0, 1), got {}",
        options.alpha
    );
    assert!(
        options.permutations >= 1,
        "changepoint: permutations must be at least 1"
    );
    assert!(
        options.min_size >= 2,
        "changepoint: min_size must be at least 2, got {}",
        options.min_size
    );
    assert!(
        options.min_relative.is_finite() && options.min_relative >= 0.0,
        "changepoint: min_relative must be finite and not negative, got {}",
        options.min_relative
    );
}

/// The E-divisive search: the accepted splits as `(index, p-value)`, in order of acceptance.
fn divide(values: &[f64], options: &Options) -> Vec<(usize, f64)> {
    let mut sums = Sums::default();
    let mut open = Vec::new();
    open.extend(Window::new(values, 0, values.len(), options, &mut sums));
    let mut accepted = Vec::new();
    while let Some(strongest) = (0..open.len()).max_by(|&a, &b| open[a].q.total_cmp(&open[b].q)) {
        let (start, split, second_end, end, observed) = {
            let window = &open[strongest];
            (
                window.start,
                window.split,
                window.second_end,
                window.end,
                window.q,
            )
        };
        // Windows of one value score zero at best, and a split that scores no more than zero
        // separates nothing (the distance between its segments is no larger than within them),
        // so nothing is left to test.
        if observed <= 0.0 {
            break;
        }
        let before = stats::median(&values[start..split]);
        let after = stats::median(&values[split..second_end]);
        if relative_change(before, after).abs() < options.min_relative {
            open.swap_remove(strongest);
            continue;
        }
        let Some(p_value) = permutation_test(&mut open, observed, options, &mut sums) else {
            break;
        };
        accepted.push((split, p_value));
        open.swap_remove(strongest);
        open.extend(Window::new(values, start, split, options, &mut sums));
        open.extend(Window::new(values, split, end, options, &mut sums));
    }
    accepted
}

/// The p-value of a split scoring `observed`, the strongest over the open windows, or `None`
/// once it is certain to exceed `alpha` (the rest of the permutations could only add to the
/// count).
fn permutation_test(
    open: &mut [Window],
    observed: f64,
    options: &Options,
    sums: &mut Sums,
) -> Option<f64> {
    // A permutation that restores the observed order (or its mirror image) scores the same up
    // to rounding in a different order of summation, and must count as at least as strong.
    let tolerance = observed.abs() * 1e-9;
    let p_value = |at_least: usize| (at_least + 1) as f64 / (options.permutations + 1) as f64;
    let mut at_least = 0;
    for draw in 0..options.permutations {
        let strongest = open
            .iter_mut()
            .map(|window| window.permuted_q(draw, options.min_size, sums))
            .fold(f64::NEG_INFINITY, f64::max);
        if strongest >= observed - tolerance {
            at_least += 1;
            if p_value(at_least) > options.alpha {
                return None;
            }
        }
    }
    Some(p_value(at_least))
}

/// A stretch of the series between accepted change points that is long enough to split.
struct Window {
    start: usize,
    end: usize,
    /// The strongest split (an index into the whole series), where the segment after it ends,
    /// and its score.
    split: usize,
    second_end: usize,
    q: f64,
    /// The strongest score of the window's values in random orders, one per permutation drawn
    /// so far. A window's permutations do not depend on the other windows, so every test reuses
    /// them.
    permuted: Vec<f64>,
    /// The window's values, shuffled again for each permutation.
    shuffled: Vec<f64>,
    rng: SplitMix64,
}

impl Window {
    /// `None` when `start..end` is too short for two segments.
    fn new(
        values: &[f64],
        start: usize,
        end: usize,
        options: &Options,
        sums: &mut Sums,
    ) -> Option<Window> {
        if end - start < 2 * options.min_size {
            return None;
        }
        let best = sums.strongest_split(&values[start..end], options.min_size);
        // Each window draws from its own stream, derived from the seed and its bounds, so its
        // permutations are the same whatever order the tests ask for them in.
        let bounds = ((start as u64) << 32) ^ end as u64;
        let stream = options.seed ^ SplitMix64::new(bounds).next_u64();
        Some(Window {
            start,
            end,
            split: start + best.tau,
            second_end: start + best.kappa,
            q: best.q,
            permuted: Vec::with_capacity(options.permutations),
            shuffled: values[start..end].to_vec(),
            rng: SplitMix64::new(SplitMix64::new(stream).next_u64()),
        })
    }

    /// The strongest score of permutation number `draw`, drawing it (and any before it) first.
    fn permuted_q(&mut self, draw: usize, min_size: usize, sums: &mut Sums) -> f64 {
        while self.permuted.len() <= draw {
            self.rng.shuffle(&mut self.shuffled);
            let q = sums.strongest_split(&self.shuffled, min_size).q;
            self.permuted.push(q);
        }
        self.permuted[draw]
    }
}

/// The strongest split of a window: segments `..tau` and `tau..kappa` of the window's values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    tau: usize,
    kappa: usize,
    q: f64,
}

/// Scratch space for scoring splits, reused so that a permutation allocates nothing.
#[derive(Default)]
struct Sums {
    /// Per `tau`, the distances within the points before `tau`.
    within_before: Vec<f64>,
    /// Per `tau`, the distances between the points before `tau` and those from `tau` to the
    /// newest point.
    between: Vec<f64>,
    /// Per `tau`, the distances within the points from `tau` to the newest point.
    within_after: Vec<f64>,
    /// `1 / (c - 1)` for every count `c`, since the scores divide by it everywhere.
    reciprocal: Vec<f64>,
}

impl Sums {
    /// The split of `xs` (a window's values) with the largest energy statistic `Q` over
    /// `..tau` and `tau..kappa`, both at least `min_size` points, the first of equals (by
    /// `kappa`, then `tau`); its `Q` may be zero or negative.
    ///
    /// Letting the second segment end before the window does (Matteson and James's `kappa`)
    /// finds a level that returns, such as a regression fixed some commits later: with the
    /// second segment running to the end of the window, the points after the fix dilute it.
    fn strongest_split(&mut self, xs: &[f64], min_size: usize) -> Split {
        let n = xs.len();
        debug_assert!(min_size >= 2 && n >= 2 * min_size);
        for sums in [
            &mut self.within_before,
            &mut self.between,
            &mut self.within_after,
        ] {
            sums.clear();
            sums.resize(n + 1, 0.0);
        }
        self.reciprocal.clear();
        self.reciprocal
            .extend((0..=n).map(|count| 1.0 / (count as f64 - 1.0)));
        let mut best = Split {
            tau: min_size,
            kappa: n,
            q: f64::NEG_INFINITY,
        };
        // Each point in turn joins the end of every second segment: its distances to the
        // points before `tau` are new distances between the segments, its distances to the
        // points from `tau` on new distances within the second one. Summing from zero keeps a
        // segment of one value at exactly zero.
        for newest in 0..n {
            let x = xs[newest];
            let to_all: f64 = xs[..newest].iter().map(|&xi| (xi - x).abs()).sum();
            self.within_before[newest + 1] = self.within_before[newest] + to_all;
            let mut to_before_tau = 0.0;
            for (tau, &xi) in (1..=newest).zip(&xs[..newest]) {
                to_before_tau += (xi - x).abs();
                self.between[tau] += to_before_tau;
                self.within_after[tau] += to_all - to_before_tau;
            }
            let kappa = newest + 1;
            if kappa < 2 * min_size {
                continue;
            }
            let scale = 2.0 / kappa as f64;
            for tau in min_size..=kappa - min_size {
                let (m, k) = (tau as f64, (kappa - tau) as f64);
                // `m·k/(m+k) · (2B/(m·k) − 2W₁/(m(m−1)) − 2W₂/(k(k−1)))`, multiplied out.
                let q = scale
                    * (self.between[tau]
                        - k * self.within_before[tau] * self.reciprocal[tau]
                        - m * self.within_after[tau] * self.reciprocal[kappa - tau]);
                if q > best.q {
                    best = Split { tau, kappa, q };
                }
            }
        }
        best
    }
}

/// The reported change points: the accepted splits in order, each with the levels of the
/// segments between its neighbours, less those too small once the neighbours are known.
fn describe(
    values: &[f64],
    mut accepted: Vec<(usize, f64)>,
    min_relative: f64,
) -> Vec<ChangePoint> {
    accepted.sort_by_key(|&(index, _)| index);
    // Without a split there are no levels to compute (and an empty series has none).
    while !accepted.is_empty() {
        let points = levels(values, &accepted);
        let smallest = (0..points.len())
            .filter(|&k| points[k].relative.abs() < min_relative)
            .min_by(|&a, &b| {
                points[a]
                    .relative
                    .abs()
                    .total_cmp(&points[b].relative.abs())
            });
        match smallest {
            Some(k) => {
                accepted.remove(k);
            }
            None => return points,
        }
    }
    Vec::new()
}

/// Change points at the given sorted splits, with the medians of the segments between them.
fn levels(values: &[f64], splits: &[(usize, f64)]) -> Vec<ChangePoint> {
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(splits.iter().map(|&(index, _)| index))
        .chain(std::iter::once(values.len()))
        .collect();
    let medians: Vec<f64> = bounds
        .windows(2)
        .map(|segment| stats::median(&values[segment[0]..segment[1]]))
        .collect();
    splits
        .iter()
        .zip(medians.windows(2))
        .map(|(&(index, p_value), pair)| ChangePoint {
            index,
            before: pair[0],
            after: pair[1],
            relative: relative_change(pair[0], pair[1]),
            p_value,
        })
        .collect()
}

/// `after / before - 1`, and zero for equal levels, so that two zero levels are no change
/// rather than NaN.
fn relative_change(before: f64, after: f64) -> f64 {
    if before == after {
        0.0
    } else {
        after / before - 1.0
    }
}

#[cfg(test)]
mod tests;
