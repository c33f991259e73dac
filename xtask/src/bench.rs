//! The commands: `bench` (run, record, compare, report), `diff`, `accept`.
//!
//! Each returns whether the gate failed (`Ok(true)` means at least one regression); errors
//! mean the harness could not do its job. `main.rs` maps these to exit codes 1 and 2.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::compare::{Comparison, compare};
use crate::config::Config;
use crate::discover::{self, Harness};
use crate::model::{Acceptance, Metric, Run, SCHEMA_VERSION};
use crate::run::{self, Invocation};
use crate::{criterion, iai, meta, report, store};

/// Options of `cargo xtask bench`.
#[derive(Debug, Default)]
pub struct BenchOptions {
    pub filter: Option<String>,
    pub quick: bool,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
}

/// Where the reports go, shared by `bench` and `diff`.
#[derive(Debug, Default)]
pub struct ReportOptions {
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
}

/// The harness's working folder inside the target directory.
fn work_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("xtask-bench")
}

/// The file the last complete run is written to; `accept` reads it.
pub fn latest_run_path(target_dir: &Path) -> PathBuf {
    work_dir(target_dir).join("latest.json")
}

/// The committed baseline for a machine class.
pub fn baseline_path(root: &Path, machine_class: &str) -> PathBuf {
    root.join("baselines").join(format!("{machine_class}.json"))
}

/// Holds the harness's lock file: two runs at once would overwrite each other's output.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock in `target_dir`, or explains who holds it.
pub fn lock(target_dir: &Path) -> anyhow::Result<RunLock> {
    let dir = work_dir(target_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `cargo xtask bench` is running in this workspace (it holds {}); wait for it to finish",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// `cargo xtask bench`: discover, build, run, record, compare with the committed baseline of
/// this machine, report.
pub fn bench(root: &Path, options: &BenchOptions) -> anyhow::Result<bool> {
    let metadata = discover::metadata(root)?;
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let _lock = lock(&target_dir)?;
    let config = Config::load(&root.join("bench.toml"))?;
    let filter = options
        .filter
        .as_deref()
        .map(|filter| {
            regex::Regex::new(filter)
                .with_context(|| format!("--filter {filter:?} is not a valid regular expression"))
        })
        .transpose()?;

    let mut targets = discover::bench_targets(&metadata);
    for target in targets.iter().filter(|t| t.harness == Harness::Other) {
        eprintln!(
            "note: skipping bench {}/{}: neither criterion nor iai-callgrind",
            target.package, target.name
        );
    }
    targets.retain(|t| t.harness != Harness::Other);
    let mut runner = None;
    if targets.iter().any(|t| t.harness == Harness::IaiCallgrind) {
        if !iai::valgrind_available() {
            eprintln!(
                "note: valgrind not found: instruction counts skipped (install valgrind to gate on them)"
            );
            targets.retain(|t| t.harness != Harness::IaiCallgrind);
        } else {
            let version = iai::required_version(&metadata)
                .context("iai-callgrind benches found but the iai-callgrind package is not in the dependency graph")?;
            runner = Some(iai::ensure_runner(&target_dir, &version)?);
        }
    }
    if targets.is_empty() {
        bail!(
            "no benchmarks found in {}: add [[bench]] targets",
            root.display()
        );
    }

    let build_env: Vec<(std::ffi::OsString, std::ffi::OsString)> = match &runner {
        Some(runner) => vec![("IAI_CALLGRIND_RUNNER".into(), runner.clone().into())],
        None => Vec::new(),
    };
    let built = run::build(root, &targets, &build_env)?;
    let work = work_dir(&target_dir);
    let criterion_home = work.join("criterion");
    let iai_home = work.join("iai");
    for dir in [&criterion_home, &iai_home] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
    }
    let mut plan = Vec::new();
    let mut total = 0u64;
    for built in &built {
        match built.target.harness {
            Harness::Criterion => {
                let ids = run::list_criterion(built, options.filter.as_deref())?;
                if !ids.is_empty() {
                    total += ids.len() as u64;
                    plan.push(built);
                }
            }
            Harness::IaiCallgrind => {
                total += 1;
                plan.push(built);
            }
            Harness::Other => {}
        }
    }
    let bar = run::progress_bar(total);
    for built in plan {
        match built.target.harness {
            Harness::Criterion => {
                let mut args: Vec<std::ffi::OsString> = vec!["--bench".into(), "--noplot".into()];
                if options.quick {
                    args.extend(
                        [
                            "--quick",
                            "--warm-up-time",
                            "0.2",
                            "--measurement-time",
                            "0.5",
                        ]
                        .map(Into::into),
                    );
                }
                if let Some(filter) = &options.filter {
                    args.push(filter.into());
                }
                run::execute(
                    &Invocation {
                        built,
                        args,
                        env: vec![("CRITERION_HOME".into(), criterion_home.clone().into())],
                        env_remove: Vec::new(),
                        progress_mark: Some("time:"),
                    },
                    &bar,
                )?;
            }
            Harness::IaiCallgrind => {
                let runner = runner
                    .as_deref()
                    .expect("a runner is ensured for iai benches");
                run::execute(
                    &Invocation {
                        built,
                        args: iai::bench_args().into_iter().map(Into::into).collect(),
                        env: iai::bench_command_env(runner, &iai_home),
                        env_remove: iai::interfering_env_vars(),
                        progress_mark: None,
                    },
                    &bar,
                )?;
                bar.inc(1);
            }
            Harness::Other => {}
        }
    }
    bar.finish_and_clear();

    let mut benchmarks = Vec::new();
    if criterion_home.exists() {
        benchmarks.extend(criterion::read_dir(&criterion_home, "new")?.benchmarks);
    }
    if iai_home.exists() {
        benchmarks.extend(iai::read_summaries(&iai_home)?);
    }
    if let Some(filter) = &filter {
        benchmarks.retain(|b| filter.is_match(&b.id));
    }
    let mut meta = meta::collect(root);
    meta.filter = options.filter.clone();
    meta.quick = options.quick;
    let run = Run {
        schema_version: SCHEMA_VERSION,
        meta,
        benchmarks,
    };
    store::write_run(&latest_run_path(&target_dir), &run)?;

    let machine = run.meta.machine.clone().unwrap_or_default();
    let class = meta::machine_class(&machine);
    let baseline_file = baseline_path(root, &class);
    if !baseline_file.exists() {
        if options.filter.is_some() || options.quick {
            eprintln!(
                "no baseline for this machine ({}) and this was a {} run: nothing to compare, nothing recorded as baseline; run `cargo xtask bench` without flags to create it",
                baseline_file.display(),
                if options.quick { "--quick" } else { "--filter" }
            );
            return Ok(false);
        }
        let mut baseline = run.clone();
        baseline.meta.accepted = Some(Acceptance {
            reason: "first run on this machine class".to_string(),
            time: meta::rfc3339(std::time::SystemTime::now()),
        });
        store::write_run(&baseline_file, &baseline)?;
        eprintln!(
            "no baseline for this machine yet: recorded this run ({} benchmarks) as {}; commit it",
            run.benchmarks.len(),
            baseline_file.display()
        );
        return Ok(false);
    }
    let mut baseline = store::read_run(&baseline_file)?;
    if let Some(filter) = &filter {
        baseline.benchmarks.retain(|b| filter.is_match(&b.id));
    }
    let mut comparison = compare(&baseline, &run, &config);
    if options.quick {
        for row in comparison
            .rows
            .iter_mut()
            .filter(|r| r.metric == Metric::WallTime)
        {
            row.advisory = true;
        }
        comparison.notes.push(
            "quick mode: wall times were measured briefly, so their verdicts are advisory"
                .to_string(),
        );
    }
    comparison
        .notes
        .push(format!("baseline: {}", baseline_file.display()));
    emit(
        &comparison,
        &ReportOptions {
            json: options.json.clone(),
            markdown: options.markdown.clone(),
        },
    )?;
    Ok(comparison.failed())
}

/// Prints the terminal table and writes the requested reports.
pub fn emit(comparison: &Comparison, options: &ReportOptions) -> anyhow::Result<()> {
    print!("{}", report::terminal(comparison, report::color_enabled()));
    if let Some(path) = &options.json {
        write_report(path, &report::json(comparison))?;
    }
    let markdown = report::markdown(comparison);
    if let Some(path) = &options.markdown {
        write_report(path, &markdown)?;
    }
    report::write_step_summary(&markdown)?;
    Ok(())
}

fn write_report(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))
}

/// Reads one side of a `diff`: a run file, a criterion output folder (its `new` baseline), or
/// `FOLDER:NAME` for a named criterion baseline inside one.
pub fn load_side(spec: &str) -> anyhow::Result<Run> {
    let path = Path::new(spec);
    if path.is_file() {
        return store::read_run(path);
    }
    if path.is_dir() {
        return criterion::read_dir(path, "new");
    }
    if let Some((dir, baseline)) = spec.rsplit_once(':')
        && Path::new(dir).is_dir()
    {
        return criterion::read_dir(Path::new(dir), baseline);
    }
    bail!(
        "{spec} not found: pass a run file, a criterion folder such as target/criterion, or FOLDER:BASELINE"
    )
}

/// `cargo xtask bench diff OLD NEW`.
pub fn diff(
    root: &Path,
    old: &str,
    new: &str,
    threshold: Option<f64>,
    reports: &ReportOptions,
) -> anyhow::Result<bool> {
    let mut config = Config::load(&root.join("bench.toml"))?;
    if let Some(threshold) = threshold {
        if !(threshold.is_finite() && threshold >= 0.0) {
            bail!("--threshold must be a non-negative percentage, got {threshold}");
        }
        config = config.with_threshold(threshold / 100.0);
    }
    let old_run = load_side(old)?;
    let new_run = load_side(new)?;
    let comparison = compare(&old_run, &new_run, &config);
    emit(&comparison, reports)?;
    Ok(comparison.failed())
}

/// `cargo xtask bench accept --reason`: makes a run (the latest by default) the committed
/// baseline of its machine class, recording why. Returns the baseline's path.
pub fn accept(root: &Path, reason: &str, run_file: Option<&Path>) -> anyhow::Result<PathBuf> {
    if reason.trim().is_empty() {
        bail!("--reason must say why this run becomes the baseline");
    }
    let metadata = discover::metadata(root)?;
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let _lock = lock(&target_dir)?;
    let path = match run_file {
        Some(path) => path.to_path_buf(),
        None => latest_run_path(&target_dir),
    };
    if !path.exists() {
        bail!(
            "no run to accept at {}: run `cargo xtask bench` first or pass --run FILE",
            path.display()
        );
    }
    let mut run = store::read_run(&path)?;
    if let Some(filter) = &run.meta.filter {
        bail!(
            "{} was made with --filter {filter:?} and holds only some benchmarks; accept a full run",
            path.display()
        );
    }
    if run.meta.quick {
        bail!(
            "{} is a --quick smoke run, too short to be a baseline; accept a full run",
            path.display()
        );
    }
    if run.benchmarks.is_empty() {
        bail!("{} holds no benchmarks; nothing to accept", path.display());
    }
    run.meta.accepted = Some(Acceptance {
        reason: reason.trim().to_string(),
        time: meta::rfc3339(std::time::SystemTime::now()),
    });
    let class = meta::machine_class(&run.meta.machine.clone().unwrap_or_default());
    let baseline_file = baseline_path(root, &class);
    store::write_run(&baseline_file, &run)?;
    Ok(baseline_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_at_once_is_refused_with_the_lock_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let error = format!("{:#}", lock(dir.path()).unwrap_err());
        assert!(
            error.contains("another `cargo xtask bench` is running"),
            "{error}"
        );
        assert!(error.contains("lock"), "{error}");
        drop(first);
        lock(dir.path()).unwrap();
    }

    #[test]
    fn load_side_explains_what_it_accepts() {
        let error = format!("{:#}", load_side("/nonexistent/run.json").unwrap_err());
        assert!(error.contains("/nonexistent/run.json not found"), "{error}");
    }
}
