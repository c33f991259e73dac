//! `cargo xtask bench accept --reason`: makes a run (the latest by default) the committed
//! baseline of its machine class, recording why.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::model::Acceptance;
use crate::workdir::{self, baseline_path, latest_run_path};
use crate::{discover, meta, store};

/// Returns the baseline's path.
pub fn accept(root: &Path, reason: &str, run_file: Option<&Path>) -> anyhow::Result<PathBuf> {
    if reason.trim().is_empty() {
        bail!("--reason must say why this run becomes the baseline");
    }
    let metadata = discover::metadata(root)?;
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let _lock = workdir::lock(&target_dir)?;
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
    let class = run.meta.machine.clone().unwrap_or_default().class();
    let baseline_file = baseline_path(root, &class);
    store::write_run(&baseline_file, &run)?;
    Ok(baseline_file)
}
