//! How good is the detector? Judged on recorded A/A gates (`compare X X --all --keep-samples
//! --results FILE`: the same commit on both sides, so every flag is a false alarm).
//!
//! - noise: the spread of each benchmark's paired log-ratios under every round statistic;
//! - false alarms: the gate's own decision ([`paired::decide`]) on the recorded gates as they
//!   are (independent runs), and on gates resampled from their rounds: per benchmark, rounds
//!   drawn with replacement, each pair's sides swapped by a coin (in an A/A run base and head
//!   are exchangeable), confirmation rounds drawn the same way where the first pass asks for
//!   them;
//! - power: the same resampled gates with one benchmark's head slowed by `1 + δ` (every
//!   statistic and sample of its rounds scaled): the share decided `regressed`, and the bias of
//!   the estimate;
//! - the one-run-per-side rules on the same rounds: each recorded round is one run per side, as
//!   a criterion comparison or a stored baseline would see it. The criterion-style rule is
//!   Welch's t on the two runs' samples at 0.05 with a 95 % bootstrap interval of the change of
//!   the mean past a 1 % noise threshold (criterion's defaults); the stored-baseline rule is
//!   `cargo xtask bench`'s own ([`decide::compare`]);
//! - instruction counts: the recorded pairs as they are, and with a 1 % increase injected.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Serialize;

use crate::config::Config;
use crate::decide::{self, Verdict};
use crate::model::{Benchmark, Metric, Run, RunMeta, Summary};
use crate::paired::{self, GateResults, RoundPair, RoundStatistic, WallResult};
use crate::stats::{self, SplitMix64};

/// Every recorded A/A round of one wall-time benchmark, across the input files.
#[derive(Debug, Clone)]
pub struct Pool {
    pub id: String,
    pub rounds: Vec<RoundPair>,
}

/// Checks that every file is an A/A gate and gathers the rounds of each benchmark.
pub fn pools(files: &[(String, GateResults)]) -> anyhow::Result<Vec<Pool>> {
    let mut by_id: BTreeMap<String, Vec<RoundPair>> = BTreeMap::new();
    for (name, results) in files {
        if results.base.commit != results.head.commit || results.head.dirty {
            bail!(
                "{name}: not an A/A gate (base {} against head {}); evaluate needs `compare REV REV --all --results FILE` of one commit against itself",
                results.base.label(),
                results.head.label()
            );
        }
        if !results.head_env.is_empty() {
            bail!(
                "{name}: not an A/A gate: the head ran with {}; evaluate needs gates whose sides ran the same thing",
                results.head_env.join(" ")
            );
        }
        for wall in &results.wall {
            by_id
                .entry(wall.id.clone())
                .or_default()
                .extend(wall.rounds.iter().chain(&wall.rerun).cloned());
        }
    }
    Ok(by_id
        .into_iter()
        .map(|(id, rounds)| Pool { id, rounds })
        .collect())
}

/// A share with its exact (Clopper–Pearson) 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub hits: usize,
    pub n: usize,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    pub fn new(hits: usize, n: usize) -> Rate {
        let (low, high) = clopper_pearson(hits, n, 0.05);
        Rate { hits, n, low, high }
    }

    pub fn share(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.hits as f64 / self.n as f64
        }
    }
}

/// The exact two-sided `1 − alpha` interval of a binomial share `hits / n`.
pub fn clopper_pearson(hits: usize, n: usize, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    // P(X ≥ hits | p) grows with p; P(X ≤ hits | p) falls with p.
    let solve = |f: &dyn Fn(f64) -> f64, target: f64, increasing: bool| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if (f(mid) < target) == increasing {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let low = if hits == 0 {
        0.0
    } else {
        solve(&|p| 1.0 - binomial_cdf(hits - 1, n, p), alpha / 2.0, true)
    };
    let high = if hits == n {
        1.0
    } else {
        solve(&|p| binomial_cdf(hits, n, p), alpha / 2.0, false)
    };
    (low, high)
}

/// P(X ≤ k) for X ~ Binomial(n, p), summed in log space.
fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_choose = 0.0; // ln C(n, 0)
    let mut total = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (log_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
    }
    total.min(1.0)
}

/// The noise of one benchmark's recorded rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Noise {
    pub id: String,
    pub rounds: usize,
    /// The standard deviation of the paired log-ratios under each statistic
    /// ([`RoundStatistic::ALL`] order); `None` where the rounds did not record it.
    pub std_dev: Vec<Option<f64>>,
}

pub fn noise(pools: &[Pool]) -> Vec<Noise> {
    pools
        .iter()
        .map(|pool| Noise {
            id: pool.id.clone(),
            rounds: pool.rounds.len(),
            std_dev: RoundStatistic::ALL
                .iter()
                .map(|&statistic| {
                    // Rounds without every statistic still carry the gate's own (the median).
                    let under: Option<Vec<RoundPair>> = pool
                        .rounds
                        .iter()
                        .map(|r| {
                            r.under(statistic).or_else(|| {
                                (statistic == RoundStatistic::Median).then(|| r.clone())
                            })
                        })
                        .collect();
                    under.and_then(|rounds| std_dev(&paired::log_ratios(&rounds)))
                })
                .collect(),
        })
        .collect()
}

fn std_dev(d: &[f64]) -> Option<f64> {
    (d.len() >= 2).then(|| Summary::of(d).std_dev)
}

/// The shape of the resampled gates.
#[derive(Debug, Clone, Copy)]
pub struct Design {
    pub rounds: usize,
    pub rerun_rounds: usize,
    pub statistic: RoundStatistic,
}

/// One resampled gate: `design.rounds` rounds per benchmark drawn from its pool, sides swapped
/// by a coin; confirmation rounds where the first pass asks for them; benchmark `slowed` (an
/// index into `pools`) with its head scaled by `factor`.
pub fn resampled_gate(
    pools: &[Pool],
    design: Design,
    config: &Config,
    slowed: Option<(usize, f64)>,
    rng: &mut SplitMix64,
) -> GateResults {
    let draw = |i: usize, n: usize, rng: &mut SplitMix64| -> Vec<RoundPair> {
        let pool = &pools[i].rounds;
        (0..n)
            .map(|_| {
                let mut pair = pool[rng.below(pool.len())].under_or_as_run(design.statistic);
                if rng.coin() {
                    std::mem::swap(&mut pair.base, &mut pair.head);
                }
                if let Some((_, factor)) = slowed.filter(|(s, _)| *s == i) {
                    pair.head *= factor;
                }
                pair
            })
            .collect()
    };
    let wall = (0..pools.len())
        .filter(|&i| !pools[i].rounds.is_empty())
        .map(|i| {
            let rounds = draw(i, design.rounds, rng);
            let threshold = config.threshold(&pools[i].id, Metric::WallTime);
            let rerun = if paired::needs_rerun(&paired::log_ratios(&rounds), threshold) {
                draw(i, design.rerun_rounds, rng)
            } else {
                Vec::new()
            };
            WallResult {
                id: pools[i].id.clone(),
                rounds,
                rerun,
            }
        })
        .collect();
    GateResults {
        wall,
        ..GateResults::empty()
    }
}

/// The false alarms of resampled A/A gates.
#[derive(Debug, Clone, Serialize)]
pub struct FalseAlarms {
    /// Gates with at least one benchmark `regressed`.
    pub gates: Rate,
    /// Benchmark verdicts `regressed`, over every benchmark of every gate.
    pub regressed: Rate,
    /// Benchmark verdicts `improved` (a false alarm too, though it does not fail the gate).
    pub improved: Rate,
    /// Benchmark verdicts `inconclusive` (asks for a re-run, does not fail the gate).
    pub inconclusive: Rate,
    /// Per benchmark: how often it was decided `regressed`.
    pub per_benchmark: Vec<(String, Rate)>,
    /// The 99th percentile of each benchmark's |estimate| over the gates (the calibration's
    /// threshold candidate).
    pub p99_abs_estimate: Vec<(String, f64)>,
}

pub fn false_alarms(
    pools: &[Pool],
    design: Design,
    config: &Config,
    gates: usize,
    seed: u64,
) -> FalseAlarms {
    let mut rng = SplitMix64::new(seed);
    let mut failed = 0;
    let (mut regressed, mut improved, mut inconclusive, mut verdicts) = (0, 0, 0, 0);
    let mut per: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
    for _ in 0..gates {
        let results = resampled_gate(pools, design, config, None, &mut rng);
        let comparison = paired::decide(&results, config);
        let mut any = false;
        for row in comparison
            .rows
            .iter()
            .filter(|r| r.metric == Metric::WallTime)
        {
            verdicts += 1;
            let entry = per.entry(row.id.clone()).or_default();
            entry.1.push(row.change.unwrap_or(0.0).abs());
            match row.verdict {
                Verdict::Regressed => {
                    regressed += 1;
                    entry.0 += 1;
                    any |= !config.is_advisory(&row.id, Metric::WallTime);
                }
                Verdict::Improved => improved += 1,
                Verdict::Inconclusive => inconclusive += 1,
                _ => {}
            }
        }
        failed += usize::from(any);
    }
    FalseAlarms {
        gates: Rate::new(failed, gates),
        regressed: Rate::new(regressed, verdicts),
        improved: Rate::new(improved, verdicts),
        inconclusive: Rate::new(inconclusive, verdicts),
        per_benchmark: per
            .iter()
            .map(|(id, (hits, _))| (id.clone(), Rate::new(*hits, gates)))
            .collect(),
        p99_abs_estimate: per
            .into_iter()
            .map(|(id, (_, mut changes))| {
                changes.sort_by(f64::total_cmp);
                (id, stats::quantile(&changes, 0.99))
            })
            .collect(),
    }
}

/// The detector's power at one injected slowdown, over a group of benchmarks.
#[derive(Debug, Clone, Serialize)]
pub struct Power {
    pub delta: f64,
    pub group: String,
    /// Decided `regressed`: the gate fails.
    pub caught: Rate,
    /// `regressed` or `inconclusive`: the report asks for a look.
    pub flagged: Rate,
    /// Mean estimate minus δ (relative).
    pub bias: f64,
}

/// For each δ and each group (benchmarks grouped by `group_of`), resampled gates with one
/// benchmark of the group slowed by `1 + δ`, `gates` per benchmark.
pub fn power(
    pools: &[Pool],
    design: Design,
    config: &Config,
    deltas: &[f64],
    gates: usize,
    seed: u64,
    group_of: &dyn Fn(&str) -> String,
) -> Vec<Power> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, pool) in pools.iter().enumerate() {
        if !config.is_advisory(&pool.id, Metric::WallTime) && !pool.rounds.is_empty() {
            groups.entry(group_of(&pool.id)).or_default().push(i);
        }
    }
    for &delta in deltas {
        for (group, members) in &groups {
            let (mut caught, mut flagged, mut n) = (0, 0, 0);
            let mut bias = 0.0;
            for &i in members {
                for _ in 0..gates {
                    let results =
                        resampled_gate(pools, design, config, Some((i, 1.0 + delta)), &mut rng);
                    let comparison = paired::decide(&results, config);
                    let Some(row) = comparison
                        .rows
                        .iter()
                        .find(|r| r.metric == Metric::WallTime && r.id == pools[i].id)
                    else {
                        continue;
                    };
                    n += 1;
                    caught += usize::from(row.verdict == Verdict::Regressed);
                    flagged += usize::from(matches!(
                        row.verdict,
                        Verdict::Regressed | Verdict::Inconclusive
                    ));
                    bias += row.change.unwrap_or(0.0) - delta;
                }
            }
            out.push(Power {
                delta,
                group: group.clone(),
                caught: Rate::new(caught, n),
                flagged: Rate::new(flagged, n),
                bias: bias / n.max(1) as f64,
            });
        }
    }
    out
}

/// A one-run-per-side rule replayed on the recorded rounds.
#[derive(Debug, Clone, Serialize)]
pub struct OneRunRule {
    pub rule: String,
    /// Suite runs (one recorded round of every benchmark of one file) with a gated benchmark
    /// `regressed`.
    pub gates: Rate,
    pub regressed: Rate,
    pub improved: Rate,
    /// The largest spurious change it reported as `regressed`, with its interval.
    pub worst: Option<(String, f64, (f64, f64))>,
}

/// One benchmark's one-run comparison: its id, the base side's samples and the head side's.
type OneRun<'a> = (&'a str, &'a [f64], &'a [f64]);

/// The suites of one-run comparisons in `files`: for each file and round index, both sides'
/// samples of every benchmark that kept them.
fn round_suites(files: &[(String, GateResults)]) -> Vec<Vec<OneRun<'_>>> {
    let mut suites = Vec::new();
    for (_, results) in files {
        let most = results
            .wall
            .iter()
            .map(|w| w.rounds.len())
            .max()
            .unwrap_or(0);
        for r in 0..most {
            let suite: Vec<OneRun<'_>> = results
                .wall
                .iter()
                .filter_map(|w| {
                    let samples = w.rounds.get(r)?.samples.as_ref()?;
                    Some((w.id.as_str(), &samples[0][..], &samples[1][..]))
                })
                .filter(|(_, a, b)| a.len() >= 2 && b.len() >= 2)
                .collect();
            if !suite.is_empty() {
                suites.push(suite);
            }
        }
    }
    suites
}

/// criterion's defaults: significance 0.05, noise threshold 1 %, 95 % interval.
pub fn criterion_rule(files: &[(String, GateResults)], config: &Config, seed: u64) -> OneRunRule {
    let mut rng = SplitMix64::new(seed);
    let suites = round_suites(files);
    let (mut failed, mut regressed, mut improved, mut n) = (0, 0, 0, 0);
    let mut worst: Option<(String, f64, (f64, f64))> = None;
    for suite in &suites {
        let mut any = false;
        for &(id, base, head) in suite {
            n += 1;
            let (change, interval, p) = criterion_style(base, head, &mut rng);
            if p >= 0.05 {
                continue;
            }
            if interval.0 > 0.01 {
                regressed += 1;
                any |= !config.is_advisory(id, Metric::WallTime);
                if worst.as_ref().is_none_or(|w| change > w.1) {
                    worst = Some((id.to_string(), change, interval));
                }
            } else if interval.1 < -0.01 {
                improved += 1;
            }
        }
        failed += usize::from(any);
    }
    OneRunRule {
        rule: "criterion-style (one run per side)".into(),
        gates: Rate::new(failed, suites.len()),
        regressed: Rate::new(regressed, n),
        improved: Rate::new(improved, n),
        worst,
    }
}

/// criterion's comparison of two runs: the relative change of the mean, its 95 % bootstrap
/// interval (1,000 resamples of each run), and Welch's two-sided p (normal approximation).
pub fn criterion_style(base: &[f64], head: &[f64], rng: &mut SplitMix64) -> (f64, (f64, f64), f64) {
    let (a, b) = (Summary::of(base), Summary::of(head));
    let change = b.mean / a.mean - 1.0;
    let mut boot: Vec<f64> = (0..1000)
        .map(|_| {
            let mean = |xs: &[f64], rng: &mut SplitMix64| {
                (0..xs.len()).map(|_| xs[rng.below(xs.len())]).sum::<f64>() / xs.len() as f64
            };
            mean(head, rng) / mean(base, rng) - 1.0
        })
        .collect();
    boot.sort_by(f64::total_cmp);
    let interval = (stats::quantile(&boot, 0.025), stats::quantile(&boot, 0.975));
    let se = (a.std_dev.powi(2) / a.n as f64 + b.std_dev.powi(2) / b.n as f64).sqrt();
    let p = if se > 0.0 {
        let z = ((b.mean - a.mean) / se).abs();
        2.0 * (1.0 - stats::normal_cdf(z))
    } else if a.mean == b.mean {
        1.0
    } else {
        0.0
    };
    (change, interval, p)
}

/// `cargo xtask bench`'s rule against a stored baseline, on each recorded round.
pub fn stored_baseline_rule(files: &[(String, GateResults)], config: &Config) -> OneRunRule {
    let suites = round_suites(files);
    let (mut failed, mut regressed, mut improved, mut n) = (0, 0, 0, 0);
    let mut worst: Option<(String, f64, (f64, f64))> = None;
    let run = |suite: &[(&str, &[f64], &[f64])], side: usize| Run {
        schema_version: crate::model::SCHEMA_VERSION,
        meta: RunMeta::default(),
        benchmarks: suite
            .iter()
            .map(|&(id, base, head)| {
                let samples = if side == 0 { base } else { head }.to_vec();
                Benchmark {
                    id: id.to_string(),
                    metric: Metric::WallTime,
                    unit: "ns".into(),
                    summary: Summary::of(&samples),
                    samples,
                    iterations: Vec::new(),
                    throughput: None,
                }
            })
            .collect(),
    };
    for suite in &suites {
        let mut sorted = suite.clone();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let comparison = decide::compare(&run(&sorted, 0), &run(&sorted, 1), config);
        let mut any = false;
        for row in &comparison.rows {
            n += 1;
            match row.verdict {
                Verdict::Regressed => {
                    regressed += 1;
                    any |= row.advisory.is_none() && !config.is_advisory(&row.id, row.metric);
                    let change = row.change.unwrap_or(0.0);
                    if worst.as_ref().is_none_or(|w| change > w.1) {
                        worst = Some((
                            row.id.clone(),
                            change,
                            row.interval.unwrap_or((change, change)),
                        ));
                    }
                }
                Verdict::Improved => improved += 1,
                _ => {}
            }
        }
        failed += usize::from(any);
    }
    OneRunRule {
        rule: "stored baseline (`bench`, one run per side)".into(),
        gates: Rate::new(failed, suites.len()),
        regressed: Rate::new(regressed, n),
        improved: Rate::new(improved, n),
        worst,
    }
}

/// Instruction counts: the recorded A/A pairs flagged, and 1 % increases caught.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub aa_flagged: Rate,
    pub injected_caught: Rate,
    pub injected: f64,
}

pub fn counts(files: &[(String, GateResults)], config: &Config, injected: f64) -> Counts {
    let (mut flagged, mut caught, mut n) = (0, 0, 0);
    for (_, results) in files {
        for count in &results.instructions {
            n += 1;
            let threshold = config.threshold(&count.id, Metric::Instructions);
            let (_, aa) = decide::count_verdict(count.base, count.head, threshold, config);
            flagged += usize::from(aa != Verdict::Unchanged);
            let slowed = (count.head * (1.0 + injected)).round();
            let (_, verdict) = decide::count_verdict(count.base, slowed, threshold, config);
            caught += usize::from(verdict == Verdict::Regressed);
        }
    }
    Counts {
        aa_flagged: Rate::new(flagged, n),
        injected_caught: Rate::new(caught, n),
        injected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::{CountResult, RoundValues};

    /// A pair whose head is `ratio` times its base, with samples spread ±1 % around each.
    fn pair(ratio: f64) -> RoundPair {
        let side = |level: f64| -> Vec<f64> {
            (0..20)
                .map(|i| level * (1.0 + 0.01 * ((i % 5) as f64 - 2.0) / 2.0))
                .collect()
        };
        let (base, head) = (side(100.0), side(100.0 * ratio));
        RoundPair {
            base: RoundValues::of(&base).median,
            head: RoundValues::of(&head).median,
            head_first: false,
            parallel: false,
            values: Some([RoundValues::of(&base), RoundValues::of(&head)]),
            samples: Some([base, head]),
        }
    }

    fn aa(ratios: &[f64], benchmarks: &[&str]) -> GateResults {
        let mut results = GateResults::empty();
        results.base.commit = Some("c0ffee".into());
        results.head.commit = Some("c0ffee".into());
        results.wall = benchmarks
            .iter()
            .map(|id| WallResult {
                id: id.to_string(),
                rounds: ratios.iter().map(|&r| pair(r)).collect(),
                rerun: Vec::new(),
            })
            .collect();
        results.instructions = vec![CountResult {
            id: "iai::a".into(),
            base: 100_000.0,
            head: 100_000.0,
            functions: None,
        }];
        results
    }

    fn config() -> Config {
        Config::parse("[wall_time]\nthreshold = 0.03\n").unwrap()
    }

    const DESIGN: Design = Design {
        rounds: 10,
        rerun_rounds: 20,
        statistic: RoundStatistic::Median,
    };

    #[test]
    fn a_quiet_aa_pool_never_alarms_and_its_injected_slowdowns_are_caught_unbiased() {
        // ±0.5 % round-to-round noise, threshold 3 %.
        let ratios = [
            1.0, 1.005, 0.995, 1.002, 0.998, 1.004, 0.996, 1.001, 0.999, 1.0,
        ];
        let files = vec![("aa.json".to_string(), aa(&ratios, &["x/a", "x/b"]))];
        let pools = pools(&files).unwrap();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].rounds.len(), 10);
        let config = config();
        let alarms = false_alarms(&pools, DESIGN, &config, 200, 7);
        assert_eq!((alarms.gates.hits, alarms.gates.n), (0, 200));
        assert_eq!(alarms.regressed.n, 400);
        assert!(
            alarms
                .p99_abs_estimate
                .iter()
                .all(|(_, p)| *p <= 0.005 + 1e-12)
        );
        let power = power(&pools, DESIGN, &config, &[0.02, 0.10], 50, 7, &|_| {
            "all".into()
        });
        assert_eq!(power.len(), 2);
        // 2 % is below the 3 % threshold: never a regression; 10 % always, estimated to 0.6 pp.
        assert_eq!((power[0].caught.hits, power[0].caught.n), (0, 100));
        assert_eq!(power[1].caught.hits, 100);
        assert!(power[1].bias.abs() < 0.006, "{}", power[1].bias);
    }

    #[test]
    fn the_noise_is_measured_under_every_statistic() {
        let files = vec![("aa.json".to_string(), aa(&[1.0, 1.1, 1.0, 1.1], &["x/a"]))];
        let noise = noise(&pools(&files).unwrap());
        // d alternates 0 and ln 1.1: the standard deviation of (0, h, 0, h) is h / √3 · √(4/4)…
        let h = 1.1f64.ln();
        let expected = (h * h / 4.0 * 4.0 / 3.0).sqrt();
        for sd in &noise[0].std_dev {
            assert!((sd.unwrap() - expected).abs() < 1e-9, "{sd:?} {expected}");
        }
    }

    #[test]
    fn one_run_rules_are_replayed_on_each_round() {
        // Round 1 differs by 5 % with tight samples: criterion's rule calls it a regression,
        // the stored-baseline rule (threshold 3 %) too; the others are identical.
        let files = vec![(
            "aa.json".to_string(),
            aa(&[1.05, 1.0, 1.0, 1.0, 1.0], &["x/a"]),
        )];
        let config = config();
        let criterion = criterion_rule(&files, &config, 1);
        assert_eq!((criterion.gates.hits, criterion.gates.n), (1, 5));
        assert_eq!(criterion.regressed.hits, 1);
        let (id, change, _) = criterion.worst.clone().unwrap();
        assert_eq!(id, "x/a");
        assert!((change - 0.05).abs() < 1e-9);
        let stored = stored_baseline_rule(&files, &config);
        assert_eq!((stored.gates.hits, stored.gates.n), (1, 5));
    }

    #[test]
    fn criterion_style_known_answer() {
        let base: Vec<f64> = (0..50).map(|i| 100.0 + (i % 2) as f64).collect();
        let head: Vec<f64> = base.iter().map(|x| x * 1.2).collect();
        let (change, (lo, hi), p) = criterion_style(&base, &head, &mut SplitMix64::new(3));
        assert!((change - 0.2).abs() < 1e-12);
        assert!(lo < 0.2 && hi > 0.2 && hi - lo < 0.01, "{lo} {hi}");
        assert!(p < 1e-6);
        let (_, _, same) = criterion_style(&base, &base, &mut SplitMix64::new(3));
        assert_eq!(same, 1.0);
    }

    #[test]
    fn counts_catch_one_percent_and_pass_identical_pairs() {
        let files = vec![("aa.json".to_string(), aa(&[1.0; 5], &["x/a"]))];
        let c = counts(&files, &config(), 0.01);
        assert_eq!((c.aa_flagged.hits, c.aa_flagged.n), (0, 1));
        assert_eq!(c.injected_caught.hits, 1);
    }

    #[test]
    fn a_gate_of_two_commits_is_refused() {
        let mut results = aa(&[1.0; 5], &["x/a"]);
        results.head.commit = Some("beef".into());
        let error = pools(&[("pr.json".to_string(), results)]).unwrap_err();
        assert!(
            format!("{error}").starts_with("pr.json: not an A/A gate"),
            "{error}"
        );
        let mut injected = aa(&[1.0; 5], &["x/a"]);
        injected.head_env = vec!["PERF_GUARD_INJECT_SLOWDOWN=0.1".into()];
        let error = pools(&[("slow.json".to_string(), injected)]).unwrap_err();
        assert!(
            format!("{error}").contains("PERF_GUARD_INJECT_SLOWDOWN=0.1"),
            "{error}"
        );
    }

    #[test]
    fn clopper_pearson_matches_known_intervals() {
        // Zero of 1,000: the upper bound 1 − 0.025^(1/1000) ≈ 3.68/N.
        let (lo, hi) = clopper_pearson(0, 1000, 0.05);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(1e-3))).abs() < 1e-9, "{hi}");
        // 5 of 10 (R's binom.test: 0.187086, 0.812914).
        let (lo, hi) = clopper_pearson(5, 10, 0.05);
        assert!(
            (lo - 0.187086).abs() < 1e-5 && (hi - 0.812914).abs() < 1e-5,
            "{lo} {hi}"
        );
        assert_eq!(clopper_pearson(10, 10, 0.05).1, 1.0);
    }
}
