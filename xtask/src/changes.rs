//! Which packages a change can affect, so that `compare` spends its wall-time rounds where the
//! code changed.
//!
//! A changed file inside a workspace package's folder changes that package; a changed file
//! outside every package (the workspace's `Cargo.toml`, `Cargo.lock`, `bench.toml`,
//! `.cargo/config.toml`, ...) may change every build, so it affects everything; files matching
//! the ignore globs (documentation, CI, baselines) affect nothing. A package is affected when it
//! or any workspace package it depends on, directly or not, changed. Instruction counts are
//! cheap and exact, so `compare` keeps them for every benchmark whatever this says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use cargo_metadata::Metadata;

/// What a change affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    /// A file outside every package changed (or nothing could be told): every benchmark.
    Everything { because: String },
    /// These workspace packages (by name), possibly none.
    Packages(BTreeSet<String>),
}

impl Affected {
    pub fn contains(&self, package: &str) -> bool {
        match self {
            Affected::Everything { .. } => true,
            Affected::Packages(packages) => packages.contains(package),
        }
    }
}

/// A workspace package: its folder (relative to the repository root) and the workspace
/// packages it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub dir: PathBuf,
    pub depends_on: Vec<String>,
}

/// The workspace packages of `metadata`, with folders relative to `repo_root` (the folder
/// `changed` paths are relative to).
pub fn packages(metadata: &Metadata, repo_root: &Path) -> Vec<Package> {
    let members: BTreeSet<&str> = metadata
        .workspace_packages()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    metadata
        .workspace_packages()
        .iter()
        .map(|package| {
            let dir = package
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            let dir = dir
                .strip_prefix(repo_root)
                .map(Path::to_path_buf)
                .unwrap_or(dir);
            let mut depends_on: Vec<String> = package
                .dependencies
                .iter()
                .filter(|d| d.path.is_some() && members.contains(d.name.as_str()))
                .map(|d| d.name.clone())
                .collect();
            depends_on.sort();
            depends_on.dedup();
            Package {
                name: package.name.to_string(),
                dir,
                depends_on,
            }
        })
        .collect()
}

/// Decides what `changed` (paths relative to the repository root) affects.
pub fn affected(
    packages: &[Package],
    changed: &[String],
    ignore: &[String],
) -> anyhow::Result<Affected> {
    let mut builder = globset::GlobSetBuilder::new();
    for glob in ignore {
        builder.add(globset::Glob::new(glob).with_context(|| format!("bad ignore glob {glob:?}"))?);
    }
    let ignore = builder.build()?;
    let mut changed_packages = BTreeSet::new();
    for file in changed {
        if ignore.is_match(file) {
            continue;
        }
        // The deepest package folder holding the file (packages may nest).
        let owner = packages
            .iter()
            .filter(|p| Path::new(file).starts_with(&p.dir) && !p.dir.as_os_str().is_empty())
            .max_by_key(|p| p.dir.components().count());
        match owner {
            Some(package) => {
                changed_packages.insert(package.name.clone());
            }
            None => {
                return Ok(Affected::Everything {
                    because: file.clone(),
                });
            }
        }
    }
    // Reverse dependencies, to a fixed point.
    let by_name: BTreeMap<&str, &Package> = packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut affected = changed_packages.clone();
    loop {
        let before = affected.len();
        for package in by_name.values() {
            if package.depends_on.iter().any(|d| affected.contains(d)) {
                affected.insert(package.name.clone());
            }
        }
        if affected.len() == before {
            break;
        }
    }
    Ok(Affected::Packages(affected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> Vec<Package> {
        let package = |name: &str, dir: &str, deps: &[&str]| Package {
            name: name.to_string(),
            dir: PathBuf::from(dir),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        };
        vec![
            package("cache", "crates/cache", &[]),
            package("batching", "crates/batching", &[]),
            package("query-plan", "crates/query-plan", &[]),
            package("benches", "benches", &["cache", "batching", "query-plan"]),
            package("xtask", "xtask", &[]),
        ]
    }

    fn ignore() -> Vec<String> {
        crate::config::DEFAULT_IGNORE
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn names(affected: Affected) -> Vec<String> {
        match affected {
            Affected::Packages(p) => p.into_iter().collect(),
            Affected::Everything { because } => vec![format!("everything: {because}")],
        }
    }

    #[test]
    fn a_crate_change_affects_it_and_its_dependents_only() {
        let changed = vec!["crates/cache/src/lib.rs".to_string()];
        assert_eq!(
            names(affected(&workspace(), &changed, &ignore()).unwrap()),
            ["benches", "cache"]
        );
    }

    #[test]
    fn documentation_and_ci_affect_nothing_and_the_lock_file_everything() {
        let changed = vec![
            "README.md".to_string(),
            "crates/cache/README.md".to_string(),
            ".github/workflows/ci.yml".to_string(),
            "baselines/x.json".to_string(),
        ];
        assert!(names(affected(&workspace(), &changed, &ignore()).unwrap()).is_empty());
        let changed = vec!["Cargo.lock".to_string()];
        assert_eq!(
            names(affected(&workspace(), &changed, &ignore()).unwrap()),
            ["everything: Cargo.lock"]
        );
    }
}
