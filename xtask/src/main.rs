//! `cargo xtask`: parses the command line and dispatches; the logic lives in the library.
//!
//! Exit codes: 0 no regression, 1 at least one benchmark regressed, 2 the harness could not do
//! its job (the message says what and how to fix it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Args, Parser, Subcommand};
use xtask::cmd::bench::BenchOptions;
use xtask::cmd::{self, ReportOptions};

/// The workspace's tooling: the benchmark harness.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every benchmark, compare with the committed baseline of this machine, report.
    /// Exit 0: no regression; 1: a benchmark regressed; 2: the harness could not do its job.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(flatten)]
        run: RunArgs,
        #[command(subcommand)]
        command: Option<BenchCommand>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Only benchmarks whose id matches this regular expression (criterion ids such as
    /// `cache/get/zipf-1.0`, iai-callgrind ids such as `iai_cache::cache::hit/one`).
    /// iai-callgrind runs whole bench targets: a target runs when the regex matches one of the
    /// ids it lists, and only the matching ids are recorded.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    /// A smoke run: short measurements; still exercises every stage. Wall-time verdicts are
    /// advisory in this mode.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    reports: ReportArgs,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Also write the comparison as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write the comparison as Markdown here (for a pull-request comment).
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Also write an export for another tool; repeatable. FORMAT is `bmf` (Bencher Metric
    /// Format, for `bencher run --adapter json --file PATH`), `github-action-benchmark` (its
    /// `customSmallerIsBetter` JSON) or `junit` (JUnit XML, one test case per benchmark, a
    /// failure per regression). BMF and github-action-benchmark carry the new (head) side's
    /// measurements. Example: `--export bmf=target/bmf.json --export junit target/junit.xml`
    /// (`FORMAT=PATH` or `FORMAT PATH`).
    #[arg(long = "export", value_name = "FORMAT=PATH")]
    exports: Vec<cmd::Export>,
    /// Also draw the comparison as charts into DIR: one SVG per suite, each benchmark's change
    /// with its interval and threshold, sorted by change.
    #[arg(long, value_name = "DIR")]
    charts: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Compare two recorded runs offline, with the same rules and exit codes. OLD and NEW are
    /// run files, criterion folders (such as target/criterion), or FOLDER:BASELINE for a
    /// criterion baseline saved with --save-baseline.
    Diff {
        old: String,
        new: String,
        /// The practical threshold for every benchmark, in percent (overrides bench.toml's
        /// defaults, not its per-benchmark overrides).
        #[arg(long, value_name = "PCT")]
        threshold: Option<f64>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Read a criterion output directory (this workspace's or any other project's) into a run
    /// file, with every benchmark's raw samples.
    Import {
        /// A `target/criterion` folder, or any folder above criterion benchmark folders.
        dir: PathBuf,
        /// Which criterion baseline to read: `new` (the latest run), `base`, or a name given
        /// to `--save-baseline`.
        #[arg(long, default_value = "new")]
        baseline: String,
        /// Where to write the run file.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the imported benchmarks for another tool: `bmf`, `github-action-benchmark`
        /// or `junit`, as `FORMAT=PATH` or `FORMAT PATH`; repeatable.
        #[arg(long = "export", value_name = "FORMAT=PATH")]
        exports: Vec<cmd::Export>,
    },
    /// The pull-request gate: check out and build BASE and HEAD (default: the working tree,
    /// uncommitted changes included), run their benchmarks interleaved on this machine, and
    /// decide on the paired rounds. Instruction counts for every benchmark, wall time for those
    /// the change can affect.
    Compare {
        /// The base revision (a branch, tag or commit; on CI the merge base).
        base: String,
        /// The head revision; without it, the working tree.
        head: Option<String>,
        /// Only benchmarks whose id matches this regular expression.
        #[arg(long, value_name = "REGEX")]
        filter: Option<String>,
        /// Interleaved rounds per benchmark (bench.toml's [compare] rounds by default; fewer
        /// when the time budget demands).
        #[arg(long, value_name = "N")]
        rounds: Option<usize>,
        /// Run a deterministic part of the benchmarks, for one of N runners; `merge` combines
        /// the parts' --results files.
        #[arg(long, value_name = "K/N")]
        shard: Option<xtask::shard::Shard>,
        /// Measure wall time for every benchmark, also those the change cannot affect and the
        /// advisory peers.
        #[arg(long)]
        all: bool,
        /// The seed of the benchmark order and of which side runs first.
        #[arg(long)]
        seed: Option<u64>,
        /// Minutes for the whole gate, builds included (bench.toml's [compare] time_budget).
        #[arg(long, value_name = "MINUTES")]
        time_budget: Option<f64>,
        /// Seconds of criterion warm-up in each round (bench.toml's [compare] warm_up_time).
        #[arg(long, value_name = "SECONDS")]
        warm_up_time: Option<f64>,
        /// Seconds of criterion measurement in each round (bench.toml's [compare]
        /// measurement_time).
        #[arg(long, value_name = "SECONDS")]
        measurement_time: Option<f64>,
        /// Run both sides of a round at the same time, each pinned to a core of its own
        /// (benchmarks marked `exclusive` in bench.toml excepted); `--parallel false` runs them
        /// in turn (bench.toml's [compare] parallel).
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        parallel: Option<bool>,
        /// Keep every round's samples in the --results file (for `evaluate`).
        #[arg(long)]
        keep_samples: bool,
        /// One criterion process per side and executable in each round instead of one per
        /// benchmark (setup and start-up once per executable); `--batch false` one per
        /// benchmark (bench.toml's [compare] batch).
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        batch: Option<bool>,
        /// How a round's samples become its value: median, minimum, mean, trimmed_mean
        /// (bench.toml's [compare] statistic).
        #[arg(long)]
        statistic: Option<xtask::paired::RoundStatistic>,
        /// BASE and HEAD are one commit: build it once and run the same executables on both
        /// sides (an A/A gate of one build).
        #[arg(long)]
        same_build: bool,
        /// KEY=VALUE in the environment of the head side's benchmarks only (for example
        /// PERF_GUARD_INJECT_SLOWDOWN=0.05, a real 5 % slowdown of
        /// query_plan/plannable/parse_plan, to test the gate).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
        head_env: Vec<(String, String)>,
        /// Also write the measurements (the input of `merge`) here.
        #[arg(long, value_name = "PATH")]
        results: Option<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Decide the results files of the shards of one gate together: one report, one verdict.
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also write the merged measurements here.
        #[arg(long, value_name = "PATH")]
        results: Option<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Learn this machine's per-benchmark wall-time thresholds from A/A gates (the same
    /// commit on both sides, --all, samples kept), into baselines/calibration/<class>.json;
    /// the gate uses them on machines of that class.
    Calibrate {
        /// A/A gates to run (alternately two builds of one commit and one build twice).
        #[arg(long, default_value_t = 4)]
        runs: usize,
        /// Learn from these recorded A/A gates (`compare REV REV --all --keep-samples
        /// --results FILE`) instead of running new ones.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        from: Vec<PathBuf>,
        /// The commit the A/A gates run.
        #[arg(long, default_value = "HEAD")]
        rev: String,
        /// Only benchmarks whose id matches this regular expression.
        #[arg(long, value_name = "REGEX")]
        filter: Option<String>,
        /// Minutes per A/A gate (bench.toml's [compare] time_budget).
        #[arg(long, value_name = "MINUTES")]
        time_budget: Option<f64>,
        /// Resampled gates for each benchmark's 99th percentile.
        #[arg(long, default_value_t = 2000)]
        gates: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// How trustworthy the gate is, from recorded A/A gates (`compare REV REV --all
    /// --keep-samples --results FILE`): false alarms, power at injected slowdowns, noise by
    /// round statistic, and the one-run-per-side rules on the same data. Seconds; runs nothing.
    Evaluate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Resampled A/A gates (and gates per benchmark and slowdown for power).
        #[arg(long, default_value_t = 2000)]
        gates: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The round statistic the resampled gates decide on: median, minimum, mean,
        /// trimmed_mean (bench.toml's [compare] statistic).
        #[arg(long)]
        statistic: Option<xtask::paired::RoundStatistic>,
        /// Use the thresholds of the machine's calibration (baselines/calibration/), as the
        /// gate does; without it, bench.toml's.
        #[arg(long)]
        calibrated: bool,
        /// Write the evaluation as Markdown here.
        #[arg(long, value_name = "PATH")]
        markdown: Option<PathBuf>,
        /// Write the evaluation as JSON here.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// The benchmark history (baselines/history/<machine class>.jsonl): what `main` recorded,
    /// run by run; the input of `publish`'s charts.
    History {
        #[command(subcommand)]
        action: HistoryAction,
        /// The history folder (default: baselines/history).
        #[arg(long, value_name = "DIR", global = true)]
        history: Option<PathBuf>,
    },
    /// Measure past commits now and append them to this machine's history
    /// (<history dir>/<machine class>.jsonl): instruction counts, and with --wall-time criterion
    /// wall times. Commits already in the history are skipped (an interrupted backfill resumes),
    /// commits that do not build are reported and skipped.
    Backfill {
        /// FROM..TO: the commits reachable from TO and not from FROM, first parents only,
        /// oldest first; or one revision: from the root commit to it.
        range: String,
        /// Only benchmarks whose id matches this regular expression.
        #[arg(long, value_name = "REGEX")]
        filter: Option<String>,
        /// The history folder (default: baselines/history).
        #[arg(long, value_name = "DIR")]
        history: Option<PathBuf>,
        /// Also measure wall time (criterion benchmarks, full runs; slow).
        #[arg(long)]
        wall_time: bool,
        /// Skip commits whose change cannot affect a benchmark (documentation, CI, packages
        /// no benchmark depends on).
        #[arg(long)]
        only_changed: bool,
    },
    /// Find the first commit on the first-parent path from GOOD (exclusive) to BAD where
    /// benchmark ID regressed against GOOD, by the gate's rule: instruction counts for an
    /// iai-callgrind benchmark, an interleaved wall-time gate per commit otherwise. Commits
    /// that do not build are skipped, as `git bisect skip` does.
    Bisect {
        /// A revision where the benchmark is fine.
        good: String,
        /// A later revision where it regressed.
        bad: String,
        /// The benchmark id (`iai_cache::cache::hit/x1000`, `cache/get/zipf-1.0`).
        #[arg(long, value_name = "ID")]
        bench: String,
    },
    /// Write the history as a static site (an index, a page per benchmark with its trend
    /// chart and change points) into DIR; prints where index.html is.
    Publish {
        /// The site's folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The history folder (default: baselines/history).
        #[arg(long, value_name = "DIR")]
        history: Option<PathBuf>,
    },
    /// Make the latest run (or --run FILE) the committed baseline of its machine, recording why.
    Accept {
        /// Why these numbers are the right ones (recorded in the baseline file).
        #[arg(long)]
        reason: String,
        /// The run file to accept instead of the latest run.
        #[arg(long, value_name = "FILE")]
        run: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum HistoryAction {
    /// Append one entry per benchmark of the latest run (or --run FILE) to its machine's
    /// history; refuses runs with uncommitted changes or --quick.
    Append {
        #[arg(long, value_name = "FILE")]
        run: Option<PathBuf>,
    },
    /// List each benchmark's series: points, latest value, and benchmarks the latest run no
    /// longer has.
    Show,
    /// Rewrite history files of an older version in this version.
    Migrate,
    /// Remove the history of benchmarks whose id matches REGEX (deleted benchmarks stay until
    /// pruned).
    Prune {
        #[arg(long, value_name = "REGEX")]
        id: String,
    },
}

impl From<ReportArgs> for ReportOptions {
    fn from(args: ReportArgs) -> Self {
        ReportOptions {
            json: args.json,
            markdown: args.markdown,
            exports: args.exports,
            charts: args.charts,
        }
    }
}

fn history_command(
    root: &Path,
    action: HistoryAction,
    history: Option<&Path>,
) -> anyhow::Result<bool> {
    let dir = cmd::history::dir(root, history);
    match action {
        HistoryAction::Append { run } => {
            let file = cmd::history::append(root, &dir, run.as_deref())?;
            eprintln!("history: appended to {}", file.display());
        }
        HistoryAction::Show => print!("{}", cmd::history::show(root, &dir)?),
        HistoryAction::Migrate => {
            let changed = cmd::history::migrate(&dir)?;
            eprintln!("history: {} files migrated", changed.len());
        }
        HistoryAction::Prune { id } => {
            let removed = cmd::history::prune(&dir, &id)?;
            eprintln!("history: {removed} entries removed");
        }
    }
    Ok(false)
}

/// The workspace root: `xtask/` sits directly below it. `XTASK_WORKSPACE` points the harness
/// at another workspace (tests use it so they never touch this one's `baselines/`).
fn workspace_root() -> PathBuf {
    match std::env::var_os("XTASK_WORKSPACE") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives inside the workspace")
            .to_path_buf(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(cmd::join_export_args(std::env::args_os()));
    // The first Ctrl-C stops the benchmark in progress; nothing is recorded after it.
    let _ = ctrlc::set_handler(|| xtask::run::INTERRUPTED.store(true, Ordering::SeqCst));
    let root = workspace_root();
    let Command::Bench { run, command } = cli.command;
    let result = match command {
        None => cmd::bench::bench(
            &root,
            &BenchOptions {
                filter: run.filter,
                quick: run.quick,
                reports: run.reports.into(),
            },
        ),
        Some(BenchCommand::Diff {
            old,
            new,
            threshold,
            reports,
        }) => cmd::diff::diff(&root, &old, &new, threshold, &reports.into()),
        Some(BenchCommand::Compare {
            base,
            head,
            filter,
            rounds,
            shard,
            all,
            seed,
            time_budget,
            warm_up_time,
            measurement_time,
            parallel,
            keep_samples,
            batch,
            statistic,
            same_build,
            head_env,
            results,
            reports,
        }) => cmd::compare::compare(
            &root,
            &cmd::compare::CompareOptions {
                base,
                head,
                filter,
                rounds,
                shard,
                all,
                seed,
                time_budget,
                warm_up_time,
                measurement_time,
                parallel,
                keep_samples,
                batch,
                statistic,
                same_build,
                head_env,
                results,
                reports: reports.into(),
            },
        ),
        Some(BenchCommand::Merge {
            files,
            results,
            reports,
        }) => cmd::merge::merge(&root, &files, results.as_deref(), &reports.into()),
        Some(BenchCommand::Calibrate {
            runs,
            from,
            rev,
            filter,
            time_budget,
            gates,
            seed,
        }) => cmd::calibrate::calibrate(
            &root,
            &cmd::calibrate::CalibrateOptions {
                runs,
                from,
                revision: rev,
                filter,
                time_budget,
                gates,
                seed,
            },
        ),
        Some(BenchCommand::Evaluate {
            files,
            gates,
            seed,
            statistic,
            calibrated,
            markdown,
            json,
        }) => cmd::evaluate::evaluate(
            &root,
            &cmd::evaluate::EvaluateOptions {
                files,
                gates,
                seed,
                statistic,
                calibrated,
                markdown,
                json,
            },
        ),
        Some(BenchCommand::Backfill {
            range,
            filter,
            history,
            wall_time,
            only_changed,
        }) => cmd::backfill::backfill(
            &root,
            &cmd::backfill::BackfillOptions {
                range,
                filter,
                history,
                wall_time,
                only_changed,
            },
        ),
        Some(BenchCommand::Bisect { good, bad, bench }) => {
            cmd::bisect::bisect(&root, &cmd::bisect::BisectOptions { good, bad, bench })
        }
        Some(BenchCommand::Import {
            dir,
            baseline,
            output,
            exports,
        }) => xtask::import(&dir, &baseline, &output, &exports).map(|n_benchmarks| {
            eprintln!(
                "imported {n_benchmarks} benchmarks from {} into {}",
                dir.display(),
                output.display()
            );
            false
        }),
        Some(BenchCommand::History { action, history }) => {
            history_command(&root, action, history.as_deref())
        }
        Some(BenchCommand::Publish { out, history }) => {
            cmd::publish::publish(&root, &cmd::publish::PublishOptions { out, history })
        }
        Some(BenchCommand::Accept { reason, run }) => {
            cmd::accept::accept(&root, &reason, run.as_deref()).map(|path| {
                eprintln!("accepted as baseline: {} (reason recorded)", path.display());
                false
            })
        }
    };
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?}: give KEY=VALUE")),
    }
}
