//! `cargo xtask bench diff OLD NEW`: two recorded runs, offline, with the same rules and exit
//! codes as `bench`.

use std::path::Path;

use anyhow::bail;

use crate::cmd::{ReportOptions, emit};
use crate::config::Config;
use crate::decide::compare;
use crate::model::Run;
use crate::{criterion, store};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_side_explains_what_it_accepts() {
        let error = format!("{:#}", load_side("/nonexistent/run.json").unwrap_err());
        assert!(error.contains("/nonexistent/run.json not found"), "{error}");
    }
}
