//! The interleaved gate's measurements and their decision.
//!
//! `compare` runs base and head in rounds on one machine and writes a [`GateResults`] file:
//! per wall-time benchmark one statistic per round and side, per instruction-count benchmark
//! one count per side, plus what was skipped or failed. [`decide`] turns it into the same
//! [`Comparison`] that every report renders, so `merge` (shards of one gate) and `compare` share
//! the rule, and a results file can be judged again later.
//!
//! The wall-time rule, per benchmark with threshold `t`, on the paired log-ratios
//! `d_i = ln(head_i / base_i)` of its rounds:
//! - `regressed` when the one-sided signed-rank test rejects "shift <= ln(1 + t)", i.e. the
//!   lower confidence bound of the Hodges–Lehmann shift lies above the threshold, with Holm's
//!   procedure across the suite; `improved` mirrors it below `ln(1 - t)`;
//! - `inconclusive` when the estimate is beyond the threshold without that;
//! - otherwise `unchanged`.
//!
//! Rounds come in two stages. The first pass measures every benchmark; those whose estimate
//! lands beyond their threshold without being decided are re-run with fresh rounds and decided
//! on those alone (selection on the first pass, decision on independent data). Each stage gets
//! half of the suite's error rate `alpha`, so the whole gate's false-alarm rate stays below
//! `alpha`.

use serde::{Deserialize, Serialize};

use crate::callgrind::FunctionDiff;
use crate::config::{Config, DEFAULT_ALPHA};
use crate::decide::{
    Advisory, Comparison, GateSummary, Mode, Row, RowNote, Verdict, count_verdict,
};
use crate::model::{Machine, Metric, Summary};
use crate::shard::Shard;
use crate::stats;
use crate::worktree::Revision;

/// The version of the results file; readers refuse others.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// Fewer rounds than this cannot reach significance at a useful level.
pub const MIN_ROUNDS: usize = 5;

/// Everything one `compare` (or one shard of it) measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResults {
    pub schema_version: u32,
    pub base: Revision,
    pub head: Revision,
    pub machine: Option<Machine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub seed: u64,
    /// The per-round statistic of each side's samples.
    pub statistic: RoundStatistic,
    /// `KEY=VALUE`s given to the head side's benchmarks only (`--head-env`): the sides did not
    /// run the same thing even when their commits agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_env: Vec<String>,
    pub wall: Vec<WallResult>,
    pub instructions: Vec<CountResult>,
    /// Benchmarks that only one side has.
    pub one_sided: Vec<OneSided>,
    /// Wall-time benchmarks not measured, and why.
    pub skipped: Vec<Skipped>,
    pub failures: Vec<Failure>,
    pub timing: Timing,
}

impl GateResults {
    /// Nothing measured yet, between two unnamed revisions.
    pub fn empty() -> GateResults {
        let unnamed = || Revision {
            revision: String::new(),
            commit: None,
            subject: None,
            dirty: false,
        };
        GateResults {
            schema_version: RESULTS_SCHEMA_VERSION,
            base: unnamed(),
            head: unnamed(),
            machine: None,
            shard: None,
            seed: 0,
            statistic: RoundStatistic::Median,
            head_env: Vec::new(),
            wall: Vec::new(),
            instructions: Vec::new(),
            one_sided: Vec::new(),
            skipped: Vec::new(),
            failures: Vec::new(),
            timing: Timing::default(),
        }
    }
}

/// How a round's samples become the round's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatistic {
    /// The median per-iteration time of the round's samples.
    Median,
    /// The fastest sample.
    Minimum,
    /// The mean of the samples.
    Mean,
    /// The mean of the middle 80 % (a tenth dropped at each end).
    TrimmedMean,
}

impl RoundStatistic {
    pub const ALL: [RoundStatistic; 4] = [
        RoundStatistic::Median,
        RoundStatistic::Minimum,
        RoundStatistic::Mean,
        RoundStatistic::TrimmedMean,
    ];

    pub fn of(self, samples: &[f64]) -> f64 {
        match self {
            RoundStatistic::Median => Summary::of(samples).median,
            RoundStatistic::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
            RoundStatistic::Mean => samples.iter().sum::<f64>() / samples.len().max(1) as f64,
            RoundStatistic::TrimmedMean => {
                let mut sorted = samples.to_vec();
                sorted.sort_by(f64::total_cmp);
                let cut = sorted.len() / 10;
                let middle = &sorted[cut..sorted.len() - cut];
                middle.iter().sum::<f64>() / middle.len().max(1) as f64
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RoundStatistic::Median => "median",
            RoundStatistic::Minimum => "minimum",
            RoundStatistic::Mean => "mean",
            RoundStatistic::TrimmedMean => "trimmed mean",
        }
    }
}

impl std::str::FromStr for RoundStatistic {
    type Err = String;

    fn from_str(s: &str) -> Result<RoundStatistic, String> {
        RoundStatistic::ALL
            .into_iter()
            .find(|k| k.name().replace(' ', "_") == s)
            .ok_or_else(|| format!("{s:?}: one of median, minimum, mean, trimmed_mean"))
    }
}

/// Every statistic of one side's round, so that recorded rounds can be judged under each
/// (`evaluate`); the gate decides on the one the results name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundValues {
    pub median: f64,
    pub minimum: f64,
    pub mean: f64,
    pub trimmed_mean: f64,
}

impl RoundValues {
    pub fn of(samples: &[f64]) -> RoundValues {
        RoundValues {
            median: RoundStatistic::Median.of(samples),
            minimum: RoundStatistic::Minimum.of(samples),
            mean: RoundStatistic::Mean.of(samples),
            trimmed_mean: RoundStatistic::TrimmedMean.of(samples),
        }
    }

    pub fn get(&self, statistic: RoundStatistic) -> f64 {
        match statistic {
            RoundStatistic::Median => self.median,
            RoundStatistic::Minimum => self.minimum,
            RoundStatistic::Mean => self.mean,
            RoundStatistic::TrimmedMean => self.trimmed_mean,
        }
    }
}

/// One wall-time benchmark's rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallResult {
    pub id: String,
    /// The first pass.
    pub rounds: Vec<RoundPair>,
    /// The confirmation rounds of a benchmark the first pass left undecided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun: Vec<RoundPair>,
}

/// One round of one benchmark: each side's statistic (ns per iteration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundPair {
    pub base: f64,
    pub head: f64,
    pub head_first: bool,
    /// Both sides ran at the same time, each on a core of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parallel: bool,
    /// Every statistic of both sides' samples (`[base, head]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<[RoundValues; 2]>,
    /// Both sides' per-iteration samples (`[base, head]`), kept with `--keep-samples` so that
    /// rules that judge one run per side can be replayed on the rounds (`evaluate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<[Vec<f64>; 2]>,
}

impl RoundPair {
    /// The same round judged by another statistic; `None` when it was not recorded.
    pub fn under(&self, statistic: RoundStatistic) -> Option<RoundPair> {
        let [base, head] = self.values?;
        Some(RoundPair {
            base: base.get(statistic),
            head: head.get(statistic),
            ..self.clone()
        })
    }

    /// The round under `statistic` where it was recorded, else as it ran.
    pub fn under_or_as_run(&self, statistic: RoundStatistic) -> RoundPair {
        self.under(statistic).unwrap_or_else(|| self.clone())
    }
}

/// One instruction-count benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    pub id: String,
    pub base: f64,
    pub head: f64,
    /// The functions that changed most, for counts that moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<FunctionDiff>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SideName {
    Base,
    Head,
}

impl std::fmt::Display for SideName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SideName::Base => "base",
            SideName::Head => "head",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneSided {
    pub id: String,
    pub metric: Metric,
    pub side: SideName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    pub reason: SkipReason,
}

/// Why a wall-time benchmark was not measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Neither its package nor the workspace packages it depends on changed.
    NotAffected,
    /// bench.toml marks it advisory (a peer): reported by `bench`, not gated.
    Advisory,
}

/// A benchmark or target that failed on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub side: SideName,
    /// The benchmark id, or `package/target` when a whole target failed.
    pub what: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub build_seconds: f64,
    pub measure_seconds: f64,
    pub total_seconds: f64,
    /// Rounds planned for the first pass (after fitting the time budget).
    pub rounds: usize,
}

/// Reads and checks a results file.
pub fn read(path: &std::path::Path) -> anyhow::Result<GateResults> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read results file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a results file of `compare` (not JSON); pass the file written by --results",
            path.display()
        )
    })?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(RESULTS_SCHEMA_VERSION)) {
        anyhow::bail!(
            "{} has results schema version {}, this harness reads {RESULTS_SCHEMA_VERSION}; re-run `compare` with this harness",
            path.display(),
            version.map_or("none".to_string(), |v| v.to_string())
        );
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "{} is not a valid results file of `compare`",
            path.display()
        )
    })
}

/// Writes a results file (pretty JSON), replacing it atomically.
pub fn write(path: &std::path::Path, results: &GateResults) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(results).expect("results serialise");
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The paired log-ratios of rounds.
pub fn log_ratios(rounds: &[RoundPair]) -> Vec<f64> {
    rounds
        .iter()
        .filter(|r| r.base > 0.0 && r.head > 0.0 && r.base.is_finite() && r.head.is_finite())
        .map(|r| (r.head / r.base).ln())
        .collect()
}

/// The first-pass analysis of one benchmark, as the screening sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    /// Hodges–Lehmann estimate of the log shift.
    pub estimate: f64,
    pub p_slower: f64,
    pub p_faster: f64,
}

/// The signed-rank analysis of `d` against threshold `t`.
pub fn analyse(d: &[f64], threshold: f64) -> Option<Analysis> {
    if d.is_empty() {
        return None;
    }
    let up = threshold.ln_1p();
    let down = (-threshold).ln_1p();
    let negated: Vec<f64> = d.iter().map(|x| -x).collect();
    Some(Analysis {
        estimate: stats::hodges_lehmann(d),
        p_slower: stats::signed_rank_p_greater(d, up),
        p_faster: if down.is_finite() {
            stats::signed_rank_p_greater(&negated, -down)
        } else {
            1.0
        },
    })
}

/// Whether a first-pass estimate asks for confirmation rounds: beyond the threshold either way.
pub fn needs_rerun(d: &[f64], threshold: f64) -> bool {
    !d.is_empty() && stats::hodges_lehmann(d).exp_m1().abs() > threshold
}

/// The smallest slowdown this many rounds with this noise would detect (relative, e.g. 0.18),
/// at the per-test level `level` (the suite's first Holm step) with 80 % power: the threshold
/// plus `(z(1 - level) + z(0.8)) · σ / √(0.955 n)` on the log scale, with σ a robust spread of
/// the differences (1.4826 · MAD) and 0.955 the signed-rank test's efficiency under normal
/// noise. `None` when the rounds are too few for the test to reject at that level at all
/// (`2^-n > level`).
pub fn minimum_detectable_effect(d: &[f64], threshold: f64, level: f64) -> Option<f64> {
    let n = d.len();
    if n < 2 || 0.5f64.powi(n as i32) > level {
        return None;
    }
    let sigma = robust_sigma(d);
    let z = stats::normal_quantile(1.0 - level) + stats::normal_quantile(0.8);
    Some((threshold.ln_1p() + z * sigma / (0.955 * n as f64).sqrt()).exp_m1())
}

/// The smallest slowdown whose first-pass estimate would pass the threshold (and so earn
/// confirmation rounds) with 80 % probability: the threshold plus `z(0.8) · σ / √(0.955 n)` on
/// the log scale, σ as in [`minimum_detectable_effect`]. `None` for fewer than
/// [`MIN_ROUNDS`] rounds.
pub fn screening_detectable_effect(d: &[f64], threshold: f64) -> Option<f64> {
    if d.len() < MIN_ROUNDS {
        return None;
    }
    let sigma = robust_sigma(d);
    let z = stats::normal_quantile(0.8);
    Some((threshold.ln_1p() + z * sigma / (0.955 * d.len() as f64).sqrt()).exp_m1())
}

/// 1.4826 · the median absolute deviation: the standard deviation for normal noise, robust to
/// a few disturbed rounds.
fn robust_sigma(d: &[f64]) -> f64 {
    let centre = stats::median(d);
    let deviations: Vec<f64> = d.iter().map(|x| (x - centre).abs()).collect();
    1.4826 * stats::median(&deviations)
}

/// The decision over a whole gate (one results file, or the merge of shards).
pub fn decide(results: &GateResults, config: &Config) -> Comparison {
    let alpha = if config.alpha > 0.0 && config.alpha < 1.0 {
        config.alpha
    } else {
        DEFAULT_ALPHA
    };
    let stage_alpha = alpha / 2.0;
    let mut rows = Vec::new();

    // Wall time: stage 1 over every benchmark with enough rounds, stage 2 over the re-run ones.
    struct Wall<'a> {
        result: &'a WallResult,
        threshold: f64,
        first: Vec<f64>,
        second: Vec<f64>,
        a1: Option<Analysis>,
        a2: Option<Analysis>,
    }
    let walls: Vec<Wall<'_>> = results
        .wall
        .iter()
        .map(|result| {
            let threshold = config.threshold(&result.id, Metric::WallTime);
            let first = log_ratios(&result.rounds);
            let second = log_ratios(&result.rerun);
            Wall {
                a1: (first.len() >= MIN_ROUNDS)
                    .then(|| analyse(&first, threshold))
                    .flatten(),
                a2: (second.len() >= MIN_ROUNDS)
                    .then(|| analyse(&second, threshold))
                    .flatten(),
                result,
                threshold,
                first,
                second,
            }
        })
        .collect();
    let holm = |ps: Vec<(usize, f64)>| -> Vec<usize> {
        let rejected = stats::holm(&ps.iter().map(|p| p.1).collect::<Vec<_>>(), stage_alpha);
        ps.iter()
            .zip(rejected)
            .filter(|(_, r)| *r)
            .map(|(p, _)| p.0)
            .collect()
    };
    let stage = |pick: &dyn Fn(&Wall<'_>) -> Option<Analysis>| {
        let slower = holm(
            walls
                .iter()
                .enumerate()
                .filter_map(|(i, w)| pick(w).map(|a| (i, a.p_slower)))
                .collect(),
        );
        let faster = holm(
            walls
                .iter()
                .enumerate()
                .filter_map(|(i, w)| pick(w).map(|a| (i, a.p_faster)))
                .collect(),
        );
        let family = walls.iter().filter(|w| pick(w).is_some()).count();
        (slower, faster, family)
    };
    let (slower1, faster1, family1) = stage(&|w| w.a1);
    let (slower2, faster2, family2) = stage(&|w| w.a2);
    for (i, wall) in walls.iter().enumerate() {
        let confirmed = !wall.second.is_empty();
        let (data, analysis, family) = if confirmed {
            (&wall.second, wall.a2, family2)
        } else {
            (&wall.first, wall.a1, family1)
        };
        let level = stage_alpha / family.max(1) as f64;
        let slower = slower1.contains(&i) || (confirmed && slower2.contains(&i));
        let faster = faster1.contains(&i) || (confirmed && faster2.contains(&i));
        let estimate = analysis.map(|a| a.estimate.exp_m1());
        let verdict = match estimate {
            _ if slower => Verdict::Regressed,
            _ if faster => Verdict::Improved,
            Some(change) if change.abs() > wall.threshold => Verdict::Inconclusive,
            Some(_) => Verdict::Unchanged,
            None => Verdict::Inconclusive,
        };
        let summary = |pick: fn(&RoundPair) -> f64| {
            let values: Vec<f64> = wall
                .result
                .rounds
                .iter()
                .chain(&wall.result.rerun)
                .map(pick)
                .collect();
            (!values.is_empty()).then(|| Summary::of(&values))
        };
        let interval = (data.len() >= MIN_ROUNDS)
            .then(|| stats::signed_rank_interval(data, (2.0 * level).min(0.999)))
            .flatten()
            .map(|(lo, hi)| (lo.exp_m1(), hi.exp_m1()));
        let mut row = Row::new(&wall.result.id, Metric::WallTime, "ns", wall.threshold);
        row.verdict = verdict;
        row.change = estimate;
        row.interval = interval;
        row.old = summary(|r| r.base);
        row.new = summary(|r| r.head);
        row.rounds = Some(data.len());
        row.rerun = confirmed;
        // A first pass only screens: a change whose estimate passes the threshold gets
        // confirmation rounds, so what it could detect is what the screening would pass.
        row.mde = if confirmed {
            minimum_detectable_effect(data, wall.threshold, level)
        } else {
            screening_detectable_effect(data, wall.threshold)
        };
        if estimate.is_none() {
            row.notes.push(RowNote::TooFewRounds { rounds: data.len() });
        }
        rows.push(row);
    }

    // Instruction counts: exact, decided as by `bench`.
    for count in &results.instructions {
        let threshold = config.threshold(&count.id, Metric::Instructions);
        let mut row = Row::new(&count.id, Metric::Instructions, "instructions", threshold);
        let (change, verdict) = count_verdict(count.base, count.head, threshold, config);
        row.verdict = verdict;
        row.change = Some(change);
        row.interval = Some((change, change));
        row.old = Some(Summary::of(&[count.base]));
        row.new = Some(Summary::of(&[count.head]));
        row.functions = count.functions.clone();
        if config.is_advisory(&count.id, Metric::Instructions) {
            row.advisory = Some(Advisory::Configured);
        }
        rows.push(row);
    }

    for one in &results.one_sided {
        let mut row = Row::new(
            &one.id,
            one.metric,
            "",
            config.threshold(&one.id, one.metric),
        );
        row.verdict = match one.side {
            SideName::Base => Verdict::Missing,
            SideName::Head => Verdict::New,
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));

    let mut notes = Vec::new();
    for pair in &config.pairs {
        let find = |id: &str, metric| rows.iter().find(|r| r.id == id && r.metric == metric);
        let (Some(wall), Some(count)) = (
            find(&pair.wall_time, Metric::WallTime),
            find(&pair.instructions, Metric::Instructions),
        ) else {
            continue;
        };
        let moved = |row: &Row| row.change.is_some_and(|c| c.abs() > row.threshold);
        if moved(wall) != moved(count) {
            let describe = |row: &Row| match row.change {
                Some(change) => format!(
                    "{} {:+.1}% (threshold {:.1}%)",
                    row.id,
                    change * 100.0,
                    row.threshold * 100.0
                ),
                None => row.id.clone(),
            };
            notes.push(format!(
                "wall time and instruction counts disagree on the same code: {} {} but {} {}; \
                 a change in memory behaviour or in another thread shows in wall time only, \
                 noise in one metric can also cause this",
                describe(wall),
                if moved(wall) { "moved" } else { "did not move" },
                describe(count),
                if moved(count) {
                    "moved"
                } else {
                    "did not move"
                },
            ));
        }
    }
    Comparison {
        mode: Mode::Interleaved,
        rows,
        notes,
        gate: Some(GateSummary {
            base: results.base.clone(),
            head: results.head.clone(),
            shard: results.shard,
            skipped: results.skipped.clone(),
            failures: results.failures.clone(),
            timing: results.timing,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(name: &str) -> Revision {
        Revision {
            revision: name.to_string(),
            commit: Some("0123456789abcdef".to_string()),
            subject: None,
            dirty: false,
        }
    }

    /// Rounds with head = base · factor · jitter, jitter from a seeded generator (±`noise`).
    fn rounds(seed: u64, n: usize, factor: f64, noise: f64) -> Vec<RoundPair> {
        let mut rng = stats::SplitMix64::new(seed);
        (0..n)
            .map(|i| {
                let u = rng.next_u64() as f64 / u64::MAX as f64;
                // Rounded to what a JSON round trip keeps exactly.
                RoundPair {
                    base: 100.0,
                    head: (100_000.0 * factor * (1.0 + noise * (2.0 * u - 1.0))).round() / 1000.0,
                    head_first: i % 2 == 0,
                    parallel: false,
                    values: None,
                    samples: None,
                }
            })
            .collect()
    }

    fn results(wall: Vec<WallResult>) -> GateResults {
        GateResults {
            schema_version: RESULTS_SCHEMA_VERSION,
            base: revision("main"),
            head: revision("HEAD"),
            machine: None,
            shard: None,
            seed: 1,
            statistic: RoundStatistic::Median,
            head_env: Vec::new(),
            wall,
            instructions: vec![
                CountResult {
                    id: "iai::a".into(),
                    base: 1000.0,
                    head: 1100.0,
                    functions: None,
                },
                CountResult {
                    id: "iai::b".into(),
                    base: 200.0,
                    head: 201.0,
                    functions: None,
                },
            ],
            one_sided: vec![OneSided {
                id: "g/new".into(),
                metric: Metric::WallTime,
                side: SideName::Head,
            }],
            skipped: Vec::new(),
            failures: Vec::new(),
            timing: Timing::default(),
        }
    }

    fn verdict(cmp: &Comparison, id: &str) -> Verdict {
        cmp.rows.iter().find(|r| r.id == id).unwrap().verdict
    }

    #[test]
    fn known_answers_of_the_round_statistics() {
        // Head 25 % slower in every one of 10 rounds, ±2 %: log-ratios near ln 1.25.
        let d = log_ratios(&rounds(3, 10, 1.25, 0.02));
        let a = analyse(&d, 0.10).unwrap();
        assert!((a.estimate.exp_m1() - 0.25).abs() < 0.02, "{a:?}");
        // Every difference is above ln 1.1: T+ is maximal, p = 2^-10.
        assert_eq!(a.p_slower, 1.0 / 1024.0);
        assert_eq!(a.p_faster, 1.0);
        assert_eq!(RoundStatistic::Median.of(&[3.0, 1.0, 2.0, 100.0]), 2.5);
        // The detectable effect: threshold plus the noise term; too few rounds give none.
        let flat = [0.01, -0.01, 0.02, -0.02, 0.0, 0.01, -0.01, 0.02, -0.02, 0.0];
        let mde = minimum_detectable_effect(&flat, 0.10, 0.005).unwrap();
        // MAD = 0.01, σ = 0.014826; z(0.995) + z(0.8) = 2.5758 + 0.8416 = 3.4174.
        let expected = (1.1f64.ln() + 3.4174 * 0.014826 / (9.55f64).sqrt()).exp_m1();
        assert!((mde - expected).abs() < 1e-4, "{mde} vs {expected}");
        assert_eq!(minimum_detectable_effect(&flat[..6], 0.10, 0.005), None);
        // Screening: z(0.8) only.
        let screening = screening_detectable_effect(&flat, 0.10).unwrap();
        let expected = (1.1f64.ln() + 0.8416 * 0.014826 / (9.55f64).sqrt()).exp_m1();
        assert!(
            (screening - expected).abs() < 1e-4,
            "{screening} vs {expected}"
        );
        assert_eq!(screening_detectable_effect(&flat[..4], 0.10), None);
    }

    #[test]
    fn a_clear_slowdown_regresses_noise_does_not_and_counts_gate_exactly() {
        let cmp = decide(
            &results(vec![
                WallResult {
                    id: "g/slow".into(),
                    rounds: rounds(1, 10, 1.30, 0.03),
                    rerun: Vec::new(),
                },
                WallResult {
                    id: "g/same".into(),
                    rounds: rounds(2, 10, 1.0, 0.05),
                    rerun: Vec::new(),
                },
            ]),
            &Config::default(),
        );
        assert_eq!(verdict(&cmp, "g/slow"), Verdict::Regressed);
        assert_eq!(verdict(&cmp, "g/same"), Verdict::Unchanged);
        assert_eq!(verdict(&cmp, "iai::a"), Verdict::Regressed);
        // One instruction: below the minimum delta.
        assert_eq!(verdict(&cmp, "iai::b"), Verdict::Unchanged);
        assert_eq!(verdict(&cmp, "g/new"), Verdict::New);
        assert!(cmp.failed());
        let slow = cmp.rows.iter().find(|r| r.id == "g/slow").unwrap();
        assert!(slow.interval.unwrap().0 > 0.10, "{slow:?}");
        assert_eq!(slow.rounds, Some(10));
    }

    #[test]
    fn an_estimate_past_the_threshold_without_confidence_is_inconclusive_until_confirmed() {
        // Beyond 10 % on average but far from certain: half the rounds barely moved.
        let noisy: Vec<RoundPair> = [1.45, 0.95, 1.40, 1.0, 1.35, 0.92, 1.5, 1.05, 1.3, 0.98]
            .iter()
            .map(|&ratio| RoundPair {
                base: 100.0,
                head: 100.0 * ratio,
                head_first: false,
                parallel: false,
                values: None,
                samples: None,
            })
            .collect();
        let d = log_ratios(&noisy);
        assert!(analyse(&d, 0.10).unwrap().estimate.exp_m1() > 0.10);
        let cmp = decide(
            &results(vec![WallResult {
                id: "g/x".into(),
                rounds: noisy.clone(),
                rerun: Vec::new(),
            }]),
            &Config::default(),
        );
        assert_eq!(verdict(&cmp, "g/x"), Verdict::Inconclusive);
        // Confirmed by 20 clean rounds of a 30 % slowdown: decided on those.
        let cmp = decide(
            &results(vec![WallResult {
                id: "g/x".into(),
                rounds: noisy,
                rerun: rounds(6, 20, 1.30, 0.02),
            }]),
            &Config::default(),
        );
        assert_eq!(verdict(&cmp, "g/x"), Verdict::Regressed);
        let row = cmp.rows.iter().find(|r| r.id == "g/x").unwrap();
        assert_eq!(row.rounds, Some(20));
        assert!(row.rerun);
    }

    #[test]
    fn the_results_file_round_trips_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let written = results(vec![WallResult {
            id: "g/a".into(),
            rounds: rounds(1, 5, 1.0, 0.01),
            rerun: Vec::new(),
        }]);
        write(&path, &written).unwrap();
        assert_eq!(read(&path).unwrap(), written);
        std::fs::write(&path, "{\"schema_version\": 99}").unwrap();
        let error = format!("{:#}", read(&path).unwrap_err());
        assert!(error.contains("schema version 99"), "{error}");
        std::fs::write(&path, "not json").unwrap();
        let error = format!("{:#}", read(&path).unwrap_err());
        assert!(
            error.contains("results.json is not a results file"),
            "{error}"
        );
    }
}
