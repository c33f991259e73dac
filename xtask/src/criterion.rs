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
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
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
///
/// The benchmark folders are read in parallel; the result, and which error is reported when
/// several folders are broken, do not depend on the threads' timing: it is the first problem in
/// folder order, as a sequential read would meet it.
pub fn read_dir(dir: &Path, baseline: &str) -> Result<Run> {
    // Folders named `baseline` are read by the walk's threads as they are found; the checks
    // below then see the walk's outcome as a sequential walk-then-read would.
    let found = crate::walk::visit_dirs_holding(
        dir,
        BENCHMARK_JSON,
        OsStr::new(baseline),
        NOT_FOUND_FIX,
        Reader::default,
        |reader, folder| {
            (folder.file_name() == Some(OsStr::new(baseline)))
                .then(|| reader.read_benchmark(folder))
        },
    )?;
    if found.is_empty() {
        bail!(
            "{} contains no criterion benchmark (no */{baseline}/benchmark.json); \
             run `cargo bench` first or pass the criterion folder",
            dir.display()
        );
    }
    if found.iter().all(|(_, read)| read.is_none()) {
        let found: Vec<PathBuf> = found.into_iter().map(|(folder, _)| folder).collect();
        bail!(
            "no baseline {baseline:?} in {}; found: {}",
            dir.display(),
            baseline_names(&found).join(", ")
        );
    }
    let mut read: Vec<(PathBuf, Result<Benchmark>)> = found
        .into_iter()
        .filter_map(|(folder, read)| Some((folder, read?)))
        .collect();

    // The first problem in folder order: a folder that cannot be read, or an id seen before.
    let mut problem = None;
    {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(read.len());
        for (index, (_, benchmark)) in read.iter().enumerate() {
            match benchmark {
                Err(_) => {
                    problem = Some((index, None));
                    break;
                }
                Ok(benchmark) => {
                    if let Some(first) = seen.insert(benchmark.id.as_str(), index) {
                        problem = Some((index, Some(first)));
                        break;
                    }
                }
            }
        }
    }
    match problem {
        Some((index, None)) => return Err(read.swap_remove(index).1.expect_err("a failed read")),
        Some((index, Some(first))) => bail!(
            "benchmark id {:?} appears twice, in {} and {}; remove the stale directory",
            read[index].1.as_ref().map_or("", |b| b.id.as_str()),
            read[first].0.display(),
            read[index].0.display()
        ),
        None => {}
    }
    let mut benchmarks: Vec<Benchmark> = read
        .into_iter()
        .map(|(_, benchmark)| benchmark.expect("checked above"))
        .collect();
    // Ids are unique (checked above) and every metric is wall time, so no two keys are equal
    // and an unstable sort gives the one order.
    benchmarks.sort_unstable_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));

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

/// The file that makes a folder a criterion baseline folder.
const BENCHMARK_JSON: &str = "benchmark.json";

/// What to do when a folder to read is not there.
const NOT_FOUND_FIX: &str = "run `cargo bench` first or pass the criterion folder";

/// The names of the baselines found under `dir` (folders holding a `benchmark.json`), sorted
/// and deduplicated.
pub fn list_baselines(dir: &Path) -> Result<Vec<String>> {
    let found = crate::walk::visit_dirs_holding(
        dir,
        BENCHMARK_JSON,
        OsStr::new("new"),
        NOT_FOUND_FIX,
        || (),
        |(), _| (),
    )?;
    let found: Vec<PathBuf> = found.into_iter().map(|(folder, ())| folder).collect();
    Ok(baseline_names(&found))
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

/// The buffers one thread reuses from benchmark to benchmark.
#[derive(Debug, Default)]
struct Reader {
    /// The file being parsed.
    file: Vec<u8>,
    /// `sample.json`'s `times`, which the run does not keep.
    times: Vec<f64>,
    /// `sample.json`'s `iters`, copied into the benchmark at its exact length.
    iters: Vec<f64>,
}

impl Reader {
    fn read_benchmark(&mut self, baseline_dir: &Path) -> Result<Benchmark> {
        let info_path = baseline_dir.join(BENCHMARK_JSON);
        let text =
            read_text(&info_path, &mut self.file).map_err(|e| cannot_read(&info_path, &e))?;
        let info: BenchmarkJson =
            serde_json::from_str(text).map_err(|e| not_criterion_output(&info_path, &e))?;

        let sample_path = baseline_dir.join("sample.json");
        let text = match read_text(&sample_path, &mut self.file) {
            Ok(text) => text,
            Err(_) if !sample_path.is_file() => bail!(
                "{} is missing (the benchmark run was interrupted?); re-run `cargo bench`",
                sample_path.display()
            ),
            Err(e) => return Err(cannot_read(&sample_path, &e)),
        };
        if parse_sample(text.as_bytes(), &mut self.iters, &mut self.times).is_none() {
            // Not the plain shape criterion writes: serde decides, and words any error.
            let sample: SampleJson =
                serde_json::from_str(text).map_err(|e| not_criterion_output(&sample_path, &e))?;
            self.iters = sample.iters;
            self.times = sample.times;
        }
        let samples = per_iteration(&sample_path, &self.iters, &self.times)?;
        Ok(Benchmark {
            id: info.full_id,
            metric: Metric::WallTime,
            unit: "ns".to_owned(),
            summary: Summary::of(&samples),
            samples,
            iterations: self.iters.clone(),
            throughput: info.throughput.as_ref().map(CriterionThroughput::to_model),
        })
    }
}

/// What a buffer starts at: room for `sample.json` of a few hundred samples.
const INITIAL_BUFFER: usize = 16 * 1024;

/// Reads the file at `path` into `buf` (reused: no allocation once it is large enough, and no
/// stat for the size) and returns its text.
fn read_text<'b>(path: &Path, buf: &'b mut Vec<u8>) -> io::Result<&'b str> {
    let mut file = fs::File::open(path)?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize((2 * buf.len()).max(INITIAL_BUFFER), 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // The same refusal, in the same words, as `fs::read_to_string`.
    std::str::from_utf8(&buf[..len]).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

fn cannot_read(path: &Path, e: &io::Error) -> anyhow::Error {
    anyhow!(
        "cannot read {}: {e}; re-run `cargo bench` to regenerate it",
        path.display()
    )
}

fn not_criterion_output(path: &Path, e: &serde_json::Error) -> anyhow::Error {
    anyhow!(
        "{} is not valid criterion output: {e}; re-run `cargo bench` to regenerate it",
        path.display()
    )
}

/// Parses `sample.json` into `iters` and `times` without serde when it has the plain shape
/// criterion writes: one object with the keys `sampling_mode` (a plain string), `iters` and
/// `times` (arrays of plain numbers), each at most once. Returns `None` for anything else, for
/// which [`SampleJson`] through serde is the reference; where this returns `Some`, serde
/// returns the same values (see [`plain_number`]).
fn parse_sample(bytes: &[u8], iters: &mut Vec<f64>, times: &mut Vec<f64>) -> Option<()> {
    let mut json = Plain { bytes, at: 0 };
    let (mut seen_iters, mut seen_times, mut seen_mode) = (false, false, false);
    json.expect(b'{')?;
    loop {
        let key = json.plain_string()?;
        json.expect(b':')?;
        match key {
            b"iters" if !seen_iters => {
                seen_iters = true;
                json.numbers(iters)?;
            }
            b"times" if !seen_times => {
                seen_times = true;
                json.numbers(times)?;
            }
            b"sampling_mode" if !seen_mode => {
                seen_mode = true;
                json.plain_string()?;
            }
            _ => return None,
        }
        match json.next_token()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    json.skip_whitespace();
    (seen_iters && seen_times && json.at == bytes.len()).then_some(())
}

/// A cursor over JSON text for [`parse_sample`]; every method returns `None` on anything
/// outside the plain subset.
struct Plain<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Plain<'a> {
    /// Skips JSON whitespace (exactly the four bytes JSON allows).
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    fn next_token(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_token()? == byte).then_some(())
    }

    /// A string of printable ASCII without escapes; its contents.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => break,
                b' '..=b'~' if self.bytes[self.at] != b'\\' => self.at += 1,
                _ => return None,
            }
        }
        self.at += 1;
        Some(&self.bytes[start..self.at - 1])
    }

    /// An array of [`plain_number`]s, into `out` (cleared first).
    fn numbers(&mut self, out: &mut Vec<f64>) -> Option<()> {
        out.clear();
        self.expect(b'[')?;
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let (value, used) = plain_number(&self.bytes[self.at..])?;
            self.at += used;
            out.push(value);
            match self.next_token()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }
}

/// The most digits [`plain_number`] takes: below 2^53, so the digits are an exact `f64`.
const PLAIN_DIGITS: usize = 15;

/// Powers of ten exact in `f64`, as far as [`plain_number`] divides.
const POWERS_OF_TEN: [f64; PLAIN_DIGITS] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
];

/// A JSON number at the start of `text` written as `D` or `D.F` (no sign, no exponent, at most
/// [`PLAIN_DIGITS`] digits in all), as criterion writes its samples; its value and length.
///
/// The value is serde_json's, bit for bit: serde_json reads the digits (fraction included) as an
/// integer `m` and, for `F` of `k` digits, divides by `10^k` (with `float_roundtrip`, it rounds
/// the decimal correctly). Here `m < 2^53` and `10^k` are both exact, so `m / 10^k` is one
/// correctly rounded division: the same value both ways. Without a fraction serde_json yields
/// the integer `m`, and `m as f64` is exact.
fn plain_number(text: &[u8]) -> Option<(f64, usize)> {
    // Wrapping arithmetic: past `PLAIN_DIGITS` digits the number is refused, wrapped or not.
    let mut mantissa: u64 = 0;
    let mut at = 0;
    let mut take_digits = |at: &mut usize| {
        let start = *at;
        while let Some(&byte) = text.get(*at) {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            *at += 1;
        }
        *at - start
    };
    let digits = take_digits(&mut at);
    // At least one digit, and a leading zero stands alone (`01` is not JSON).
    if digits == 0 || (digits > 1 && text[0] == b'0') {
        return None;
    }
    let mut fraction_digits = 0;
    if text.get(at) == Some(&b'.') {
        at += 1;
        fraction_digits = take_digits(&mut at);
        if fraction_digits == 0 {
            return None;
        }
    }
    if digits + fraction_digits > PLAIN_DIGITS || matches!(text.get(at), Some(b'e' | b'E')) {
        return None;
    }
    let value = if fraction_digits == 0 {
        mantissa as f64
    } else {
        mantissa as f64 / POWERS_OF_TEN[fraction_digits]
    };
    Some((value, at))
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

    /// Where the plain parser of `sample.json` answers, serde_json (the reference) gives the
    /// same values, bit for bit; elsewhere it leaves the file to serde.
    fn check_plain_parse(text: &str, expect_plain: bool) {
        let (mut iters, mut times) = (vec![7.0], vec![7.0]);
        let plain = parse_sample(text.as_bytes(), &mut iters, &mut times);
        assert_eq!(plain.is_some(), expect_plain, "{text}");
        if plain.is_some() {
            let reference: SampleJson = serde_json::from_str(text).expect(text);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&iters), bits(&reference.iters), "{text}");
            assert_eq!(bits(&times), bits(&reference.times), "{text}");
        }
    }

    #[test]
    fn plain_sample_parse_agrees_with_serde() {
        for (text, plain) in [
            (
                r#"{"sampling_mode":"Linear","iters":[1.0,2.0],"times":[1266727469.0,3.5]}"#,
                true,
            ),
            (r#"{"iters":[3],"times":[0.25]}"#, true),
            (r#"{"times":[],"iters":[]}"#, true),
            (
                " {\n \"iters\" : [ 1.0 , 2.0 ] ,\t\"times\":[ 3.0,4.0 ]\r\n} \n",
                true,
            ),
            (
                r#"{"sampling_mode":"Flat","iters":[0.0],"times":[0.00000000000001]}"#,
                true,
            ),
            // Left to serde: unusual but valid, or invalid (serde words the error).
            (r#"{"iters":[1e3],"times":[1.0]}"#, false),
            (r#"{"iters":[-1.0],"times":[1.0]}"#, false),
            (r#"{"iters":[1.0],"times":[1234567890123456.0]}"#, false),
            (r#"{"iters":[1.0],"times":[1.0],"extra":1}"#, false),
            (r#"{"iters":[1.0],"iters":[1.0],"times":[1.0]}"#, false),
            (
                r#"{"sampling_mode":"Li\u006Ear","iters":[1.0],"times":[1.0]}"#,
                false,
            ),
            (
                r#"{"sampling_mode":null,"iters":[1.0],"times":[1.0]}"#,
                false,
            ),
            (r#"{"iters":[1.0]}"#, false),
            (r#"{"iters":[1.0,],"times":[1.0]}"#, false),
            (r#"{"iters":[01.0],"times":[1.0]}"#, false),
            (r#"{"iters":[1.],"times":[1.0]}"#, false),
            (r#"{"iters":[.5],"times":[1.0]}"#, false),
            (r#"{"iters":[1.0],"times":[1.0]}x"#, false),
            (r#"{"iters":[1.0],"times":[1.0],}"#, false),
            (r#"[[1.0],[1.0]]"#, false),
            (r#"{"iters":[1.0],"times":[1.0"#, false),
            ("", false),
        ] {
            check_plain_parse(text, plain);
        }
    }

    #[test]
    fn plain_numbers_agree_with_serde() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % bound
        };
        let mut plain = 0;
        for _ in 0..20_000 {
            let digits: String = (0..1 + next(18))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let text = match next(4) {
                0 => digits.clone(),
                1 => format!("{digits}.0"),
                _ => {
                    let split = 1 + next(digits.len() as u64) as usize;
                    if split == digits.len() {
                        digits.clone()
                    } else {
                        format!("{}.{}", &digits[..split], &digits[split..])
                    }
                }
            };
            let reference = serde_json::from_str::<f64>(&text);
            match plain_number(text.as_bytes()) {
                Some((value, used)) => {
                    plain += 1;
                    assert_eq!(used, text.len(), "{text}");
                    assert_eq!(value.to_bits(), reference.unwrap().to_bits(), "{text}");
                }
                None => assert!(
                    reference.is_err()
                        || text.len() - usize::from(text.contains('.')) > PLAIN_DIGITS,
                    "{text} refused"
                ),
            }
        }
        assert!(plain > 5_000, "only {plain} numbers took the plain path");
    }

    #[test]
    fn many_folders_read_in_parallel_come_out_sorted_and_errors_are_the_first_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let mut expected = Vec::new();
        for i in 0..300 {
            let id = format!("g{}/b{i}", i % 37);
            bench(
                root,
                &id,
                "new",
                &id,
                json!(null),
                &[1.0, 2.0],
                &[3.0, 4.0 + i as f64],
            );
            bench(root, &id, "base", &id, json!(null), &[1.0], &[1.0]);
            expected.push(id);
        }
        expected.sort();
        for _ in 0..5 {
            let run = read_dir(root, "new").unwrap();
            assert_eq!(ids(&run), expected);
        }
        assert_eq!(ids(&read_dir(root, "base").unwrap()), expected);

        // Two broken folders, and a duplicate id after both: the first broken one in folder
        // order is reported, every time.
        fs::write(root.join("g5/b5/new/sample.json"), "{").unwrap();
        fs::write(root.join("g30/b30/new/benchmark.json"), "{").unwrap();
        bench(root, "zz", "new", "zz", json!(null), &[1.0], &[1.0]);
        bench(root, "zz_1", "new", "zz", json!(null), &[1.0], &[1.0]);
        let first = root
            .join("g30/b30/new/benchmark.json")
            .display()
            .to_string();
        for _ in 0..5 {
            check_err(root, "new", &[&first, "not valid criterion output"]);
        }
        fs::write(
            root.join("g30/b30/new/benchmark.json"),
            r#"{"full_id":"g30/b30"}"#,
        )
        .unwrap();
        fs::write(
            root.join("g5/b5/new/sample.json"),
            r#"{"iters":[1],"times":[1]}"#,
        )
        .unwrap();
        check_err(
            root,
            "new",
            &[
                "benchmark id \"zz\" appears twice",
                &root.join("zz/new").display().to_string(),
                &root.join("zz_1/new").display().to_string(),
            ],
        );
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
