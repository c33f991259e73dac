//! The harness's own cost: reading two run files (or two criterion output folders), deciding and
//! reporting for 1,000 benchmarks with 100 samples each. The target is well under a second
//! (PRODUCT.md).
//!
//! Ids are stable baseline keys: `xtask/analysis/<stage>/1000x100`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use xtask::config::Config;
use xtask::decide::compare;
use xtask::model::{Benchmark, Metric, Run, RunMeta, SCHEMA_VERSION, Summary};
use xtask::{criterion as criterion_output, report, store};

#[path = "support/criterion_folders.rs"]
mod criterion_folders;

const N_BENCHMARKS: usize = 1_000;
const N_SAMPLES: usize = 100;

/// xorshift64*, enough for synthetic samples.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A run of `N_BENCHMARKS` wall-time benchmarks with ±2 % noise; every 50th one is `slowdown`
/// slower, so the comparison has regressions to find and report.
fn synthetic_run(seed: u64, slowdown: f64) -> Run {
    let mut rng = Rng(seed);
    let benchmarks = (0..N_BENCHMARKS)
        .map(|bench_idx| {
            let base = 1_000.0 * (1.0 + bench_idx as f64);
            let factor = if bench_idx % 50 == 0 {
                1.0 + slowdown
            } else {
                1.0
            };
            let samples: Vec<f64> = (0..N_SAMPLES)
                .map(|_| base * factor * (1.0 + 0.04 * (rng.next_f64() - 0.5)))
                .collect();
            Benchmark {
                id: format!("group-{}/bench-{bench_idx}", bench_idx / 10),
                metric: Metric::WallTime,
                unit: "ns".to_string(),
                summary: Summary::of(&samples),
                iterations: vec![1.0; N_SAMPLES],
                samples,
                throughput: None,
            }
        })
        .collect();
    Run {
        schema_version: SCHEMA_VERSION,
        meta: RunMeta::default(),
        benchmarks,
    }
}

fn analysis(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let old_path = dir.path().join("old.json");
    let new_path = dir.path().join("new.json");
    store::write_run(&old_path, &synthetic_run(1, 0.0)).expect("writes the old run");
    store::write_run(&new_path, &synthetic_run(2, 0.3)).expect("writes the new run");
    let config = Config::default();
    let old_folder = dir.path().join("criterion-old");
    let new_folder = dir.path().join("criterion-new");
    criterion_folders::write(&old_folder, "new", N_BENCHMARKS, N_SAMPLES, 1, 0.0)
        .expect("writes the old criterion folder");
    criterion_folders::write(&new_folder, "new", N_BENCHMARKS, N_SAMPLES, 2, 0.3)
        .expect("writes the new criterion folder");

    let mut group = c.benchmark_group("xtask/analysis");
    group.sample_size(20);
    group.bench_function("read/1000x100", |b| {
        b.iter(|| {
            (
                store::read_run(&old_path).unwrap(),
                store::read_run(&new_path).unwrap(),
            )
        })
    });
    // Both sides of `diff OLD NEW` given criterion folders: the walk, every `benchmark.json`
    // and `sample.json`, the summaries.
    group.bench_function("read_criterion/1000x100", |b| {
        b.iter(|| {
            (
                criterion_output::read_dir(&old_folder, "new").unwrap(),
                criterion_output::read_dir(&new_folder, "new").unwrap(),
            )
        })
    });
    let (old, new) = (
        store::read_run(&old_path).unwrap(),
        store::read_run(&new_path).unwrap(),
    );
    group.bench_function("decide/1000x100", |b| {
        b.iter(|| compare(black_box(&old), black_box(&new), &config))
    });
    let comparison = compare(&old, &new, &config);
    group.bench_function("report/1000x100", |b| {
        b.iter(|| {
            (
                report::terminal(black_box(&comparison), false),
                report::markdown(&comparison),
                report::json(&comparison),
            )
        })
    });
    group.bench_function("end_to_end/1000x100", |b| {
        b.iter(|| {
            let old = store::read_run(&old_path).unwrap();
            let new = store::read_run(&new_path).unwrap();
            let comparison = compare(&old, &new, &config);
            (
                report::terminal(&comparison, false),
                report::markdown(&comparison),
                report::json(&comparison),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
