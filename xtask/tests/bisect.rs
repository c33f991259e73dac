//! `bench bisect` and `bench backfill` on the command line: the errors that end them before
//! anything is built, with exit code 2.

use std::path::Path;
use std::process::Output;

use git2::{Oid, Repository};

/// A repository with a linear history of `n` commits (`cost.txt`), no workspace: the commands
/// must refuse before they look for one.
fn repository(dir: &Path, n: usize) -> Vec<Oid> {
    let repo = Repository::init(dir).unwrap();
    let signature = git2::Signature::now("test", "test@example.invalid").unwrap();
    let mut commits: Vec<Oid> = Vec::new();
    for index in 0..n {
        let mut builder = repo.treebuilder(None).unwrap();
        let blob = repo.blob(format!("{}", 100 + index).as_bytes()).unwrap();
        builder.insert("cost.txt", blob, 0o100644).unwrap();
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = commits
            .last()
            .map(|&oid| repo.find_commit(oid).unwrap())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        commits.push(
            repo.commit(
                Some("HEAD"),
                &signature,
                &signature,
                &format!("commit {index}"),
                &tree,
                &parents,
            )
            .unwrap(),
        );
    }
    commits
}

fn xtask(workspace: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("bench")
        .args(args)
        .env("XTASK_WORKSPACE", workspace)
        .output()
        .unwrap()
}

fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_string()
}

#[test]
fn swapped_revisions_exit_2_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let commits = repository(dir.path(), 3);
    let output = xtask(
        dir.path(),
        &["bisect", "HEAD", "HEAD~2", "--bench", "iai_x::g::f"],
    );
    let line = one_line_error(&output);
    let short = |oid: Oid| oid.to_string()[..7].to_string();
    for needle in [
        "error: good HEAD",
        &short(commits[2]),
        "is not an ancestor of bad HEAD~2",
        &short(commits[0]),
        "bisect GOOD BAD",
    ] {
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
}

#[test]
fn an_empty_backfill_range_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), 3);
    let line = one_line_error(&xtask(dir.path(), &["backfill", "HEAD..HEAD~1"]));
    assert!(
        line.contains("range \"HEAD..HEAD~1\" holds no commits"),
        "{line}"
    );
}
