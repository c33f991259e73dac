//! Reading and writing run files: schema-checked reads, atomic writes.
//!
//! A write goes to a temporary file in the destination's folder and is renamed over the
//! destination, so an interrupted run (Ctrl-C, a crash, a full disk) leaves either the old file
//! or the new one, never a torn one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde::de::IgnoredAny;

use crate::model::{Run, SCHEMA_VERSION};

/// Reads a run file, refusing unknown schema versions and malformed samples.
///
/// No `serde_json::Value` is built. The schema version is checked before the file is parsed as
/// this version's format: `write_run` puts it first, where a glance finds it; anywhere else, or
/// when the glance finds another version, a pass over the whole text (checking that it is JSON,
/// skipping every value but that one) finds it. Errors come in the same order either way: not
/// JSON, then the version, then the format.
pub fn read_run(path: &Path) -> anyhow::Result<Run> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read run file {}", path.display()))?;
    if leading_schema_version(&text) == Some(u64::from(SCHEMA_VERSION)) {
        // The likely case: a run of this version. Should it not parse, the whole-text pass
        // below says why, in the usual order.
        if let Ok(run) = serde_json::from_str::<Run>(&text) {
            validate(&run).with_context(|| format!("invalid run file {}", path.display()))?;
            return Ok(run);
        }
    }
    let VersionProbe(version) = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON (truncated or corrupt); restore it from git or re-run the benchmarks",
            path.display()
        )
    })?;
    match version {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(version) => bail!(
            "{} has schema version {version}, this harness reads version {SCHEMA_VERSION}; use a harness of that version or re-record the run",
            path.display()
        ),
        None => bail!(
            "{} has no schema_version; it is not a run file written by `cargo xtask bench`",
            path.display()
        ),
    }
    let run: Run = serde_json::from_str(&text)
        .with_context(|| format!("{} does not match the run format", path.display()))?;
    validate(&run).with_context(|| format!("invalid run file {}", path.display()))?;
    Ok(run)
}

/// The schema version when the text starts the way `write_run` writes it, `{` and then
/// `"schema_version": N` with `N` a plain unsigned integer followed by `,` or `}`; else `None`.
/// A glance, not a check: the rest of the text is not looked at.
fn leading_schema_version(text: &str) -> Option<u64> {
    let json_whitespace: &[char] = &[' ', '\n', '\t', '\r'];
    let rest = text.trim_start_matches(json_whitespace).strip_prefix('{')?;
    let rest = rest
        .trim_start_matches(json_whitespace)
        .strip_prefix("\"schema_version\"")?;
    let rest = rest.trim_start_matches(json_whitespace).strip_prefix(':')?;
    let rest = rest.trim_start_matches(json_whitespace);
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, rest) = rest.split_at(digits);
    // JSON has no leading zeros; a number too large for `u64` is left to the full pass too.
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    let version = number.parse().ok()?;
    matches!(
        rest.trim_start_matches(json_whitespace).chars().next(),
        Some(',' | '}')
    )
    .then_some(version)
}

/// A run file's `schema_version` when it is an unsigned integer (the last one, should the key
/// repeat), else `None`; any JSON document deserializes into it, every value but that one
/// skipped unbuilt.
#[derive(Debug)]
struct VersionProbe(Option<u64>);

impl<'de> serde::Deserialize<'de> for VersionProbe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VersionProbeVisitor)
    }
}

struct VersionProbeVisitor;

impl<'de> serde::de::Visitor<'de> for VersionProbeVisitor {
    type Value = VersionProbe;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON document")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<VersionProbe, A::Error> {
        let mut version = None;
        while let Some(IsVersionKey(is_version)) = map.next_key()? {
            if is_version {
                version = map.next_value::<serde_json::Value>()?.as_u64();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(VersionProbe(version))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<VersionProbe, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(VersionProbe(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }

    fn visit_unit<E>(self) -> Result<VersionProbe, E> {
        Ok(VersionProbe(None))
    }
}

/// Whether a key of the run file's top-level object is `schema_version`, without keeping it.
struct IsVersionKey(bool);

impl<'de> serde::Deserialize<'de> for IsVersionKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = IsVersionKey;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<IsVersionKey, E> {
                Ok(IsVersionKey(key == "schema_version"))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Checks what the type system cannot: samples present and finite, ids unique per metric.
pub fn validate(run: &Run) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for bench in &run.benchmarks {
        if !seen.insert((bench.id.as_str(), bench.metric)) {
            bail!("benchmark {:?} appears twice", bench.id);
        }
        if bench.samples.is_empty() {
            bail!("benchmark {:?} has no samples", bench.id);
        }
        if let Some(bad) = bench.samples.iter().find(|s| !s.is_finite() || **s < 0.0) {
            bail!("benchmark {:?} has an invalid sample {bad}", bench.id);
        }
    }
    Ok(())
}

/// Writes `run` as pretty JSON to `path` atomically, creating the folder if needed.
pub fn write_run(path: &Path, run: &Run) -> anyhow::Result<()> {
    validate(run)?;
    let mut run = run.clone();
    run.benchmarks
        .sort_by(|a, b| (a.id.as_str(), a.metric).cmp(&(b.id.as_str(), b.metric)));
    let mut text = serde_json::to_string_pretty(&run).context("serialising the run")?;
    text.push('\n');
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Temporary files are created private (0600); a run file is ordinary data, so give it the
    // destination's permissions, or those of a new file.
    let permissions = match std::fs::metadata(path) {
        Ok(existing) => Some(existing.permissions()),
        Err(_) => default_permissions(),
    };
    tmp.write_all(text.as_bytes())
        .and_then(|()| match permissions {
            Some(permissions) => tmp.as_file().set_permissions(permissions),
            None => Ok(()),
        })
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The permissions of a new run file: readable by everyone, like any file in a checkout.
/// Elsewhere than Unix, temporary files are not private, so there is nothing to change.
#[cfg(unix)]
fn default_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<std::fs::Permissions> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Benchmark, Metric, RunMeta, Summary};

    fn run_with(samples: Vec<f64>) -> Run {
        Run {
            schema_version: SCHEMA_VERSION,
            meta: RunMeta::default(),
            benchmarks: vec![Benchmark {
                id: "group/fn with space/ünï".to_string(),
                metric: Metric::WallTime,
                unit: "ns".to_string(),
                summary: Summary::of(&samples),
                samples,
                iterations: vec![],
                throughput: None,
            }],
        }
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/run.json");
        let run = run_with(vec![1.0, 2.0, 3.0]);
        write_run(&path, &run).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(read_run(&path).unwrap(), run);
        write_run(&path, &run).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn truncated_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let error = format!("{:#}", read_run(&path).unwrap_err());
        assert!(
            error.contains("run.json") && error.contains("not valid JSON"),
            "{error}"
        );
    }

    #[test]
    fn unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(
            &path,
            r#"{"schema_version": 99, "meta": {}, "benchmarks": []}"#,
        )
        .unwrap();
        let error = format!("{:#}", read_run(&path).unwrap_err());
        assert!(error.contains("schema version 99"), "{error}");
    }

    #[test]
    fn schema_version_is_found_anywhere_and_checked_after_the_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let error_for = |text: &str| {
            std::fs::write(&path, text).unwrap();
            format!("{:#}", read_run(&path).unwrap_err())
        };
        // Not the first key, and nested keys of that name do not count.
        let ok = r#"{"meta": {"schema_version": 5}, "benchmarks": [], "schema_version": 1}"#;
        std::fs::write(&path, ok).unwrap();
        assert!(read_run(&path).unwrap().benchmarks.is_empty());
        for (text, needle) in [
            (
                r#"{"meta": {"schema_version": 1}, "benchmarks": []}"#,
                "has no schema_version",
            ),
            (
                r#"{"schema_version": "1", "meta": {}, "benchmarks": []}"#,
                "has no schema_version",
            ),
            (
                r#"{"schema_version": 1.0, "meta": {}, "benchmarks": []}"#,
                "has no schema_version",
            ),
            (r#"[1, {"schema_version": 1}]"#, "has no schema_version"),
            ("17", "has no schema_version"),
            // The syntax is judged first: a broken file of another version is broken.
            (
                r#"{"schema_version": 99, "meta": {}, "benchmarks": [}"#,
                "not valid JSON",
            ),
            (
                r#"{"schema_version": 1, "meta": {}, "benchmarks": []} x"#,
                "not valid JSON",
            ),
            (
                r#"{"schema_version": 1, "meta": 5, "benchmarks": []}"#,
                "does not match the run format",
            ),
        ] {
            let error = error_for(text);
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.contains("run.json"), "{error}");
        }
    }

    #[test]
    fn the_glance_at_the_version_reads_only_the_plain_form() {
        for (text, version) in [
            ("{\n  \"schema_version\": 1,\n  \"meta\": {}", Some(1)),
            (r#" { "schema_version" : 12 } "#, Some(12)),
            (r#"{"schema_version":1}"#, Some(1)),
            (r#"{"meta": {}, "schema_version": 1}"#, None),
            (r#"{"schema_version": 1.0}"#, None),
            (r#"{"schema_version": 01}"#, None),
            (r#"{"schema_version": -1}"#, None),
            (r#"{"schema_version": "1"}"#, None),
            (r#"{"schema_version": 1"#, None),
            (r#"{"schema_version": 99999999999999999999}"#, None),
            ("[1]", None),
            ("", None),
        ] {
            assert_eq!(leading_schema_version(text), version, "{text}");
        }
    }

    #[test]
    fn bad_samples_and_duplicates_are_refused() {
        let mut run = run_with(vec![1.0]);
        run.benchmarks[0].samples = vec![];
        assert!(validate(&run).is_err());
        run.benchmarks[0].samples = vec![f64::NAN];
        assert!(validate(&run).is_err());
        run.benchmarks[0].samples = vec![-1.0];
        assert!(validate(&run).is_err());
        let mut run = run_with(vec![1.0]);
        run.benchmarks.push(run.benchmarks[0].clone());
        assert!(format!("{}", validate(&run).unwrap_err()).contains("appears twice"));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_run(&path, &run_with(vec![1.0])).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let mut bad = run_with(vec![1.0]);
        bad.benchmarks[0].samples = vec![f64::INFINITY];
        assert!(write_run(&path, &bad).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}
