//! The command line end to end: exit codes, messages, files written, for `diff`, `import` and
//! `accept`, on fixture workspaces and criterion trees built in temporary folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A criterion benchmark folder: `<root>/<dir>/<baseline>/{benchmark,sample}.json`.
fn write_criterion(root: &Path, baseline: &str, id: &str, per_iteration: &[f64]) {
    let dir = root.join(id.replace('/', "_")).join(baseline);
    std::fs::create_dir_all(&dir).unwrap();
    let benchmark = serde_json::json!({
        "group_id": id, "function_id": null, "value_str": null, "throughput": null,
        "full_id": id, "directory_name": id.replace('/', "_"), "title": id,
    });
    std::fs::write(dir.join("benchmark.json"), benchmark.to_string()).unwrap();
    let iters: Vec<f64> = (1..=per_iteration.len()).map(|i| i as f64 * 10.0).collect();
    let times: Vec<f64> = iters
        .iter()
        .zip(per_iteration)
        .map(|(n, t)| n * t)
        .collect();
    let sample = serde_json::json!({"sampling_mode": "Linear", "iters": iters, "times": times});
    std::fs::write(dir.join("sample.json"), sample.to_string()).unwrap();
}

/// Deterministic per-iteration times around `base` (±2 %), scaled by `factor`.
fn times(seed: u64, base: f64, factor: f64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..60)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            base * factor * (0.98 + 0.04 * unit)
        })
        .collect()
}

/// A criterion tree with three benchmarks, the middle one `slowdown` slower.
fn criterion_tree(root: &Path, baseline: &str, seed: u64, slowdown: f64) {
    for (idx, id) in ["fixture/a", "fixture/b", "fixture/c d é"]
        .iter()
        .enumerate()
    {
        let factor = if idx == 1 { 1.0 + slowdown } else { 1.0 };
        write_criterion(
            root,
            baseline,
            id,
            &times(seed + idx as u64, 1_000.0, factor),
        );
    }
}

/// A minimal workspace for commands that need one (`accept`).
fn fixture_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    dir
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

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn diff_of_a_clearly_slower_criterion_output_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    criterion_tree(&old, "new", 1, 0.0);
    criterion_tree(&new, "new", 100, 0.5);
    let json = dir.path().join("report.json");
    let output = xtask(
        dir.path(),
        &[
            "bench",
            "diff",
            path(&old),
            path(&new),
            "--json",
            path(&json),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "fail");
    let rows = report["benchmarks"].as_array().unwrap();
    let verdict_of = |id: &str| {
        rows.iter().find(|r| r["id"] == id).unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(verdict_of("fixture/b"), "regressed");
    assert_eq!(verdict_of("fixture/a"), "unchanged");
    assert_eq!(verdict_of("fixture/c d é"), "unchanged");
    let change = rows.iter().find(|r| r["id"] == "fixture/b").unwrap()["change"]
        .as_f64()
        .unwrap();
    assert!((change - 0.5).abs() < 0.05, "{change}");
}

#[test]
fn diff_of_unchanged_code_exits_0_and_named_baselines_work() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("criterion");
    criterion_tree(&tree, "base", 1, 0.0);
    criterion_tree(&tree, "new", 50, 0.0);
    let (old, new) = (
        format!("{}:base", path(&tree)),
        format!("{}:new", path(&tree)),
    );
    let output = xtask(dir.path(), &["bench", "diff", &old, &new]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("PASS"));
}

#[test]
fn diff_threshold_flag_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    criterion_tree(&old, "new", 1, 0.0);
    criterion_tree(&new, "new", 100, 0.5);
    let output = xtask(
        dir.path(),
        &["bench", "diff", path(&old), path(&new), "--threshold", "80"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn diff_of_a_corrupt_run_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("criterion");
    criterion_tree(&tree, "new", 1, 0.0);
    let good = dir.path().join("good.json");
    let output = xtask(
        dir.path(),
        &["bench", "import", path(&tree), "-o", path(&good)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&good).unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, &text[..text.len() / 3]).unwrap();
    let output = xtask(dir.path(), &["bench", "diff", path(&good), path(&corrupt)]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("corrupt.json"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
}

#[test]
fn diff_of_missing_and_unknown_inputs_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let output = xtask(
        dir.path(),
        &["bench", "diff", path(&missing), path(&missing)],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nope.json"));

    let future = dir.path().join("future.json");
    std::fs::write(
        &future,
        r#"{"schema_version": 99, "meta": {}, "benchmarks": []}"#,
    )
    .unwrap();
    let output = xtask(dir.path(), &["bench", "diff", path(&future), path(&future)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("schema version 99"));
}

#[test]
fn import_keeps_every_benchmark_and_raw_sample() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("criterion");
    criterion_tree(&tree, "new", 7, 0.0);
    let out = dir.path().join("run.json");
    let output = xtask(
        dir.path(),
        &["bench", "import", path(&tree), "-o", path(&out)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let benchmarks = run["benchmarks"].as_array().unwrap();
    assert_eq!(benchmarks.len(), 3);
    let expected = times(7, 1_000.0, 1.0);
    let samples: Vec<f64> = benchmarks[0]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(samples.len(), expected.len());
    for (got, want) in samples.iter().zip(&expected) {
        assert!((got - want).abs() <= want * 1e-12, "{got} vs {want}");
    }
}

/// Another project's criterion output straight to the exports: every benchmark is on the new
/// side, in Bencher Metric Format and as a passing JUnit test case.
#[test]
fn import_writes_exports_of_the_imported_benchmarks() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("criterion");
    criterion_tree(&tree, "new", 7, 0.0);
    let (out, bmf, junit) = (
        dir.path().join("run.json"),
        dir.path().join("bmf.json"),
        dir.path().join("junit.xml"),
    );
    let bmf_arg = format!("bmf={}", path(&bmf));
    let output = xtask(
        dir.path(),
        &[
            "bench",
            "import",
            path(&tree),
            "-o",
            path(&out),
            "--export",
            &bmf_arg,
            "--export",
            "junit",
            path(&junit),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let bmf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bmf).unwrap()).unwrap();
    let benchmarks = run["benchmarks"].as_array().unwrap();
    assert_eq!(bmf.as_object().unwrap().len(), benchmarks.len(), "{bmf}");
    for benchmark in benchmarks {
        let id = benchmark["id"].as_str().unwrap();
        let latency = &bmf[id]["latency"]["value"];
        assert_eq!(latency, &benchmark["summary"]["median"], "{id}: {bmf}");
    }
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count(),
        benchmarks.len(),
        "{junit}"
    );
    assert!(!junit.contains("<failure"), "{junit}");
}

#[test]
fn accept_records_the_reason_and_refuses_without_one() {
    let workspace = fixture_workspace();
    let tree = workspace.path().join("criterion");
    criterion_tree(&tree, "new", 3, 0.0);
    let run: PathBuf = workspace.path().join("run.json");
    let output = xtask(
        workspace.path(),
        &["bench", "import", path(&tree), "-o", path(&run)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let output = xtask(
        workspace.path(),
        &["bench", "accept", "--reason", "  ", "--run", path(&run)],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--reason"));

    let output = xtask(
        workspace.path(),
        &[
            "bench",
            "accept",
            "--reason",
            "new hashing",
            "--run",
            path(&run),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let baselines: Vec<_> = std::fs::read_dir(workspace.path().join("baselines"))
        .unwrap()
        .collect();
    assert_eq!(baselines.len(), 1);
    let text = std::fs::read_to_string(baselines[0].as_ref().unwrap().path()).unwrap();
    assert!(text.contains("\"reason\": \"new hashing\""), "{text}");
}

#[test]
fn accept_without_a_run_exits_2_with_the_fix() {
    let workspace = fixture_workspace();
    let output = xtask(workspace.path(), &["bench", "accept", "--reason", "x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("run `cargo xtask bench` first"),
        "{}",
        stderr(&output)
    );
}

/// `cargo xtask bench diff OLD NEW | head`: standard output is a pipe whose reader is gone
/// before anything is written. The exit code must still be the comparison's (0 or 1), not a
/// panic's 101.
#[test]
fn diff_into_a_closed_pipe_keeps_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, same) = (
        dir.path().join("old"),
        dir.path().join("new"),
        dir.path().join("same"),
    );
    criterion_tree(&old, "new", 1, 0.0);
    criterion_tree(&new, "new", 100, 0.5);
    criterion_tree(&same, "new", 50, 0.0);
    let json = dir.path().join("report.json");
    for (other, expected) in [(&new, 1), (&same, 0)] {
        let (reader, writer) = std::io::pipe().unwrap();
        // Closed at once: nothing will ever be read, as when `head` has exited.
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "bench",
                "diff",
                path(&old),
                path(other),
                "--json",
                path(&json),
            ])
            .env("XTASK_WORKSPACE", dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_STEP_SUMMARY")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(expected), "{message}");
        assert!(!message.contains("panicked"), "{message}");
        // The report files are still written.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(
            report["verdict"],
            if expected == 1 { "fail" } else { "pass" }
        );
    }
}
