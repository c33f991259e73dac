//! The two sides of `compare`: revisions resolved with git2 and checked out into folders of
//! their own, removed again on every exit path.
//!
//! A side is a commit (its tree is written into the folder without touching the repository's
//! index or working tree) or the working tree itself, uncommitted changes included (its tracked
//! and untracked-but-not-ignored files are copied). The folders live at fixed places under the
//! target directory, so that cargo's build of one side's dependencies serves every later run;
//! [`Checkouts`] removes them when it is dropped (success, error, panic: the Ctrl-C handler only
//! sets a flag, so an interrupted run unwinds through the same drop).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use git2::{Oid, Repository, StatusOptions};
use serde::{Deserialize, Serialize};

/// What one side of a comparison is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// As the user gave it (`main`, `HEAD~1`), or `working tree`.
    pub revision: String,
    /// The commit: the revision's, or for the working tree the commit it is based on.
    pub commit: Option<String>,
    /// The commit's first line.
    pub subject: Option<String>,
    /// The working tree with uncommitted changes.
    pub dirty: bool,
}

impl Revision {
    /// `main (1a2b3c4d)`, `working tree (1a2b3c4d + uncommitted changes)`.
    pub fn label(&self) -> String {
        let short = self
            .commit
            .as_deref()
            .map(|c| &c[..c.len().min(8)])
            .unwrap_or("no commit");
        if self.dirty {
            format!("{} ({short} + uncommitted changes)", self.revision)
        } else {
            format!("{} ({short})", self.revision)
        }
    }
}

/// A side to check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Commit(Oid),
    WorkingTree,
}

/// Opens the repository that holds the workspace at `root`.
pub fn open(root: &Path) -> anyhow::Result<Repository> {
    Repository::discover(root).with_context(|| {
        format!(
            "{} is not inside a git repository; `compare` checks out revisions of it",
            root.display()
        )
    })
}

/// The workspace's folder relative to the repository's working directory (empty when the
/// workspace is the repository's root).
pub fn workspace_prefix(repo: &Repository, root: &Path) -> anyhow::Result<PathBuf> {
    let workdir = repo
        .workdir()
        .context("the repository is bare; run `compare` in a checkout")?;
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    Ok(root
        .strip_prefix(&workdir)
        .map(Path::to_path_buf)
        .unwrap_or_default())
}

/// Resolves `spec` to a commit. A revision that is not there is named; in a shallow clone the
/// message says to fetch more history, which is the usual cause on CI.
pub fn resolve(repo: &Repository, spec: &str) -> anyhow::Result<(Oid, Revision)> {
    let found = repo
        .revparse_single(spec)
        .and_then(|object| object.peel_to_commit());
    match found {
        Ok(commit) => Ok((
            commit.id(),
            Revision {
                revision: spec.to_string(),
                commit: Some(commit.id().to_string()),
                subject: commit.summary().map(str::to_string),
                dirty: false,
            },
        )),
        Err(_) if repo.is_shallow() => bail!(
            "revision {spec:?} is not in this shallow clone: fetch more history (with actions/checkout use `fetch-depth: 0`, locally `git fetch --unshallow`)"
        ),
        Err(_) => bail!(
            "revision {spec:?} does not exist in {}; pass a branch, tag or commit (see `git log`)",
            repo.workdir().unwrap_or(repo.path()).display()
        ),
    }
}

/// The working tree as a side: based on HEAD's commit, dirty when anything tracked changed or
/// an untracked file (not ignored) exists.
pub fn working_tree(repo: &Repository) -> anyhow::Result<Revision> {
    let head = repo.head().ok().and_then(|head| head.peel_to_commit().ok());
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let dirty = !repo
        .statuses(Some(&mut options))
        .context("cannot read the working tree's status")?
        .is_empty();
    Ok(Revision {
        revision: "working tree".to_string(),
        commit: head.as_ref().map(|c| c.id().to_string()),
        subject: head.as_ref().and_then(|c| c.summary().map(str::to_string)),
        dirty,
    })
}

/// Writes `source` into `dest` (emptied first).
pub fn checkout(repo: &Repository, source: Source, dest: &Path) -> anyhow::Result<()> {
    crate::workdir::fresh_dir(dest)?;
    match source {
        Source::Commit(oid) => {
            let commit = repo.find_commit(oid)?;
            let mut builder = git2::build::CheckoutBuilder::new();
            builder
                .target_dir(dest)
                .force()
                .update_index(false)
                .recreate_missing(true);
            repo.checkout_tree(commit.as_object(), Some(&mut builder))
                .with_context(|| format!("cannot check out {oid} into {}", dest.display()))
        }
        Source::WorkingTree => copy_working_tree(repo, dest),
    }
}

/// Turns `dest`, a checkout of commit `from` (by [`checkout`]), into one of `to` by writing
/// only the files that differ, so the others keep their modification times and cargo, whose
/// fingerprints of workspace packages read them, rebuilds only the packages that changed.
/// Refuses symbolic links and submodules (use [`checkout`] then).
pub fn update_checkout(repo: &Repository, from: Oid, to: Oid, dest: &Path) -> anyhow::Result<()> {
    let old_tree = repo.find_commit(from)?.tree()?;
    let new_tree = repo.find_commit(to)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)?;
    for delta in diff.deltas() {
        let (old, new) = (delta.old_file(), delta.new_file());
        if let Some(path) = old.path().filter(|_| old.id() != new.id() || !new.exists()) {
            match std::fs::remove_file(dest.join(path)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error)
                        .with_context(|| format!("cannot remove {}", dest.join(path).display()));
                }
                _ => {}
            }
            if !new.exists() {
                remove_empty_parents(dest, path);
            }
        }
        if !new.exists() {
            continue;
        }
        let path = new.path().context("a changed file has no path")?;
        let executable = match new.mode() {
            git2::FileMode::Blob => false,
            git2::FileMode::BlobExecutable => true,
            other => bail!(
                "{} in {to} is a {other:?}, not a file; check the commit out in full",
                path.display()
            ),
        };
        let to_path = dest.join(path);
        if let Some(parent) = to_path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let blob = repo.find_blob(new.id())?;
        std::fs::write(&to_path, blob.content())
            .with_context(|| format!("cannot write {}", to_path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&to_path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot set the mode of {}", to_path.display()))?;
        }
        #[cfg(not(unix))]
        let _ = executable;
    }
    Ok(())
}

/// Removes the folders above `path` (inside `dest`) that its removal left empty: a folder
/// that is gone in the new commit must be gone from the checkout too, or a workspace glob such
/// as `members = ["crates/*"]` finds a member without a manifest (bisect stepping back to a
/// commit before a crate existed).
fn remove_empty_parents(dest: &Path, path: &Path) {
    let mut folder = path.parent();
    while let Some(relative) = folder.filter(|f| !f.as_os_str().is_empty()) {
        // Fails, and stops, at the first folder that still holds something.
        if std::fs::remove_dir(dest.join(relative)).is_err() {
            break;
        }
        folder = relative.parent();
    }
}

/// Copies the working tree's tracked files (as they are on disk) and its untracked files that
/// are not ignored.
fn copy_working_tree(repo: &Repository, dest: &Path) -> anyhow::Result<()> {
    let workdir = repo.workdir().context("the repository is bare")?;
    let mut paths: Vec<PathBuf> = Vec::new();
    let index = repo.index().context("cannot read the git index")?;
    for entry in index.iter() {
        paths.push(PathBuf::from(
            String::from_utf8_lossy(&entry.path).into_owned(),
        ));
    }
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    for status in repo.statuses(Some(&mut options))?.iter() {
        if status.status().contains(git2::Status::WT_NEW)
            && let Some(path) = status.path()
        {
            paths.push(PathBuf::from(path));
        }
    }
    paths.sort();
    paths.dedup();
    for path in paths {
        let from = workdir.join(&path);
        // Deleted in the working tree: the side does not have it.
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let to = dest.join(&path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// The files that differ between `base` and `head` (paths relative to the repository root).
pub fn changed_files(repo: &Repository, base: Oid, head: Source) -> anyhow::Result<Vec<String>> {
    let base_tree = repo.find_commit(base)?.tree()?;
    let mut options = git2::DiffOptions::new();
    let diff = match head {
        Source::Commit(oid) => {
            let head_tree = repo.find_commit(oid)?.tree()?;
            repo.diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut options))?
        }
        Source::WorkingTree => {
            options.include_untracked(true).recurse_untracked_dirs(true);
            repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options))?
        }
    };
    let mut files = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(Path::to_str) {
                files.push(path.to_string());
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The checkout folders of one `compare`; removed when dropped.
#[derive(Debug)]
pub struct Checkouts {
    dirs: Vec<PathBuf>,
}

impl Checkouts {
    /// Takes charge of `dirs`, clearing what an earlier run killed without unwinding left.
    pub fn new(dirs: Vec<PathBuf>) -> anyhow::Result<Checkouts> {
        for dir in &dirs {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot clear {}", dir.display()))?;
            }
        }
        Ok(Checkouts { dirs })
    }
}

impl Drop for Checkouts {
    fn drop(&mut self) {
        for dir in &self.dirs {
            if dir.exists()
                && let Err(error) = std::fs::remove_dir_all(dir)
            {
                eprintln!("warning: cannot remove {}: {error}", dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &Repository, files: &[(&str, &str)], message: &str) -> Oid {
        let workdir = repo.workdir().unwrap();
        let mut index = repo.index().unwrap();
        for (path, text) in files {
            let full = workdir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, text).unwrap();
            index.add_path(Path::new(path)).unwrap();
        }
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = git2::Signature::now("test", "test@example.invalid").unwrap();
        let parents: Vec<git2::Commit<'_>> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .unwrap()
    }

    #[test]
    fn checks_out_commits_and_the_dirty_working_tree_and_lists_changes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let first = commit(
            &repo,
            &[("a.txt", "one"), ("src/b.rs", "fn b() {}")],
            "first",
        );
        let second = commit(&repo, &[("a.txt", "two")], "second");
        std::fs::write(dir.path().join("src/b.rs"), "fn b() { loop {} }").unwrap();
        std::fs::write(dir.path().join("new.txt"), "new").unwrap();

        let (oid, revision) = resolve(&repo, "HEAD~1").unwrap();
        assert_eq!(oid, first);
        assert_eq!(revision.subject.as_deref(), Some("first"));
        let out = tempfile::tempdir().unwrap();
        let base = out.path().join("base");
        checkout(&repo, Source::Commit(first), &base).unwrap();
        assert_eq!(std::fs::read_to_string(base.join("a.txt")).unwrap(), "one");
        // The repository itself is untouched.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "two"
        );
        assert!(
            repo.statuses(None)
                .unwrap()
                .iter()
                .all(|s| s.path() != Some("a.txt"))
        );

        let tree = working_tree(&repo).unwrap();
        assert!(tree.dirty);
        assert_eq!(tree.commit, Some(second.to_string()));
        let head = out.path().join("head");
        checkout(&repo, Source::WorkingTree, &head).unwrap();
        assert_eq!(
            std::fs::read_to_string(head.join("src/b.rs")).unwrap(),
            "fn b() { loop {} }"
        );
        assert!(head.join("new.txt").is_file());

        assert_eq!(
            changed_files(&repo, first, Source::Commit(second)).unwrap(),
            ["a.txt"]
        );
        assert_eq!(
            changed_files(&repo, second, Source::WorkingTree).unwrap(),
            ["new.txt", "src/b.rs"]
        );
    }

    #[test]
    fn an_updated_checkout_equals_a_fresh_one_and_keeps_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let first = commit(
            &repo,
            &[
                ("a.txt", "one"),
                ("keep.rs", "fn k() {}"),
                ("gone.txt", "x"),
            ],
            "first",
        );
        std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
        let mut index = repo.index().unwrap();
        index.remove_path(Path::new("gone.txt")).unwrap();
        index.write().unwrap();
        let second = commit(&repo, &[("a.txt", "two"), ("new/n.txt", "n")], "second");

        let out = tempfile::tempdir().unwrap();
        let updated = out.path().join("updated");
        checkout(&repo, Source::Commit(first), &updated).unwrap();
        // An old time: a rewrite would replace it with the present.
        let kept = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(updated.join("keep.rs"))
            .unwrap()
            .set_modified(kept)
            .unwrap();
        update_checkout(&repo, first, second, &updated).unwrap();
        let fresh = out.path().join("fresh");
        checkout(&repo, Source::Commit(second), &fresh).unwrap();
        for file in ["a.txt", "keep.rs", "new/n.txt"] {
            assert_eq!(
                std::fs::read(updated.join(file)).unwrap(),
                std::fs::read(fresh.join(file)).unwrap(),
                "{file}"
            );
        }
        assert!(!updated.join("gone.txt").exists());
        // Back again: `new/` held only n.txt, so stepping back removes the folder itself.
        update_checkout(&repo, second, first, &updated).unwrap();
        assert!(
            !updated.join("new").exists(),
            "an emptied folder is removed"
        );
        assert_eq!(std::fs::read(updated.join("gone.txt")).unwrap(), b"x");
        update_checkout(&repo, first, second, &updated).unwrap();
        let after = std::fs::metadata(updated.join("keep.rs"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(kept, after, "an unchanged file is not rewritten");
    }

    #[test]
    fn a_missing_revision_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        commit(&repo, &[("a", "a")], "only");
        let error = format!("{:#}", resolve(&repo, "no-such-branch").unwrap_err());
        assert!(
            error.contains("\"no-such-branch\" does not exist"),
            "{error}"
        );
    }

    #[test]
    fn checkouts_are_removed_when_dropped_also_on_panic() {
        let dir = tempfile::tempdir().unwrap();
        let side = dir.path().join("base");
        let result = std::panic::catch_unwind(|| {
            let _guard = Checkouts::new(vec![side.clone()]).unwrap();
            std::fs::create_dir_all(side.join("x")).unwrap();
            panic!("a benchmark panicked");
        });
        assert!(result.is_err());
        assert!(!side.exists());
    }
}
