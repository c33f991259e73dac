//! The Bencher Metric Format export (<https://bencher.dev/docs/reference/bencher-metric-format/>):
//! `{"<benchmark>": {"<measure>": {"value", "lower_value", "upper_value"}}}`, for
//! `bencher run --adapter json --file PATH`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decide::Comparison;
use crate::model::Metric;

#[derive(Serialize)]
struct BencherMetric {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

/// The new side of the comparison in Bencher Metric Format: per benchmark id, the measure
/// `latency` (Bencher's built-in, in nanoseconds: the median per iteration, or for the gate the
/// median of the head's rounds, with the minimum and maximum as bounds) for wall time and
/// `instructions` (the count) for instruction counts. Rows without a new side (missing) and
/// values that are not finite (JSON has no NaN) are left out; keys sorted.
pub fn bencher_metric_format(cmp: &Comparison) -> String {
    let mut out: BTreeMap<&str, BTreeMap<&str, BencherMetric>> = BTreeMap::new();
    for row in &cmp.rows {
        let Some(s) = &row.new else { continue };
        if !s.median.is_finite() {
            continue;
        }
        let finite = |value: f64| value.is_finite().then_some(value);
        let (measure, metric) = match row.metric {
            Metric::WallTime => (
                "latency",
                BencherMetric {
                    value: s.median,
                    lower_value: finite(s.min),
                    upper_value: finite(s.max),
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
        out.entry(&row.id).or_default().insert(measure, metric);
    }
    let mut text = serde_json::to_string_pretty(&out).expect("export serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{fixture, hostile_ids, run_alone};

    /// A run on its own (`bench` without a baseline): every benchmark, its median and range.
    #[test]
    fn bencher_metric_format_export() {
        let value: serde_json::Value =
            serde_json::from_str(&bencher_metric_format(&run_alone())).unwrap();
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

    /// A comparison: the new side only; the missing benchmark is left out, the new one kept.
    #[test]
    fn bencher_metric_format_carries_the_new_side() {
        let cmp = fixture();
        let value: serde_json::Value = serde_json::from_str(&bencher_metric_format(&cmp)).unwrap();
        let benchmarks = value.as_object().unwrap();
        let with_new: std::collections::BTreeSet<&str> = cmp
            .rows
            .iter()
            .filter(|row| row.new.is_some())
            .map(|row| row.id.as_str())
            .collect();
        assert_eq!(
            benchmarks.keys().map(String::as_str).collect::<Vec<_>>(),
            with_new.into_iter().collect::<Vec<_>>()
        );
        assert!(!benchmarks.contains_key("cache/evict/old_name"), "missing");
        for row in &cmp.rows {
            let Some(new) = &row.new else { continue };
            let measures = benchmarks[&row.id].as_object().unwrap();
            let (measure, bounds) = match row.metric {
                Metric::WallTime => ("latency", true),
                Metric::Instructions => ("instructions", false),
            };
            let metric = measures[measure].as_object().unwrap();
            // serde_json parses floats to within an ulp, not always exactly.
            let close = |key: &str, want: f64| {
                let got = metric[key].as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs(),
                    "{}: {key} {got}",
                    row.id
                );
            };
            close("value", new.median);
            assert_eq!(metric.contains_key("lower_value"), bounds, "{}", row.id);
            if bounds {
                close("lower_value", new.min);
                close("upper_value", new.max);
            }
        }
        // Both measures of one benchmark sit under its one key.
        assert_eq!(benchmarks["cache/get/ours"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn bencher_metric_format_keeps_hostile_names_exact() {
        let cmp = hostile_ids();
        let value: serde_json::Value = serde_json::from_str(&bencher_metric_format(&cmp)).unwrap();
        let names: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut ids: Vec<&str> = cmp.rows.iter().map(|row| row.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(names, ids);
    }

    #[test]
    fn bencher_metric_format_leaves_out_values_json_cannot_carry() {
        let mut cmp = fixture();
        for row in &mut cmp.rows {
            if let Some(new) = &mut row.new {
                new.median = f64::NAN;
            }
        }
        assert_eq!(bencher_metric_format(&cmp), "{}\n");
    }
}
