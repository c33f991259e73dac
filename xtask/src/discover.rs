//! Finding the benchmarks: every `bench` target of every workspace member, from `cargo metadata`.
//!
//! Nothing here knows the workspace's crates by name, so `xtask/` can be copied into another
//! workspace as it is.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cargo_metadata::{Metadata, MetadataCommand};

/// Which harness a bench target uses, which decides how it is run and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Harness {
    Criterion,
    IaiCallgrind,
    /// Neither: skipped with a notice.
    Other,
}

/// One `[[bench]]` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchTarget {
    pub package: String,
    pub name: String,
    pub harness: Harness,
    pub src_path: PathBuf,
    /// The package's folder: benchmarks run from there, as under `cargo bench`.
    pub package_dir: PathBuf,
}

/// Runs `cargo metadata` for the workspace at `root`.
pub fn metadata(root: &Path) -> anyhow::Result<Metadata> {
    MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .exec()
        .with_context(|| {
            format!(
                "`cargo metadata` failed for {}; check that the workspace builds",
                root.display()
            )
        })
}

/// Every bench target of the workspace members, sorted by package and name.
pub fn bench_targets(metadata: &Metadata) -> Vec<BenchTarget> {
    let mut targets = Vec::new();
    for package in metadata.workspace_packages() {
        let package_dir = package
            .manifest_path
            .parent()
            .map(|dir| dir.as_std_path().to_path_buf())
            .unwrap_or_default();
        for target in &package.targets {
            if !target.is_bench() {
                continue;
            }
            let src_path = target.src_path.as_std_path().to_path_buf();
            let source = std::fs::read_to_string(&src_path).unwrap_or_default();
            targets.push(BenchTarget {
                package: package.name.to_string(),
                name: target.name.clone(),
                harness: classify(&source),
                src_path,
                package_dir: package_dir.clone(),
            });
        }
    }
    targets.sort_by(|a, b| (&a.package, &a.name).cmp(&(&b.package, &b.name)));
    targets
}

/// Tells the harness from the bench's source: iai-callgrind benches call its `main!`,
/// criterion ones use `criterion`.
pub fn classify(source: &str) -> Harness {
    if source.contains("iai_callgrind") {
        Harness::IaiCallgrind
    } else if source.contains("criterion") {
        Harness::Criterion
    } else {
        Harness::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_source() {
        assert_eq!(
            classify("use iai_callgrind::{main, library_benchmark};"),
            Harness::IaiCallgrind
        );
        assert_eq!(
            classify("use criterion::{criterion_group, criterion_main};"),
            Harness::Criterion
        );
        assert_eq!(classify("fn main() {}"), Harness::Other);
    }

    #[test]
    fn finds_this_workspaces_benches() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let targets = bench_targets(&metadata(root).unwrap());
        assert!(targets.iter().any(|t| t.harness == Harness::Criterion));
        assert!(targets.iter().any(|t| t.harness == Harness::IaiCallgrind));
        assert!(targets.iter().all(|t| t.src_path.is_file()));
    }
}
