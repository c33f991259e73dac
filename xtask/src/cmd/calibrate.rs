//! `cargo xtask bench calibrate`: A/A gates on this machine (one build against itself, and two
//! builds of the same commit, alternately), then per-benchmark wall-time thresholds written to
//! `baselines/calibration/<machine class>.json` (see `calibration.rs`). `--from` learns from
//! recorded A/A gates instead of running new ones.

use std::path::{Path, PathBuf};

use crate::calibration;
use crate::cmd::ReportOptions;
use crate::cmd::compare::{self, CompareOptions};
use crate::config::Config;
use crate::paired;
use crate::workdir;

#[derive(Debug, Clone, Default)]
pub struct CalibrateOptions {
    /// A/A gates to run.
    pub runs: usize,
    /// Recorded A/A gates to learn from instead.
    pub from: Vec<PathBuf>,
    pub revision: String,
    pub filter: Option<String>,
    /// Minutes per A/A gate.
    pub time_budget: Option<f64>,
    /// Resampled gates per benchmark.
    pub gates: usize,
    pub seed: u64,
}

pub fn calibrate(root: &Path, options: &CalibrateOptions) -> anyhow::Result<bool> {
    let config = Config::load(&root.join("bench.toml"))?;
    let mut paths = options.from.clone();
    if paths.is_empty() {
        let target_dir = crate::discover::metadata(root)?
            .target_directory
            .as_std_path()
            .join("xtask-bench")
            .join("calibration");
        workdir::fresh_dir(&target_dir)?;
        for k in 1..=options.runs {
            let path = target_dir.join(format!("aa-{k}.json"));
            let same_build = k % 2 == 0;
            eprintln!(
                "calibrate: A/A gate {k} of {} ({})",
                options.runs,
                if same_build {
                    "one build on both sides"
                } else {
                    "two builds of one commit"
                }
            );
            compare::compare(
                root,
                &CompareOptions {
                    base: options.revision.clone(),
                    head: Some(options.revision.clone()),
                    filter: options.filter.clone(),
                    all: true,
                    seed: Some(options.seed.wrapping_add(k as u64)),
                    time_budget: options.time_budget,
                    keep_samples: true,
                    same_build,
                    results: Some(path.clone()),
                    reports: ReportOptions::default(),
                    ..CompareOptions::default()
                },
            )?;
            paths.push(path);
        }
    }
    let mut files = Vec::new();
    for path in &paths {
        files.push((path.display().to_string(), paired::read(path)?));
    }
    let learned = calibration::calibrate(&files, &config, options.gates, options.seed)?;
    let out = calibration::path(root, &learned.machine_class);
    calibration::write(&out, &learned)?;
    println!(
        "{} A/A gates, {} wall-time benchmarks; thresholds written to {}",
        learned.gates,
        learned.benchmarks.len(),
        out.display()
    );
    println!(
        "| benchmark | threshold | configured | p99 of |estimate| (resampled) | worst recorded | sd per round |"
    );
    println!("| :-- | --: | --: | --: | --: | --: |");
    for b in &learned.benchmarks {
        println!(
            "| {}{} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {} |",
            b.id,
            if b.too_noisy { " (too noisy)" } else { "" },
            b.threshold * 100.0,
            b.configured * 100.0,
            b.p99_resampled * 100.0,
            b.worst_recorded * 100.0,
            b.std_dev
                .map_or("-".to_string(), |s| format!("{:.1} %", s * 100.0))
        );
    }
    let noisy: Vec<&str> = learned
        .benchmarks
        .iter()
        .filter(|b| b.too_noisy)
        .map(|b| b.id.as_str())
        .collect();
    if !noisy.is_empty() {
        println!(
            "{} benchmarks are too noisy here to gate at their configured threshold; the gate uses their calibrated threshold: {}",
            noisy.len(),
            noisy.join(", ")
        );
    }
    Ok(false)
}
