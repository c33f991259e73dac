//! The benchmark harness behind `cargo xtask bench`, as a library so tests call it directly.
//!
//! The harness reads as a pipeline, one module per stage:
//! discover → build and run ([`measure`], [`run`]) → read ([`criterion`], [`iai`],
//! [`callgrind`]) → record ([`store`], with [`meta`] and [`machine`]) → decide ([`decide`], on
//! [`stats`]) → report ([`report`]) → exit code. The commands ([`cmd`]) assemble the stages; `compare` adds the
//! checkouts ([`worktree`]), the choice of what a change can affect ([`changes`]), interleaved
//! rounds and their results file ([`paired`]) and sharding ([`shard`]). Over time: the
//! [`history`] of recorded runs, its [`changepoint`]s, [`chart`]s and the static [`site`];
//! [`backfill`] and [`bisect`] walk past commits.

pub mod backfill;
pub mod bisect;
pub mod calibration;
pub mod callgrind;
pub mod changepoint;
pub mod changes;
pub mod chart;

pub mod cmd;
pub mod config;
pub mod criterion;
pub mod decide;
pub mod discover;
pub mod evaluate;
pub mod history;
pub mod iai;
pub mod machine;
pub mod measure;
pub mod meta;
pub mod model;
pub mod paired;

pub mod report;
pub mod run;
pub mod shard;
pub mod site;

pub mod stats;
pub mod store;
mod walk;
pub mod workdir;
pub mod worktree;

#[cfg(test)]
pub(crate) mod test_support;

use std::path::Path;

/// `cargo xtask bench import`: reads criterion's output under `dir` (the given criterion
/// baseline) and writes it as a run file at `output`; returns how many benchmarks came through.
pub fn import(
    dir: &Path,
    baseline: &str,
    output: &Path,
    exports: &[cmd::Export],
) -> anyhow::Result<usize> {
    let run = criterion::read_dir(dir, baseline)?;
    store::write_run(output, &run)?;
    if !exports.is_empty() {
        // The exports describe a comparison's new side: here every benchmark is new.
        let nothing = model::Run {
            benchmarks: Vec::new(),
            ..run.clone()
        };
        let comparison = decide::compare(&nothing, &run, &config::Config::default());
        cmd::write_exports(&comparison, exports)?;
    }
    Ok(run.benchmarks.len())
}
