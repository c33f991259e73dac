//! The `trace-replay` command line: table and JSON output, several traces, and exit status 2
//! with a one-line message for bad traces and bad flags.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory holding a small LIRS trace and a small ARC trace.
fn traces(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let lirs: String = (0..3000).map(|i| format!("{}\n", i * i % 700)).collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(lirs.as_bytes()).unwrap();
    fs::write(dir.join("small.trace.gz"), encoder.finish().unwrap()).unwrap();
    let arc: String = (0..1000)
        .map(|i| format!("{} 2 0 {i}\n", i % 300))
        .collect();
    fs::write(dir.join("small.lis"), arc).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trace-replay"))
        .args(args)
        .output()
        .unwrap()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Asserts exit status 2 and a one-line error on stderr; returns that line.
fn fails(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    stderr
}

fn one_line(output: &Output) -> String {
    let stderr = fails(output);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn json_has_exactly_the_agreed_fields() {
    let dir = traces("json");
    let trace = path(&dir, "small.trace.gz");
    let output = run(&["--trace", &trace, "--capacity", "50,100", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 8, "two capacities, four implementations");
    for row in &rows {
        let mut fields: Vec<&str> = row.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["capacity", "hit_ratio", "hits", "impl", "requests"]
        );
        assert_eq!(row["requests"], 3000);
        let ratio = row["hit_ratio"].as_f64().unwrap();
        let hits = row["hits"].as_u64().unwrap();
        assert!((ratio - hits as f64 / 3000.0).abs() < 1e-12, "{row:?}");
    }
    let impls: Vec<&str> = rows
        .iter()
        .map(|row| row["impl"].as_str().unwrap())
        .collect();
    assert_eq!(impls[..4], ["ours", "lru", "moka", "quick_cache"]);
}

#[test]
fn table_covers_every_trace_given() {
    let dir = traces("table");
    let both = format!(
        "{},{}",
        path(&dir, "small.trace.gz"),
        path(&dir, "small.lis")
    );
    let output = run(&["--trace", &both, "--capacity", "100", "--impl", "lru,ours"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("trace") && lines[0].ends_with("hit ratio %"));
    assert!(lines[1].starts_with("small.trace.gz") && lines[1].contains(" lru "));
    assert!(lines[4].starts_with("small.lis") && lines[4].contains("2000"));

    // Repeated flags and --data-dir give the same rows.
    let data_dir = dir.to_string_lossy();
    let output = run(&[
        "--data-dir",
        &data_dir,
        "--trace",
        "small.trace.gz",
        "--trace",
        "small.lis",
        "--capacity",
        "100",
        "--impl",
        "lru,ours",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), stdout);
}

#[test]
fn json_with_several_traces_is_refused() {
    let dir = traces("json_several");
    let output = run(&[
        "--trace",
        &path(&dir, "small.trace.gz"),
        "--trace",
        &path(&dir, "small.lis"),
        "--json",
    ]);
    assert!(one_line(&output).contains("--json"));
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_traces_exit_2_naming_the_file() {
    let dir = traces("bad");
    let missing = path(&dir, "missing.trace.gz");
    assert!(one_line(&run(&["--trace", &missing])).contains(&missing));

    let corrupt = path(&dir, "corrupt.trace.gz");
    fs::write(&corrupt, b"not gzip").unwrap();
    let stderr = one_line(&run(&["--trace", &corrupt]));
    assert!(
        stderr.contains(&corrupt) && stderr.contains("line 1"),
        "{stderr}"
    );

    let bad_line = path(&dir, "bad.trace");
    fs::write(&bad_line, b"1\n2\nthree\n").unwrap();
    for args in [
        &["--trace", &bad_line][..],
        &["--trace", &bad_line, "--format", "lirs"],
    ] {
        let stderr = one_line(&run(args));
        assert!(
            stderr.contains(&bad_line) && stderr.contains("line 3"),
            "{stderr}"
        );
    }

    let truncated = path(&dir, "truncated.trace");
    fs::write(&truncated, [0, 0, 0, 1, 0, 0]).unwrap();
    let stderr = one_line(&run(&["--trace", &truncated]));
    assert!(stderr.contains("byte offset 4"), "{stderr}");
}

#[test]
fn bad_flags_exit_2() {
    let dir = traces("flags");
    let trace = path(&dir, "small.lis");
    fails(&run(&[]));
    fails(&run(&["--trace", &trace, "--impl", "fifo"]));
    fails(&run(&["--trace", &trace, "--capacity", "0"]));
    fails(&run(&["--trace", &trace, "--capacity", "ten"]));
    fails(&run(&["--trace", &trace, "--format", "csv"]));
}

#[test]
fn warmup_reports_every_capacity_and_prefix() {
    let dir = traces("warmup");
    let trace = path(&dir, "small.trace.gz");
    let output = run(&[
        "--trace",
        &trace,
        "--capacity",
        "50,100",
        "--warmup",
        "--split",
        "0.5",
        "--first",
        "100,10000",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 4, "two capacities, two prefixes");
    let fields = [
        "capacity",
        "split",
        "snapshot_len",
        "requests",
        "cold",
        "warm",
        "refill",
        "continued",
    ];
    for row in &rows {
        let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = fields.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(row["split"], 1500);
    }
    // The second prefix is capped at the 1,500 requests left after the split.
    assert_eq!(rows[1]["requests"], 1500);
    let table = run(&["--trace", &trace, "--capacity", "50", "--warmup"]);
    assert!(table.status.success(), "{table:?}");
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("trace "), "{text}");
    assert_eq!(
        text.lines()
            .filter(|line| line.starts_with("trace"))
            .count(),
        1
    );
    assert!(text.contains("small.trace.gz"), "{text}");
    let bad = run(&["--trace", &trace, "--warmup", "--split", "1.5"]);
    assert!(fails(&bad).contains("--split"));
}
