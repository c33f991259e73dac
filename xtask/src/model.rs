//! The run format: what one harness run records, as written to run files and `baselines/`.
//!
//! Files are pretty, deterministic JSON (benchmarks sorted by id, fields in a fixed order) with a
//! `schema_version`, so a baseline diff in a pull request is small and reviewable, and a later
//! harness can read files written by an earlier one.

use serde::{Deserialize, Serialize};

pub use crate::machine::Machine;

/// The version written into every run file; readers refuse versions they do not know.
pub const SCHEMA_VERSION: u32 = 1;

/// One recorded run: metadata plus every benchmark measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub schema_version: u32,
    pub meta: RunMeta,
    /// Sorted by `id`, then `metric`; ids are unique per metric.
    pub benchmarks: Vec<Benchmark>,
}

/// Where and when a run was made. Every field is optional because imported criterion output
/// carries none of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub dirty: Option<bool>,
    /// RFC 3339, UTC.
    pub time: Option<String>,
    pub rustc: Option<String>,
    /// SHA-256 of `Cargo.lock`, hex.
    pub cargo_lock_hash: Option<String>,
    pub machine: Option<Machine>,
    /// Where the run came from when it was not measured by the harness, for example
    /// `criterion:/path/to/target/criterion (baseline "new")`.
    pub source: Option<String>,
    /// The `--filter` the run was made with: a filtered run is a subset and cannot become a
    /// baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// A `--quick` smoke run: measurements too short to become a baseline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quick: bool,
    /// Set when the run was accepted as a baseline: why, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Acceptance>,
}

/// The record of a run being accepted as the committed baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub reason: String,
    /// RFC 3339, UTC.
    pub time: String,
}

/// What a benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Wall time per iteration, in nanoseconds (criterion).
    WallTime,
    /// Instructions executed (iai-callgrind's `Ir`).
    Instructions,
}

/// One benchmark's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// criterion's `full_id`, or iai-callgrind's `bench_target::group::function/id`.
    pub id: String,
    pub metric: Metric,
    /// `ns` for wall time, `instructions` for counts.
    pub unit: String,
    /// Wall time: nanoseconds per iteration of each sample (criterion's `times[i] / iters[i]`).
    /// Instructions: one count per run.
    pub samples: Vec<f64>,
    /// Wall time: the iteration count of each sample, as criterion recorded it, so nothing of
    /// the raw data is lost. Empty for instruction counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iterations: Vec<f64>,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
}

/// Summary statistics of `samples`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub std_dev: f64,
}

/// Work per iteration, as declared by the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Throughput {
    Elements(u64),
    Bytes(u64),
    Bits(u64),
}

impl Summary {
    /// Summarises `samples`.
    ///
    /// # Panics
    /// If `samples` is empty or holds a value that is not finite; readers reject such input
    /// with an error naming the file before anything is summarised.
    pub fn of(samples: &[f64]) -> Summary {
        assert!(!samples.is_empty(), "summary of no samples");
        assert!(samples.iter().all(|s| s.is_finite()), "non-finite sample");
        let n = samples.len();
        let mean = samples.iter().sum::<f64>() / n as f64;
        // The order statistics of a full sort, by selection: `total_cmp` orders finite values
        // as `<` does, and equal keys are equal values, so any algorithm gives the same numbers.
        let min = samples
            .iter()
            .copied()
            .min_by(f64::total_cmp)
            .expect("not empty");
        let max = samples
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .expect("not empty");
        let mut scratch = samples.to_vec();
        let (below, &mut upper, _) = scratch.select_nth_unstable_by(n / 2, f64::total_cmp);
        let median = if n % 2 == 1 {
            upper
        } else {
            let lower = below
                .iter()
                .copied()
                .max_by(f64::total_cmp)
                .expect("n >= 2");
            (lower + upper) / 2.0
        };
        let variance = if n > 1 {
            samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Summary {
            n,
            mean,
            median,
            min,
            max,
            std_dev: variance.sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_odd_and_even_counts() {
        let odd = Summary::of(&[3.0, 1.0, 2.0]);
        assert_eq!(
            (odd.median, odd.min, odd.max, odd.mean),
            (2.0, 1.0, 3.0, 2.0)
        );
        assert_eq!(odd.std_dev, 1.0);
        let even = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(even.median, 2.5);
    }
}
