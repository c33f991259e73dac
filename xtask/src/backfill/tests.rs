use super::*;
use crate::bisect::tests::TestRepo;
use crate::model::{Benchmark, RunMeta, SCHEMA_VERSION, Summary as Stats};
use crate::worktree::{self, Source};

const ID: &str = "iai_test::cost::value";

/// Measures a commit by reading its `cost.txt` ("broken": does not build); a commit that
/// changes only `docs.txt` affects no benchmark. Records what it measured.
struct FileMeasurer<'a> {
    test: &'a TestRepo,
    measured: Vec<Oid>,
}

impl Measurer for FileMeasurer<'_> {
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Run>> {
        self.measured.push(commit);
        let Some(cost) = self.test.cost(commit) else {
            return Ok(None);
        };
        let benchmark = |id: &str, metric: Metric, value: f64| Benchmark {
            id: id.to_string(),
            metric,
            unit: if metric == Metric::Instructions {
                "instructions"
            } else {
                "ns"
            }
            .to_string(),
            samples: vec![value],
            iterations: Vec::new(),
            summary: Stats::of(&[value]),
            throughput: None,
        };
        Ok(Some(Run {
            schema_version: SCHEMA_VERSION,
            meta: RunMeta {
                commit: Some(commit.to_string()),
                dirty: Some(false),
                time: Some("2026-12-03T12:00:00Z".to_string()),
                ..RunMeta::default()
            },
            benchmarks: vec![
                benchmark(ID, Metric::Instructions, cost),
                benchmark("iai_test::other::value", Metric::Instructions, 7.0),
                benchmark("test/wall", Metric::WallTime, cost * 10.0),
            ],
        }))
    }

    fn affects_benchmarks(&mut self, commit: Oid) -> anyhow::Result<bool> {
        let repo = &self.test.repo;
        let parent = repo.find_commit(commit)?.parent_ids().next();
        let Some(parent) = parent else {
            return Ok(true);
        };
        let changed = worktree::changed_files(repo, parent, Source::Commit(commit))?;
        Ok(changed.iter().any(|file| file != "docs.txt"))
    }
}

/// c0 .. c5 with c3 broken, and c4 changing only the documentation.
fn history() -> (TestRepo, Vec<Oid>) {
    let test = TestRepo::new();
    let mut commits = Vec::new();
    for (index, (cost, docs)) in [
        ("100", "a"),
        ("100", "a"),
        ("110", "a"),
        ("broken", "a"),
        ("broken", "b"),
        ("120", "b"),
    ]
    .iter()
    .enumerate()
    {
        let parents: Vec<Oid> = commits.last().copied().into_iter().collect();
        commits.push(test.commit(
            &parents,
            &[("cost.txt", cost), ("docs.txt", docs)],
            &format!("commit {index}"),
            true,
        ));
    }
    (test, commits)
}

fn selection(filter: Option<&str>, wall_time: bool) -> Selection {
    Selection {
        filter: filter.map(|f| Regex::new(f).unwrap()),
        wall_time,
    }
}

#[test]
fn ranges_are_first_parent_and_oldest_first() {
    let (test, c) = history();
    let repo = &test.repo;
    let name = |oid: Oid| oid.to_string();
    assert_eq!(
        commits(repo, &format!("{}..{}", name(c[1]), name(c[4]))).unwrap(),
        c[2..=4]
    );
    assert_eq!(commits(repo, &name(c[2])).unwrap(), c[..=2]);
    assert_eq!(commits(repo, "HEAD~2..").unwrap(), c[4..]);
    assert_eq!(commits(repo, "HEAD~1..HEAD").unwrap(), [c[5]]);
    assert_eq!(commits(repo, "HEAD").unwrap(), c);
    assert!(commits(repo, "HEAD..HEAD~2").unwrap().is_empty());
    let error = commits(repo, "HEAD~1..no-such-branch").unwrap_err();
    crate::test_support::check_error_message(&error, &["\"no-such-branch\" does not exist"]);
    assert!(commits(repo, "HEAD~2...HEAD").is_err());

    // A merge: its side branch is not walked.
    let side = test.commit(&[c[1]], &[("cost.txt", "1")], "side", false);
    let merge = test.commit(&[c[5], side], &[("cost.txt", "120")], "merge", true);
    assert_eq!(
        commits(repo, &format!("{}..HEAD", name(c[4]))).unwrap(),
        [c[5], merge]
    );
}

#[test]
fn records_every_commit_that_builds_and_resumes_where_it_stopped() {
    let (test, c) = history();
    let dir = tempfile::tempdir().unwrap();
    let file = history::path(dir.path(), "test-machine");
    let select = selection(None, false);
    let mut measurer = FileMeasurer {
        test: &test,
        measured: Vec::new(),
    };

    // Interrupted after three commits ...
    let summary = backfill(&test.repo, &c[..3], &file, &select, false, &mut measurer).unwrap();
    assert_eq!(summary.recorded, c[..3]);
    // ... and run again over the whole range: only the rest is measured.
    measurer.measured.clear();
    let summary = backfill(&test.repo, &c, &file, &select, false, &mut measurer).unwrap();
    assert_eq!(summary.present, c[..3]);
    assert_eq!(summary.recorded, [c[5]]);
    assert_eq!(summary.failed, [c[3], c[4]]);
    assert_eq!(measurer.measured, c[3..]);
    assert_eq!(
        summary.line(),
        format!(
            "backfill: 1 commit recorded, 3 already in the history, 2 did not build or run ({}, {})",
            short(c[3]),
            short(c[4])
        )
    );

    // Instruction counts only (no --wall-time), in commit order, with the subject.
    let entries = history::read(&file).unwrap();
    let ours: Vec<(String, String, f64)> = entries
        .iter()
        .filter(|e| e.id == ID)
        .map(|e| (e.commit.clone(), e.subject.clone(), e.median))
        .collect();
    let expected: Vec<(String, String, f64)> = [(0, 100.0), (1, 100.0), (2, 110.0), (5, 120.0)]
        .iter()
        .map(|&(i, cost)| (c[i].to_string(), format!("commit {i}"), cost))
        .collect();
    assert_eq!(ours, expected);
    assert!(entries.iter().all(|e| e.metric == Metric::Instructions));
    assert_eq!(entries.len(), 8);

    // Nothing left but the broken ones, which are tried again.
    measurer.measured.clear();
    let summary = backfill(&test.repo, &c, &file, &select, false, &mut measurer).unwrap();
    assert!(summary.recorded.is_empty());
    assert_eq!(measurer.measured, [c[3], c[4]]);
}

#[test]
fn only_changed_skips_commits_that_touch_no_benchmark_input() {
    let (test, c) = history();
    let dir = tempfile::tempdir().unwrap();
    let file = history::path(dir.path(), "test-machine");
    let mut measurer = FileMeasurer {
        test: &test,
        measured: Vec::new(),
    };
    let summary = backfill(
        &test.repo,
        &c,
        &file,
        &selection(None, false),
        true,
        &mut measurer,
    )
    .unwrap();
    // c1 and c4 change nothing but... c1 changes nothing at all, c4 only docs.txt.
    assert_eq!(summary.unchanged, [c[1], c[4]]);
    assert_eq!(summary.recorded, [c[0], c[2], c[5]]);
    assert_eq!(summary.failed, [c[3]]);
}

#[test]
fn the_filter_and_wall_time_choose_what_is_recorded_and_what_counts_as_present() {
    let (test, c) = history();
    let dir = tempfile::tempdir().unwrap();
    let file = history::path(dir.path(), "test-machine");
    let mut measurer = FileMeasurer {
        test: &test,
        measured: Vec::new(),
    };
    let only_cost = selection(Some("^iai_test::cost::"), false);
    backfill(&test.repo, &c[..2], &file, &only_cost, false, &mut measurer).unwrap();
    let ids: BTreeSet<String> = history::read(&file)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), [ID]);

    // Another benchmark (or wall time) was not recorded for these commits yet: measured again.
    measurer.measured.clear();
    let summary = backfill(
        &test.repo,
        &c[..2],
        &file,
        &selection(Some("other"), false),
        false,
        &mut measurer,
    )
    .unwrap();
    assert_eq!(summary.recorded, c[..2]);
    measurer.measured.clear();
    let wall = selection(Some("^test/"), true);
    let summary = backfill(&test.repo, &c[..2], &file, &wall, false, &mut measurer).unwrap();
    assert_eq!(summary.recorded, c[..2]);
    let summary = backfill(&test.repo, &c[..2], &file, &wall, false, &mut measurer).unwrap();
    assert_eq!(summary.present, c[..2]);

    // A filter nothing matches records nothing and says so.
    let summary = backfill(
        &test.repo,
        &c[..1],
        &file,
        &selection(Some("^nothing$"), false),
        false,
        &mut measurer,
    )
    .unwrap();
    assert_eq!(summary.empty, [c[0]]);
}
