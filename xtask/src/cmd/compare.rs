//! `cargo xtask bench compare BASE [HEAD]`: the pull-request gate. Both revisions are checked
//! out and built, their benchmarks run interleaved on this machine, and the paired rounds
//! decided (see `paired.rs`).
//!
//! The steps, in order:
//! 1. resolve both revisions (git2), check out the base, build it; then the head. Both builds
//!    share one target folder (`compare/target`: dependencies compile once), and each side's
//!    executables are copied to `compare/bin/<side>/` so the other build cannot replace them;
//! 2. decide what the change can affect (`changes.rs`): wall-time rounds only for benchmarks of
//!    affected packages and not marked advisory (`--all` measures every one);
//! 3. instruction counts: each iai-callgrind target once per side; for counts that moved, the
//!    callgrind profiles of both sides name the functions that changed most;
//! 4. wall time: rounds; in each round the benchmarks run in a fresh random order and a coin
//!    decides which side goes first; one criterion invocation per benchmark and side (`--exact`),
//!    its per-round statistic recorded. After the first round the number of rounds is fitted to
//!    the time budget; benchmarks the first pass leaves undecided get confirmation rounds with
//!    what the budget has left;
//! 5. the results file, the decision, the reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use regex::Regex;

use crate::changes::{self, Affected};
use crate::cmd::{ReportOptions, emit};
use crate::config::Config;
use crate::discover::{self, Harness};
use crate::measure::{self, CriterionSettings, Side, Targets};
use crate::paired::{
    self, CountResult, Failure, GateResults, OneSided, RoundPair, RoundStatistic, RoundValues,
    SideName, SkipReason, Skipped, Timing, WallResult,
};
use crate::run::{self, Built};
use crate::shard::{self, Shard};
use crate::stats::SplitMix64;
use crate::worktree::{self, Checkouts, Source};
use crate::{calibration, callgrind, criterion, iai, meta, workdir};

/// Options of `compare`.
#[derive(Debug, Default, Clone)]
pub struct CompareOptions {
    pub base: String,
    /// `None`: the working tree.
    pub head: Option<String>,
    pub filter: Option<String>,
    pub rounds: Option<usize>,
    pub shard: Option<Shard>,
    /// Measure wall time for every benchmark, affected or not.
    pub all: bool,
    pub seed: Option<u64>,
    /// Minutes.
    pub time_budget: Option<f64>,
    /// Seconds of one round's criterion warm-up and measurement.
    pub warm_up_time: Option<f64>,
    pub measurement_time: Option<f64>,
    /// Both sides of a round at once, each pinned to a core of its own (bench.toml's
    /// [compare] parallel when `None`).
    pub parallel: Option<bool>,
    /// Keep every round's samples in the results.
    pub keep_samples: bool,
    /// One criterion process per side and executable in each round, instead of one per
    /// benchmark: setup and start-up paid once per executable ([compare] batch when `None`).
    pub batch: Option<bool>,
    /// How a round's samples become its value ([compare] statistic when `None`).
    pub statistic: Option<RoundStatistic>,
    /// BASE and HEAD are one commit: build it once and run the same executables on both
    /// sides (an A/A gate of one build).
    pub same_build: bool,
    /// Extra environment of the head side's benchmarks only (for injected slowdowns).
    pub head_env: Vec<(String, String)>,
    pub results: Option<PathBuf>,
    pub reports: ReportOptions,
}

/// How many functions the callgrind diff lists.
const TOP_FUNCTIONS: usize = 10;

/// The share of the time budget kept for confirmation rounds when the first pass is planned.
const RERUN_RESERVE: f64 = 0.25;

pub fn compare(root: &Path, options: &CompareOptions) -> anyhow::Result<bool> {
    let started = Instant::now();
    let metadata = discover::metadata(root)?;
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let _lock = workdir::lock(&target_dir)?;
    let mut config = Config::load(&root.join("bench.toml"))?;
    let machine = meta::collect(root).machine;
    let calibration_note = calibration::apply(root, machine.as_ref(), &mut config)?;
    let filter = measure::compile_filter(options.filter.as_deref())?;
    let mut settings = config.compare.clone();
    if let Some(rounds) = options.rounds {
        if rounds < paired::MIN_ROUNDS {
            bail!(
                "--rounds {rounds}: at least {} rounds are needed to judge a benchmark",
                paired::MIN_ROUNDS
            );
        }
        settings.rounds = rounds;
    }
    if let Some(minutes) = options.time_budget {
        if !(minutes.is_finite() && minutes > 0.0) {
            bail!("--time-budget must be a positive number of minutes, got {minutes}");
        }
        settings.time_budget = minutes * 60.0;
    }
    for (flag, value, slot) in [
        (
            "--warm-up-time",
            options.warm_up_time,
            &mut settings.warm_up_time,
        ),
        (
            "--measurement-time",
            options.measurement_time,
            &mut settings.measurement_time,
        ),
    ] {
        if let Some(seconds) = value {
            if !(seconds.is_finite() && seconds > 0.0) {
                bail!("{flag} must be a positive number of seconds, got {seconds}");
            }
            *slot = seconds;
        }
    }
    settings.batch = options.batch.unwrap_or(settings.batch);
    settings.statistic = options.statistic.unwrap_or(settings.statistic);
    let one_core = std::thread::available_parallelism().map_or(1, |n| n.get()) < 2;
    match options.parallel {
        Some(true) if one_core => {
            bail!("--parallel needs two cores, one per side; this machine has one")
        }
        Some(parallel) => settings.parallel = parallel,
        // bench.toml's choice, where the machine can follow it.
        None if one_core && settings.parallel => {
            eprintln!("compare: one core: the sides run in turn ([compare] parallel needs two)");
            settings.parallel = false;
        }
        None => {}
    }
    let seed = options.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });

    // 1. The sides.
    let repo = worktree::open(root)?;
    let prefix = worktree::workspace_prefix(&repo, root)?;
    let (base_oid, base) = worktree::resolve(&repo, &options.base)?;
    let (head_source, head) = match &options.head {
        Some(spec) => {
            let (oid, revision) = worktree::resolve(&repo, spec)?;
            (Source::Commit(oid), revision)
        }
        None => (Source::WorkingTree, worktree::working_tree(&repo)?),
    };
    if options.same_build && (head.commit != base.commit || head.dirty) {
        bail!(
            "--same-build runs one build on both sides, but {} and {} differ",
            base.label(),
            head.label()
        );
    }
    let changed = worktree::changed_files(&repo, base_oid, head_source)?;
    let dir = workdir::compare_dir(&target_dir);
    let checkout_of = |side: SideName| dir.join(side.to_string());
    let _checkouts = Checkouts::new(vec![
        checkout_of(SideName::Base),
        checkout_of(SideName::Head),
        dir.join("out"),
    ])?;
    let build_target = dir.join("target");
    eprintln!("compare: base {} → head {}", base.label(), head.label());
    let base_side = build_side(
        &repo,
        Source::Commit(base_oid),
        SideName::Base,
        &checkout_of(SideName::Base),
        &prefix,
        &target_dir,
        &build_target,
        &dir,
        &config,
    )?;
    let mut head_side = if options.same_build {
        base_side.clone()
    } else {
        build_side(
            &repo,
            head_source,
            SideName::Head,
            &checkout_of(SideName::Head),
            &prefix,
            &target_dir,
            &build_target,
            &dir,
            &config,
        )?
    };
    head_side
        .env
        .extend(options.head_env.iter().map(|(k, v)| (k.into(), v.into())));
    let build_seconds = started.elapsed().as_secs_f64();

    // 2. What to measure.
    let affected = match options.all || options.same_build {
        true => Affected::Everything {
            because: if options.all { "--all" } else { "--same-build" }.to_string(),
        },
        false => {
            let head_root = checkout_of(SideName::Head).join(&prefix);
            let head_metadata = discover::metadata(&head_root)?;
            let repo_root = checkout_of(SideName::Head);
            let repo_root = repo_root.canonicalize().unwrap_or(repo_root);
            changes::affected(
                &changes::packages(&head_metadata, &repo_root),
                &changed,
                &settings.ignore,
            )?
        }
    };
    let mut failures = Vec::new();
    let mut one_sided = Vec::new();
    let mut skipped = Vec::new();
    let base_ids = list_ids(&base_side, SideName::Base, filter.as_ref(), &mut failures);
    let head_ids = list_ids(&head_side, SideName::Head, filter.as_ref(), &mut failures);
    // id → (target name, package) on each side.
    let mut wall_plan: Vec<String> = Vec::new();
    for (id, (package, _)) in &head_ids {
        if !base_ids.contains_key(id) {
            one_sided.push(OneSided {
                id: id.clone(),
                metric: crate::model::Metric::WallTime,
                side: SideName::Head,
            });
            continue;
        }
        if !affected.contains(package) {
            skipped.push(Skipped {
                id: id.clone(),
                reason: SkipReason::NotAffected,
            });
        } else if config.is_advisory(id, crate::model::Metric::WallTime) && !options.all {
            skipped.push(Skipped {
                id: id.clone(),
                reason: SkipReason::Advisory,
            });
        } else {
            wall_plan.push(id.clone());
        }
    }
    for id in base_ids.keys().filter(|id| !head_ids.contains_key(*id)) {
        one_sided.push(OneSided {
            id: id.clone(),
            metric: crate::model::Metric::WallTime,
            side: SideName::Base,
        });
    }
    let per_invocation = settings.warm_up_time + settings.measurement_time + 0.5;
    let listing_home = dir.join("out").join("list");
    let mut iai_targets: Vec<String> = base_side
        .iai_selected(filter.as_ref(), &listing_home)?
        .into_iter()
        .chain(head_side.iai_selected(filter.as_ref(), &listing_home)?)
        .map(|b| b.target.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if failures.is_empty() {
        // (A side whose listing failed is reported as such, not as a filter matching nothing.)
        head_side.ensure_selected(
            options.filter.as_deref(),
            base_ids.len() + head_ids.len(),
            iai_targets.len(),
        )?;
    }
    if let Some(shard) = options.shard {
        let costs: Vec<(String, f64)> = wall_plan
            .iter()
            .map(|id| {
                (
                    format!("wall:{id}"),
                    2.0 * per_invocation * settings.rounds as f64,
                )
            })
            .chain(iai_targets.iter().map(|t| (format!("iai:{t}"), 60.0)))
            .collect();
        let items: Vec<(&str, f64)> = costs.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        let assigned = shard::assign(&items, shard.count);
        let mine: BTreeSet<&str> = items
            .iter()
            .zip(&assigned)
            .filter(|(_, s)| **s + 1 == shard.index)
            .map(|(item, _)| item.0)
            .collect();
        wall_plan.retain(|id| mine.contains(format!("wall:{id}").as_str()));
        iai_targets.retain(|t| mine.contains(format!("iai:{t}").as_str()));
        // Reported once, by the first shard.
        if shard.index != 1 {
            skipped.clear();
            one_sided.clear();
        }
    }
    match &affected {
        Affected::Everything { because } => eprintln!(
            "compare: wall time for all {} benchmarks ({because} affects every package)",
            wall_plan.len()
        ),
        Affected::Packages(packages) => eprintln!(
            "compare: wall time for {} benchmarks of the changed packages ({}); {} others not measured",
            wall_plan.len(),
            if packages.is_empty() {
                "none".to_string()
            } else {
                packages.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            skipped.len()
        ),
    }

    // 3. Instruction counts.
    let measure_started = Instant::now();
    let out = dir.join("out");
    let mut instructions = Vec::new();
    if !iai_targets.is_empty() {
        let bar = run::progress_bar(2 * iai_targets.len() as u64);
        bar.set_message("instruction counts");
        let mut homes = BTreeMap::new();
        for (side_name, side) in [(SideName::Base, &base_side), (SideName::Head, &head_side)] {
            let home = out.join(side_name.to_string()).join("iai");
            workdir::fresh_dir(&home)?;
            for built in side.iai().filter(|b| iai_targets.contains(&b.target.name)) {
                if let Err(error) = side.run_iai(built, &home, &bar) {
                    let what = format!("{}/{}", built.target.package, built.target.name);
                    record_failure(&mut failures, side_name, what, error)?;
                }
                bar.inc(1);
            }
            homes.insert(side_name, home);
        }
        bar.finish_and_clear();
        instructions = read_counts(
            &homes[&SideName::Base],
            &homes[&SideName::Head],
            filter.as_ref(),
            &config,
            &mut one_sided,
        )?;
    }

    // 4. Wall time in rounds.
    let mut rng = SplitMix64::new(seed);
    let mut wall: BTreeMap<String, WallResult> = wall_plan
        .iter()
        .map(|id| {
            (
                id.clone(),
                WallResult {
                    id: id.clone(),
                    rounds: Vec::new(),
                    rerun: Vec::new(),
                },
            )
        })
        .collect();
    let criterion_settings = CriterionSettings {
        quick: false,
        warm_up_time: Some(settings.warm_up_time),
        measurement_time: Some(settings.measurement_time),
        sample_size: None,
        extra: ["--nresamples", "1000"].map(String::from).to_vec(),
    };
    let sides = Sides {
        base: &base_side,
        head: &head_side,
        base_ids: &base_ids,
        head_ids: &head_ids,
        scratch: out.join("criterion"),
        settings: &criterion_settings,
        statistic: settings.statistic,
        parallel: settings.parallel,
        keep_samples: options.keep_samples,
        batch: settings.batch,
        exclusive: wall_plan
            .iter()
            .filter(|id| config.is_exclusive(id))
            .cloned()
            .collect(),
    };
    let mut rounds = settings.rounds;
    let mut broken: BTreeSet<String> = BTreeSet::new();
    let wall_started = Instant::now();
    if !wall_plan.is_empty() {
        let bar = run::progress_bar((2 * wall_plan.len() * rounds) as u64);
        let mut round = 0;
        while round < rounds {
            let round_started = Instant::now();
            let label = format!("round {}/{rounds}", round + 1);
            let measured = run_round(
                &sides,
                &wall_plan,
                &label,
                &mut rng,
                &bar,
                &mut broken,
                &mut failures,
                |id, pair| wall.get_mut(id).expect("planned").rounds.push(pair),
            )?;
            round += 1;
            if round == 1 {
                // Fit the rounds to the budget: what is left after the builds and this round,
                // less a reserve for confirmation rounds.
                let per_round = round_started.elapsed().as_secs_f64().max(1e-3);
                let left = settings.time_budget - started.elapsed().as_secs_f64();
                let fit = ((left * (1.0 - RERUN_RESERVE)) / per_round).floor() as usize + 1;
                let fitted = fit.clamp(paired::MIN_ROUNDS, rounds);
                if fitted < rounds {
                    eprintln!(
                        "compare: {rounds} rounds would take {:.1} min more; measuring {fitted} to stay within the {:.0}-minute budget",
                        per_round * (rounds - 1) as f64 / 60.0,
                        settings.time_budget / 60.0
                    );
                    rounds = fitted;
                }
                bar.set_length((2 * measured * rounds) as u64);
            }
        }
        bar.finish_and_clear();

        // Confirmation rounds for what the first pass left undecided.
        let undecided: Vec<String> = wall
            .values()
            .filter(|w| !broken.contains(&w.id))
            .filter(|w| {
                let d = paired::log_ratios(&w.rounds);
                paired::needs_rerun(&d, config.threshold(&w.id, crate::model::Metric::WallTime))
            })
            .map(|w| w.id.clone())
            .collect();
        if !undecided.is_empty() {
            let per_benchmark_round =
                wall_started.elapsed().as_secs_f64() / (wall_plan.len() * rounds).max(1) as f64;
            let left = settings.time_budget - started.elapsed().as_secs_f64();
            let fit = (left / (per_benchmark_round * undecided.len() as f64)).floor() as usize;
            let rerun_rounds = fit.min(settings.rerun_rounds);
            if rerun_rounds >= paired::MIN_ROUNDS {
                eprintln!(
                    "compare: {} benchmarks past their threshold without a decision; {rerun_rounds} confirmation rounds",
                    undecided.len()
                );
                let bar = run::progress_bar((2 * undecided.len() * rerun_rounds) as u64);
                for round in 0..rerun_rounds {
                    run_round(
                        &sides,
                        &undecided,
                        &format!("confirmation {}/{rerun_rounds}", round + 1),
                        &mut rng,
                        &bar,
                        &mut broken,
                        &mut failures,
                        |id, pair| wall.get_mut(id).expect("planned").rerun.push(pair),
                    )?;
                }
                bar.finish_and_clear();
            } else {
                eprintln!(
                    "compare: {} benchmarks past their threshold without a decision, but the time budget has no room for confirmation rounds; they stay inconclusive",
                    undecided.len()
                );
            }
        }
    }
    // A benchmark that failed on a side is reported as a failure, not judged on partial rounds.
    let wall: Vec<WallResult> = wall
        .into_values()
        .filter(|w| !broken.contains(&w.id))
        .collect();

    // 5. Results, decision, reports.
    let results = GateResults {
        schema_version: paired::RESULTS_SCHEMA_VERSION,
        base,
        head,
        machine,
        shard: options.shard,
        seed,
        statistic: settings.statistic,
        head_env: options
            .head_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        wall,
        instructions,
        one_sided,
        skipped,
        failures,
        timing: Timing {
            build_seconds,
            measure_seconds: measure_started.elapsed().as_secs_f64(),
            total_seconds: started.elapsed().as_secs_f64(),
            rounds,
        },
    };
    paired::write(&dir.join("results.json"), &results)?;
    if let Some(path) = &options.results {
        paired::write(path, &results)?;
    }
    if results.wall.is_empty()
        && results.instructions.is_empty()
        && (!results.failures.is_empty() || results.one_sided.is_empty())
    {
        let first = results
            .failures
            .first()
            .map(|f| format!(": {} on {}: {}", f.what, f.side, f.message))
            .unwrap_or_default();
        bail!(
            "nothing could be compared between {} and {}{first}",
            results.base.label(),
            results.head.label()
        );
    }
    let mut comparison = paired::decide(&results, &config);
    comparison.notes.push(calibration_note);
    emit(&comparison, &options.reports)?;
    Ok(comparison.failed())
}

/// One round of `ids` (those not failed yet): a fresh random order of units (one benchmark
/// each, or with `batch` the benchmarks of one executable together), a coin per unit for which
/// side runs first; each measured pair goes to `push`. A unit that fails on a side is recorded
/// for each of its benchmarks, which are left out of later rounds. Returns how many
/// benchmarks were run.
#[allow(clippy::too_many_arguments)]
fn run_round(
    sides: &Sides<'_>,
    ids: &[String],
    label: &str,
    rng: &mut SplitMix64,
    bar: &indicatif::ProgressBar,
    broken: &mut BTreeSet<String>,
    failures: &mut Vec<Failure>,
    mut push: impl FnMut(&str, RoundPair),
) -> anyhow::Result<usize> {
    let live = ids.iter().filter(|id| !broken.contains(*id));
    let mut units: Vec<Vec<&str>> = if sides.batch {
        let mut by_executable: BTreeMap<(usize, usize, bool), Vec<&str>> = BTreeMap::new();
        for id in live {
            by_executable
                .entry((
                    sides.base_ids[id].1,
                    sides.head_ids[id].1,
                    sides.exclusive.contains(id),
                ))
                .or_default()
                .push(id);
        }
        by_executable.into_values().collect()
    } else {
        live.map(|id| vec![id.as_str()]).collect()
    };
    rng.shuffle(&mut units);
    let mut measured = 0;
    for unit in &units {
        measured += unit.len();
        bar.set_message(format!("{label} {}", unit[0]));
        match sides.round(unit, rng.coin(), bar) {
            Ok(pairs) => {
                for (id, pair) in unit.iter().zip(pairs) {
                    push(id, pair);
                }
            }
            Err((side, error)) => {
                let message = format!("{error:#}");
                for id in unit {
                    record_failure(failures, side, id.to_string(), anyhow::anyhow!("{message}"))?;
                    broken.insert(id.to_string());
                }
            }
        }
    }
    Ok(measured)
}

/// Records a benchmark's failure on one side; after Ctrl-C the error ends the gate instead.
fn record_failure(
    failures: &mut Vec<Failure>,
    side: SideName,
    what: String,
    error: anyhow::Error,
) -> anyhow::Result<()> {
    if run::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(error);
    }
    failures.push(Failure {
        side,
        what,
        message: format!("{error:#}"),
    });
    Ok(())
}

/// Checks out and builds one side; its executables are copied to `compare/bin/<side>/`.
#[allow(clippy::too_many_arguments)]
fn build_side(
    repo: &git2::Repository,
    source: Source,
    name: SideName,
    checkout: &Path,
    prefix: &Path,
    target_dir: &Path,
    build_target: &Path,
    dir: &Path,
    config: &Config,
) -> anyhow::Result<Side> {
    eprintln!("compare: checking out {name} into {}", checkout.display());
    worktree::checkout(repo, source, checkout)?;
    let root = checkout.join(prefix);
    let metadata = discover::metadata(&root)?;
    let targets = Targets::discover(&metadata, target_dir)?;
    eprintln!(
        "compare: building {name} ({} benchmark targets)",
        targets.targets.len()
    );
    let built = run::build(
        &root,
        &targets.targets,
        &targets.build_env(),
        Some(build_target),
    )
    .with_context(|| format!("building the {name} side failed"))?;
    let bin = dir.join("bin").join(name.to_string());
    workdir::fresh_dir(&bin)?;
    let mut copied = Vec::new();
    for b in built {
        let file = format!("{}-{}", b.target.package, b.target.name);
        let to = bin.join(file);
        std::fs::copy(&b.executable, &to).with_context(|| {
            format!("cannot copy {} to {}", b.executable.display(), to.display())
        })?;
        copied.push(Built {
            target: b.target,
            executable: to,
        });
    }
    Ok(Side {
        built: copied,
        runner: targets.runner,
        env: config.env.clone(),
    })
}

/// id → (package, index into the side's built targets), for the criterion ids of a side. A
/// target that cannot list its benchmarks is recorded as failed.
fn list_ids(
    side: &Side,
    name: SideName,
    filter: Option<&Regex>,
    failures: &mut Vec<Failure>,
) -> BTreeMap<String, (String, usize)> {
    let mut ids = BTreeMap::new();
    for (index, built) in side.built.iter().enumerate() {
        if built.target.harness != Harness::Criterion {
            continue;
        }
        match run::list_criterion(built, &side.env) {
            Ok(listed) => {
                for id in listed {
                    if filter.is_none_or(|f| f.is_match(&id)) {
                        ids.insert(id, (built.target.package.clone(), index));
                    }
                }
            }
            Err(error) => failures.push(Failure {
                side: name,
                what: format!("{}/{}", built.target.package, built.target.name),
                message: format!("{error:#}"),
            }),
        }
    }
    ids
}

/// Both sides, ready to run one benchmark each.
struct Sides<'a> {
    base: &'a Side,
    head: &'a Side,
    base_ids: &'a BTreeMap<String, (String, usize)>,
    head_ids: &'a BTreeMap<String, (String, usize)>,
    scratch: PathBuf,
    settings: &'a CriterionSettings,
    statistic: RoundStatistic,
    parallel: bool,
    keep_samples: bool,
    batch: bool,
    /// Benchmarks that need the whole machine (`exclusive`): their sides never run at once.
    exclusive: BTreeSet<String>,
}

impl Sides<'_> {
    /// One round of a unit of benchmarks (of one executable): both sides, in the order the
    /// coin says, or with `--parallel` at once, each pinned to a core of its own (the coin then
    /// picks which side gets which core) unless the unit is `exclusive`. The pairs come in the
    /// order of `unit`.
    fn round(
        &self,
        unit: &[&str],
        head_first: bool,
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<RoundPair>, (SideName, anyhow::Error)> {
        let order = if head_first {
            [SideName::Head, SideName::Base]
        } else {
            [SideName::Base, SideName::Head]
        };
        let mut values = [None, None];
        let parallel = self.parallel && !unit.iter().any(|id| self.exclusive.contains(*id));
        if parallel {
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = order
                    .iter()
                    .enumerate()
                    .map(|(cpu, &name)| {
                        scope.spawn(move || (name, self.once(name, unit, Some(cpu), bar)))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a side's thread does not panic"))
                    .collect()
            });
            for (name, result) in results {
                values[usize::from(name == SideName::Head)] = Some(result.map_err(|e| (name, e))?);
            }
        } else {
            for name in order {
                let value = self.once(name, unit, None, bar).map_err(|e| (name, e))?;
                values[usize::from(name == SideName::Head)] = Some(value);
            }
        }
        let [base, head] = values.map(|v| v.expect("both sides ran"));
        Ok(base
            .into_iter()
            .zip(head)
            .map(|((base, base_samples), (head, head_samples))| RoundPair {
                base: base.get(self.statistic),
                head: head.get(self.statistic),
                head_first,
                parallel,
                values: Some([base, head]),
                samples: self.keep_samples.then_some([base_samples, head_samples]),
            })
            .collect())
    }

    /// One criterion run of `unit` (benchmarks of one executable) on side `name`, on core
    /// `cpu` if given: one benchmark by its exact id, several by an anchored alternation.
    fn once(
        &self,
        name: SideName,
        unit: &[&str],
        cpu: Option<usize>,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<Vec<(RoundValues, Vec<f64>)>> {
        let (side, ids) = match name {
            SideName::Base => (self.base, self.base_ids),
            SideName::Head => (self.head, self.head_ids),
        };
        let built = &side.built[ids[unit[0]].1];
        let scratch = self.scratch.join(name.to_string());
        workdir::fresh_dir(&scratch)?;
        let selection = match unit {
            [id] => (id.to_string(), true),
            _ => (
                format!(
                    "^({})$",
                    unit.iter()
                        .map(|id| regex::escape(id))
                        .collect::<Vec<_>>()
                        .join("|")
                ),
                false,
            ),
        };
        side.run_criterion(
            built,
            self.settings,
            Some((&selection.0, selection.1)),
            &scratch,
            cpu,
            bar,
        )?;
        let run = criterion::read_dir(&scratch, "new")?;
        unit.iter()
            .map(|id| {
                let benchmark = run
                    .benchmarks
                    .iter()
                    .find(|b| b.id == *id)
                    .with_context(|| format!("benchmark {id} wrote no measurements"))?;
                Ok((
                    RoundValues::of(&benchmark.samples),
                    benchmark.samples.clone(),
                ))
            })
            .collect()
    }
}

/// Pairs the instruction counts of both sides and explains those that moved.
fn read_counts(
    base_home: &Path,
    head_home: &Path,
    filter: Option<&Regex>,
    config: &Config,
    one_sided: &mut Vec<OneSided>,
) -> anyhow::Result<Vec<CountResult>> {
    let read = |home: &Path| -> anyhow::Result<BTreeMap<String, (f64, PathBuf)>> {
        if !home.exists() {
            return Ok(BTreeMap::new());
        }
        Ok(iai::benchmark_dirs(home)?
            .into_iter()
            .filter(|(b, _)| filter.is_none_or(|f| f.is_match(&b.id)))
            .map(|(b, dir)| (b.id, (b.summary.median, dir)))
            .collect())
    };
    let (base, head) = (read(base_home)?, read(head_home)?);
    let mut results = Vec::new();
    for (id, (count, dir)) in &head {
        let Some((base_count, base_dir)) = base.get(id) else {
            one_sided.push(OneSided {
                id: id.clone(),
                metric: crate::model::Metric::Instructions,
                side: SideName::Head,
            });
            continue;
        };
        let threshold = config.threshold(id, crate::model::Metric::Instructions);
        let moved = (count - base_count).abs() >= config.instructions_min_delta
            && (count / base_count.max(1.0) - 1.0).abs() > threshold;
        let functions = if moved {
            match (
                callgrind::read_benchmark(base_dir),
                callgrind::read_benchmark(dir),
            ) {
                (Ok(old), Ok(new)) => Some(callgrind::diff(&old, &new, TOP_FUNCTIONS)),
                (Err(error), _) | (_, Err(error)) => {
                    eprintln!("note: cannot explain {id}: {error:#}");
                    None
                }
            }
        } else {
            None
        };
        results.push(CountResult {
            id: id.clone(),
            base: *base_count,
            head: *count,
            functions,
        });
    }
    for id in base.keys().filter(|id| !head.contains_key(*id)) {
        one_sided.push(OneSided {
            id: id.clone(),
            metric: crate::model::Metric::Instructions,
            side: SideName::Base,
        });
    }
    Ok(results)
}
