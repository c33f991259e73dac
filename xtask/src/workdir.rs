//! The harness's working folder inside the target directory, and its lock.
//!
//! ```text
//! target/xtask-bench/
//!   lock            held by the running command
//!   latest.json     the last complete `bench` run (what `accept` reads)
//!   criterion/ iai/ the raw output of the last `bench`
//!   compare/        `compare`: the checkouts, the shared build, both sides' executables,
//!                   each side's raw output and the results file
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The harness's working folder inside the target directory.
pub fn work_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("xtask-bench")
}

/// The file the last complete run is written to; `accept` reads it.
pub fn latest_run_path(target_dir: &Path) -> PathBuf {
    work_dir(target_dir).join("latest.json")
}

/// Where `compare` keeps its checkouts, build and outputs.
pub fn compare_dir(target_dir: &Path) -> PathBuf {
    work_dir(target_dir).join("compare")
}

/// The committed baseline for a machine class.
pub fn baseline_path(root: &Path, machine_class: &str) -> PathBuf {
    root.join("baselines").join(format!("{machine_class}.json"))
}

/// Empties `dir` (creating it when absent).
pub fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Holds the harness's lock file: two runs at once would overwrite each other's output.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock in `target_dir`, or explains who holds it.
pub fn lock(target_dir: &Path) -> anyhow::Result<RunLock> {
    let dir = work_dir(target_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `cargo xtask bench` is running in this workspace (it holds {}); wait for it to finish",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_at_once_is_refused_with_the_lock_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let error = format!("{:#}", lock(dir.path()).unwrap_err());
        assert!(
            error.contains("another `cargo xtask bench` is running"),
            "{error}"
        );
        assert!(error.contains("lock"), "{error}");
        drop(first);
        lock(dir.path()).unwrap();
    }
}
