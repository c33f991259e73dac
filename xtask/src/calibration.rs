//! Per-benchmark wall-time thresholds learned from A/A gates on one class of machine
//! (`cargo xtask bench calibrate`), kept in `baselines/calibration/<machine class>.json` for
//! review, and used by the gate on machines of that class.
//!
//! A benchmark's calibrated threshold is the largest of the floor (`[compare] threshold_floor`),
//! the 99th percentile of its |estimate| over resampled A/A gates (its random noise at the
//! gate's number of rounds), and the largest |estimate| of a recorded A/A gate (what two builds
//! of one commit differ by, code layout included). One whose calibrated threshold is above its
//! configured threshold is listed as too noisy to gate there: it is gated at the calibrated
//! one, never dropped.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::evaluate::{self, Design};
use crate::machine::Machine;
use crate::model::Metric;
use crate::paired::{self, GateResults};
use crate::stats;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub schema_version: u32,
    /// The machine class these thresholds hold for ([`Machine::class`]).
    pub machine_class: String,
    pub machine: Option<Machine>,
    /// RFC 3339, UTC.
    pub time: String,
    pub commit: Option<String>,
    /// Recorded A/A gates behind the figures, and resampled gates per benchmark.
    pub gates: usize,
    pub resampled: usize,
    pub rounds: usize,
    pub floor: f64,
    pub benchmarks: Vec<Calibrated>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrated {
    pub id: String,
    /// What the gate uses.
    pub threshold: f64,
    /// bench.toml's threshold for it.
    pub configured: f64,
    pub p99_resampled: f64,
    pub worst_recorded: f64,
    /// Standard deviation of the paired log-ratios of its recorded rounds.
    pub std_dev: Option<f64>,
    pub rounds: usize,
    pub too_noisy: bool,
}

/// Where the calibration of a machine class lives.
pub fn path(root: &Path, class: &str) -> PathBuf {
    root.join("baselines")
        .join("calibration")
        .join(format!("{class}.json"))
}

/// Learns the thresholds from recorded A/A gates.
pub fn calibrate(
    files: &[(String, GateResults)],
    config: &Config,
    resampled: usize,
    seed: u64,
) -> anyhow::Result<Calibration> {
    let pools = evaluate::pools(files)?;
    if pools.is_empty() {
        bail!("the A/A gates measured no wall time: run them with --all (compare REV REV --all)");
    }
    let floor = config.compare.threshold_floor;
    let design = Design {
        rounds: config.compare.rounds,
        rerun_rounds: config.compare.rerun_rounds,
        statistic: config.compare.statistic,
    };
    let alarms = evaluate::false_alarms(&pools, design, config, resampled, seed);
    let noise = evaluate::noise(&pools);
    let benchmarks = pools
        .iter()
        .zip(&noise)
        .map(|(pool, noise)| {
            let p99 = alarms
                .p99_abs_estimate
                .iter()
                .find(|(id, _)| *id == pool.id)
                .map_or(0.0, |(_, p)| *p);
            let worst = files
                .iter()
                .filter_map(|(_, r)| r.wall.iter().find(|w| w.id == pool.id))
                .map(|w| {
                    let rounds: Vec<_> = w
                        .rounds
                        .iter()
                        .map(|r| r.under_or_as_run(design.statistic))
                        .collect();
                    let d = paired::log_ratios(&rounds);
                    if d.is_empty() {
                        0.0
                    } else {
                        stats::hodges_lehmann(&d).exp_m1().abs()
                    }
                })
                .fold(0.0, f64::max);
            let configured = config.configured_threshold(&pool.id, Metric::WallTime);
            let threshold = floor.max(p99).max(worst);
            Calibrated {
                id: pool.id.clone(),
                threshold: (threshold * 1e4).ceil() / 1e4,
                configured,
                p99_resampled: micro(p99),
                worst_recorded: micro(worst),
                std_dev: noise.std_dev[0].map(micro),
                rounds: pool.rounds.len(),
                too_noisy: threshold > configured,
            }
        })
        .collect();
    let first = &files[0].1;
    Ok(Calibration {
        schema_version: SCHEMA_VERSION,
        machine_class: first
            .machine
            .as_ref()
            .map_or("unknown".to_string(), Machine::class),
        machine: first.machine.clone(),
        time: crate::meta::rfc3339(std::time::SystemTime::now()),
        commit: first.head.commit.clone(),
        gates: files.len(),
        resampled,
        rounds: design.rounds,
        floor,
        benchmarks,
    })
}

/// Rounded to six decimals: what the reviewable file shows, and what reading it gives back.
fn micro(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn read(path: &Path) -> anyhow::Result<Calibration> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let calibration: Calibration = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a calibration file; re-create it with `cargo xtask bench calibrate`",
            path.display()
        )
    })?;
    if calibration.schema_version != SCHEMA_VERSION {
        bail!(
            "{}: calibration schema version {} is not {SCHEMA_VERSION}; re-create it with `cargo xtask bench calibrate`",
            path.display(),
            calibration.schema_version
        );
    }
    for b in &calibration.benchmarks {
        if !(b.threshold.is_finite() && b.threshold > 0.0) {
            bail!(
                "{}: benchmark {} has threshold {}; re-create the file with `cargo xtask bench calibrate`",
                path.display(),
                b.id,
                b.threshold
            );
        }
    }
    Ok(calibration)
}

/// Writes through a temporary file, so a failed write leaves the old calibration whole.
pub fn write(path: &Path, calibration: &Calibration) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let temp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(calibration).expect("a calibration serialises") + "\n";
    std::fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Applies the calibration of this machine's class, if there is one, to `config`'s wall-time
/// thresholds; returns the note the report carries about it.
pub fn apply(
    root: &Path,
    machine: Option<&Machine>,
    config: &mut Config,
) -> anyhow::Result<String> {
    let Some(machine) = machine else {
        return Ok("no machine identity: configured wall-time thresholds".to_string());
    };
    let file = path(root, &machine.class());
    if !file.exists() {
        return Ok(format!(
            "no calibration for this machine class ({}): configured wall-time thresholds; `cargo xtask bench calibrate` learns them",
            machine.class()
        ));
    }
    let calibration = read(&file)?;
    for b in &calibration.benchmarks {
        config.calibrate(&b.id, b.threshold);
    }
    let noisy = calibration
        .benchmarks
        .iter()
        .filter(|b| b.too_noisy)
        .count();
    Ok(format!(
        "wall-time thresholds from {} ({} A/A gates, {}; {} benchmarks above their configured threshold)",
        file.strip_prefix(root).unwrap_or(&file).display(),
        calibration.gates,
        calibration.time.get(..10).unwrap_or(&calibration.time),
        noisy
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::{RoundPair, WallResult};

    fn aa(ratios: &[f64]) -> GateResults {
        let mut results = GateResults::empty();
        results.base.commit = Some("c0ffee".into());
        results.head.commit = Some("c0ffee".into());
        results.wall = ["q/quiet", "q/noisy"]
            .iter()
            .enumerate()
            .map(|(k, id)| WallResult {
                id: id.to_string(),
                rounds: ratios
                    .iter()
                    .map(|r| RoundPair {
                        base: 100.0,
                        head: 100.0 * (1.0 + (r - 1.0) * (1 + 100 * k) as f64 + 0.06 * k as f64),
                        head_first: false,
                        parallel: false,
                        values: None,
                        samples: None,
                    })
                    .collect(),
                rerun: Vec::new(),
            })
            .collect();
        results
    }

    #[test]
    fn thresholds_are_the_floor_or_the_noise_and_noisy_ones_are_listed() {
        let ratios = [1.0, 1.001, 0.999, 1.002, 0.998, 1.0, 1.001, 0.999, 1.0, 1.0];
        let config = Config::parse("[wall_time]\nthreshold = 0.05\n").unwrap();
        let files = vec![("aa.json".to_string(), aa(&ratios))];
        let c = calibrate(&files, &config, 300, 5).unwrap();
        assert_eq!(c.gates, 1);
        assert_eq!(c.floor, 0.03);
        let quiet = c.benchmarks.iter().find(|b| b.id == "q/quiet").unwrap();
        // ±0.2 % noise: the floor.
        assert_eq!(quiet.threshold, 0.03);
        assert!(!quiet.too_noisy);
        // 101 times the spread (±20 %) and 6 % apart in the recorded gate: raised past the configured 5 %, listed.
        let noisy = c.benchmarks.iter().find(|b| b.id == "q/noisy").unwrap();
        assert!(noisy.threshold > 0.05 && noisy.too_noisy, "{noisy:?}");
        assert!((noisy.worst_recorded - 0.06).abs() < 1e-9, "{noisy:?}");
        assert_eq!(noisy.configured, 0.05);
        assert!(noisy.std_dev.unwrap() > 0.1, "{noisy:?}");

        // Round trip, and the gate's configuration picks it up.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        write(&file, &c).unwrap();
        assert_eq!(read(&file).unwrap(), c);
        let mut config = config;
        for b in &c.benchmarks {
            config.calibrate(&b.id, b.threshold);
        }
        assert_eq!(config.threshold("q/quiet", Metric::WallTime), 0.03);
        assert_eq!(
            config.configured_threshold("q/quiet", Metric::WallTime),
            0.05
        );
        assert_eq!(config.threshold("q/other", Metric::WallTime), 0.05);
    }

    #[test]
    fn a_damaged_calibration_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.json");
        std::fs::write(&file, "{\"schema_version\": 1").unwrap();
        let error = format!("{:#}", read(&file).unwrap_err());
        assert!(
            error.contains("broken.json") && error.contains("calibrate"),
            "{error}"
        );
    }
}
