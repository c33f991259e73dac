//! Deciding, per benchmark, whether the new run regressed against the old one.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::config::{Config, DEFAULT_ALPHA};
use crate::machine::HostDifference;
use crate::model::{Benchmark, Metric, Run, RunMeta, Summary};
use crate::stats;

/// The decision for one benchmark. Only `Regressed` fails the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Regressed,
    Improved,
    Unchanged,
    /// The estimate crosses the threshold but the confidence bound does not.
    Inconclusive,
    /// Only in the new run.
    New,
    /// Only in the old run (renamed, deleted, or filtered out).
    Missing,
}

/// How the two sides were measured, which bounds what the comparison can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One run per side (a stored baseline, or two recorded runs): run-to-run variation is
    /// invisible to the statistics, so wall time leans on the configured thresholds.
    OneRunPerSide,
    /// `compare`: base and head in interleaved rounds on one machine, decided on the paired
    /// differences of the rounds (see `paired.rs`).
    Interleaved,
}

/// One benchmark's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub metric: Metric,
    pub unit: String,
    pub verdict: Verdict,
    /// Relative change of the new run against the old (0.05 = 5 % more time or instructions);
    /// `None` for `New` and `Missing`.
    pub change: Option<f64>,
    /// Confidence interval of `change`; `None` where there is none.
    pub interval: Option<(f64, f64)>,
    /// The practical threshold that applied (relative).
    pub threshold: f64,
    pub old: Option<Summary>,
    pub new: Option<Summary>,
    /// Why the row cannot fail the gate, when it cannot (its verdict is reported, not gated).
    pub advisory: Option<Advisory>,
    /// Remarks on how the row was decided; they do not change whether it gates.
    pub notes: Vec<RowNote>,
    /// Interleaved wall time: the rounds the verdict rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Interleaved wall time: decided on confirmation rounds after an undecided first pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rerun: bool,
    /// Interleaved wall time: the smallest slowdown these rounds could have detected (relative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde: Option<f64>,
    /// Instruction counts that moved: the functions that changed most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<crate::callgrind::FunctionDiff>,
}

impl Row {
    /// A row with no measurements yet (verdict `Unchanged`).
    pub fn new(id: &str, metric: Metric, unit: &str, threshold: f64) -> Row {
        Row {
            id: id.to_string(),
            metric,
            unit: unit.to_string(),
            verdict: Verdict::Unchanged,
            change: None,
            interval: None,
            threshold,
            old: None,
            new: None,
            advisory: None,
            notes: Vec::new(),
            rounds: None,
            rerun: false,
            mde: None,
            functions: None,
        }
    }
}

/// Why a row cannot fail the gate. The reports render it; the decision only records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advisory {
    /// `bench.toml` marks the benchmark advisory (a peer crate, a control).
    Configured,
    /// Wall time from another host, another boot, or a host not recorded: the numbers are
    /// shown, the verdict is not judged.
    WallTimeNotJudged(HostDifference),
    /// Instruction counts from two different toolchains.
    Toolchain { old: String, new: String },
    /// The controls scattered: the machine was not stable during the runs.
    Unstable,
    /// A side was a `--quick` smoke run.
    Quick,
}

impl Advisory {
    /// The reason as a stable snake_case tag (the JSON report's `advisory_reason`).
    pub fn tag(&self) -> &'static str {
        match self {
            Advisory::Configured => "configured",
            Advisory::WallTimeNotJudged(_) => "wall_time_not_judged",
            Advisory::Toolchain { .. } => "toolchain",
            Advisory::Unstable => "unstable",
            Advisory::Quick => "quick",
        }
    }
}

/// What a `compare` adds to its comparison: the sides, what was not measured or failed, and
/// how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateSummary {
    pub base: crate::worktree::Revision,
    pub head: crate::worktree::Revision,
    pub shard: Option<crate::shard::Shard>,
    pub skipped: Vec<crate::paired::Skipped>,
    pub failures: Vec<crate::paired::Failure>,
    pub timing: crate::paired::Timing,
}

/// A remark on how one row was decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowNote {
    /// Judged relative to the controls: the machine drifted by `drift` (relative, 0.05 =
    /// 5 % slower), taken out of the new side before the analysis.
    RelativeToControls { drift: f64 },
    /// Too few samples for a confidence interval at the suite's level: decided on the
    /// estimate alone, never regressed.
    TooFewSamples { old: usize, new: usize },
    /// Interleaved wall time: fewer rounds than the test needs; not judged.
    TooFewRounds { rounds: usize },
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub mode: Mode,
    /// Sorted by id, then metric.
    pub rows: Vec<Row>,
    /// Run-level remarks for the reports (one line each).
    pub notes: Vec<String>,
    /// Set by `compare` and `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateSummary>,
}

impl Comparison {
    /// Whether the gate fails: at least one non-advisory row regressed, or a benchmark that
    /// runs on the base fails on the head.
    pub fn failed(&self) -> bool {
        self.rows
            .iter()
            .any(|row| row.verdict == Verdict::Regressed && row.advisory.is_none())
            || self.gate.as_ref().is_some_and(|gate| {
                gate.failures
                    .iter()
                    .any(|f| f.side == crate::paired::SideName::Head)
            })
    }
}

/// The run-level remark of a comparison with a `--quick` side.
pub const QUICK_NOTE: &str =
    "quick mode: wall times were measured briefly, so their verdicts are advisory";

/// The run-level remark every one-run-per-side comparison carries.
pub const ONE_RUN_PER_SIDE_NOTE: &str = "one run per side: run-to-run variation (code layout, \
CPU frequency, neighbours) is not measured; wall-time verdicts rest on the practical \
thresholds, instruction counts are the precise gate";

/// Compares `new` against `old` under `config`'s thresholds (mode [`Mode::OneRunPerSide`]).
///
/// Benchmarks pair by `(id, metric)`; rows come sorted by id, then metric.
/// - Instruction counts are deterministic: the medians are compared exactly, and the change is
///   `Regressed`/`Improved` as soon as it passes the threshold (interval = the point).
/// - Wall times are compared on logarithms: the estimate is the two-sample Hodges–Lehmann shift,
///   significance is a one-sided Mann–Whitney test per direction with Holm's procedure at
///   `config.alpha` over all paired wall-time rows (one family per direction), and the interval
///   is the Moses interval at level `1 − 2·alpha/m` (each side at `alpha/m`). `Regressed` needs
///   the "slower" test rejected and the interval's lower end above the threshold; `Improved`
///   mirrors it; an estimate past the threshold without that is `Inconclusive`. Without an
///   interval (too few samples) a row is at most `Inconclusive`.
/// - Wall time is judged only when both runs come from the same host and boot
///   ([`crate::machine::Machine::wall_time_difference`]) or neither records a machine; otherwise
///   the wall-time rows keep their numbers but are not judged (they cannot fail the gate).
///   Instruction counts from different toolchains are advisory: verdict kept, gate not failed.
///
/// Never panics on runs that `store::validate` accepts (zeros included).
pub fn compare(old: &Run, new: &Run, config: &Config) -> Comparison {
    let alpha = if config.alpha > 0.0 && config.alpha < 1.0 {
        config.alpha
    } else {
        DEFAULT_ALPHA
    };
    let mut notes = vec![ONE_RUN_PER_SIDE_NOTE.to_string()];
    let quick = old.meta.quick || new.meta.quick;
    if quick {
        notes.push(QUICK_NOTE.to_string());
    }
    // Said once, by the reports, from the rows' `Advisory::WallTimeNotJudged`.
    let wall_not_judged = wall_time_not_judged(&old.meta, &new.meta);
    let instructions_advisory = match (&old.meta.rustc, &new.meta.rustc) {
        (Some(a), Some(b)) if a != b => {
            notes.push(format!(
                "instruction counts come from different toolchains (old {a}, new {b}): \
                 instruction rows are advisory and do not fail the gate"
            ));
            Some(Advisory::Toolchain {
                old: a.clone(),
                new: b.clone(),
            })
        }
        _ => None,
    };

    let pairs = pair(old, new);
    let drift = Drift::measure(&pairs, config, &mut Scratch::default());
    if let Some(note) = drift.note() {
        notes.push(note);
    }
    let unstable_note = drift
        .spread()
        .filter(|&spread| spread > config.max_control_spread)
        .map(|spread| {
            format!(
                "the machine was not stable during the runs: the controls' shifts spread over {:.1}% (interquartile), more than the {:.0}% allowed (max_control_spread); wall-time verdicts are advisory, instruction counts still gate; re-run on a quiet machine",
                spread * 100.0,
                config.max_control_spread * 100.0
            )
        });
    let unstable = unstable_note.is_some();
    // Moot when wall time is not judged at all.
    if let Some(note) = unstable_note.filter(|_| wall_not_judged.is_none()) {
        notes.push(note);
    }
    // Rows the configuration marks advisory are not gated, so they form a family of their own
    // and do not dilute the error control of the gated rows.
    let family = pairs
        .iter()
        .filter(|p| {
            p.metric == Metric::WallTime
                && p.old.is_some()
                && p.new.is_some()
                && !config.is_advisory(p.id, p.metric)
        })
        .count();
    // Each one-sided bound at alpha/m, so the two-sided level is 2·alpha/m (kept below 1).
    let interval_alpha = (2.0 * alpha / family.max(1) as f64).min(0.999);

    let mut scratch = Scratch::default();
    let mut rows = Vec::with_capacity(pairs.len());
    // For paired wall-time rows: (row index, analysis).
    let mut wall: Vec<(usize, bool, WallAnalysis)> = Vec::with_capacity(family);
    for p in &pairs {
        let threshold = config.threshold(p.id, p.metric);
        let run_advisory = match p.metric {
            Metric::WallTime => wall_not_judged
                .map(Advisory::WallTimeNotJudged)
                .or_else(|| unstable.then_some(Advisory::Unstable))
                .or_else(|| quick.then_some(Advisory::Quick)),
            Metric::Instructions => instructions_advisory.clone(),
        };
        let unit = p.new.or(p.old).map(|b| b.unit.as_str()).unwrap_or_default();
        let mut row = Row::new(p.id, p.metric, unit, threshold);
        row.old = p.old.map(|b| b.summary);
        row.new = p.new.map(|b| b.summary);
        match (p.old, p.new) {
            (None, _) => row.verdict = Verdict::New,
            (_, None) => row.verdict = Verdict::Missing,
            (Some(o), Some(n)) => {
                let configured = config.is_advisory(p.id, p.metric);
                row.advisory = run_advisory.or(configured.then_some(Advisory::Configured));
                match p.metric {
                    Metric::Instructions => {
                        let (old_count, new_count) = (
                            median_of(&o.samples, &mut scratch.a),
                            median_of(&n.samples, &mut scratch.a),
                        );
                        let (change, verdict) =
                            count_verdict(old_count, new_count, threshold, config);
                        row.change = Some(change);
                        row.interval = Some((change, change));
                        row.verdict = verdict;
                    }
                    Metric::WallTime => {
                        let drift = if config.is_control(p.id, p.metric) {
                            0.0
                        } else {
                            drift.for_id(p.id)
                        };
                        let analysis = if drift == 0.0 {
                            analyse_wall(&o.samples, &n.samples, interval_alpha, &mut scratch)
                        } else {
                            // Judge the change relative to the controls: take the machine's
                            // drift out of the new side before the analysis.
                            let factor = (-drift).exp();
                            let adjusted: Vec<f64> = n.samples.iter().map(|x| x * factor).collect();
                            row.notes.push(RowNote::RelativeToControls {
                                drift: drift.exp_m1(),
                            });
                            analyse_wall(&o.samples, &adjusted, interval_alpha, &mut scratch)
                        };
                        row.change = Some(analysis.change);
                        row.interval = analysis.interval;
                        wall.push((rows.len(), configured, analysis));
                    }
                }
            }
        }
        rows.push(row);
    }

    // Holm within each family: gated rows, and rows the configuration marks advisory.
    let mut decided = Vec::with_capacity(wall.len());
    for family in [false, true] {
        let members: Vec<&(usize, bool, WallAnalysis)> = wall
            .iter()
            .filter(|(_, configured, _)| *configured == family)
            .collect();
        let slower = stats::holm(
            &members
                .iter()
                .map(|(_, _, a)| a.p_slower)
                .collect::<Vec<_>>(),
            alpha,
        );
        let faster = stats::holm(
            &members
                .iter()
                .map(|(_, _, a)| a.p_faster)
                .collect::<Vec<_>>(),
            alpha,
        );
        for ((member, slower), faster) in members.into_iter().zip(slower).zip(faster) {
            decided.push(((member.0, &member.2), slower, faster));
        }
    }
    for ((index, analysis), slower, faster) in decided {
        let row = &mut rows[index];
        let threshold = row.threshold;
        let beyond = analysis.change.abs() > threshold;
        row.verdict = match analysis.interval {
            Some((lo, _)) if slower && lo > threshold => Verdict::Regressed,
            Some((_, hi)) if faster && hi < -threshold => Verdict::Improved,
            _ if beyond => Verdict::Inconclusive,
            _ => Verdict::Unchanged,
        };
        if analysis.interval.is_none() {
            let (n_old, n_new) = (row.old.map_or(0, |s| s.n), row.new.map_or(0, |s| s.n));
            row.notes.push(RowNote::TooFewSamples {
                old: n_old,
                new: n_new,
            });
        }
    }

    Comparison {
        mode: Mode::OneRunPerSide,
        rows,
        notes,
        gate: None,
    }
}

/// One `(id, metric)` with whichever sides have it.
struct Pair<'a> {
    id: &'a str,
    metric: Metric,
    old: Option<&'a Benchmark>,
    new: Option<&'a Benchmark>,
}

/// Pairs the benchmarks of both runs by `(id, metric)`, sorted. Runs are normally sorted
/// already; sorting references here keeps the result right for any order.
fn pair<'a>(old: &'a Run, new: &'a Run) -> Vec<Pair<'a>> {
    let key = |b: &&'a Benchmark| (b.id.as_str(), b.metric);
    let sorted = |run: &'a Run| {
        let mut v: Vec<&'a Benchmark> = run.benchmarks.iter().collect();
        v.sort_by(|a, b| key(a).cmp(&key(b)));
        v
    };
    let (old, new) = (sorted(old), sorted(new));
    let mut out = Vec::with_capacity(old.len().max(new.len()));
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) => key(o).cmp(&key(n)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let (o, n) = match order {
            Ordering::Less => (old.get(i).copied(), None),
            Ordering::Greater => (None, new.get(j).copied()),
            Ordering::Equal => (old.get(i).copied(), new.get(j).copied()),
        };
        i += usize::from(o.is_some());
        j += usize::from(n.is_some());
        let b = o.or(n).expect("one side is present");
        // A duplicate (id, metric) within one run (rejected by `store::validate`) would pair
        // with nothing and show up as its own row; no panic either way.
        out.push(Pair {
            id: b.id.as_str(),
            metric: b.metric,
            old: o,
            new: n,
        });
    }
    out
}

/// Why the wall times of `old` and `new` cannot be judged against each other, if they cannot:
/// they must come from the same host and boot, or neither run records a machine (imported
/// criterion output, which is judged as the user asks).
fn wall_time_not_judged(old: &RunMeta, new: &RunMeta) -> Option<HostDifference> {
    match (&old.machine, &new.machine) {
        (None, None) => None,
        (Some(a), Some(b)) => a.wall_time_difference(b),
        _ => Some(HostDifference::Unknown),
    }
}

/// Reusable buffers for a whole comparison.
#[derive(Default)]
struct Scratch {
    a: Vec<f64>,
    b: Vec<f64>,
    shift: stats::ShiftScratch,
}

/// The rule for exact counts, shared by every comparison: the change is `new / old − 1` (an old
/// count of 0 counts as 1, and 0 → 0 is no change); `Regressed`/`Improved` as soon as it passes
/// the threshold, unless fewer than `instructions_min_delta` instructions moved: a tiny
/// benchmark cannot resolve a few instructions of code-layout shift (a 197-instruction hit
/// moved by one, 0.5 %, when an unrelated crate was linked into its binary).
pub fn count_verdict(old: f64, new: f64, threshold: f64, config: &Config) -> (f64, Verdict) {
    let change = if old == 0.0 {
        if new == 0.0 { 0.0 } else { new - 1.0 }
    } else {
        finite(new / old - 1.0)
    };
    let verdict = if (old - new).abs() < config.instructions_min_delta {
        Verdict::Unchanged
    } else if change > threshold {
        Verdict::Regressed
    } else if change < -threshold {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    };
    (change, verdict)
}

/// The median of `xs`, selected in `buf`.
fn median_of(xs: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend_from_slice(xs);
    let n = buf.len();
    let hi = *buf.select_nth_unstable_by(n / 2, f64::total_cmp).1;
    if n % 2 == 1 {
        hi
    } else {
        let lo = buf[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        lo + (hi - lo) / 2.0
    }
}

/// The machine's drift between the two runs, as the controls measured it: the median log
/// shift of the controls in each group (an id up to its last `/`), and over all controls.
#[derive(Debug, Default)]
struct Drift {
    by_group: std::collections::BTreeMap<String, f64>,
    overall: Option<f64>,
    n_controls: usize,
    /// Every control's log shift, sorted.
    shifts: Vec<f64>,
}

/// Fewer controls than this are too few to judge whether the machine was stable.
const MIN_CONTROLS_FOR_SPREAD: usize = 8;

/// Fewer controls than this across the suite are too few to judge a benchmark that has none in
/// its own group.
const MIN_CONTROLS_OVERALL: usize = 3;

impl Drift {
    fn measure(pairs: &[Pair<'_>], config: &Config, scratch: &mut Scratch) -> Drift {
        let mut shifts: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        let mut all = Vec::new();
        for p in pairs {
            let (Some(o), Some(n)) = (p.old, p.new) else {
                continue;
            };
            if p.metric != Metric::WallTime || !config.is_control(p.id, p.metric) {
                continue;
            }
            let analysis = analyse_wall(&o.samples, &n.samples, 0.5, scratch);
            let shift = analysis.change.ln_1p();
            shifts
                .entry(group_of(p.id).to_string())
                .or_default()
                .push(shift);
            all.push(shift);
        }
        let n_controls = all.len();
        let mut sorted = all.clone();
        sorted.sort_by(f64::total_cmp);
        Drift {
            shifts: sorted,
            by_group: shifts
                .into_iter()
                .map(|(group, mut values)| (group, median(&mut values)))
                .collect(),
            overall: (n_controls >= MIN_CONTROLS_OVERALL).then(|| median(&mut all)),
            n_controls,
        }
    }

    /// The log drift that applies to a benchmark: its group's controls, else all controls,
    /// else none.
    fn for_id(&self, id: &str) -> f64 {
        self.by_group
            .get(group_of(id))
            .copied()
            .or(self.overall)
            .unwrap_or(0.0)
    }

    fn note(&self) -> Option<String> {
        let overall = self.overall?;
        Some(format!(
            "{} controls moved by a median of {:+.1}% between the runs (machine drift); wall-time changes of the other benchmarks are judged relative to the controls of their group, or to all controls",
            self.n_controls,
            overall.exp_m1() * 100.0
        ))
    }

    /// The interquartile range of the controls' log shifts, when there are enough controls to
    /// tell: a stable machine moves them together, a machine under bursty load scatters them.
    fn spread(&self) -> Option<f64> {
        (self.shifts.len() >= MIN_CONTROLS_FOR_SPREAD).then(|| {
            let quantile = |q: f64| {
                let pos = q * (self.shifts.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                self.shifts[lo] + (self.shifts[hi] - self.shifts[lo]) * (pos - lo as f64)
            };
            quantile(0.75) - quantile(0.25)
        })
    }
}

fn group_of(id: &str) -> &str {
    id.rsplit_once('/').map_or("", |(group, _)| group)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The numbers the wall-time decision needs for one benchmark.
#[derive(Debug, Clone, Copy)]
struct WallAnalysis {
    change: f64,
    interval: Option<(f64, f64)>,
    p_slower: f64,
    p_faster: f64,
}

fn analyse_wall(old: &[f64], new: &[f64], interval_alpha: f64, s: &mut Scratch) -> WallAnalysis {
    // Ranks do not change under ln, so Mann–Whitney runs on the raw times.
    let (p_slower, p_faster) = stats::mann_whitney_p_values(old, new);
    // A zero time has no logarithm: floor it at half the smallest positive time of either side
    // (all zero on both sides: every log is 0, no change).
    let floor = old
        .iter()
        .chain(new)
        .copied()
        .filter(|&x| x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor / 2.0 } else { 1.0 };
    let ln = |xs: &[f64], buf: &mut Vec<f64>| {
        buf.clear();
        buf.extend(xs.iter().map(|&x| x.max(floor).ln()));
    };
    ln(old, &mut s.a);
    ln(new, &mut s.b);
    let shift = stats::shift_analysis(&s.a, &s.b, interval_alpha, &mut s.shift);
    let relative = |x: f64| finite(x.exp_m1());
    WallAnalysis {
        change: relative(shift.estimate),
        interval: shift.interval.map(|(lo, hi)| (relative(lo), relative(hi))),
        p_slower,
        p_faster,
    }
}

/// Keeps a ratio finite (an absurd ratio such as 1e300 over 1e-300 would overflow).
fn finite(x: f64) -> f64 {
    x.clamp(f64::MIN, f64::MAX)
}
