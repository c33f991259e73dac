//! iai-callgrind benchmarks: finding (or installing) the runner, running the bench executables
//! with their output redirected, and reading their `summary.json` files into [`Benchmark`]s.
//!
//! # How an iai-callgrind bench runs
//!
//! The bench executable built by `cargo bench --no-run` does not measure anything itself: it
//! starts `iai-callgrind-runner`, passing the library's version as the first argument, and the
//! runner refuses to work unless its own version is exactly that one. The executable finds the
//! runner through `IAI_CALLGRIND_RUNNER` **as it was when the executable was compiled**
//! (`option_env!`, so changing it rebuilds the bench) and, when that was unset, through `PATH`.
//! The runner then reads its options from the arguments given to the bench executable and from
//! `IAI_CALLGRIND_*` variables, and calls `cargo metadata` in the current directory to find the
//! workspace, so it must run inside the workspace.
//!
//! The harness runs it as (checked by hand with iai-callgrind 0.16.1):
//!
//! ```text
//! cd <package dir>
//! PATH=<runner dir>:$PATH IAI_CALLGRIND_RUNNER=<runner> IAI_CALLGRIND_HOME=<home> \
//!     target/release/deps/iai_cache-<hash> --bench --save-summary=json
//! ```
//!
//! ([`bench_command_env`], [`bench_args`]), which writes
//! `<home>/$CARGO_PKG_NAME/<bench target>/<group>/<function>.<id>/summary.json` next to
//! callgrind's files. The runner reads `CARGO_PKG_NAME` from its environment at run time:
//! `cargo bench` sets it to the bench's package, `cargo xtask` (a `cargo run`) leaves `xtask`
//! in the harness's environment, and without it the folder is left out. Set it to the bench's
//! package, as `cargo bench` does, or two packages with a bench target of the same name share
//! (and overwrite) folders.
//!
//! # Summary files
//!
//! [`read_summaries`] reads summary format `"version": "6"` (iai-callgrind 0.15–0.16). The
//! instruction count is `Ir` of the callgrind tool in the benchmark's total:
//! `.profiles[].summaries.total.summary.Callgrind.Ir.metrics`, which is `{"Left": {"Int": n}}`
//! after a first run and `{"Both": [{"Int": new}, {"Int": old}]}` when an earlier run was in the
//! same home; the new value is taken.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::model::{Benchmark, Metric, Summary};

/// The summary format versions [`read_summaries`] understands.
pub const KNOWN_SUMMARY_VERSIONS: &[&str] = &["6"];

/// The package name of the iai-callgrind library, as in `Cargo.toml`.
pub const LIBRARY_PACKAGE: &str = "iai-callgrind";

/// The runner's package and executable name.
pub const RUNNER: &str = "iai-callgrind-runner";

/// Where the bench executable looks for the runner (at compile time), and where users point
/// the harness at a runner of their own (at run time).
pub const RUNNER_ENV: &str = "IAI_CALLGRIND_RUNNER";

/// How many lines of a failed `cargo install`'s error output go into the error.
const INSTALL_TAIL_LINES: usize = 5;

/// The part of `summary.json` this reader needs; other fields are ignored.
#[derive(Debug, Deserialize)]
struct SummaryJson {
    /// `<bench target>::<group>::<function>`, for example `iai_cache::cache::hit`.
    module_path: String,
    /// The `#[bench::<id>]` name; absent for a benchmark function without cases.
    #[serde(default)]
    id: Option<String>,
    profiles: Vec<ProfileJson>,
}

#[derive(Debug, Deserialize)]
struct ProfileJson {
    summaries: ProfileSummariesJson,
}

#[derive(Debug, Deserialize)]
struct ProfileSummariesJson {
    total: ProfileTotalJson,
}

#[derive(Debug, Deserialize)]
struct ProfileTotalJson {
    /// `{"Callgrind": {"Ir": {"metrics": ..., "diffs": ...}, ...}}`, or another tool's metrics.
    summary: serde_json::Value,
}

/// iai-callgrind's `EitherOrBoth<Metric>`: the new value, the old value, or both (new first).
/// Old values are never used.
#[derive(Debug, Deserialize)]
enum EitherOrBoth {
    Left(MetricValue),
    Right(IgnoredAny),
    Both(MetricValue, IgnoredAny),
}

#[derive(Debug, Deserialize)]
enum MetricValue {
    Int(u64),
    Float(f64),
}

/// Reads every `summary.json` under `dir` (an iai-callgrind home such as `target/iai`, or any
/// folder below it) into one [`Benchmark`] per file, sorted by id.
///
/// The id is `<module_path>/<id>`, for example `iai_cache::cache::hit/one` for
/// `#[bench::one]` of function `hit` in group `cache` of bench target `iai_cache`, or just the
/// module path for a benchmark function without `#[bench::...]` cases. Both parts come from the
/// benchmark source (not from folder names or run details), so ids stay the same from run to
/// run and machine to machine; `/` before the case matches criterion's ids.
///
/// The sample is the instruction count of the newest run (one value, `Summary::of` it).
pub fn read_summaries(dir: &Path) -> Result<Vec<Benchmark>> {
    let mut benchmarks: Vec<Benchmark> = benchmark_dirs(dir)?.into_iter().map(|(b, _)| b).collect();
    if benchmarks.is_empty() {
        bail!(
            "{} contains no iai-callgrind summary.json; run the benchmarks with --save-summary=json",
            dir.display()
        );
    }
    benchmarks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(benchmarks)
}

/// Each benchmark under an iai-callgrind home (as [`read_summaries`] reads it) with its folder,
/// where its `summary.json` and callgrind files are; none when there are no summaries. An id
/// found twice is refused with both files named.
pub fn benchmark_dirs(dir: &Path) -> Result<Vec<(Benchmark, PathBuf)>> {
    let files = find_summaries(dir)?;
    let mut benchmarks = Vec::with_capacity(files.len());
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for file in &files {
        let benchmark = read_summary(file)?;
        if let Some(other) = seen.insert(benchmark.id.clone(), file) {
            bail!(
                "benchmark id {:?} appears twice, in {} and {}; remove the stale file",
                benchmark.id,
                other.display(),
                file.display()
            );
        }
        let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
        benchmarks.push((benchmark, folder));
    }
    Ok(benchmarks)
}

/// Every `summary.json` at or under `dir`, sorted. Symlinks are not followed below `dir`.
fn find_summaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let folders = crate::walk::select_dirs(
        dir,
        "run the iai-callgrind benchmarks first or pass their home",
        |folder| folder.join("summary.json").is_file(),
    )?;
    Ok(folders
        .into_iter()
        .map(|folder| folder.join("summary.json"))
        .collect())
}

fn read_summary(file: &Path) -> Result<Benchmark> {
    let name = file.display();
    let redo = "re-run the iai-callgrind benchmark to regenerate it";
    let text = fs::read_to_string(file).map_err(|e| anyhow!("cannot read {name}: {e}; {redo}"))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{name} is not valid JSON: {e}; {redo}"))?;
    let known = KNOWN_SUMMARY_VERSIONS
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    match value.get("version") {
        Some(serde_json::Value::String(v)) if KNOWN_SUMMARY_VERSIONS.contains(&v.as_str()) => {}
        Some(other) => bail!(
            "{name} has summary version {other}, but only {known} (iai-callgrind 0.15-0.16) \
             are known; use iai-callgrind 0.16 or teach xtask/src/iai.rs the new format"
        ),
        None => bail!(
            "{name} has no summary version (only {known} are known); {redo} with --save-summary=json"
        ),
    }
    let summary: SummaryJson = serde_json::from_value(value)
        .map_err(|e| anyhow!("{name} is not a valid iai-callgrind summary: {e}; {redo}"))?;
    let ir = instructions(&summary).map_err(|what| anyhow!("{name}: {what}; {redo}"))?;
    let id = match &summary.id {
        Some(id) => format!("{}/{id}", summary.module_path),
        None => summary.module_path,
    };
    let samples = vec![ir as f64];
    Ok(Benchmark {
        id,
        metric: Metric::Instructions,
        unit: "instructions".to_owned(),
        summary: Summary::of(&samples),
        samples,
        iterations: Vec::new(),
        throughput: None,
    })
}

/// The new run's `Ir` from the first profile holding one (callgrind's, or cachegrind's when
/// that is the benchmark's tool); the error says what is wrong, without the file name.
fn instructions(summary: &SummaryJson) -> std::result::Result<u64, String> {
    let metrics = summary
        .profiles
        .iter()
        .find_map(|profile| {
            let tools = &profile.summaries.total.summary;
            ["Callgrind", "Cachegrind"]
                .iter()
                .find_map(|tool| tools.get(tool)?.get("Ir")?.get("metrics"))
        })
        .ok_or("no callgrind `Ir` (instruction count) in the total of any profile")?;
    let metrics = EitherOrBoth::deserialize(metrics)
        .map_err(|e| format!("`Ir` is not a metric value: {e}"))?;
    match metrics {
        EitherOrBoth::Left(MetricValue::Int(n)) | EitherOrBoth::Both(MetricValue::Int(n), _) => {
            Ok(n)
        }
        EitherOrBoth::Left(MetricValue::Float(x))
        | EitherOrBoth::Both(MetricValue::Float(x), _) => {
            Err(format!("`Ir` is {x}, expected an integer count"))
        }
        EitherOrBoth::Right(_) => {
            Err("`Ir` has only an old value (a loaded baseline), no new run".to_owned())
        }
    }
}

/// The version of the `iai-callgrind` library a workspace member depends on directly, as
/// resolved in `Cargo.lock`; `None` when no member uses it. With several versions in the
/// graph, the highest (the runner can match only one of them).
///
/// `metadata` must include the dependency graph (`cargo metadata` without `--no-deps`).
pub fn required_version(metadata: &cargo_metadata::Metadata) -> Option<String> {
    let resolve = metadata.resolve.as_ref()?;
    resolve
        .nodes
        .iter()
        .filter(|node| metadata.workspace_members.contains(&node.id))
        .flat_map(|node| &node.dependencies)
        .filter_map(|id| metadata.packages.iter().find(|p| &p.id == id))
        .filter(|package| package.name == LIBRARY_PACKAGE)
        .map(|package| &package.version)
        .max()
        .map(ToString::to_string)
}

/// Where the harness keeps the runner of `version`:
/// `<target_dir>/iai-callgrind-runner/<version>/bin/iai-callgrind-runner`.
pub fn runner_path(target_dir: &Path, version: &str) -> PathBuf {
    target_dir
        .join(RUNNER)
        .join(version)
        .join("bin")
        .join(format!("{RUNNER}{}", std::env::consts::EXE_SUFFIX))
}

/// A runner of exactly `version` (the version of the iai-callgrind library, see
/// [`required_version`]), installing it under `target_dir` when there is none.
///
/// In order: `IAI_CALLGRIND_RUNNER` when it names a runner of that version (used as it is; one
/// of another version is ignored with a note); [`runner_path`]; a runner installed with
/// `cargo install --root <target_dir>/iai-callgrind-runner` (no version folder); otherwise
/// `cargo install iai-callgrind-runner --version =<version> --root <target_dir>/iai-callgrind-runner/<version> --locked`,
/// announced by one line on stderr, its output kept and shown (last lines) only on failure.
pub fn ensure_runner(target_dir: &Path, version: &str) -> Result<PathBuf> {
    if let Some(from_env) = std::env::var_os(RUNNER_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(from_env);
        match runner_version(&path) {
            Some(found) if found == version => return Ok(path),
            found => eprintln!(
                "note: ignoring {RUNNER_ENV}={}: it is {}, the benchmarks need {version}",
                path.display(),
                found.map_or("not a runnable iai-callgrind-runner".to_owned(), |v| {
                    format!("version {v}")
                })
            ),
        }
    }
    let path = runner_path(target_dir, version);
    let unversioned = target_dir.join(RUNNER).join("bin").join(
        path.file_name()
            .expect("the runner path ends in a file name"),
    );
    for candidate in [&path, &unversioned] {
        if runner_version(candidate).as_deref() == Some(version) {
            return Ok(candidate.clone());
        }
    }

    let root = target_dir.join(RUNNER).join(version);
    eprintln!(
        "installing {RUNNER} {version} into {} (once)",
        root.display()
    );
    let fix =
        format!("check network access to crates.io or install it yourself and set {RUNNER_ENV}");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "install",
            RUNNER,
            "--version",
            &format!("={version}"),
            "--locked",
        ])
        .arg("--root")
        .arg(&root)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `cargo install {RUNNER}`; {fix}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let tail = lines[lines.len().saturating_sub(INSTALL_TAIL_LINES)..].join(" | ");
        bail!(
            "installing {RUNNER} {version} into {} failed ({}): {tail}; {fix}",
            root.display(),
            output.status
        );
    }
    match runner_version(&path) {
        Some(found) if found == version => Ok(path),
        found => bail!(
            "cargo installed {RUNNER} {version} but {} reports {}; {fix}",
            path.display(),
            found.as_deref().unwrap_or("no version")
        ),
    }
}

/// The version of the runner at `path`, or `None` when it cannot be run or does not say.
///
/// iai-callgrind-runner 0.16 has no `--version`: its first argument must be the library's
/// version, and anything else is refused with a message naming its own version, which is what
/// is read here (see [`parse_runner_version`]).
pub fn runner_version(path: &Path) -> Option<String> {
    let output = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    parse_runner_version(&text).map(str::to_owned)
}

/// The runner version in the output of `iai-callgrind-runner --version`: the
/// `iai-callgrind-runner (0.16.1)` of 0.16's refusal, or the `iai-callgrind-runner 0.16.1` a
/// runner with a real `--version` would print.
pub fn parse_runner_version(output: &str) -> Option<&str> {
    output.match_indices(RUNNER).find_map(|(at, _)| {
        let rest = &output[at + RUNNER.len()..];
        let rest = rest.strip_prefix(" (").or_else(|| rest.strip_prefix(' '))?;
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(rest.len());
        let version = &rest[..end];
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then_some(version)
    })
}

/// Whether valgrind can be run (`valgrind --version` succeeds).
pub fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The environment for running an iai-callgrind bench executable directly (from its package's
/// folder, with [`bench_args`]) so that it uses `runner` and writes under `home`:
///
/// - `PATH` with the runner's folder first: where an executable compiled without
///   `IAI_CALLGRIND_RUNNER` looks for the runner;
/// - `IAI_CALLGRIND_RUNNER=<runner>`: read only at compile time, so give it to the
///   `cargo bench --no-run` that builds the executable too, or an executable built with
///   another runner path in the environment keeps using that one;
/// - `IAI_CALLGRIND_HOME=<home>` (made absolute): the output folder instead of `target/iai`.
pub fn bench_command_env(runner: &Path, home: &Path) -> Vec<(OsString, OsString)> {
    let runner = std::path::absolute(runner).unwrap_or_else(|_| runner.to_path_buf());
    let home = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
    let mut path_dirs: Vec<PathBuf> = runner.parent().map(Path::to_path_buf).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        path_dirs.extend(std::env::split_paths(&path));
    }
    let path = std::env::join_paths(&path_dirs)
        .unwrap_or_else(|_| std::env::var_os("PATH").unwrap_or_default());
    vec![
        ("PATH".into(), path),
        (RUNNER_ENV.into(), runner.into_os_string()),
        ("IAI_CALLGRIND_HOME".into(), home.into_os_string()),
    ]
}

/// The arguments for an iai-callgrind bench executable: `--bench` (what cargo passes; the
/// runner accepts and ignores it) and `--save-summary=json`, which [`read_summaries`] reads.
pub fn bench_args() -> Vec<String> {
    vec!["--bench".to_owned(), "--save-summary=json".to_owned()]
}

/// The arguments that make an iai-callgrind bench executable list its benchmarks instead of
/// running them: the runner's `--list` (iai-callgrind-runner 0.16.1, `src/runner/args.rs`
/// line 628), answered before any valgrind run (`src/runner/mod.rs` lines 276 and 315).
pub fn list_args() -> Vec<String> {
    vec!["--bench".to_owned(), "--list".to_owned()]
}

/// The benchmark id ([`read_summaries`]) of one entry of the runner's `--list` output.
///
/// The runner prints `<module path>::<case>: benchmark` (`src/runner/format.rs` line 1289),
/// or `<module path>: benchmark` without a case, where the module path is
/// `<bench target>::<group>::<function>`: three parts, so a fourth is the case, which becomes
/// `/<case>` as in the summaries.
pub fn id_of_list_entry(entry: &str) -> String {
    let parts: Vec<&str> = entry.split("::").collect();
    if parts.len() > 3 {
        format!("{}/{}", parts[..3].join("::"), parts[3..].join("::"))
    } else {
        entry.to_owned()
    }
}

/// `IAI_CALLGRIND_*` variables of the current environment that would change what the runner
/// measures or where it reads and writes (baselines, filters, tools, limits, ...); the harness
/// removes them from the bench's environment. Colour, logging and the ones
/// [`bench_command_env`] sets are left alone.
pub fn interfering_env_vars() -> Vec<OsString> {
    let harmless = [
        "IAI_CALLGRIND_COLOR",
        "IAI_CALLGRIND_LOG",
        RUNNER_ENV,
        "IAI_CALLGRIND_HOME",
    ];
    let mut names: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_str().is_some_and(|name| {
                name.starts_with("IAI_CALLGRIND_")
                    && !harmless.contains(&name)
                    && !name.ends_with("VALGRIND_INCLUDE")
            })
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// The value of `name` in an environment list such as [`bench_command_env`]'s.
    fn env_value<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
    }

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/iai")
            .join(name)
    }

    fn ok_summary() -> serde_json::Value {
        let file = data("ok/iai_cache/cache/hit.one/summary.json");
        serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap()
    }

    /// Reads `dir` and expects a one-line, lowercase error containing every one of `needles`.
    fn check_err(dir: &Path, needles: &[&str]) {
        let err = read_summaries(dir).expect_err("expected an error");
        crate::test_support::check_error_message(&err, needles);
    }

    /// Writes `value` as `<root>/b/g/f.x/summary.json` and returns the file.
    fn write_summary(root: &Path, value: &serde_json::Value) -> PathBuf {
        let folder = root.join("b/g/f.x");
        fs::create_dir_all(&folder).unwrap();
        let file = folder.join("summary.json");
        fs::write(&file, value.to_string()).unwrap();
        file
    }

    #[test]
    fn iai_reads_real_summaries() {
        let benchmarks = read_summaries(&data("ok")).unwrap();
        let ids: Vec<&str> = benchmarks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "iai_cache::cache::hit/one",
                "iai_cache::cache::hit/x1000",
                "iai_cache::cache::plain",
            ]
        );
        // `Left` (first run), `Both` (new first, old 126000), and a benchmark without an id.
        let counts: Vec<&[f64]> = benchmarks.iter().map(|b| b.samples.as_slice()).collect();
        assert_eq!(counts, [&[197.0][..], &[125072.0], &[42.0]]);
        for b in &benchmarks {
            assert_eq!(b.metric, Metric::Instructions);
            assert_eq!(b.unit, "instructions");
            assert!(b.iterations.is_empty());
            assert_eq!(b.summary, Summary::of(&b.samples));
            assert_eq!(b.throughput, None);
        }
        // A folder below the home works too, and other files are ignored.
        let one = read_summaries(&data("ok/iai_cache/cache/hit.one")).unwrap();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn iai_corrupt_json_names_the_file() {
        let file = data("corrupt/iai_cache/cache/hit.one/summary.json");
        check_err(
            &data("corrupt"),
            &[&file.display().to_string(), "is not valid JSON", "re-run"],
        );
    }

    #[test]
    fn iai_unknown_version_names_the_file_and_the_known_ones() {
        let file = data("unknown_version/iai_cache/cache/hit.one/summary.json");
        check_err(
            &data("unknown_version"),
            &[
                &file.display().to_string(),
                "summary version \"99\"",
                "only \"6\"",
            ],
        );
        let tmp = tempfile::tempdir().unwrap();
        let mut value = ok_summary();
        value.as_object_mut().unwrap().remove("version");
        let file = write_summary(tmp.path(), &value);
        check_err(
            tmp.path(),
            &[&file.display().to_string(), "no summary version", "\"6\""],
        );
        value["version"] = serde_json::json!(6);
        write_summary(tmp.path(), &value);
        check_err(tmp.path(), &["summary version 6,"]);
    }

    #[test]
    fn iai_missing_ir_names_the_file() {
        let file = data("missing_ir/iai_cache/cache/hit.one/summary.json");
        check_err(
            &data("missing_ir"),
            &[&file.display().to_string(), "no callgrind `Ir`"],
        );
    }

    #[test]
    fn iai_bad_ir_values() {
        let ir = "/profiles/0/summaries/total/summary/Callgrind/Ir/metrics";
        for (metrics, needle) in [
            (
                serde_json::json!({"Right": {"Int": 5}}),
                "only an old value",
            ),
            (serde_json::json!({"Left": {"Float": 1.5}}), "`Ir` is 1.5"),
            (serde_json::json!({"Left": 5}), "`Ir` is not a metric value"),
            (
                serde_json::json!({"Both": [{"Int": 5}]}),
                "`Ir` is not a metric value",
            ),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let mut value = ok_summary();
            *value.pointer_mut(ir).unwrap() = metrics;
            let file = write_summary(tmp.path(), &value);
            check_err(tmp.path(), &[&file.display().to_string(), needle]);
        }
        // The shape is checked too (here: no profiles).
        let tmp = tempfile::tempdir().unwrap();
        let mut value = ok_summary();
        value.as_object_mut().unwrap().remove("profiles");
        write_summary(tmp.path(), &value);
        check_err(tmp.path(), &["not a valid iai-callgrind summary"]);
    }

    #[test]
    fn iai_duplicate_ids_name_both_files() {
        let a = data("duplicate/iai_cache/cache/hit.one/summary.json");
        let b = data("duplicate/stale/iai_cache/cache/hit.one/summary.json");
        check_err(
            &data("duplicate"),
            &[
                "benchmark id \"iai_cache::cache::hit/one\" appears twice",
                &a.display().to_string(),
                &b.display().to_string(),
            ],
        );
    }

    #[test]
    fn iai_no_summaries() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("b/g/f.x")).unwrap();
        fs::write(tmp.path().join("b/g/f.x/callgrind.f.x.out"), "").unwrap();
        check_err(
            tmp.path(),
            &[
                "contains no iai-callgrind summary.json",
                "--save-summary=json",
            ],
        );
        check_err(&tmp.path().join("nope"), &["nope is not a directory"]);
    }

    #[test]
    fn iai_required_version_of_this_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(root.join("Cargo.toml"))
            .exec()
            .unwrap();
        let expected = metadata
            .packages
            .iter()
            .find(|p| p.name == LIBRARY_PACKAGE)
            .map(|p| p.version.to_string());
        assert!(expected.is_some(), "this workspace uses iai-callgrind");
        assert_eq!(required_version(&metadata), expected);

        // Without the dependency graph, or with no member using it: none.
        let mut no_graph = metadata.clone();
        no_graph.resolve = None;
        assert_eq!(required_version(&no_graph), None);
        let mut unused = metadata;
        for node in &mut unused.resolve.as_mut().unwrap().nodes {
            node.dependencies.clear();
        }
        assert_eq!(required_version(&unused), None);
    }

    #[test]
    fn iai_runner_version_is_parsed_from_its_refusal() {
        let refusal = "iai_callgrind_runner: Error: No version information found for \
                       iai-callgrind but iai-callgrind-runner (0.16.1) is >= '0.3.0'. Please \
                       update iai-callgrind to '0.16.1' in your Cargo.toml file";
        assert_eq!(parse_runner_version(refusal), Some("0.16.1"));
        assert_eq!(
            parse_runner_version("iai-callgrind-runner 0.17.0-rc.1\n"),
            Some("0.17.0-rc.1")
        );
        for junk in [
            "",
            "command not found",
            "iai-callgrind-runner (dev)",
            "iai-callgrind-runner",
        ] {
            assert_eq!(parse_runner_version(junk), None, "{junk:?}");
        }
        assert_eq!(
            runner_version(Path::new("/nonexistent/iai-callgrind-runner")),
            None
        );
    }

    #[test]
    fn iai_existing_runner_is_found_without_installing() {
        let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("target/iai-callgrind-runner/bin")
            .join(RUNNER);
        let Some(version) = runner_version(&installed) else {
            eprintln!("note: skipped, no runner at {}", installed.display());
            return;
        };
        if std::env::var_os(RUNNER_ENV).is_some() {
            eprintln!("note: skipped, {RUNNER_ENV} is set and would take precedence");
            return;
        }
        // At the versioned path, and at the unversioned one of a plain `cargo install --root`.
        let tmp = tempfile::tempdir().unwrap();
        let expected = runner_path(tmp.path(), &version);
        fs::create_dir_all(expected.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&installed, &expected).unwrap();
        assert_eq!(ensure_runner(tmp.path(), &version).unwrap(), expected);
        let tmp = tempfile::tempdir().unwrap();
        let unversioned = tmp.path().join(RUNNER).join("bin").join(RUNNER);
        fs::create_dir_all(unversioned.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&installed, &unversioned).unwrap();
        assert_eq!(ensure_runner(tmp.path(), &version).unwrap(), unversioned);
    }

    #[test]
    fn iai_bench_invocation() {
        assert_eq!(bench_args(), ["--bench", "--save-summary=json"]);
        let env = bench_command_env(
            Path::new("/opt/r/bin/iai-callgrind-runner"),
            Path::new("/w/iai"),
        );
        assert_eq!(
            env_value(&env, "IAI_CALLGRIND_HOME"),
            Some(OsStr::new("/w/iai"))
        );
        assert_eq!(
            env_value(&env, RUNNER_ENV),
            Some(OsStr::new("/opt/r/bin/iai-callgrind-runner"))
        );
        let path = env_value(&env, "PATH").unwrap();
        assert_eq!(
            std::env::split_paths(path).next(),
            Some(PathBuf::from("/opt/r/bin"))
        );
        // A relative home is made absolute: the bench runs from its package's folder.
        let env = bench_command_env(Path::new("/r/iai-callgrind-runner"), Path::new("rel/iai"));
        let home = PathBuf::from(env_value(&env, "IAI_CALLGRIND_HOME").unwrap());
        assert!(home.is_absolute() && home.ends_with("rel/iai"), "{home:?}");
    }
}
