//! The benchmark history: one compact entry per benchmark per recorded run on `main`, appended
//! to a JSON Lines file per machine class (`<history dir>/<class>.jsonl`, by default
//! `baselines/history/`; CI keeps it on the `bench-history` branch).
//!
//! The file is append-only. The first line is a header naming the schema version; every other
//! line is one [`Entry`]. Writers take an exclusive lock on the file and append whole lines in
//! one write, so two runs finishing at once both land. A file that does not parse (a torn last
//! line, a hand edit) is refused with its name and line, never rewritten: the fix is to restore
//! it from git. Older schema versions are migrated when read (see [`migrate`]), so the next
//! harness reads what this one wrote.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::model::{Metric, Run};

/// The version of the entries this harness writes.
///
/// Version 1 recorded the machine as its class name only; version 2 records the identity
/// (class, CPU model, cores) and the commit's subject.
pub const SCHEMA_VERSION: u32 = 2;

/// The first line of every history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    perf_guard_history: u32,
}

/// One benchmark of one recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The full commit hash.
    pub commit: String,
    /// The commit's subject line (empty when unknown).
    #[serde(default)]
    pub subject: String,
    /// When the run was made, RFC 3339, UTC.
    pub time: String,
    pub machine: MachineId,
    /// The benchmark id as recorded (aliases are applied when reading, see [`apply_aliases`]).
    pub id: String,
    pub metric: Metric,
    /// `ns` or `instructions`.
    pub unit: String,
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub std_dev: f64,
}

/// Which machine measured an entry: wall times compare only within one class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineId {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
}

/// One benchmark's history in recorded order (the order runs landed on `main`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: String,
    pub metric: Metric,
    pub unit: String,
    pub points: Vec<Entry>,
}

impl Series {
    /// The medians, the values change-point detection and charts work on.
    pub fn values(&self) -> Vec<f64> {
        self.points.iter().map(|entry| entry.median).collect()
    }
}

/// The history file of a machine class in `dir`.
pub fn path(dir: &Path, class: &str) -> PathBuf {
    dir.join(format!("{class}.jsonl"))
}

/// The entries of one run (its benchmarks, summarised), for [`append`].
///
/// Refuses runs that cannot be history: without a commit, with uncommitted changes, or a
/// `--quick` run. A `--filter` run is welcome: each entry stands for its own benchmark, so a
/// subset is still right for every benchmark it holds (backfill records subsets).
pub fn entries_of_run(run: &Run, subject: &str) -> anyhow::Result<Vec<Entry>> {
    let meta = &run.meta;
    let Some(commit) = meta.commit.clone() else {
        bail!("the run records no commit; history entries are made from runs of a commit")
    };
    if meta.dirty == Some(true) {
        bail!(
            "the run was made with uncommitted changes; commit them (history records commits of main)"
        )
    }
    if meta.quick {
        bail!("a --quick run cannot go into the history: its measurements are too short")
    }
    let machine = meta
        .machine
        .as_ref()
        .map(|machine| MachineId {
            class: machine.class(),
            cpu_model: machine.cpu_model.clone(),
            cores: machine.cores,
        })
        .unwrap_or(MachineId {
            class: "unknown-machine".to_string(),
            cpu_model: None,
            cores: None,
        });
    let time = meta.time.clone().unwrap_or_default();
    Ok(run
        .benchmarks
        .iter()
        .map(|benchmark| Entry {
            commit: commit.clone(),
            subject: subject.to_string(),
            time: time.clone(),
            machine: machine.clone(),
            id: benchmark.id.clone(),
            metric: benchmark.metric,
            unit: benchmark.unit.clone(),
            n: benchmark.summary.n,
            median: benchmark.summary.median,
            mean: benchmark.summary.mean,
            min: benchmark.summary.min,
            max: benchmark.summary.max,
            std_dev: benchmark.summary.std_dev,
        })
        .collect())
}

/// Appends `entries` to the history file at `path`, creating it (and its folder) with its
/// header when it does not exist.
///
/// The file is locked for the whole step, its existing text checked (a torn or corrupt file is
/// refused, not extended), and the new lines written in one `write_all`: concurrent writers
/// serialise on the lock and none loses another's entries.
pub fn append(path: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = open_locked(path, true)?;
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read history file {}", path.display()))?;
    let mut out = String::new();
    if text.is_empty() {
        out.push_str(&serde_json::to_string(&Header {
            perf_guard_history: SCHEMA_VERSION,
        })?);
        out.push('\n');
    } else {
        let version = parse(path, &text)?.0;
        if version != SCHEMA_VERSION {
            bail!(
                "{} is history version {version}; run `cargo xtask bench history migrate` to bring it to version {SCHEMA_VERSION} before appending",
                path.display()
            );
        }
    }
    for entry in entries {
        check_entry(entry).with_context(|| format!("cannot append to {}", path.display()))?;
        out.push_str(&serde_json::to_string(entry)?);
        out.push('\n');
    }
    file.write_all(out.as_bytes())
        .with_context(|| format!("cannot append to history file {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot sync history file {}", path.display()))?;
    // Dropping the file releases the lock.
    Ok(())
}

/// Reads a history file: its entries in file order, migrated to this version.
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read history file {}", path.display()))?;
    Ok(parse(path, &text)?.1)
}

/// Reads every `*.jsonl` history file in `dir`, by file name; none is an empty list.
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, Vec<Entry>)>> {
    let mut files = Vec::new();
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot list history folder {}", dir.display()));
        }
    };
    for item in listing {
        let item = item.with_context(|| format!("cannot list history folder {}", dir.display()))?;
        let file = item.path();
        if file.extension().is_some_and(|ext| ext == "jsonl") {
            let class = file
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((class, read(&file)?));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Rewrites a history file of an older version in this version (atomically: a temporary file
/// renamed over it, under the lock); returns the version it had.
pub fn migrate_file(path: &Path) -> anyhow::Result<u32> {
    rewrite(path, |_| true).map(|(version, _)| version)
}

/// Removes the entries whose id matches `remove` (a deleted benchmark's history stays until
/// this is run); returns how many lines were removed. Atomic like [`migrate_file`].
pub fn prune(path: &Path, remove: &regex::Regex) -> anyhow::Result<usize> {
    rewrite(path, |entry| !remove.is_match(&entry.id)).map(|(_, removed)| removed)
}

/// Renames ids through `aliases` (old id → new id, from bench.toml's `[history.aliases]`), so
/// a benchmark renamed on purpose keeps its history. Chains are followed (a → b → c).
pub fn apply_aliases(entries: &mut [Entry], aliases: &BTreeMap<String, String>) {
    for entry in entries {
        let mut hops = 0;
        while let Some(new) = aliases.get(&entry.id) {
            entry.id = new.clone();
            hops += 1;
            // A cycle in the map would loop forever; config loading refuses cycles, this is
            // the backstop.
            if hops > aliases.len() {
                break;
            }
        }
    }
}

/// Groups entries into one series per (id, metric), each in recorded order; series sorted by
/// id then metric. Entries of one commit recorded twice keep both points (a re-run).
pub fn series(entries: &[Entry]) -> Vec<Series> {
    let mut by_key: BTreeMap<(String, Metric), Series> = BTreeMap::new();
    for entry in entries {
        by_key
            .entry((entry.id.clone(), entry.metric))
            .or_insert_with(|| Series {
                id: entry.id.clone(),
                metric: entry.metric,
                unit: entry.unit.clone(),
                points: Vec::new(),
            })
            .points
            .push(entry.clone());
    }
    by_key.into_values().collect()
}

/// Upgrades one entry of version `from` to [`SCHEMA_VERSION`], one step per version.
pub fn migrate(mut value: serde_json::Value, from: u32) -> anyhow::Result<serde_json::Value> {
    let mut version = from;
    while version < SCHEMA_VERSION {
        value = match version {
            1 => v1_to_v2(value)?,
            other => bail!("no migration from history version {other}"),
        };
        version += 1;
    }
    Ok(value)
}

/// Version 1 wrote `"machine": "<class>"`; version 2 an object, and a commit subject.
fn v1_to_v2(mut value: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let object = value
        .as_object_mut()
        .context("a history entry is not a JSON object")?;
    let class = match object.get("machine") {
        Some(serde_json::Value::String(class)) => class.clone(),
        _ => bail!("a version 1 history entry has no machine class"),
    };
    object.insert("machine".to_string(), serde_json::json!({ "class": class }));
    object
        .entry("subject")
        .or_insert(serde_json::Value::String(String::new()));
    Ok(value)
}

/// Parses a whole history text: its version and its entries in this version.
fn parse(path: &Path, text: &str) -> anyhow::Result<(u32, Vec<Entry>)> {
    if !text.is_empty() && !text.ends_with('\n') {
        bail!(
            "history file {} ends in the middle of a line (a torn write?); restore it from git (`git checkout -- {}`) or remove the partial last line",
            path.display(),
            path.display()
        );
    }
    let mut lines = text.lines().enumerate();
    let Some((_, first)) = lines.next() else {
        bail!(
            "history file {} is empty; it should start with its header line, restore it from git or delete it",
            path.display()
        )
    };
    let header: Header = serde_json::from_str(first).with_context(|| {
        format!(
            "history file {} line 1 is not a history header ({{\"perf_guard_history\": N}}); restore it from git",
            path.display()
        )
    })?;
    let version = header.perf_guard_history;
    if version == 0 || version > SCHEMA_VERSION {
        bail!(
            "history file {} has version {version}, this harness reads versions 1 to {SCHEMA_VERSION}; use a newer harness",
            path.display()
        );
    }
    let mut entries = Vec::new();
    for (index, line) in lines {
        let line_number = index + 1;
        let broken = || {
            format!(
                "history file {} line {line_number} is not a valid entry; restore the file from git (`git checkout -- {}`)",
                path.display(),
                path.display()
            )
        };
        let entry: Entry = if version == SCHEMA_VERSION {
            serde_json::from_str(line).with_context(broken)?
        } else {
            let value: serde_json::Value = serde_json::from_str(line).with_context(broken)?;
            serde_json::from_value(migrate(value, version).with_context(broken)?)
                .with_context(broken)?
        };
        check_entry(&entry).with_context(broken)?;
        entries.push(entry);
    }
    Ok((version, entries))
}

/// Opens `path` and takes its exclusive lock, making sure the locked file is still the one the
/// path names: [`rewrite`] renames a new file over it, and a writer that opened the old one
/// before the rename must not append to a file nobody will read.
fn open_locked(path: &Path, create: bool) -> anyhow::Result<std::fs::File> {
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .open(path)
            .with_context(|| format!("cannot open history file {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock history file {}", path.display()))?;
        let locked = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(current) if same_file(&locked, &current) => return Ok(file),
            Ok(_) => continue,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => continue,
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read history file {}", path.display()));
            }
        }
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

fn check_entry(entry: &Entry) -> anyhow::Result<()> {
    let values = [
        entry.median,
        entry.mean,
        entry.min,
        entry.max,
        entry.std_dev,
    ];
    if entry.id.is_empty() || entry.commit.is_empty() {
        bail!("an entry has no benchmark id or no commit");
    }
    if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        bail!(
            "benchmark {} has a value that is negative or not finite",
            entry.id
        );
    }
    Ok(())
}

/// Rewrites `path` in this version, keeping the entries `keep` accepts; returns the version the
/// file had and how many entries were dropped.
fn rewrite(path: &Path, keep: impl Fn(&Entry) -> bool) -> anyhow::Result<(u32, usize)> {
    let mut file = open_locked(path, false)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read history file {}", path.display()))?;
    let (version, entries) = parse(path, &text)?;
    let total = entries.len();
    let mut out = serde_json::to_string(&Header {
        perf_guard_history: SCHEMA_VERSION,
    })?;
    out.push('\n');
    let mut kept = 0;
    for entry in entries.iter().filter(|entry| keep(entry)) {
        out.push_str(&serde_json::to_string(entry)?);
        out.push('\n');
        kept += 1;
    }
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let mut temporary = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))?;
    temporary.write_all(out.as_bytes())?;
    temporary.as_file().sync_all()?;
    // A writer waiting on the old file's lock finds, once it has it, that the path names
    // another file and opens it again (see `open_locked`), so nothing lands in the old inode.
    temporary
        .persist(path)
        .with_context(|| format!("cannot replace history file {}", path.display()))?;
    drop(file);
    Ok((version, total - kept))
}

#[cfg(test)]
mod tests;
