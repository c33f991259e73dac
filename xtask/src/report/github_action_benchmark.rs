//! The github-action-benchmark export: its `customSmallerIsBetter` JSON
//! (<https://github.com/benchmark-action/github-action-benchmark>), an array of
//! `{"name", "unit", "value", "range"?, "extra"?}` with `range` and `extra` as text.

use std::collections::HashSet;

use serde::Serialize;

use super::*;

#[derive(Serialize)]
struct ActionBenchmarkEntry {
    name: String,
    unit: &'static str,
    value: f64,
    /// The spread, as the action shows it: `± <standard deviation>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    /// The verdict against the old side, shown in the chart's tooltip.
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<String>,
}

/// The new side of the comparison as github-action-benchmark's `customSmallerIsBetter` JSON:
/// one entry per benchmark and metric with its median (`ns` per iteration, for the gate the
/// median of the head's rounds; or `instructions`), the standard deviation as `range` when
/// there is more than one value, and the verdict as `extra`; sorted by id, then metric.
///
/// The action draws one chart per name, so when one id has both a wall time and an
/// instruction count, the count's name gets ` (instructions)` and the two never share a chart.
/// Rows without a new side (missing) and values that are not finite are left out.
pub fn github_action_benchmark(cmp: &Comparison) -> String {
    let wall_time_ids: HashSet<&str> = cmp
        .rows
        .iter()
        .filter(|row| row.metric == Metric::WallTime)
        .map(|row| row.id.as_str())
        .collect();
    let entries: Vec<ActionBenchmarkEntry> = sorted(cmp)
        .filter_map(|row| {
            let new = row.new.as_ref().filter(|s| s.median.is_finite())?;
            let (unit, name) = match row.metric {
                Metric::WallTime => ("ns", row.id.clone()),
                Metric::Instructions if wall_time_ids.contains(row.id.as_str()) => {
                    ("instructions", format!("{} (instructions)", row.id))
                }
                Metric::Instructions => ("instructions", row.id.clone()),
            };
            let range = (new.n > 1 && new.std_dev.is_finite())
                .then(|| format!("± {}", round_to(new.std_dev, 2)));
            let extra = match row.verdict {
                Verdict::New => Some("new: no old side to compare with".to_owned()),
                _ => Some(format!(
                    "{}: change {}, threshold {:.1}%",
                    verdict_cell(row),
                    change_cell(row),
                    row.threshold * 100.0
                )),
            };
            Some(ActionBenchmarkEntry {
                name,
                unit,
                value: new.median,
                range,
                extra,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("export serialises");
    text.push('\n');
    text
}

/// `value` rounded to `decimals` places, without trailing zeros (`12.5`, `3`).
fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{fixture, hostile_ids, run_alone};

    /// A run on its own (`bench` without a baseline): every benchmark, new, with its spread.
    #[test]
    fn github_action_benchmark_export() {
        let value: serde_json::Value =
            serde_json::from_str(&github_action_benchmark(&run_alone())).unwrap();
        let new = "new: no old side to compare with";
        assert_eq!(
            value,
            serde_json::json!([
                {"name": "a \"quoted\"", "unit": "ns", "value": 200.0, "range": "± 141.42", "extra": new},
                {"name": "b/fast", "unit": "ns", "value": 11.0, "range": "± 1", "extra": new},
                {"name": "b/fast (instructions)", "unit": "instructions", "value": 1234.0, "extra": new}
            ])
        );
    }

    /// A comparison: the new side, the verdicts in `extra`, names unique, the missing
    /// benchmark left out.
    #[test]
    fn github_action_benchmark_carries_the_new_side_and_the_verdict() {
        let cmp = fixture();
        let value: serde_json::Value =
            serde_json::from_str(&github_action_benchmark(&cmp)).unwrap();
        let entries = value.as_array().unwrap();
        assert_eq!(
            entries.len(),
            cmp.rows.iter().filter(|row| row.new.is_some()).count()
        );
        let names: HashSet<&str> = entries
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), entries.len(), "one chart per entry");
        for entry in entries {
            let object = entry.as_object().unwrap();
            for key in object.keys() {
                assert!(
                    ["name", "unit", "value", "range", "extra"].contains(&key.as_str()),
                    "{key}"
                );
            }
            assert!(entry["value"].is_number());
            assert!(["ns", "instructions"].contains(&entry["unit"].as_str().unwrap()));
            assert!(object.get("range").is_none_or(serde_json::Value::is_string));
            assert!(entry["extra"].is_string());
        }
        let find = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap();
        let regressed = find("cache/get/ours");
        assert_eq!(regressed["value"], 912.0);
        assert_eq!(regressed["range"], "± 45.6");
        assert_eq!(
            regressed["extra"],
            "regressed: change +12.3% [+10.3%, +14.3%], threshold 5.0%"
        );
        assert_eq!(find("cache/get/ours (instructions)")["value"], 10_010.0);
        assert!(!names.contains("cache/evict/old_name"), "missing");
    }

    #[test]
    fn github_action_benchmark_keeps_hostile_names_exact() {
        let cmp = hostile_ids();
        let value: serde_json::Value =
            serde_json::from_str(&github_action_benchmark(&cmp)).unwrap();
        let names: Vec<&str> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        let mut ids: Vec<&str> = cmp.rows.iter().map(|row| row.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(names, ids);
    }
}
