//! `cargo xtask bench backfill RANGE`: measures past commits now and appends them to this
//! machine class's history file (see `backfill.rs` for the walk and its resume rule).
//!
//! Each commit is checked out into `target/xtask-bench/<command>/checkout` and built into one
//! target folder (`target/xtask-bench/<command>/target`), so consecutive commits build
//! incrementally; the iai-callgrind runner of the commit's iai-callgrind version comes from
//! `target/iai-callgrind-runner/<version>/` (installed once per version).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::bail;
use git2::{Oid, Repository};
use regex::Regex;

use crate::backfill::{self, Measurer, Selection};
use crate::bisect::short;
use crate::changes::{self, Package};
use crate::config::Config;
use crate::discover::{self, Harness};
use crate::measure::{self, CriterionSettings, Side, Targets};
use crate::model::{Benchmark, Machine, Run, RunMeta, SCHEMA_VERSION};
use crate::worktree::{self, Checkouts, Source};
use crate::{history, meta, run, workdir};

/// Options of `backfill`.
#[derive(Debug, Default, Clone)]
pub struct BackfillOptions {
    /// `FROM..TO` or one revision (from the root commit).
    pub range: String,
    pub filter: Option<String>,
    /// The history folder (`baselines/history` by default).
    pub history: Option<PathBuf>,
    /// Criterion benchmarks too, not only instruction counts.
    pub wall_time: bool,
    /// Skip commits whose change cannot affect a benchmark.
    pub only_changed: bool,
}

pub fn backfill(root: &Path, options: &BackfillOptions) -> anyhow::Result<bool> {
    let repo = worktree::open(root)?;
    let commits = backfill::commits(&repo, &options.range)?;
    if commits.is_empty() {
        bail!(
            "range {:?} holds no commits (FROM..TO lists the commits reachable from TO and not from FROM); check the order of the revisions",
            options.range
        );
    }
    let config = Config::load(&root.join("bench.toml"))?;
    let filter = measure::compile_filter(options.filter.as_deref())?;
    let class = Machine::detect().class();
    let dir = crate::cmd::history::dir(root, options.history.as_deref());
    let file = history::path(&dir, &class);
    let metadata = discover::metadata(root)?;
    let repo_root = repo
        .workdir()
        .map(|dir| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
        .unwrap_or_else(|| root.to_path_buf());
    let harnesses: BTreeSet<String> = discover::bench_targets(&metadata)
        .into_iter()
        .filter(|target| options.wall_time || target.harness == Harness::IaiCallgrind)
        .map(|target| target.package)
        .collect();
    eprintln!(
        "backfill: {} commits of {} into {}",
        commits.len(),
        options.range,
        file.display()
    );
    let mut measurer = CommitMeasurer {
        runner: CommitRunner::new(
            root,
            &repo,
            "backfill",
            options.wall_time,
            options.filter.clone(),
            &config,
        )?,
        packages: changes::packages(&metadata, &repo_root),
        bench_packages: harnesses,
        ignore: config.compare.ignore.clone(),
    };
    let selection = Selection {
        filter,
        wall_time: options.wall_time,
    };
    let summary = backfill::backfill(
        &repo,
        &commits,
        &file,
        &selection,
        options.only_changed,
        &mut measurer,
    )?;
    eprintln!("{}", summary.line());
    if summary.recorded.is_empty() && summary.present.is_empty() && !summary.failed.is_empty() {
        bail!(
            "none of the {} commits of {} could be measured; see the messages above",
            summary.failed.len(),
            options.range
        );
    }
    Ok(false)
}

/// The real [`Measurer`]: a checkout, a build and a run per commit; what a change affects from
/// the current workspace's packages (a file outside them, or in a folder that is no package
/// now, affects everything, so old layouts err on measuring).
struct CommitMeasurer<'a> {
    runner: CommitRunner<'a>,
    packages: Vec<Package>,
    /// The packages with benchmarks of the selected harnesses.
    bench_packages: BTreeSet<String>,
    ignore: Vec<String>,
}

impl Measurer for CommitMeasurer<'_> {
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Run>> {
        let Some((benchmarks, meta)) = self.runner.run(commit)? else {
            return Ok(None);
        };
        Ok(Some(Run {
            schema_version: SCHEMA_VERSION,
            meta,
            benchmarks,
        }))
    }

    fn affects_benchmarks(&mut self, commit: Oid) -> anyhow::Result<bool> {
        let repo = self.runner.repo;
        let Some(parent) = repo.find_commit(commit)?.parent_ids().next() else {
            return Ok(true);
        };
        let changed = worktree::changed_files(repo, parent, Source::Commit(commit))?;
        let affected = changes::affected(&self.packages, &changed, &self.ignore)?;
        Ok(self
            .bench_packages
            .iter()
            .any(|package| affected.contains(package)))
    }
}

/// Checks out, builds and runs the benchmarks of one commit after another, in folders of one
/// command (`target/xtask-bench/<name>/`), holding the harness's lock.
pub(crate) struct CommitRunner<'a> {
    pub(crate) repo: &'a Repository,
    name: &'static str,
    prefix: PathBuf,
    /// The workspace's target folder: the iai-callgrind runners live there.
    target_dir: PathBuf,
    dir: PathBuf,
    wall_time: bool,
    filter_text: Option<String>,
    filter: Option<Regex>,
    env: Vec<(OsString, OsString)>,
    /// The commit in the checkout folder.
    checked_out: Option<Oid>,
    _checkouts: Checkouts,
    _lock: workdir::RunLock,
}

impl<'a> CommitRunner<'a> {
    /// A runner for the commits of `repo` (the repository of the workspace at `root`):
    /// iai-callgrind benchmarks, and with `wall_time` criterion ones; `filter` selects ids.
    pub(crate) fn new(
        root: &Path,
        repo: &'a Repository,
        name: &'static str,
        wall_time: bool,
        filter: Option<String>,
        config: &Config,
    ) -> anyhow::Result<CommitRunner<'a>> {
        let metadata = discover::metadata(root)?;
        let target_dir = metadata.target_directory.as_std_path().to_path_buf();
        let lock = workdir::lock(&target_dir)?;
        let dir = workdir::work_dir(&target_dir).join(name);
        let checkouts = Checkouts::new(vec![dir.join("checkout"), dir.join("out")])?;
        Ok(CommitRunner {
            repo,
            name,
            prefix: worktree::workspace_prefix(repo, root)?,
            target_dir,
            dir,
            wall_time,
            filter: measure::compile_filter(filter.as_deref())?,
            filter_text: filter,
            env: config.env.clone(),
            checked_out: None,
            _checkouts: checkouts,
            _lock: lock,
        })
    }

    /// The benchmarks of `commit` the filter selects and the run's metadata (naming the
    /// commit); `None` when the commit does not build or its benchmarks fail (said on stderr).
    pub(crate) fn run(&mut self, commit: Oid) -> anyhow::Result<Option<(Vec<Benchmark>, RunMeta)>> {
        let checkout = self.dir.join("checkout");
        self.check_out(commit, &checkout)?;
        let root = checkout.join(&self.prefix);
        let started = Instant::now();
        let benchmarks = match self.build(&root) {
            Ok(Some(side)) => {
                let build_seconds = started.elapsed().as_secs_f64();
                let started = Instant::now();
                let benchmarks = match self.execute(&side) {
                    Ok(benchmarks) => benchmarks,
                    Err(error) => return self.failed(commit, "cannot run its benchmarks", error),
                };
                eprintln!(
                    "{}: {} built in {build_seconds:.0} s, {} benchmarks measured in {:.0} s",
                    self.name,
                    short(commit),
                    benchmarks.len(),
                    started.elapsed().as_secs_f64()
                );
                benchmarks
            }
            Ok(None) => {
                eprintln!(
                    "{}: {} has no {} benchmarks",
                    self.name,
                    short(commit),
                    if self.wall_time {
                        "criterion or iai-callgrind"
                    } else {
                        "iai-callgrind"
                    }
                );
                Vec::new()
            }
            Err(error) => return self.failed(commit, "does not build", error),
        };
        // The checkout is not a repository of its own: the git state is the commit's, not
        // that of the repository around the target folder.
        let mut meta = meta::collect(&root);
        meta.commit = Some(commit.to_string());
        meta.branch = None;
        meta.dirty = Some(false);
        Ok(Some((benchmarks, meta)))
    }

    /// Checks `commit` out into `checkout`: from the previous commit by writing only what
    /// differs (so cargo rebuilds only the packages that changed), otherwise in full.
    fn check_out(&mut self, commit: Oid, checkout: &Path) -> anyhow::Result<()> {
        if let Some(previous) = self.checked_out.take()
            && checkout.exists()
        {
            match worktree::update_checkout(self.repo, previous, commit, checkout) {
                Ok(()) => {
                    self.checked_out = Some(commit);
                    return Ok(());
                }
                Err(error) => eprintln!(
                    "{}: checking {} out in full: {error:#}",
                    self.name,
                    short(commit)
                ),
            }
        }
        worktree::checkout(self.repo, Source::Commit(commit), checkout)?;
        self.checked_out = Some(commit);
        Ok(())
    }

    /// A commit that cannot be measured is skipped, unless Ctrl-C caused it.
    fn failed<T>(
        &self,
        commit: Oid,
        what: &str,
        error: anyhow::Error,
    ) -> anyhow::Result<Option<T>> {
        if run::INTERRUPTED.load(Ordering::SeqCst) {
            return Err(error);
        }
        eprintln!("{}: {} {what}: {error:#}", self.name, short(commit));
        Ok(None)
    }

    /// The built side; `None` when the commit has no benchmarks of the selected harnesses.
    fn build(&self, root: &Path) -> anyhow::Result<Option<Side>> {
        let metadata = discover::metadata(root)?;
        let harnesses = |target: &discover::BenchTarget| {
            target.harness == Harness::IaiCallgrind
                || (self.wall_time && target.harness == Harness::Criterion)
        };
        if !discover::bench_targets(&metadata).iter().any(harnesses) {
            return Ok(None);
        }
        let mut targets = Targets::discover(&metadata, &self.target_dir)?;
        targets.targets.retain(harnesses);
        if targets.targets.is_empty() {
            // iai-callgrind targets only, and no valgrind (Targets::discover said so).
            return Ok(None);
        }
        let mut side = Side::build(root, &targets, Some(&self.dir.join("target")))?;
        side.env = self.env.clone();
        Ok(Some(side))
    }

    fn execute(&self, side: &Side) -> anyhow::Result<Vec<Benchmark>> {
        let out = self.dir.join("out");
        workdir::fresh_dir(&out)?;
        let criterion_home = out.join("criterion");
        let iai_home = out.join("iai");
        let listed = side.list(self.filter.as_ref())?;
        let iai = side.iai_selected(self.filter.as_ref(), &out.join("list"))?;
        // Only the homes of harnesses that run exist: an empty one is an error to the readers.
        if !listed.is_empty() {
            workdir::fresh_dir(&criterion_home)?;
        }
        if !iai.is_empty() {
            workdir::fresh_dir(&iai_home)?;
        }
        side.run_selected(
            &listed,
            &iai,
            &CriterionSettings::default(),
            self.filter_text.as_deref(),
            &criterion_home,
            &iai_home,
        )?;
        measure::read(&criterion_home, &iai_home, self.filter.as_ref())
    }
}
