//! The Bencher Metric Format export (<https://bencher.dev/docs/reference/bencher-metric-format/>).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Metric, Run};

#[derive(Serialize)]
struct BencherMetric {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

/// The run in Bencher Metric Format: per id, `latency` (median ns per iteration, with min and
/// max as bounds) for wall time and `instructions` for counts. Keys sorted.
pub fn bencher_metric_format(run: &Run) -> String {
    let mut out: BTreeMap<&str, BTreeMap<&str, BencherMetric>> = BTreeMap::new();
    for bench in &run.benchmarks {
        let s = &bench.summary;
        let (measure, metric) = match bench.metric {
            Metric::WallTime => (
                "latency",
                BencherMetric {
                    value: s.median,
                    lower_value: Some(s.min),
                    upper_value: Some(s.max),
                },
            ),
            Metric::Instructions => (
                "instructions",
                BencherMetric {
                    value: s.median,
                    lower_value: None,
                    upper_value: None,
                },
            ),
        };
        out.entry(&bench.id).or_default().insert(measure, metric);
    }
    let mut text = serde_json::to_string_pretty(&out).expect("export serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::run;

    #[test]
    fn bencher_metric_format_export() {
        let value: serde_json::Value =
            serde_json::from_str(&bencher_metric_format(&run())).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "a \"quoted\"": {
                    "latency": {"value": 200.0, "lower_value": 100.0, "upper_value": 300.0}
                },
                "b/fast": {
                    "instructions": {"value": 1234.0},
                    "latency": {"value": 11.0, "lower_value": 10.0, "upper_value": 12.0}
                }
            })
        );
    }
}
