//! The github-action-benchmark export: its `customSmallerIsBetter` JSON
//! (<https://github.com/benchmark-action/github-action-benchmark>).

use serde::Serialize;

use crate::model::{Metric, Run};

#[derive(Serialize)]
struct ActionBenchmarkEntry<'a> {
    name: &'a str,
    unit: &'static str,
    value: f64,
}

/// The run as github-action-benchmark's `customSmallerIsBetter` JSON: one entry per benchmark
/// with its median (`ns` per iteration, or `instructions`), sorted by id, then metric.
pub fn github_action_benchmark(run: &Run) -> String {
    let mut benches: Vec<_> = run.benchmarks.iter().collect();
    benches.sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));
    let entries: Vec<_> = benches
        .into_iter()
        .map(|bench| ActionBenchmarkEntry {
            name: &bench.id,
            unit: match bench.metric {
                Metric::WallTime => "ns",
                Metric::Instructions => "instructions",
            },
            value: bench.summary.median,
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("export serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::run;

    #[test]
    fn github_action_benchmark_export() {
        let value: serde_json::Value =
            serde_json::from_str(&github_action_benchmark(&run())).unwrap();
        assert_eq!(
            value,
            serde_json::json!([
                {"name": "a \"quoted\"", "unit": "ns", "value": 200.0},
                {"name": "b/fast", "unit": "ns", "value": 11.0},
                {"name": "b/fast", "unit": "instructions", "value": 1234.0}
            ])
        );
    }
}
