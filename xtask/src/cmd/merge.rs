//! `cargo xtask bench merge FILES...`: the results files of the shards of one gate, decided
//! together: one report and one verdict, with the error rate controlled over the whole suite.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::cmd::{ReportOptions, emit};
use crate::config::Config;
use crate::paired::{self, GateResults};

pub fn merge(
    root: &Path,
    files: &[PathBuf],
    results_out: Option<&Path>,
    reports: &ReportOptions,
) -> anyhow::Result<bool> {
    let mut config = Config::load(&root.join("bench.toml"))?;
    let merged = merge_results(files)?;
    let note = crate::calibration::apply(root, merged.machine.as_ref(), &mut config)?;
    if let Some(path) = results_out {
        paired::write(path, &merged)?;
    }
    let mut comparison = paired::decide(&merged, &config);
    comparison.notes.push(note);
    emit(&comparison, reports)?;
    Ok(comparison.failed())
}

/// Reads the shards and puts them together. They must be shards of one gate: the same base
/// and head commits, one file per shard, all shards present.
pub fn merge_results(files: &[PathBuf]) -> anyhow::Result<GateResults> {
    if files.is_empty() {
        bail!("merge needs the results files of the shards (written by `compare --results`)");
    }
    let mut shards = Vec::new();
    for file in files {
        shards.push((file, paired::read(file)?));
    }
    let (first_file, first) = &shards[0];
    let mut merged = first.clone();
    merged.shard = None;
    let mut seen = vec![first.shard];
    for (file, shard) in &shards[1..] {
        if shard.base.commit != first.base.commit || shard.head.commit != first.head.commit {
            bail!(
                "{} compares {} with {}, but {} compares {} with {}: merge the shards of one gate",
                file.display(),
                shard.base.label(),
                shard.head.label(),
                first_file.display(),
                first.base.label(),
                first.head.label()
            );
        }
        if seen.contains(&shard.shard) {
            bail!(
                "{} is shard {} again: pass each shard's file once",
                file.display(),
                shard.shard.map_or("(none)".to_string(), |s| s.to_string())
            );
        }
        seen.push(shard.shard);
        merged.wall.extend(shard.wall.iter().cloned());
        merged
            .instructions
            .extend(shard.instructions.iter().cloned());
        merged.one_sided.extend(shard.one_sided.iter().cloned());
        merged.skipped.extend(shard.skipped.iter().cloned());
        merged.failures.extend(shard.failures.iter().cloned());
        let t = &mut merged.timing;
        t.build_seconds = t.build_seconds.max(shard.timing.build_seconds);
        t.measure_seconds = t.measure_seconds.max(shard.timing.measure_seconds);
        t.total_seconds = t.total_seconds.max(shard.timing.total_seconds);
        t.rounds = t.rounds.min(shard.timing.rounds);
    }
    if let Some(count) = first.shard.map(|s| s.count)
        && seen.len() != count
    {
        bail!(
            "{} shard files for a gate split into {count}: pass every shard's results file",
            seen.len()
        );
    }
    merged.wall.sort_by(|a, b| a.id.cmp(&b.id));
    merged.instructions.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(merged)
}
