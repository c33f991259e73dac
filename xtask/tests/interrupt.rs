//! Ctrl-C mid-run: the running benchmark is stopped and the run fails with a clear message.
//! A test binary of its own, because the interrupt flag is process-wide.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use xtask::discover::{BenchTarget, Harness};
use xtask::run::{Built, INTERRUPTED, Invocation, execute};

#[test]
fn an_interrupt_stops_the_running_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow-bench");
    std::fs::write(&path, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let built = Built {
        target: BenchTarget {
            package: "pkg".to_string(),
            name: "slow".to_string(),
            harness: Harness::Criterion,
            src_path: path.clone(),
            package_dir: dir.path().to_path_buf(),
        },
        executable: path,
    };
    let started = Instant::now();
    // The flag is raised before the run: `execute` starts the benchmark (a one-minute sleep),
    // sees the flag on its first check and must kill it rather than wait.
    INTERRUPTED.store(true, Ordering::SeqCst);
    let error = execute(
        &Invocation {
            built: &built,
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            progress_mark: None,
            cpu: None,
        },
        &ProgressBar::hidden(),
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("interrupted"), "{error:#}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the benchmark was not stopped"
    );
}
