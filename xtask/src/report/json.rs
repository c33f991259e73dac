//! The JSON report for machines: pretty and deterministic, with the minimum fields tools rely
//! on (`verdict`, and per benchmark `id`, `metric`, `verdict`, `change`, `interval`,
//! `threshold`).

use serde::Serialize;

use super::*;
use crate::decide::Mode;

#[derive(Serialize)]
struct JsonReport<'a> {
    verdict: &'static str,
    mode: Mode,
    counts: Counts,
    notes: Vec<String>,
    benchmarks: Vec<JsonRow<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<&'a crate::worktree::Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<&'a crate::worktree::Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<&'a crate::decide::GateSummary>,
}

#[derive(Serialize, Default)]
struct Counts {
    regressed: usize,
    inconclusive: usize,
    improved: usize,
    new: usize,
    missing: usize,
    unchanged: usize,
    advisory: usize,
    /// Wall-time rows not judged (another host or boot); also counted as advisory.
    not_judged: usize,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    id: &'a str,
    metric: Metric,
    unit: &'a str,
    verdict: Verdict,
    change: Option<f64>,
    interval: Option<[f64; 2]>,
    threshold: f64,
    old: Option<Summary>,
    new: Option<Summary>,
    advisory: bool,
    /// Why the row is advisory, as a snake_case tag ([`Advisory::tag`]).
    advisory_reason: Option<&'static str>,
    /// The advisory reason and the row's notes in words, for people.
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rounds: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    rerun: bool,
    /// The minimum detectable effect (relative).
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum_detectable_effect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    functions: Option<&'a crate::callgrind::FunctionDiff>,
}

/// The JSON report: pretty, deterministic (rows sorted by id, then metric), with `verdict`
/// `"pass"` or `"fail"`, the mode, counts per verdict, the notes and one object per row;
/// `change` and `interval` are relative (0.05 = 5 % more time or instructions).
pub fn json(cmp: &Comparison) -> String {
    let mut counts = Counts::default();
    for row in &cmp.rows {
        *match row.verdict {
            Verdict::Regressed => &mut counts.regressed,
            Verdict::Inconclusive => &mut counts.inconclusive,
            Verdict::Improved => &mut counts.improved,
            Verdict::New => &mut counts.new,
            Verdict::Missing => &mut counts.missing,
            Verdict::Unchanged => &mut counts.unchanged,
        } += 1;
        counts.advisory += usize::from(row.advisory.is_some());
        counts.not_judged += usize::from(not_judged(row));
    }
    let report = JsonReport {
        verdict: if cmp.failed() { "fail" } else { "pass" },
        mode: cmp.mode,
        counts,
        notes: run_notes(cmp),
        benchmarks: sorted(cmp)
            .map(|row| JsonRow {
                id: &row.id,
                metric: row.metric,
                unit: &row.unit,
                verdict: row.verdict,
                change: row.change,
                interval: row.interval.map(|(lo, hi)| [lo, hi]),
                threshold: row.threshold,
                old: row.old,
                new: row.new,
                advisory: row.advisory.is_some(),
                advisory_reason: row.advisory.as_ref().map(Advisory::tag),
                note: full_note_text(row),
                rounds: row.rounds,
                rerun: row.rerun,
                minimum_detectable_effect: row.mde,
                functions: row.functions.as_ref(),
            })
            .collect(),
        base: cmp.gate.as_ref().map(|g| &g.base),
        head: cmp.gate.as_ref().map(|g| &g.head),
        gate: cmp.gate.as_ref(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("report serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{check, fixture};
    use crate::report::{junit, markdown, terminal};

    #[test]
    fn json_snapshot() {
        check("report.json", &json(&fixture()));
    }

    #[test]
    fn json_fields_and_verdict() {
        let cmp = fixture();
        let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
        assert_eq!(value["verdict"], "fail");
        assert_eq!(value["mode"], "one_run_per_side");
        assert_eq!(value["notes"].as_array().unwrap().len(), 2);
        let benchmarks = value["benchmarks"].as_array().unwrap();
        assert_eq!(benchmarks.len(), cmp.rows.len());
        let first = &benchmarks[0];
        for field in [
            "id",
            "metric",
            "unit",
            "verdict",
            "change",
            "interval",
            "threshold",
            "old",
            "new",
            "advisory",
            "advisory_reason",
            "note",
        ] {
            assert!(first.get(field).is_some(), "missing field {field}");
        }
        let keys: Vec<(String, String)> = benchmarks
            .iter()
            .map(|b| {
                (
                    b["id"].as_str().unwrap().to_owned(),
                    b["metric"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(keys[0], ("cache/evict/old_name".into(), "wall_time".into()));
        assert_eq!(keys[1], ("cache/get/moka".into(), "wall_time".into()));
        assert_eq!(keys[2], ("cache/get/ours".into(), "wall_time".into()));
        assert_eq!(keys[3], ("cache/get/ours".into(), "instructions".into()));
        let regressed = &benchmarks[2];
        assert_eq!(regressed["verdict"], "regressed");
        let change = regressed["change"].as_f64().unwrap();
        assert!((change - (912.0 / 812.0 - 1.0)).abs() < 1e-12);
        let interval = regressed["interval"].as_array().unwrap();
        assert_eq!(interval.len(), 2);
        assert!(interval[0].as_f64().unwrap() < change && change < interval[1].as_f64().unwrap());
        assert_eq!(benchmarks[1]["advisory_reason"], "configured");
        assert!(regressed["advisory_reason"].is_null());
        assert_eq!(
            regressed["note"],
            "relative to the controls (machine drift +3.1%)"
        );
        let missing = &benchmarks[0];
        assert!(missing["change"].is_null() && missing["interval"].is_null());
        assert!(missing["new"].is_null() && missing["old"]["median"].is_number());

        // Only the advisory regression left: pass.
        let mut only_advisory = cmp.clone();
        only_advisory
            .rows
            .retain(|r| r.verdict != Verdict::Regressed || r.advisory.is_some());
        let value: serde_json::Value = serde_json::from_str(&json(&only_advisory)).unwrap();
        assert_eq!(value["verdict"], "pass");
        assert!(markdown(&only_advisory).starts_with("## ✅ Benchmarks: pass\n"));
        assert!(terminal(&only_advisory, false).contains("\nPASS: 1 regressed (1 advisory)"));
        assert!(junit(&only_advisory).contains("failures=\"0\""));
    }
}
