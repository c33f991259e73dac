//! `--export FORMAT=PATH` (or `FORMAT PATH`) end to end: `bench diff` of two small run files writes the Bencher
//! Metric Format, github-action-benchmark and JUnit files, with hostile benchmark names intact
//! and escaped; every command that reports takes the option; a bad one exits 2.

use std::path::Path;
use std::process::{Command, Output};

use xtask::model::{Benchmark, Metric, Run, RunMeta, SCHEMA_VERSION, Summary};

/// A name a pull request could choose: markup, quotes and a control character XML forbids.
const HOSTILE: &str = "a<b>&\"c'\u{1}";

/// Deterministic per-iteration times around `base` (±2 %).
fn times(seed: u64, base: f64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..60)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            base * (0.98 + 0.04 * unit)
        })
        .collect()
}

fn benchmark(id: &str, metric: Metric, samples: Vec<f64>) -> Benchmark {
    Benchmark {
        id: id.to_owned(),
        metric,
        unit: match metric {
            Metric::WallTime => "ns",
            Metric::Instructions => "instructions",
        }
        .to_owned(),
        summary: Summary::of(&samples),
        samples,
        iterations: vec![],
        throughput: None,
    }
}

/// A run file: `fixture/steady` unchanged, `fixture/slow` 1.5x slower on the new side, the
/// hostile name 1.5x slower, `fixture/count` with 10 % more instructions, and
/// `fixture/gone` only on the old side.
fn write_run(path: &Path, new_side: bool) {
    let slow = if new_side { 1.5 } else { 1.0 };
    let mut benchmarks = vec![
        benchmark(
            "fixture/steady",
            Metric::WallTime,
            times(1 + u64::from(new_side), 1_000.0),
        ),
        benchmark(
            "fixture/slow",
            Metric::WallTime,
            times(10 + u64::from(new_side), 2_000.0 * slow),
        ),
        benchmark(
            HOSTILE,
            Metric::WallTime,
            times(20 + u64::from(new_side), 500.0 * slow),
        ),
        benchmark(
            "fixture/count",
            Metric::Instructions,
            vec![if new_side { 11_000.0 } else { 10_000.0 }],
        ),
    ];
    if !new_side {
        benchmarks.push(benchmark(
            "fixture/gone",
            Metric::WallTime,
            times(30, 100.0),
        ));
    }
    let run = Run {
        schema_version: SCHEMA_VERSION,
        meta: RunMeta::default(),
        benchmarks,
    };
    xtask::store::write_run(path, &run).unwrap();
}

fn xtask(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_WORKSPACE", workspace)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

#[test]
fn diff_writes_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    write_run(&old, false);
    write_run(&new, true);
    let bmf = dir.path().join("out/bmf.json");
    let action = dir.path().join("out/action.json");
    let junit = dir.path().join("out/nested/junit.xml");
    let export = |format: &str, path: &Path| format!("{format}={}", path.to_str().unwrap());
    let output = xtask(
        dir.path(),
        &[
            "bench",
            "diff",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "--export",
            &export("bmf", &bmf),
            "--export",
            &export("github-action-benchmark", &action),
            // The two-word form, `--export FORMAT PATH`, works as well.
            "--export",
            "junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    // Bencher Metric Format: the new side, latency in ns with bounds, instructions as counts.
    let bmf = read_json(&bmf);
    let benchmarks = bmf.as_object().unwrap();
    let mut names: Vec<&str> = benchmarks.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [HOSTILE, "fixture/count", "fixture/slow", "fixture/steady"],
        "the missing benchmark has no new side"
    );
    let slow = &bmf["fixture/slow"]["latency"];
    let value = slow["value"].as_f64().unwrap();
    assert!((value / 3_000.0 - 1.0).abs() < 0.03, "{value}");
    assert!(slow["lower_value"].as_f64().unwrap() <= value);
    assert!(slow["upper_value"].as_f64().unwrap() >= value);
    assert_eq!(
        bmf["fixture/count"],
        serde_json::json!({"instructions": {"value": 11_000.0}})
    );

    // github-action-benchmark: an array of {name, unit, value, range?, extra?}.
    let action = read_json(&action);
    let entries = action.as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for entry in entries {
        for key in entry.as_object().unwrap().keys() {
            assert!(
                ["name", "unit", "value", "range", "extra"].contains(&key.as_str()),
                "{key}"
            );
        }
        assert!(entry["name"].is_string() && entry["value"].is_number());
    }
    let find = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap();
    assert_eq!(find(HOSTILE)["unit"], "ns");
    assert_eq!(find("fixture/count")["unit"], "instructions");
    assert_eq!(find("fixture/count")["value"], 11_000.0);
    assert!(
        find("fixture/slow")["extra"]
            .as_str()
            .unwrap()
            .starts_with("regressed: change +")
    );

    // JUnit: one test case per row, failures for the regressions, the hostile name escaped.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(xml.ends_with("</testsuite>\n</testsuites>\n"));
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert_eq!(xml.matches("<failure ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<skipped ").count(), 1, "{xml}");
    assert_eq!(
        xml.matches("tests=\"5\" failures=\"3\" errors=\"0\" skipped=\"1\"")
            .count(),
        2,
        "{xml}"
    );
    assert!(
        xml.contains("name=\"a&lt;b&gt;&amp;&quot;c&apos;\\u{1}\""),
        "{xml}"
    );
    assert!(!xml.contains('\u{1}'));
}

/// The option sits on every command that reports: `bench`, `diff`, `compare` and `merge`.
#[test]
fn every_reporting_command_takes_export() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &["bench", "--help"][..],
        &["bench", "diff", "--help"],
        &["bench", "compare", "--help"],
        &["bench", "merge", "--help"],
        &["bench", "import", "--help"],
    ] {
        let output = xtask(dir.path(), command);
        assert_eq!(output.status.code(), Some(0), "{command:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            help.contains("--export <FORMAT=PATH>"),
            "{command:?}:\n{help}"
        );
        assert!(
            help.contains("github-action-benchmark"),
            "{command:?}:\n{help}"
        );
    }
}

#[test]
fn an_unknown_export_format_exits_2_naming_the_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    write_run(&old, false);
    write_run(&new, true);
    let output = xtask(
        dir.path(),
        &[
            "bench",
            "diff",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "--export",
            "csv=out.csv",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("give one of bmf, github-action-benchmark, junit"),
        "{message}"
    );
    assert!(!dir.path().join("out.csv").exists());
}
