//! Reading and writing run files: schema-checked reads, atomic writes.
//!
//! A write goes to a temporary file in the destination's folder and is renamed over the
//! destination, so an interrupted run (Ctrl-C, a crash, a full disk) leaves either the old file
//! or the new one, never a torn one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::model::{Run, SCHEMA_VERSION};

/// Reads a run file, refusing unknown schema versions and malformed samples.
pub fn read_run(path: &Path) -> anyhow::Result<Run> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read run file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON (truncated or corrupt); restore it from git or re-run the benchmarks",
            path.display()
        )
    })?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(version) => bail!(
            "{} has schema version {version}, this harness reads version {SCHEMA_VERSION}; use a harness of that version or re-record the run",
            path.display()
        ),
        None => bail!(
            "{} has no schema_version; it is not a run file written by `cargo xtask bench`",
            path.display()
        ),
    }
    let run: Run = serde_json::from_value(value)
        .with_context(|| format!("{} does not match the run format", path.display()))?;
    validate(&run).with_context(|| format!("invalid run file {}", path.display()))?;
    Ok(run)
}

/// Checks what the type system cannot: samples present and finite, ids unique per metric.
pub fn validate(run: &Run) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for bench in &run.benchmarks {
        if !seen.insert((bench.id.as_str(), bench.metric)) {
            bail!("benchmark {:?} appears twice", bench.id);
        }
        if bench.samples.is_empty() {
            bail!("benchmark {:?} has no samples", bench.id);
        }
        if let Some(bad) = bench.samples.iter().find(|s| !s.is_finite() || **s < 0.0) {
            bail!("benchmark {:?} has an invalid sample {bad}", bench.id);
        }
    }
    Ok(())
}

/// Writes `run` as pretty JSON to `path` atomically, creating the folder if needed.
pub fn write_run(path: &Path, run: &Run) -> anyhow::Result<()> {
    validate(run)?;
    let mut run = run.clone();
    run.benchmarks
        .sort_by(|a, b| (a.id.as_str(), a.metric).cmp(&(b.id.as_str(), b.metric)));
    let mut text = serde_json::to_string_pretty(&run).context("serialising the run")?;
    text.push('\n');
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Temporary files are created private (0600); a run file is ordinary data, so give it the
    // destination's permissions, or those of a new file.
    let permissions = match std::fs::metadata(path) {
        Ok(existing) => Some(existing.permissions()),
        Err(_) => default_permissions(),
    };
    tmp.write_all(text.as_bytes())
        .and_then(|()| match permissions {
            Some(permissions) => tmp.as_file().set_permissions(permissions),
            None => Ok(()),
        })
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The permissions of a new run file: readable by everyone, like any file in a checkout.
/// Elsewhere than Unix, temporary files are not private, so there is nothing to change.
#[cfg(unix)]
fn default_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<std::fs::Permissions> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Benchmark, Metric, RunMeta, Summary};

    fn run_with(samples: Vec<f64>) -> Run {
        Run {
            schema_version: SCHEMA_VERSION,
            meta: RunMeta::default(),
            benchmarks: vec![Benchmark {
                id: "group/fn with space/ünï".to_string(),
                metric: Metric::WallTime,
                unit: "ns".to_string(),
                summary: Summary::of(&samples),
                samples,
                iterations: vec![],
                throughput: None,
            }],
        }
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/run.json");
        let run = run_with(vec![1.0, 2.0, 3.0]);
        write_run(&path, &run).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(read_run(&path).unwrap(), run);
        write_run(&path, &run).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn truncated_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let error = format!("{:#}", read_run(&path).unwrap_err());
        assert!(
            error.contains("run.json") && error.contains("not valid JSON"),
            "{error}"
        );
    }

    #[test]
    fn unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(
            &path,
            r#"{"schema_version": 99, "meta": {}, "benchmarks": []}"#,
        )
        .unwrap();
        let error = format!("{:#}", read_run(&path).unwrap_err());
        assert!(error.contains("schema version 99"), "{error}");
    }

    #[test]
    fn bad_samples_and_duplicates_are_refused() {
        let mut run = run_with(vec![1.0]);
        run.benchmarks[0].samples = vec![];
        assert!(validate(&run).is_err());
        run.benchmarks[0].samples = vec![f64::NAN];
        assert!(validate(&run).is_err());
        run.benchmarks[0].samples = vec![-1.0];
        assert!(validate(&run).is_err());
        let mut run = run_with(vec![1.0]);
        run.benchmarks.push(run.benchmarks[0].clone());
        assert!(format!("{}", validate(&run).unwrap_err()).contains("appears twice"));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let mut bad = run_with(vec![1.0]);
        bad.benchmarks[0].samples = vec![f64::INFINITY];
        assert!(write_run(&path, &bad).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}
