//! Reads criterion's output directories into a [`Run`].
//!
//! criterion (0.5–0.8) writes `target/criterion/<directory_name>/<baseline>/` with
//! `benchmark.json` (the ids and declared throughput) and `sample.json` (`iters[i]` iterations
//! took `times[i]` nanoseconds in total), next to `estimates.json`, `tukey.json`, `change/` and
//! `report/` folders this reader ignores. `<baseline>` is `new`, `base`, or a name given with
//! `--save-baseline NAME`. A baseline folder is any folder holding a `benchmark.json`; the ids
//! come from that file, never from directory names, so ids with `/`, `..`, spaces or Unicode are
//! carried through verbatim.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;

use crate::model::{Benchmark, Metric, Run, RunMeta, SCHEMA_VERSION, Summary, Throughput};

/// The part of criterion's `benchmark.json` this reader needs; other fields are ignored.
#[derive(Debug, Deserialize)]
struct BenchmarkJson {
    full_id: String,
    #[serde(default)]
    throughput: Option<CriterionThroughput>,
}

/// criterion's `Throughput`, as serde writes it (externally tagged).
#[derive(Debug, Deserialize)]
enum CriterionThroughput {
    Bits(u64),
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
    /// Also carries `bytes`, which the run format has no room for; elements win.
    ElementsAndBytes {
        elements: u64,
    },
}

impl CriterionThroughput {
    fn to_model(&self) -> Throughput {
        match *self {
            CriterionThroughput::Bits(n) => Throughput::Bits(n),
            CriterionThroughput::Bytes(n) | CriterionThroughput::BytesDecimal(n) => {
                Throughput::Bytes(n)
            }
            CriterionThroughput::Elements(n) => Throughput::Elements(n),
            CriterionThroughput::ElementsAndBytes { elements } => Throughput::Elements(elements),
        }
    }
}

/// criterion's `sample.json`; `sampling_mode` is ignored.
#[derive(Debug, Deserialize)]
struct SampleJson {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// Reads every benchmark of baseline `baseline` (`new`, `base`, or a `--save-baseline` name)
/// found anywhere under `dir`, which may be `target/criterion` or any folder above or at
/// benchmark folders.
pub fn read_dir(dir: &Path, baseline: &str) -> Result<Run> {
    let found = find_baseline_dirs(dir)?;
    if found.is_empty() {
        bail!(
            "{} contains no criterion benchmark (no */{baseline}/benchmark.json); \
             run `cargo bench` first or pass the criterion folder",
            dir.display()
        );
    }
    let selected: Vec<&PathBuf> = found
        .iter()
        .filter(|d| d.file_name().is_some_and(|n| n == baseline))
        .collect();
    if selected.is_empty() {
        bail!(
            "no baseline {baseline:?} in {}; found: {}",
            dir.display(),
            baseline_names(&found).join(", ")
        );
    }

    let mut benchmarks = Vec::with_capacity(selected.len());
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for baseline_dir in selected {
        let benchmark = read_benchmark(baseline_dir)?;
        if let Some(other) = seen.insert(benchmark.id.clone(), baseline_dir) {
            bail!(
                "benchmark id {:?} appears twice, in {} and {}; remove the stale directory",
                benchmark.id,
                other.display(),
                baseline_dir.display()
            );
        }
        benchmarks.push(benchmark);
    }
    benchmarks.sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));

    Ok(Run {
        schema_version: SCHEMA_VERSION,
        meta: RunMeta {
            source: Some(format!(
                "criterion:{} (baseline \"{baseline}\")",
                dir.display()
            )),
            ..RunMeta::default()
        },
        benchmarks,
    })
}

/// The names of the baselines found under `dir` (folders holding a `benchmark.json`), sorted
/// and deduplicated.
pub fn list_baselines(dir: &Path) -> Result<Vec<String>> {
    Ok(baseline_names(&find_baseline_dirs(dir)?))
}

fn baseline_names(found: &[PathBuf]) -> Vec<String> {
    found
        .iter()
        .filter_map(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Every folder at or under `dir` holding a `benchmark.json`, sorted.
fn find_baseline_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    crate::walk::select_dirs(
        dir,
        "run `cargo bench` first or pass the criterion folder",
        |folder| folder.join("benchmark.json").is_file(),
    )
}

fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| {
        anyhow!(
            "cannot read {}: {e}; re-run `cargo bench` to regenerate it",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not valid criterion output: {e}; re-run `cargo bench` to regenerate it",
            path.display()
        )
    })
}

fn read_benchmark(baseline_dir: &Path) -> Result<Benchmark> {
    let info: BenchmarkJson = load(&baseline_dir.join("benchmark.json"))?;
    let sample_path = baseline_dir.join("sample.json");
    if !sample_path.is_file() {
        bail!(
            "{} is missing (the benchmark run was interrupted?); re-run `cargo bench`",
            sample_path.display()
        );
    }
    let sample: SampleJson = load(&sample_path)?;
    let samples = per_iteration(&sample_path, &sample.iters, &sample.times)?;
    Ok(Benchmark {
        id: info.full_id,
        metric: Metric::WallTime,
        unit: "ns".to_owned(),
        summary: Summary::of(&samples),
        samples,
        iterations: sample.iters,
        throughput: info.throughput.as_ref().map(CriterionThroughput::to_model),
    })
}

/// `times[i] / iters[i]`, after checking the arrays are a well-formed criterion sample.
fn per_iteration(file: &Path, iters: &[f64], times: &[f64]) -> Result<Vec<f64>> {
    let file = file.display();
    let redo = "the file is corrupt; re-run `cargo bench` to regenerate it";
    if iters.len() != times.len() {
        bail!(
            "{file}: `iters` has {} values but `times` has {}; {redo}",
            iters.len(),
            times.len()
        );
    }
    if iters.is_empty() {
        bail!("{file}: no samples; {redo}");
    }
    let mut samples = Vec::with_capacity(iters.len());
    for (i, (&iters, &time)) in iters.iter().zip(times).enumerate() {
        if !(iters.is_finite() && iters > 0.0) {
            bail!("{file}: iters[{i}] is {iters}, expected a positive count; {redo}");
        }
        if !(time.is_finite() && time >= 0.0) {
            bail!("{file}: times[{i}] is {time}, expected a non-negative time; {redo}");
        }
        let per_iter = time / iters;
        if !per_iter.is_finite() {
            bail!("{file}: sample {i} ({time} ns / {iters} iters) is not finite; {redo}");
        }
        samples.push(per_iter);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Writes one criterion baseline folder `root/<dir>/<baseline>/` with the given
    /// `benchmark.json` fields and `sample.json` arrays.
    fn bench(
        root: &Path,
        dir: &str,
        baseline: &str,
        full_id: &str,
        throughput: serde_json::Value,
        iters: &[f64],
        times: &[f64],
    ) -> PathBuf {
        let folder = root.join(dir).join(baseline);
        fs::create_dir_all(&folder).unwrap();
        let info = json!({
            "group_id": full_id, "function_id": null, "value_str": null,
            "throughput": throughput, "full_id": full_id, "directory_name": dir, "title": full_id,
        });
        fs::write(folder.join("benchmark.json"), info.to_string()).unwrap();
        let sample = json!({"sampling_mode": "Linear", "iters": iters, "times": times});
        fs::write(folder.join("sample.json"), sample.to_string()).unwrap();
        fs::write(folder.join("estimates.json"), "{}").unwrap();
        folder
    }

    /// Reads `root` at `baseline` and expects an error containing every one of `needles`.
    fn check_err(root: &Path, baseline: &str, needles: &[&str]) {
        let err = read_dir(root, baseline).expect_err("expected an error");
        crate::test_support::check_error_message(&err, needles);
    }

    fn ids(run: &Run) -> Vec<&str> {
        run.benchmarks.iter().map(|b| b.id.as_str()).collect()
    }

    #[test]
    fn one_benchmark_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        bench(
            root,
            "g_b",
            "new",
            "g/b",
            json!({"Elements": 2048}),
            &[3.0, 6.0, 9.0],
            &[30.0, 66.0, 81.0],
        );
        fs::create_dir_all(root.join("report")).unwrap();
        fs::write(root.join("report/index.html"), "<html>").unwrap();
        fs::create_dir_all(root.join("g_b/change")).unwrap();
        fs::write(root.join("g_b/change/estimates.json"), "{}").unwrap();

        let run = read_dir(root, "new").unwrap();
        assert_eq!(run.schema_version, SCHEMA_VERSION);
        assert_eq!(
            run.meta.source.as_deref(),
            Some(format!("criterion:{} (baseline \"new\")", root.display()).as_str())
        );
        assert_eq!(run.meta.commit, None);
        assert_eq!(run.benchmarks.len(), 1);
        let b = &run.benchmarks[0];
        assert_eq!(b.id, "g/b");
        assert_eq!(b.metric, Metric::WallTime);
        assert_eq!(b.unit, "ns");
        assert_eq!(b.samples, vec![30.0 / 3.0, 66.0 / 6.0, 81.0 / 9.0]);
        assert_eq!(b.iterations, vec![3.0, 6.0, 9.0]);
        assert_eq!(b.summary, Summary::of(&b.samples));
        assert_eq!(b.throughput, Some(Throughput::Elements(2048)));
    }

    #[test]
    fn throughputs_are_mapped_and_benchmarks_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let cases = [
            ("e", json!({"Elements": 7}), Some(Throughput::Elements(7))),
            ("d", json!({"Bytes": 8}), Some(Throughput::Bytes(8))),
            ("c", json!({"BytesDecimal": 9}), Some(Throughput::Bytes(9))),
            ("b", json!({"Bits": 10}), Some(Throughput::Bits(10))),
            (
                "a",
                json!({"ElementsAndBytes": {"elements": 11, "bytes": 12}}),
                Some(Throughput::Elements(11)),
            ),
            ("f", json!(null), None),
        ];
        for (id, throughput, _) in &cases {
            bench(root, id, "new", id, throughput.clone(), &[1.0], &[5.0]);
        }
        let run = read_dir(root, "new").unwrap();
        assert_eq!(ids(&run), ["a", "b", "c", "d", "e", "f"]);
        for (id, _, expected) in &cases {
            let b = run.benchmarks.iter().find(|b| b.id == *id).unwrap();
            assert_eq!(b.throughput, *expected, "{id}");
        }
    }

    #[test]
    fn throughput_field_may_be_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("x/new");
        fs::create_dir_all(&folder).unwrap();
        fs::write(folder.join("benchmark.json"), r#"{"full_id":"x"}"#).unwrap();
        fs::write(
            folder.join("sample.json"),
            r#"{"iters":[1.0],"times":[2.0]}"#,
        )
        .unwrap();
        let run = read_dir(tmp.path(), "new").unwrap();
        assert_eq!(run.benchmarks[0].throughput, None);
    }

    #[test]
    fn named_baseline_is_selected() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        bench(root, "g", "new", "g", json!(null), &[1.0], &[10.0]);
        bench(root, "g", "base", "g", json!(null), &[1.0], &[20.0]);
        bench(root, "g", "main-2024", "g", json!(null), &[1.0], &[30.0]);
        bench(root, "h", "main-2024", "h", json!(null), &[2.0], &[30.0]);

        assert_eq!(list_baselines(root).unwrap(), ["base", "main-2024", "new"]);
        assert_eq!(read_dir(root, "new").unwrap().benchmarks[0].samples, [10.0]);
        assert_eq!(
            read_dir(root, "base").unwrap().benchmarks[0].samples,
            [20.0]
        );
        let named = read_dir(root, "main-2024").unwrap();
        assert_eq!(ids(&named), ["g", "h"]);
        assert_eq!(named.benchmarks[1].samples, [15.0]);
        assert!(
            named
                .meta
                .source
                .unwrap()
                .ends_with("(baseline \"main-2024\")")
        );
    }

    #[test]
    fn missing_baseline_lists_the_ones_found() {
        let tmp = tempfile::tempdir().unwrap();
        bench(tmp.path(), "g", "new", "g", json!(null), &[1.0], &[1.0]);
        bench(tmp.path(), "g", "base", "g", json!(null), &[1.0], &[1.0]);
        check_err(
            tmp.path(),
            "x",
            &["no baseline \"x\" in", "found: base, new"],
        );
    }

    #[test]
    fn nested_group_function_value_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        bench(
            root,
            "grp/func/100",
            "new",
            "grp/func/100",
            json!(null),
            &[1.0],
            &[1.0],
        );
        bench(
            root,
            "grp/func/20",
            "new",
            "grp/func/20",
            json!(null),
            &[1.0],
            &[2.0],
        );
        bench(
            root,
            "grp/other",
            "new",
            "grp/other",
            json!(null),
            &[1.0],
            &[3.0],
        );
        bench(root, "solo", "new", "solo", json!(null), &[1.0], &[4.0]);
        // A function named like a baseline is still found by its `benchmark.json` only.
        bench(
            root,
            "grp/new",
            "base",
            "grp/new",
            json!(null),
            &[1.0],
            &[5.0],
        );
        let run = read_dir(root, "new").unwrap();
        assert_eq!(
            ids(&run),
            ["grp/func/100", "grp/func/20", "grp/other", "solo"]
        );
        assert_eq!(ids(&read_dir(root, "base").unwrap()), ["grp/new"]);
        // Pointing at a group folder, or at a baseline folder itself, works too.
        assert_eq!(
            ids(&read_dir(&root.join("grp/func"), "new").unwrap()).len(),
            2
        );
        assert_eq!(
            ids(&read_dir(&root.join("solo/new"), "new").unwrap()),
            ["solo"]
        );
    }

    #[test]
    fn odd_ids_are_carried_verbatim() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let odd = [
            "with space/and more",
            "../../etc/passwd",
            "ünïcödé/日本語/🦀",
            "a//b/",
        ];
        for (i, id) in odd.iter().enumerate() {
            bench(
                root,
                &format!("d{i}"),
                "new",
                id,
                json!(null),
                &[1.0],
                &[1.0],
            );
        }
        let run = read_dir(root, "new").unwrap();
        let mut expected = odd.to_vec();
        expected.sort();
        assert_eq!(ids(&run), expected);
    }

    #[test]
    fn no_criterion_data() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("report")).unwrap();
        fs::create_dir_all(tmp.path().join("g/new")).unwrap();
        fs::write(tmp.path().join("g/new/sample.json"), "{}").unwrap();
        check_err(
            tmp.path(),
            "new",
            &[
                "contains no criterion benchmark (no */new/benchmark.json)",
                "run `cargo bench` first",
            ],
        );
        check_err(
            &tmp.path().join("nope"),
            "new",
            &["nope is not a directory", "run `cargo bench` first"],
        );
    }

    #[test]
    fn corrupt_or_truncated_json_names_the_file() {
        for (file, text) in [
            ("benchmark.json", ""),
            ("benchmark.json", r#"{"full_id": "g", "#),
            ("benchmark.json", r#"{"group_id": "g"}"#),
            (
                "benchmark.json",
                r#"{"full_id": "g", "throughput": {"Furlongs": 3}}"#,
            ),
            ("sample.json", r#"{"iters":[1.0],"times":[1.0"#),
            ("sample.json", r#"{"iters":[1.0]}"#),
            ("sample.json", r#"{"iters":[null],"times":[1.0]}"#),
            ("sample.json", r#"{"iters":[1.0],"times":[1e999]}"#),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let folder = bench(tmp.path(), "g", "new", "g", json!(null), &[1.0], &[1.0]);
            fs::write(folder.join(file), text).unwrap();
            let path = folder.join(file).display().to_string();
            check_err(tmp.path(), "new", &[&path, "not valid criterion output"]);
        }
    }

    #[test]
    fn missing_sample_json() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = bench(tmp.path(), "g", "new", "g", json!(null), &[1.0], &[1.0]);
        fs::remove_file(folder.join("sample.json")).unwrap();
        let path = folder.join("sample.json").display().to_string();
        check_err(tmp.path(), "new", &[&path, "is missing"]);
    }

    #[test]
    fn bad_samples_are_rejected() {
        let cases: &[(&[f64], &[f64], &str)] = &[
            (
                &[1.0, 2.0],
                &[1.0],
                "`iters` has 2 values but `times` has 1",
            ),
            (&[], &[], "no samples"),
            (&[1.0, 0.0], &[1.0, 1.0], "iters[1] is 0"),
            (&[-2.0], &[1.0], "iters[0] is -2"),
            (&[1.0], &[-1.0], "times[0] is -1"),
            (&[1e-320], &[1e300], "sample 0"),
        ];
        for (iters, times, needle) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let folder = bench(tmp.path(), "g", "new", "g", json!(null), iters, times);
            let path = folder.join("sample.json").display().to_string();
            check_err(tmp.path(), "new", &[&path, needle, "re-run `cargo bench`"]);
        }
    }

    #[test]
    fn non_finite_values_are_rejected() {
        // JSON cannot spell NaN or infinity (serde_json writes `null`, a parse error, and
        // `1e999` is out of range, also a parse error; see the corrupt-JSON test), so the
        // checks are exercised directly.
        let file = Path::new("x/sample.json");
        for (iters, times, needle) in [
            (f64::NAN, 1.0, "iters[0] is NaN"),
            (f64::INFINITY, 1.0, "iters[0] is inf"),
            (f64::NEG_INFINITY, 1.0, "iters[0] is -inf"),
            (1.0, f64::NAN, "times[0] is NaN"),
            (1.0, f64::INFINITY, "times[0] is inf"),
        ] {
            let err = per_iteration(file, &[iters], &[times])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("x/sample.json: "), "{err}");
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn duplicate_ids_name_both_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let a = bench(tmp.path(), "g_b", "new", "g/b", json!(null), &[1.0], &[1.0]);
        let b = bench(
            tmp.path(),
            "g_b_1",
            "new",
            "g/b",
            json!(null),
            &[1.0],
            &[1.0],
        );
        check_err(
            tmp.path(),
            "new",
            &[
                "benchmark id \"g/b\" appears twice",
                &a.display().to_string(),
                &b.display().to_string(),
                "remove the stale directory",
            ],
        );
    }
}
