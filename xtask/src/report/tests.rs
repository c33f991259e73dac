//! The shared fixtures of the reports' tests (a comparison with one row of each verdict, hostile
//! ids, snapshot files) and the tests of the shared formatting and of every format at once.

use std::path::{Path, PathBuf};

use super::*;
use crate::decide::Mode;
use crate::model::{Benchmark, Run, RunMeta, SCHEMA_VERSION};

fn summary(median: f64) -> Summary {
    Summary {
        n: 10,
        mean: median,
        median,
        min: median * 0.9,
        max: median * 1.2,
        std_dev: median * 0.05,
    }
}

fn row(id: &str, metric: Metric, verdict: Verdict, old: Option<f64>, new: Option<f64>) -> Row {
    let change = match (old, new) {
        (Some(o), Some(n)) => Some(n / o - 1.0),
        _ => None,
    };
    let (unit, threshold) = match metric {
        Metric::WallTime => ("ns", 0.05),
        Metric::Instructions => ("instructions", 0.01),
    };
    let mut row = Row::new(id, metric, unit, threshold);
    row.verdict = verdict;
    row.change = change;
    row.interval = change.map(|c| (c - 0.02, c + 0.02));
    row.old = old.map(summary);
    row.new = new.map(summary);
    row
}

/// One row of each verdict, an advisory regression and notes.
pub(super) fn fixture() -> Comparison {
    let mut advisory = row(
        "cache/get/moka",
        Metric::WallTime,
        Verdict::Regressed,
        Some(3_050_000.0),
        Some(3_600_000.0),
    );
    advisory.advisory = Some(Advisory::Configured);
    let missing = row(
        "cache/evict/old_name",
        Metric::WallTime,
        Verdict::Missing,
        Some(1_200_000_000.0),
        None,
    );
    let mut improved = row(
        "codec::decode::zstd level_3",
        Metric::Instructions,
        Verdict::Improved,
        Some(1_254_883.0),
        Some(1_100_000.0),
    );
    improved.interval = None;
    let mut regressed = row(
        "cache/get/ours",
        Metric::WallTime,
        Verdict::Regressed,
        Some(812.0),
        Some(912.0),
    );
    regressed
        .notes
        .push(RowNote::RelativeToControls { drift: 0.031 });
    let rows = vec![
        regressed,
        advisory,
        row(
            "cache/insert/ours",
            Metric::WallTime,
            Verdict::Inconclusive,
            Some(12_400.0),
            Some(13_100.0),
        ),
        improved,
        row(
            "cache/scan/ours",
            Metric::WallTime,
            Verdict::New,
            None,
            Some(45_600.0),
        ),
        missing,
        row(
            "cache/get/ours",
            Metric::Instructions,
            Verdict::Unchanged,
            Some(10_000.0),
            Some(10_010.0),
        ),
        row(
            "cache/len/ours",
            Metric::WallTime,
            Verdict::Unchanged,
            Some(2.5),
            Some(2.49),
        ),
    ];
    let mut cmp = Comparison {
        mode: Mode::OneRunPerSide,
        rows,
        notes: vec![
            "Wall time compares one run per side, so only large changes count.".to_owned(),
            "Baseline: baselines/x86_64-linux.json.".to_owned(),
        ],
        gate: None,
    };
    cmp.rows
        .sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));
    cmp
}

pub(super) fn hostile_ids() -> Comparison {
    let ids = [
        "a|b",
        "<script>alert(1)</script>",
        "`x`",
        "line\nbreak",
        "\u{1b}[31mred",
        "ünï/çødé/日本",
        "# heading *em* _u_ [l](http://x) @octocat & \"q\"",
    ];
    Comparison {
        mode: Mode::OneRunPerSide,
        rows: ids
            .iter()
            .map(|id| {
                row(
                    id,
                    Metric::WallTime,
                    Verdict::Regressed,
                    Some(100.0),
                    Some(200.0),
                )
            })
            .collect(),
        notes: vec!["note with <b>html</b> | pipe".to_owned()],
        gate: None,
    }
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/report")
        .join(name)
}

/// Compares `actual` with the snapshot file `name`; `UPDATE_SNAPSHOTS=1` rewrites it.
#[track_caller]
pub(super) fn check(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "snapshot {} differs from line {}; rerun with UPDATE_SNAPSHOTS=1 to accept\n\
             --- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            line + 1
        );
    }
}

/// Wall times from another host: one line says so, the rows leave the table and the
/// summary, and their numbers stay in the JSON and a folded Markdown section.
#[test]
fn wall_time_not_judged_is_said_once() {
    let mut rows = Vec::new();
    for i in 0..40 {
        let mut r = row(
            &format!("g/{i:02}"),
            Metric::WallTime,
            Verdict::Regressed,
            Some(100.0),
            Some(200.0),
        );
        r.advisory = Some(Advisory::WallTimeNotJudged(HostDifference::OtherHost));
        rows.push(r);
    }
    rows.push(row(
        "g/00",
        Metric::Instructions,
        Verdict::Unchanged,
        Some(1000.0),
        Some(1000.0),
    ));
    let cmp = Comparison {
        mode: Mode::OneRunPerSide,
        rows,
        notes: vec![],
        gate: None,
    };
    let line = "wall time not judged (40 rows): the baseline was measured on another host; \
                instruction counts gated";
    let text = terminal(&cmp, false);
    assert!(
        text.starts_with("benchmark  metric    old    new  change                verdict\n"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("g/")).count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("\nPASS: 1 unchanged, 40 not judged\n"),
        "{text}"
    );
    assert!(!text.contains("advisory"), "{text}");
    assert_eq!(text.matches("not judged (").count(), 1, "{text}");
    assert!(text.contains(&format!("\nnote: {line}\n")), "{text}");

    let md = markdown(&cmp);
    assert!(md.contains("1 unchanged, 40 not judged.\n"), "{md}");
    assert!(
        md.contains("<summary>40 wall-time rows not judged</summary>"),
        "{md}"
    );
    assert_eq!(md.matches("| not judged |").count(), 40, "{md}");
    assert!(!md.contains("advisory"), "{md}");
    assert!(!md.contains("### Notes"), "{md}");

    let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
    assert_eq!(value["verdict"], "pass");
    assert_eq!(value["counts"]["not_judged"], 40);
    assert_eq!(value["notes"][0], line);
    let first = &value["benchmarks"][0];
    assert_eq!(first["advisory_reason"], "wall_time_not_judged");
    assert_eq!(
        first["note"],
        "wall time not judged: the baseline was measured on another host"
    );
    assert!(first["change"].as_f64().unwrap() > 0.9, "numbers kept");
    assert!(junit(&cmp).contains("failures=\"0\""));
}

#[test]
fn empty_comparison() {
    let cmp = Comparison {
        mode: Mode::OneRunPerSide,
        rows: vec![],
        notes: vec![],
        gate: None,
    };
    assert_eq!(terminal(&cmp, false), "PASS: no benchmarks compared\n");
    assert_eq!(
        markdown(&cmp),
        "## ✅ Benchmarks: pass\n\nNo benchmarks compared.\n"
    );
    let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
    assert_eq!(value["verdict"], "pass");
    assert_eq!(value["benchmarks"], serde_json::json!([]));
}

#[test]
fn time_units() {
    let cases = [
        (0.0, "0.00 ns"),
        (0.523, "0.52 ns"),
        (9.994, "9.99 ns"),
        (9.996, "10.0 ns"),
        (12.34, "12.3 ns"),
        (99.96, "100 ns"),
        (812.0, "812 ns"),
        (812.4, "812 ns"),
        (999.4, "999 ns"),
        (999.7, "1.00 µs"),
        (1_000.0, "1.00 µs"),
        (12_400.0, "12.4 µs"),
        (123_456.0, "123 µs"),
        (3_050_000.0, "3.05 ms"),
        (999_600_000.0, "1.00 s"),
        (1_200_000_000.0, "1.20 s"),
        (61_000_000_000.0, "61.0 s"),
        (12_345_000_000_000.0, "12345 s"),
    ];
    for (ns, want) in cases {
        assert_eq!(format_ns(ns), want, "{ns} ns");
    }
}

#[test]
fn instruction_counts() {
    let cases = [
        (0.0, "0"),
        (7.0, "7"),
        (999.0, "999"),
        (1_000.0, "1,000"),
        (12_345.0, "12,345"),
        (1_254_883.0, "1,254,883"),
        (1_254_882.5, "1,254,883"),
        (123_456_789_012.0, "123,456,789,012"),
        (-1_234.0, "-1,234"),
    ];
    for (count, want) in cases {
        assert_eq!(format_count(count), want, "{count}");
    }
}

#[test]
fn percentages() {
    let cases = [
        (0.123, "+12.3%"),
        (-0.08, "-8.0%"),
        (0.0, "+0.0%"),
        (-0.0001, "+0.0%"),
        (2.5, "+250.0%"),
        (f64::NAN, "n/a"),
    ];
    for (relative, want) in cases {
        assert_eq!(format_percent(relative), want, "{relative}");
    }
}

#[test]
fn step_summary_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    write_step_summary_to(Some(&path), "# one").unwrap();
    write_step_summary_to(Some(&path), "two\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# one\ntwo\n");
    write_step_summary_to(None, "ignored").unwrap();
    let err = write_step_summary_to(Some(&dir.path().join("no/such/dir.md")), "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("step summary"), "{err}");
}

fn bench(id: &str, metric: Metric, samples: &[f64]) -> Benchmark {
    Benchmark {
        id: id.to_owned(),
        metric,
        unit: match metric {
            Metric::WallTime => "ns",
            Metric::Instructions => "instructions",
        }
        .to_owned(),
        samples: samples.to_vec(),
        iterations: vec![],
        summary: Summary::of(samples),
        throughput: None,
    }
}

fn run() -> Run {
    Run {
        schema_version: SCHEMA_VERSION,
        meta: RunMeta::default(),
        benchmarks: vec![
            bench("b/fast", Metric::WallTime, &[10.0, 12.0, 11.0]),
            bench("a \"quoted\"", Metric::WallTime, &[100.0, 300.0]),
            bench("b/fast", Metric::Instructions, &[1234.0]),
        ],
    }
}

/// [`run`] compared with nothing, as `bench` exports a run without a baseline: every row new.
pub(super) fn run_alone() -> Comparison {
    let run = run();
    let nothing = Run {
        benchmarks: vec![],
        ..run.clone()
    };
    crate::decide::compare(&nothing, &run, &crate::config::Config::default())
}
