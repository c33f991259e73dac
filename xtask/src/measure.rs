//! The step every command shares: find the benchmarks of a workspace, build them, run a
//! built side with given settings, and read what it wrote into benchmarks.
//!
//! `bench` measures one side once; `compare` builds two sides (base and head) and runs them in
//! interleaved rounds, one criterion benchmark at a time. Both go through [`Side`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use regex::Regex;

use crate::discover::{self, BenchTarget, Harness};
use crate::model::Benchmark;
use crate::run::{self, Built, Invocation};
use crate::{criterion, iai};

/// The bench targets of a workspace and the iai-callgrind runner they need.
#[derive(Debug, Clone)]
pub struct Targets {
    pub targets: Vec<BenchTarget>,
    /// Set when there are iai-callgrind targets and valgrind is installed.
    pub runner: Option<PathBuf>,
}

impl Targets {
    /// Finds the criterion and iai-callgrind targets of the workspace described by
    /// `metadata`, installing the runner into `target_dir` when needed. Targets of neither
    /// harness are skipped with a note; without valgrind the iai-callgrind targets are too.
    pub fn discover(
        metadata: &cargo_metadata::Metadata,
        target_dir: &Path,
    ) -> anyhow::Result<Targets> {
        let mut targets = discover::bench_targets(metadata);
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
                let version = iai::required_version(metadata).context(
                    "iai-callgrind benches found but the iai-callgrind package is not in the dependency graph",
                )?;
                runner = Some(iai::ensure_runner(target_dir, &version)?);
            }
        }
        if targets.is_empty() {
            bail!(
                "no benchmarks found in {}: add [[bench]] targets",
                metadata.workspace_root
            );
        }
        Ok(Targets { targets, runner })
    }

    /// The environment the build needs: iai-callgrind benches compile in their runner's path.
    pub fn build_env(&self) -> Vec<(OsString, OsString)> {
        match &self.runner {
            Some(runner) => vec![(iai::RUNNER_ENV.into(), runner.clone().into())],
            None => Vec::new(),
        }
    }
}

/// One built side: its executables, the runner, and the environment its benchmarks run with.
#[derive(Debug, Clone)]
pub struct Side {
    pub built: Vec<Built>,
    pub runner: Option<PathBuf>,
    /// Extra variables for every benchmark process (bench.toml's `[env]`).
    pub env: Vec<(OsString, OsString)>,
}

/// How criterion measures: its defaults (a full run), or shorter settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CriterionSettings {
    /// criterion's `--quick`: stop sampling once the estimate is stable.
    pub quick: bool,
    pub warm_up_time: Option<f64>,
    pub measurement_time: Option<f64>,
    pub sample_size: Option<usize>,
    /// Further criterion arguments (`--nresamples`, `--significance-level`, ...).
    pub extra: Vec<String>,
}

impl CriterionSettings {
    /// `bench --quick`: a smoke run that still exercises every stage.
    pub fn smoke() -> CriterionSettings {
        CriterionSettings {
            quick: true,
            warm_up_time: Some(0.2),
            measurement_time: Some(0.5),
            sample_size: None,
            extra: Vec::new(),
        }
    }

    /// The command-line arguments for a criterion executable.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--bench".into(), "--noplot".into()];
        if self.quick {
            args.push("--quick".into());
        }
        if let Some(seconds) = self.warm_up_time {
            args.extend(["--warm-up-time".into(), seconds.to_string().into()]);
        }
        if let Some(seconds) = self.measurement_time {
            args.extend(["--measurement-time".into(), seconds.to_string().into()]);
        }
        if let Some(n) = self.sample_size {
            args.extend(["--sample-size".into(), n.to_string().into()]);
        }
        args.extend(self.extra.iter().map(Into::into));
        args
    }
}

/// A criterion executable and the ids it holds that the filter selects.
#[derive(Debug, Clone)]
pub struct Listed<'a> {
    pub built: &'a Built,
    pub ids: Vec<String>,
}

impl Side {
    /// Builds `targets` of the workspace at `root` (one cargo invocation), into `target_dir`
    /// instead of the workspace's own target folder when given.
    pub fn build(
        root: &Path,
        targets: &Targets,
        target_dir: Option<&Path>,
    ) -> anyhow::Result<Side> {
        let built = run::build(root, &targets.targets, &targets.build_env(), target_dir)?;
        Ok(Side {
            built,
            runner: targets.runner.clone(),
            env: Vec::new(),
        })
    }

    /// The criterion targets with the ids each would run under `filter` (targets with none
    /// left out).
    pub fn list(&self, filter: Option<&Regex>) -> anyhow::Result<Vec<Listed<'_>>> {
        let mut listed = Vec::new();
        for built in self.criterion() {
            let mut ids = run::list_criterion(built, &self.env)?;
            if let Some(filter) = filter {
                ids.retain(|id| filter.is_match(id));
            }
            if !ids.is_empty() {
                listed.push(Listed { built, ids });
            }
        }
        Ok(listed)
    }

    /// Refuses a `--filter` that selected nothing on this side, naming it and an id of this
    /// workspace it could match instead, rather than running nothing and failing later on an
    /// empty output folder.
    pub fn ensure_selected(
        &self,
        filter: Option<&str>,
        criterion_ids: usize,
        iai_targets: usize,
    ) -> anyhow::Result<()> {
        let Some(filter) = filter else {
            return Ok(());
        };
        if criterion_ids > 0 || iai_targets > 0 {
            return Ok(());
        }
        let example = self
            .list(None)?
            .into_iter()
            .find_map(|listed| listed.ids.into_iter().next())
            .or_else(|| self.iai().next().map(|b| format!("{}::…", b.target.name)));
        match example {
            Some(example) => anyhow::bail!(
                "--filter {filter:?} matches no benchmark of this workspace (ids look like `{example}`); check the regular expression"
            ),
            None => anyhow::bail!(
                "--filter {filter:?} matches no benchmark: this workspace has no benchmarks"
            ),
        }
    }

    pub fn criterion(&self) -> impl Iterator<Item = &Built> {
        self.built
            .iter()
            .filter(|b| b.target.harness == Harness::Criterion)
    }

    pub fn iai(&self) -> impl Iterator<Item = &Built> {
        self.built
            .iter()
            .filter(|b| b.target.harness == Harness::IaiCallgrind)
    }

    /// Runs one criterion executable with `settings`, writing under `home`. `selection` is
    /// criterion's filter argument: a regular expression, or with `exact` one id.
    pub fn run_criterion(
        &self,
        built: &Built,
        settings: &CriterionSettings,
        selection: Option<(&str, bool)>,
        home: &Path,
        cpu: Option<usize>,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        let mut args = settings.args();
        if let Some((selection, exact)) = selection {
            if exact {
                args.push("--exact".into());
            }
            args.push(selection.into());
        }
        let mut env = self.env.clone();
        env.push(("CRITERION_HOME".into(), home.into()));
        run::execute(
            &Invocation {
                built,
                args,
                env,
                env_remove: Vec::new(),
                progress_mark: Some("time:"),
                cpu,
            },
            bar,
        )
    }

    /// The iai-callgrind executables that hold a benchmark `filter` selects (all of them
    /// without a filter), in order.
    ///
    /// iai-callgrind 0.16.1 cannot run only some benchmarks of an executable: its runner's
    /// only filter (the `BENCHNAME` argument or `IAI_CALLGRIND_FILTER`,
    /// `src/runner/args.rs` line 559) is a substring test (line 939) on the bench *target*
    /// name (`src/runner/mod.rs` line 255, `src/runner/meta.rs` line 92), never on a
    /// benchmark's id. So the choice is per executable: each one lists its benchmarks
    /// (`--list`, which needs no valgrind), and it runs when the filter matches at least one
    /// of their ids (`bench_target::group::function/case`, as [`iai::read_summaries`] names
    /// them). The other benchmarks of a chosen executable run too, and are dropped from the
    /// results by [`read`].
    pub fn iai_selected(&self, filter: Option<&Regex>, home: &Path) -> anyhow::Result<Vec<&Built>> {
        let Some(filter) = filter else {
            return Ok(self.iai().collect());
        };
        let mut selected = Vec::new();
        for built in self.iai() {
            let entries = run::list_iai(&self.iai_invocation(built, home, iai::list_args())?)?;
            if entries
                .iter()
                .any(|entry| filter.is_match(&iai::id_of_list_entry(entry)))
            {
                selected.push(built);
            }
        }
        Ok(selected)
    }

    fn iai_invocation<'a>(
        &self,
        built: &'a Built,
        home: &Path,
        args: Vec<String>,
    ) -> anyhow::Result<Invocation<'a>> {
        let runner = self
            .runner
            .as_deref()
            .context("iai-callgrind benchmarks need valgrind and the runner")?;
        let mut env = self.env.clone();
        env.extend(iai::bench_command_env(runner, home));
        Ok(Invocation {
            built,
            args: args.into_iter().map(Into::into).collect(),
            env,
            env_remove: iai::interfering_env_vars(),
            progress_mark: None,
            cpu: None,
        })
    }

    /// Runs one iai-callgrind executable under valgrind, writing under `home`.
    pub fn run_iai(&self, built: &Built, home: &Path, bar: &ProgressBar) -> anyhow::Result<()> {
        run::execute(&self.iai_invocation(built, home, iai::bench_args())?, bar)
    }

    /// Runs every listed criterion executable (its benchmarks selected by `filter`, a regex,
    /// not exact) and then every selected iai-callgrind executable, one after the other, under
    /// one progress bar: what `bench` and `backfill` measure of a side.
    pub fn run_selected(
        &self,
        listed: &[Listed<'_>],
        iai: &[&Built],
        settings: &CriterionSettings,
        filter: Option<&str>,
        criterion_home: &Path,
        iai_home: &Path,
    ) -> anyhow::Result<()> {
        let total = listed.iter().map(|l| l.ids.len() as u64).sum::<u64>() + iai.len() as u64;
        let bar = run::progress_bar(total);
        for target in listed {
            self.run_criterion(
                target.built,
                settings,
                filter.map(|f| (f, false)),
                criterion_home,
                None,
                &bar,
            )?;
        }
        for built in iai {
            self.run_iai(built, iai_home, &bar)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(())
    }
}

/// Reads what the benchmarks wrote under `criterion_home` and `iai_home` (either may be
/// absent), keeping the ids `filter` selects.
pub fn read(
    criterion_home: &Path,
    iai_home: &Path,
    filter: Option<&Regex>,
) -> anyhow::Result<Vec<Benchmark>> {
    let mut benchmarks = Vec::new();
    if criterion_home.exists() {
        benchmarks.extend(criterion::read_dir(criterion_home, "new")?.benchmarks);
    }
    if iai_home.exists() {
        benchmarks.extend(iai::read_summaries(iai_home)?);
    }
    if let Some(filter) = filter {
        benchmarks.retain(|b| filter.is_match(&b.id));
    }
    Ok(benchmarks)
}

/// Compiles `--filter`, naming it when it is not a regular expression.
pub fn compile_filter(filter: Option<&str>) -> anyhow::Result<Option<Regex>> {
    filter
        .map(|filter| {
            Regex::new(filter)
                .with_context(|| format!("--filter {filter:?} is not a valid regular expression"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An iai-callgrind "executable" that lists `entries` and fails on anything but `--list`.
    #[cfg(unix)]
    fn fake_iai(dir: &Path, name: &str, entries: &[&str]) -> Built {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        let mut body = String::from("#!/bin/sh\ncase \"$*\" in *--list*) ;; *) exit 3 ;; esac\n");
        for entry in entries {
            body.push_str(&format!("echo '{entry}: benchmark'\n"));
        }
        body.push_str("echo; echo '0 tests, 2 benchmarks'\n");
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Built {
            target: BenchTarget {
                package: "benches".to_string(),
                name: name.to_string(),
                harness: Harness::IaiCallgrind,
                src_path: path.clone(),
                package_dir: dir.to_path_buf(),
            },
            executable: path,
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_filter_chooses_iai_executables_by_the_ids_they_list() {
        let dir = tempfile::tempdir().unwrap();
        let side = Side {
            built: vec![
                fake_iai(
                    dir.path(),
                    "iai_cache",
                    &["iai_cache::cache::hit::one", "iai_cache::cache::miss"],
                ),
                fake_iai(
                    dir.path(),
                    "iai_batching",
                    &["iai_batching::batch::send::x100"],
                ),
            ],
            runner: Some(dir.path().join("iai-callgrind-runner")),
            env: Vec::new(),
        };
        let names = |filter: Option<&str>| -> Vec<String> {
            let filter = compile_filter(filter).unwrap();
            side.iai_selected(filter.as_ref(), dir.path())
                .unwrap()
                .iter()
                .map(|b| b.target.name.clone())
                .collect()
        };
        assert_eq!(names(None), ["iai_cache", "iai_batching"]);
        // Criterion ids start with the group, iai ids with the bench target.
        assert!(names(Some("^cache/")).is_empty());
        assert_eq!(names(Some("^iai_cache::")), ["iai_cache"]);
        assert_eq!(names(Some("hit/one$")), ["iai_cache"]);
        assert_eq!(names(Some("::miss$")), ["iai_cache"]);
        assert_eq!(names(Some("send/x100")), ["iai_batching"]);
        assert_eq!(names(Some("i")), ["iai_cache", "iai_batching"]);
    }

    #[test]
    fn list_entries_become_summary_ids() {
        for (entry, id) in [
            ("iai_cache::cache::hit::one", "iai_cache::cache::hit/one"),
            ("iai_cache::cache::miss", "iai_cache::cache::miss"),
        ] {
            assert_eq!(iai::id_of_list_entry(entry), id);
        }
    }

    #[test]
    fn settings_become_criterion_arguments() {
        let args = CriterionSettings {
            quick: true,
            warm_up_time: Some(0.5),
            measurement_time: Some(1.0),
            sample_size: Some(20),
            extra: Vec::new(),
        }
        .args();
        let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--bench",
                "--noplot",
                "--quick",
                "--warm-up-time",
                "0.5",
                "--measurement-time",
                "1",
                "--sample-size",
                "20"
            ]
        );
        assert_eq!(CriterionSettings::default().args(), ["--bench", "--noplot"]);
    }
}
