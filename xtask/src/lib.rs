//! The benchmark harness behind `cargo xtask bench`, as a library so tests call it directly.
//!
//! The harness reads as a pipeline, one module per stage:
//! discover → run → read (criterion, iai-callgrind) → record → compare → report → exit code.
//! Landed so far: the run format ([`model`]) and its files ([`store`]), the criterion reader
//! ([`criterion`]) and the statistics the decisions rest on ([`stats`]).

pub mod bench;
pub mod compare;
pub mod config;
pub mod criterion;
pub mod discover;
pub mod iai;
pub mod meta;
pub mod model;
pub mod report;
pub mod run;
pub mod stats;
pub mod store;
mod walk;

#[cfg(test)]
pub(crate) mod test_support;

use std::path::Path;

/// `cargo xtask bench import`: reads criterion's output under `dir` (the given criterion
/// baseline) and writes it as a run file at `output`; returns how many benchmarks came through.
pub fn import(dir: &Path, baseline: &str, output: &Path) -> anyhow::Result<usize> {
    let run = criterion::read_dir(dir, baseline)?;
    store::write_run(output, &run)?;
    Ok(run.benchmarks.len())
}
