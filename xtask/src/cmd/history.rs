//! `cargo xtask bench history …`: append a run to the history (what CI does on `main`), show
//! what the history holds, migrate old files, prune deleted benchmarks. The format is in
//! `history.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::history;
use crate::report;
use crate::workdir::latest_run_path;
use crate::{discover, store};

/// The history folder: `--history DIR`, else `baselines/history/` of the workspace.
pub fn dir(root: &Path, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(dir) => dir.to_path_buf(),
        None => root.join("baselines").join("history"),
    }
}

/// Appends a run (the latest `cargo xtask bench` run by default) to its machine's history file;
/// returns the file.
pub fn append(root: &Path, history_dir: &Path, run_file: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match run_file {
        Some(path) => path.to_path_buf(),
        None => latest_run_path(discover::metadata(root)?.target_directory.as_std_path()),
    };
    if !path.exists() {
        bail!(
            "no run at {}: run `cargo xtask bench` first or pass --run FILE",
            path.display()
        );
    }
    let run = store::read_run(&path)?;
    if run.benchmarks.is_empty() {
        bail!("{} holds no benchmarks; nothing to append", path.display());
    }
    let subject = run
        .meta
        .commit
        .as_deref()
        .and_then(|commit| commit_subject(root, commit))
        .unwrap_or_default();
    let entries = history::entries_of_run(&run, &subject)
        .with_context(|| format!("cannot append {}", path.display()))?;
    let class = entries[0].machine.class.clone();
    let file = history::path(history_dir, &class);
    history::append(&file, &entries)?;
    Ok(file)
}

/// The subject line of `commit` in the repository at `root`, when it can be found.
pub fn commit_subject(root: &Path, commit: &str) -> Option<String> {
    let repository = git2::Repository::discover(root).ok()?;
    let object = repository.revparse_single(commit).ok()?;
    let commit = object.peel_to_commit().ok()?;
    commit.summary().map(str::to_string)
}

/// What the history holds: one line per series (points, latest value, and whether the
/// latest run of its machine still has it: a deleted benchmark waits for `prune`).
pub fn show(root: &Path, history_dir: &Path) -> anyhow::Result<String> {
    let config = Config::load(&root.join("bench.toml"))?;
    let files = history::read_dir(history_dir)?;
    if files.is_empty() {
        bail!(
            "no history in {}: `cargo xtask bench history append` adds the latest run",
            history_dir.display()
        );
    }
    let mut out = String::new();
    for (class, mut entries) in files {
        history::apply_aliases(&mut entries, &config.history_aliases);
        let latest_commit = entries.last().map(|e| e.commit.clone()).unwrap_or_default();
        let commits = {
            let mut seen = std::collections::BTreeSet::new();
            entries
                .iter()
                .filter(|e| seen.insert(e.commit.as_str()))
                .count()
        };
        writeln!(
            out,
            "{class}: {} entries over {commits} commits",
            entries.len()
        )?;
        for series in history::series(&entries) {
            let last = series.points.last().expect("a series has a point");
            let value = match series.metric {
                crate::model::Metric::WallTime => report::format_ns(last.median),
                crate::model::Metric::Instructions => report::format_count(last.median),
            };
            let gone = if last.commit == latest_commit {
                ""
            } else {
                "  (not in the latest run: deleted? `history prune` removes it)"
            };
            writeln!(
                out,
                "  {}  {} points, latest {value}{gone}",
                series.id.escape_debug(),
                series.points.len()
            )?;
        }
    }
    Ok(out)
}

/// Migrates every history file in the folder to this version; returns the files changed.
pub fn migrate(history_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for (class, _) in history::read_dir(history_dir)? {
        let file = history::path(history_dir, &class);
        if history::migrate_file(&file)? != history::SCHEMA_VERSION {
            changed.push(file);
        }
    }
    Ok(changed)
}

/// Removes the entries of benchmarks matching `pattern` from every history file; returns how
/// many went.
pub fn prune(history_dir: &Path, pattern: &str) -> anyhow::Result<usize> {
    let pattern = regex::Regex::new(pattern)
        .with_context(|| format!("invalid --id regular expression {pattern:?}"))?;
    let mut removed = 0;
    for (class, _) in history::read_dir(history_dir)? {
        removed += history::prune(&history::path(history_dir, &class), &pattern)?;
    }
    Ok(removed)
}
