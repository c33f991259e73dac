//! Synthetic criterion output for timing the reader: `n_benchmarks` benchmarks of
//! `n_samples` samples each, laid out as criterion 0.5–0.8 writes them
//! (`<root>/<group>/<function>/<baseline>/{benchmark,sample,estimates,tukey}.json`).
//!
//! Shared by `benches/analysis.rs` and `examples/criterion_folders.rs` through `#[path]`.

use std::fs;
use std::io;
use std::path::Path;

use serde_json::json;

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

/// One criterion estimate (`mean`, `median`, ...), shaped as criterion writes it.
fn estimate(point: f64, spread: f64) -> serde_json::Value {
    json!({
        "confidence_interval": {
            "confidence_level": 0.95,
            "lower_bound": point - spread,
            "upper_bound": point + spread,
        },
        "point_estimate": point,
        "standard_error": spread / 2.0,
    })
}

/// Writes baseline `baseline` of `n_benchmarks` benchmarks under `root`: ids
/// `group-<i/10>/bench-<i>`, linear sampling (`iters` 1d, 2d, … `n_samples`·d), ±2 % noise, and
/// every 50th benchmark `slowdown` slower. The same `seed` gives the same files.
pub fn write(
    root: &Path,
    baseline: &str,
    n_benchmarks: usize,
    n_samples: usize,
    seed: u64,
    slowdown: f64,
) -> io::Result<()> {
    let mut rng = Rng(seed);
    for bench_idx in 0..n_benchmarks {
        let group = format!("group-{}", bench_idx / 10);
        let function = format!("bench-{bench_idx}");
        let full_id = format!("{group}/{function}");
        let folder = root.join(&group).join(&function).join(baseline);
        fs::create_dir_all(&folder)?;

        let per_iter = 1_000.0
            * (1.0 + bench_idx as f64)
            * if bench_idx % 50 == 0 {
                1.0 + slowdown
            } else {
                1.0
            };
        let step = (1e8 / per_iter / (n_samples * (n_samples + 1) / 2) as f64)
            .ceil()
            .max(1.0);
        let iters: Vec<f64> = (1..=n_samples).map(|k| step * k as f64).collect();
        let times: Vec<f64> = iters
            .iter()
            .map(|n| (n * per_iter * (1.0 + 0.04 * (rng.next_f64() - 0.5))).round())
            .collect();

        // Fields in criterion's order (`json!` would sort them).
        let throughput = if bench_idx % 3 == 0 {
            r#"{"Elements":1024}"#
        } else {
            "null"
        };
        let info = format!(
            r#"{{"group_id":"{group}","function_id":"{function}","value_str":null,"throughput":{throughput},"full_id":"{full_id}","directory_name":"{full_id}","title":"{full_id}"}}"#
        );
        fs::write(folder.join("benchmark.json"), info)?;
        let sample = format!(
            r#"{{"sampling_mode":"Linear","iters":{},"times":{}}}"#,
            serde_json::to_string(&iters)?,
            serde_json::to_string(&times)?
        );
        fs::write(folder.join("sample.json"), sample)?;
        let spread = per_iter * 0.01;
        let estimates = json!({
            "mean": estimate(per_iter, spread),
            "median": estimate(per_iter, spread),
            "median_abs_dev": estimate(per_iter * 0.01, spread / 10.0),
            "slope": estimate(per_iter, spread),
            "std_dev": estimate(per_iter * 0.012, spread / 10.0),
        });
        fs::write(folder.join("estimates.json"), estimates.to_string())?;
        let tukey = json!([
            per_iter * 0.94,
            per_iter * 0.97,
            per_iter * 1.03,
            per_iter * 1.06
        ]);
        fs::write(folder.join("tukey.json"), tukey.to_string())?;
    }
    Ok(())
}
