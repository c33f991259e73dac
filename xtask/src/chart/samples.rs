//! Synthetic histories and comparisons for the chart and site tests, and the hostile names
//! they must survive.

use sha2::{Digest, Sha256};

use crate::changepoint::ChangePoint;
use crate::history::{Entry, MachineId, Series};
use crate::model::Metric;

/// Names that must come out escaped everywhere.
pub(crate) const HOSTILE: [&str; 5] = [
    "<script>alert(1)</script>",
    "a&b",
    "\"q'",
    "bell\u{7}/x",
    "hostile/<script>alert(1)</script>/a&b/\"q'/\u{7}/and a very long tail that goes on and on and on and on and on and on and on and on and on and on and on and on",
];

/// A fake commit hash, distinct per `index`.
pub(crate) fn commit(index: usize) -> String {
    Sha256::digest(index.to_le_bytes())
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A series of `medians` (one run each, one day apart), each with `std_dev`.
pub(crate) fn series(
    id: &str,
    metric: Metric,
    unit: &str,
    medians: &[f64],
    std_dev: f64,
) -> Series {
    series_on("ci-x86_64-4-cores", id, metric, unit, medians, std_dev)
}

/// [`series`] on machine class `class`.
pub(crate) fn series_on(
    class: &str,
    id: &str,
    metric: Metric,
    unit: &str,
    medians: &[f64],
    std_dev: f64,
) -> Series {
    let points = medians
        .iter()
        .enumerate()
        .map(|(index, &median)| Entry {
            commit: commit(index),
            subject: format!("commit number {index}"),
            time: format!(
                "2026-{:02}-{:02}T12:00:00Z",
                1 + index / 28 % 12,
                1 + index % 28
            ),
            machine: MachineId {
                class: class.to_string(),
                cpu_model: None,
                cores: None,
            },
            id: id.to_string(),
            metric,
            unit: unit.to_string(),
            n: 100,
            median,
            mean: median,
            min: median - std_dev,
            max: median + std_dev,
            std_dev,
        })
        .collect();
    Series {
        id: id.to_string(),
        metric,
        unit: unit.to_string(),
        points,
    }
}

/// A change point at `index` from level `before` to `after`.
pub(crate) fn change_point(index: usize, before: f64, after: f64) -> ChangePoint {
    ChangePoint {
        index,
        before,
        after,
        relative: after / before - 1.0,
        p_value: 0.001,
    }
}

/// A noisy wall-time history with a step up at `step` (deterministic wiggle, no RNG needed).
pub(crate) fn noisy(level: f64, n: usize, step: usize, factor: f64) -> Vec<f64> {
    (0..n)
        .map(|index| {
            let wiggle = ((index * 7919) % 13) as f64 / 13.0 - 0.5;
            let base = if index >= step { level * factor } else { level };
            base * (1.0 + 0.01 * wiggle)
        })
        .collect()
}

/// A comparison of `rows` (id, relative change): wall time for criterion-looking ids,
/// instructions for `iai_` ids; the verdict follows a 5 % threshold.
pub(crate) fn comparison(rows: &[(&str, f64)]) -> crate::decide::Comparison {
    use crate::decide::{Comparison, Mode, Row, Verdict};
    use crate::model::Summary;
    let rows = rows
        .iter()
        .map(|&(id, change)| {
            let (metric, unit, base) = if id.starts_with("iai_") {
                (Metric::Instructions, "instructions", 1_234_567.0)
            } else {
                (Metric::WallTime, "ns", 1530.0)
            };
            let mut row = Row::new(id, metric, unit, 0.05);
            let summary = |median: f64| Summary {
                n: 100,
                mean: median,
                median,
                min: median,
                max: median,
                std_dev: 0.0,
            };
            row.old = Some(summary(base));
            row.new = Some(summary(base * (1.0 + change)));
            row.change = Some(change);
            row.interval = match metric {
                Metric::WallTime => Some((change - 0.02, change + 0.025)),
                Metric::Instructions => Some((change, change)),
            };
            row.verdict = if change - 0.02 > 0.05 {
                Verdict::Regressed
            } else if change + 0.025 < -0.05 {
                Verdict::Improved
            } else if change.abs() > 0.05 {
                Verdict::Inconclusive
            } else {
                Verdict::Unchanged
            };
            row
        })
        .collect();
    Comparison {
        mode: Mode::Interleaved,
        rows,
        notes: Vec::new(),
        gate: None,
    }
}
