//! `backfill`: the history of past commits, measured now. Each commit of a first-parent range
//! is measured (a [`Measurer`]: in `cmd/backfill.rs` a checkout, a build and a run) and its
//! benchmarks appended to the machine class's history file ([`crate::history`]).
//!
//! The walk resumes: a commit that already has entries in the history file for the selected
//! benchmarks is not measured again, so an interrupted backfill continues where it stopped. A
//! commit that does not build is reported and skipped; with `--only-changed`, so is a commit
//! whose change cannot affect a benchmark (see [`crate::changes`]).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use git2::{Oid, Repository};
use regex::Regex;

use crate::bisect::{first_parent_range, short};
use crate::history;
use crate::model::{Metric, Run};

/// Measures the benchmarks of one commit.
pub trait Measurer {
    /// The run of `commit`'s benchmarks (its metadata naming the commit); `None` when the
    /// commit does not build (the measurer says why on stderr).
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Run>>;

    /// Whether `commit`'s change against its first parent can change a benchmark
    /// (`--only-changed` skips the commits where it cannot).
    fn affects_benchmarks(&mut self, commit: Oid) -> anyhow::Result<bool>;
}

/// The commits of `range`, oldest first: `FROM..TO` is git's meaning with `--first-parent`
/// (reachable from TO, not from FROM; an empty side is `HEAD`), a single revision every
/// first-parent ancestor of it from the root commit.
pub fn commits(repo: &Repository, range: &str) -> anyhow::Result<Vec<Oid>> {
    let resolve = |spec: &str| -> anyhow::Result<Oid> {
        let spec = if spec.is_empty() { "HEAD" } else { spec };
        Ok(crate::worktree::resolve(repo, spec)?.0)
    };
    if range.contains("...") {
        bail!(
            "range {range:?}: a symmetric difference (A...B) has no first-parent order; give FROM..TO or one revision"
        );
    }
    match range.split_once("..") {
        Some((from, to)) => first_parent_range(repo, Some(resolve(from)?), resolve(to)?),
        None => first_parent_range(repo, None, resolve(range)?),
    }
}

/// Which benchmarks a backfill records.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: Option<Regex>,
    /// Wall time too (criterion), not only instruction counts.
    pub wall_time: bool,
}

impl Selection {
    fn selects(&self, id: &str, metric: Metric) -> bool {
        (metric == Metric::Instructions || self.wall_time)
            && self.filter.as_ref().is_none_or(|f| f.is_match(id))
    }
}

/// What a backfill did, commit by commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Measured and appended.
    pub recorded: Vec<Oid>,
    /// Already in the history file.
    pub present: Vec<Oid>,
    /// Not measured: their change cannot affect a benchmark (`--only-changed`).
    pub unchanged: Vec<Oid>,
    /// Built and ran, but no benchmark matched the selection (for example before the
    /// benchmark existed).
    pub empty: Vec<Oid>,
    /// Did not build, or their benchmarks failed.
    pub failed: Vec<Oid>,
}

impl Summary {
    /// `backfill: 3 commits recorded, 2 already in the history, 1 did not build or run (abc1234)`.
    pub fn line(&self) -> String {
        let mut parts = vec![format!(
            "{} commit{} recorded",
            self.recorded.len(),
            if self.recorded.len() == 1 { "" } else { "s" }
        )];
        if !self.present.is_empty() {
            parts.push(format!("{} already in the history", self.present.len()));
        }
        if !self.unchanged.is_empty() {
            parts.push(format!(
                "{} skipped as unchanged (--only-changed)",
                self.unchanged.len()
            ));
        }
        if !self.empty.is_empty() {
            parts.push(format!("{} without a selected benchmark", self.empty.len()));
        }
        if !self.failed.is_empty() {
            let names: Vec<String> = self.failed.iter().map(|&oid| short(oid)).collect();
            parts.push(format!(
                "{} did not build or run ({})",
                self.failed.len(),
                names.join(", ")
            ));
        }
        format!("backfill: {}", parts.join(", "))
    }
}

/// Measures each commit of `commits` (oldest first) not yet in the history file `history_file`
/// for `selection`, and appends its entries there.
pub fn backfill(
    repo: &Repository,
    commits: &[Oid],
    history_file: &Path,
    selection: &Selection,
    only_changed: bool,
    measurer: &mut dyn Measurer,
) -> anyhow::Result<Summary> {
    let done = recorded_commits(history_file, selection)?;
    let mut summary = Summary::default();
    for (index, &oid) in commits.iter().enumerate() {
        let commit = repo
            .find_commit(oid)
            .with_context(|| format!("commit {oid} is not in the repository"))?;
        let subject = commit.summary().unwrap_or("").to_string();
        let label = format!(
            "backfill: [{}/{}] {} {subject:?}",
            index + 1,
            commits.len(),
            short(oid)
        );
        if done.contains(&oid.to_string()) {
            eprintln!("{label}: already in {}", history_file.display());
            summary.present.push(oid);
            continue;
        }
        if only_changed && !measurer.affects_benchmarks(oid)? {
            eprintln!("{label}: changes nothing a benchmark depends on; skipped");
            summary.unchanged.push(oid);
            continue;
        }
        eprintln!("{label}: measuring");
        let Some(mut run) = measurer.measure(oid)? else {
            eprintln!("{label}: not measured (see above); skipped");
            summary.failed.push(oid);
            continue;
        };
        run.benchmarks
            .retain(|benchmark| selection.selects(&benchmark.id, benchmark.metric));
        let entries = history::entries_of_run(&run, &subject)
            .with_context(|| format!("cannot record commit {}", short(oid)))?;
        if entries.is_empty() {
            eprintln!("{label}: no benchmark matches the selection; nothing recorded");
            summary.empty.push(oid);
            continue;
        }
        history::append(history_file, &entries)?;
        eprintln!(
            "{label}: {} entries appended to {}",
            entries.len(),
            history_file.display()
        );
        summary.recorded.push(oid);
    }
    Ok(summary)
}

/// The commits that have at least one entry the selection covers in the history file (none
/// when there is no file yet).
fn recorded_commits(
    history_file: &Path,
    selection: &Selection,
) -> anyhow::Result<BTreeSet<String>> {
    if !history_file.exists() {
        return Ok(BTreeSet::new());
    }
    Ok(history::read(history_file)?
        .into_iter()
        .filter(|entry| selection.selects(&entry.id, entry.metric))
        .map(|entry| entry.commit)
        .collect())
}

#[cfg(test)]
mod tests;
