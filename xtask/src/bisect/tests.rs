use super::*;
use crate::test_support::check_error_message;

/// A test repository: each commit's tree holds the given files (top level only), its parents
/// given; `HEAD` follows when `head` is set.
pub(crate) struct TestRepo {
    /// Holds the repository's folder until the test ends.
    _dir: tempfile::TempDir,
    pub repo: Repository,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        TestRepo { _dir: dir, repo }
    }

    pub fn commit(
        &self,
        parents: &[Oid],
        files: &[(&str, &str)],
        message: &str,
        head: bool,
    ) -> Oid {
        let mut builder = self.repo.treebuilder(None).unwrap();
        for (name, text) in files {
            let blob = self.repo.blob(text.as_bytes()).unwrap();
            builder.insert(name, blob, 0o100644).unwrap();
        }
        let tree = self.repo.find_tree(builder.write().unwrap()).unwrap();
        let signature = git2::Signature::now("test", "test@example.invalid").unwrap();
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|&oid| self.repo.find_commit(oid).unwrap())
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(
                head.then_some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &parents,
            )
            .unwrap()
    }

    /// A linear history, one commit per cost (`cost.txt`), subjects `commit 0`, `commit 1`,
    /// ...; returns the commits oldest first.
    pub fn linear(costs: &[&str]) -> (TestRepo, Vec<Oid>) {
        let test = TestRepo::new();
        let mut commits: Vec<Oid> = Vec::new();
        for (index, cost) in costs.iter().enumerate() {
            let parents: Vec<Oid> = commits.last().copied().into_iter().collect();
            commits.push(test.commit(
                &parents,
                &[("cost.txt", cost)],
                &format!("commit {index}"),
                true,
            ));
        }
        (test, commits)
    }

    /// The "benchmark" of a commit: the number in its `cost.txt`; `None` ("does not build")
    /// when the file says anything else.
    pub fn cost(&self, oid: Oid) -> Option<f64> {
        let tree = self.repo.find_commit(oid).unwrap().tree().unwrap();
        let entry = tree.get_path(Path::new("cost.txt")).ok()?;
        let blob = self.repo.find_blob(entry.id()).unwrap();
        std::str::from_utf8(blob.content())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

use std::path::Path;

const ID: &str = "iai_test::cost::value";

/// Bisects `costs` between the first and the last commit with a count probe on `cost.txt`
/// (threshold 5 %), recording which commits were measured.
fn run(costs: &[&str]) -> (TestRepo, Vec<Oid>, anyhow::Result<Bisection>, Vec<Oid>) {
    let (test, commits) = TestRepo::linear(costs);
    let mut probed = Vec::new();
    let result = {
        let mut probe = CountProbe::new(commits[0], 0.05, Config::default(), |oid| {
            probed.push(oid);
            Ok(test.cost(oid))
        });
        bisect(
            &test.repo,
            (commits[0], "GOOD"),
            (*commits.last().unwrap(), "BAD"),
            ID,
            &mut probe,
        )
    };
    (test, commits, result, probed)
}

fn found(bisection: &Bisection) -> (Oid, &str, &Measurement) {
    match &bisection.outcome {
        Outcome::Found {
            commit,
            measurement,
        } => (commit.oid, commit.subject.as_str(), measurement),
        other => panic!("expected one commit, got {other:?}"),
    }
}

#[test]
fn finds_the_first_slower_commit_its_subject_and_the_change() {
    let (_test, commits, result, probed) = run(&[
        "100", "100", "100", "100", "130", "130", "130", "130", "130", "130",
    ]);
    let bisection = result.unwrap();
    let (oid, subject, measurement) = found(&bisection);
    assert_eq!(oid, commits[4]);
    assert_eq!(subject, "commit 4");
    assert_eq!((measurement.good, measurement.value), (100.0, 130.0));
    assert!((measurement.change - 0.30).abs() < 1e-12);
    assert_eq!(
        bisection.report(),
        format!(
            "first regressed: {} \"commit 4\" {ID} 100 → 130 (+30.0 %)",
            short(commits[4])
        )
    );
    // GOOD once, BAD, then a binary search: far fewer probes than commits.
    assert!(probed.len() <= 6, "{probed:?}");
    assert_eq!(probed[0], commits[0]);
}

#[test]
fn a_commit_that_does_not_build_is_skipped_for_a_neighbour() {
    // The first midpoint (commit 5) is broken: a neighbour is measured instead.
    let (_test, commits, result, probed) = run(&[
        "100", "100", "100", "100", "100", "broken", "100", "130", "130", "130",
    ]);
    let bisection = result.unwrap();
    assert!(probed.contains(&commits[5]), "the broken commit was tried");
    assert_eq!(found(&bisection).0, commits[7]);
    assert!(
        bisection
            .measured
            .iter()
            .any(|(commit, m)| commit.oid == commits[5] && m.is_none())
    );
}

#[test]
fn a_broken_commit_just_before_the_slower_one_gives_the_range() {
    let (_test, commits, result, _) = run(&[
        "100", "100", "100", "100", "broken", "130", "130", "130", "130", "130",
    ]);
    let bisection = result.unwrap();
    let Outcome::Ambiguous {
        last_good,
        candidates,
        first_bad,
        measurement,
    } = &bisection.outcome
    else {
        panic!("expected a range, got {:?}", bisection.outcome)
    };
    assert_eq!(last_good.oid, commits[3]);
    let candidates: Vec<Oid> = candidates.iter().map(|c| c.oid).collect();
    assert_eq!(candidates, [commits[4], commits[5]]);
    assert_eq!(first_bad.oid, commits[5]);
    assert_eq!(measurement.value, 130.0);
    let report = bisection.report();
    assert!(
        report.starts_with(&format!(
            "first regressed: one of 2 commits after {} \"commit 3\"",
            short(commits[3])
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "{} \"commit 4\" (does not build)",
            short(commits[4])
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "{} \"commit 5\" {ID} 100 → 130 (+30.0 %)",
            short(commits[5])
        )),
        "{report}"
    );
}

#[test]
fn several_broken_commits_before_the_slower_one_are_all_in_the_range() {
    let (_test, commits, result, _) = run(&[
        "100", "100", "broken", "broken", "broken", "130", "130", "130",
    ]);
    let bisection = result.unwrap();
    let Outcome::Ambiguous { candidates, .. } = &bisection.outcome else {
        panic!("expected a range, got {:?}", bisection.outcome)
    };
    let candidates: Vec<Oid> = candidates.iter().map(|c| c.oid).collect();
    assert_eq!(candidates, commits[2..=5]);
}

#[test]
fn the_slowing_commit_right_after_good_or_at_bad_is_found() {
    let (_test, commits, result, _) = run(&["100", "130", "130", "130", "130"]);
    assert_eq!(found(&result.unwrap()).0, commits[1]);
    let (_test, commits, result, _) = run(&["100", "100", "100", "100", "130"]);
    assert_eq!(found(&result.unwrap()).0, commits[4]);
}

#[test]
fn a_change_below_the_threshold_or_an_improvement_is_not_a_regression() {
    // 3 % up, then 10 % below GOOD: neither regressed, so BAD did not regress.
    let (_test, commits, result, _) = run(&["100", "103", "103", "90"]);
    let error = result.unwrap_err();
    check_error_message(
        &error,
        &[
            "did not regress at bad BAD",
            &short(commits[3]),
            "good GOOD",
            "100 → 90 (-10.0 %)",
            "check the revisions",
        ],
    );
}

#[test]
fn swapped_revisions_are_refused_naming_both() {
    let (test, commits) = TestRepo::linear(&["100", "100", "130"]);
    let mut probe = CountProbe::new(
        commits[2],
        0.05,
        Config::default(),
        |oid| Ok(test.cost(oid)),
    );
    let error = bisect(
        &test.repo,
        (commits[2], "main"),
        (commits[0], "v0.1"),
        ID,
        &mut probe,
    )
    .unwrap_err();
    check_error_message(
        &error,
        &[
            "good main",
            "is not an ancestor of bad v0.1",
            &short(commits[2]),
            &short(commits[0]),
            "bisect GOOD BAD",
        ],
    );
}

#[test]
fn a_bad_or_good_commit_that_does_not_build_is_an_error() {
    let (_test, _, result, _) = run(&["100", "100", "broken"]);
    check_error_message(
        &result.unwrap_err(),
        &["bad BAD", "cannot be measured", "a BAD that builds"],
    );
    let (_test, _, result, _) = run(&["broken", "100", "130"]);
    check_error_message(
        &result.unwrap_err(),
        &["good revision", "a GOOD that builds"],
    );
}

#[test]
fn the_path_follows_first_parents_only() {
    // a - b - c - m (merge of s2) ; b - s1 - s2
    let test = TestRepo::new();
    let a = test.commit(&[], &[("cost.txt", "100")], "a", true);
    let b = test.commit(&[a], &[("cost.txt", "100")], "b", true);
    let s1 = test.commit(&[b], &[("cost.txt", "130")], "s1", false);
    let s2 = test.commit(&[s1], &[("cost.txt", "130")], "s2", false);
    let c = test.commit(&[b], &[("cost.txt", "100")], "c", true);
    let m = test.commit(&[c, s2], &[("cost.txt", "130")], "merge s", true);
    assert_eq!(
        first_parent_range(&test.repo, None, m).unwrap(),
        [a, b, c, m]
    );
    assert_eq!(
        first_parent_range(&test.repo, Some(a), m).unwrap(),
        [b, c, m]
    );
    // Reachable from FROM by any path is left out (git's FROM..TO).
    assert_eq!(first_parent_range(&test.repo, Some(s2), m).unwrap(), [c, m]);
    assert!(
        first_parent_range(&test.repo, Some(m), c)
            .unwrap()
            .is_empty()
    );
    // The merge brought the slowdown in: bisect names it, not the side branch's commit.
    let mut probe = CountProbe::new(a, 0.05, Config::default(), |oid| Ok(test.cost(oid)));
    let bisection = bisect(&test.repo, (a, "a"), (m, "m"), ID, &mut probe).unwrap();
    assert_eq!(found(&bisection).0, m);
}

#[test]
fn values_are_formatted_for_people() {
    for (value, unit, text) in [
        (125_073.0, "instructions", "125,073"),
        (999.0, "instructions", "999"),
        (1_000.0, "instructions", "1,000"),
        (12_345_678.4, "instructions", "12,345,678"),
        (512.345, "ns", "512.35 ns"),
        (12_300.0, "ns", "12.300 µs"),
        (4_500_000.0, "ns", "4.500 ms"),
    ] {
        assert_eq!(format_value(value, unit), text);
    }
}
