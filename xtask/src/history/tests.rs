use super::*;

fn entry(commit: &str, id: &str, median: f64) -> Entry {
    Entry {
        commit: commit.to_string(),
        subject: format!("subject of {commit}"),
        time: "2026-12-03T10:00:00Z".to_string(),
        machine: MachineId {
            class: "test-2cores-linux".to_string(),
            cpu_model: Some("Test CPU".to_string()),
            cores: Some(2),
        },
        id: id.to_string(),
        metric: Metric::Instructions,
        unit: "instructions".to_string(),
        n: 1,
        median,
        mean: median,
        min: median,
        max: median,
        std_dev: 0.0,
    }
}

fn message(error: anyhow::Error) -> String {
    format!("{error:#}")
}

#[test]
fn append_creates_the_file_and_read_returns_entries_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(&dir.path().join("history"), "test-2cores-linux");
    append(&file, &[entry("a1", "x", 1.0), entry("a1", "y", 2.0)]).unwrap();
    append(&file, &[entry("b2", "x", 3.0)]).unwrap();
    let entries = read(&file).unwrap();
    let medians: Vec<f64> = entries.iter().map(|e| e.median).collect();
    assert_eq!(medians, [1.0, 2.0, 3.0]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("{\"perf_guard_history\":2}\n"), "{text}");
    assert_eq!(text.lines().count(), 4);
    let series = series(&entries);
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].id, "x");
    assert_eq!(series[0].values(), [1.0, 3.0]);
}

#[test]
fn concurrent_writers_lose_no_entries() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    let writers = 8;
    let appends = 25;
    std::thread::scope(|scope| {
        for writer in 0..writers {
            let file = &file;
            scope.spawn(move || {
                for k in 0..appends {
                    let commit = format!("w{writer}c{k}");
                    append(file, &[entry(&commit, "a", 1.0), entry(&commit, "b", 2.0)]).unwrap();
                }
            });
        }
    });
    let entries = read(&file).unwrap();
    assert_eq!(entries.len(), writers * appends * 2);
    // One run's lines stay together: every "a" is followed by the "b" of its commit.
    for pair in entries.chunks(2) {
        assert_eq!((pair[0].id.as_str(), pair[1].id.as_str()), ("a", "b"));
        assert_eq!(pair[0].commit, pair[1].commit);
    }
}

#[test]
fn prune_during_concurrent_appends_keeps_every_new_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    append(&file, &[entry("old", "deleted", 1.0)]).unwrap();
    let appends = 40;
    std::thread::scope(|scope| {
        let file = &file;
        scope.spawn(move || {
            for k in 0..appends {
                append(file, &[entry(&format!("c{k}"), "kept", 1.0)]).unwrap();
            }
        });
        scope.spawn(move || {
            let deleted = regex::Regex::new("^deleted$").unwrap();
            for _ in 0..20 {
                prune(file, &deleted).unwrap();
            }
        });
    });
    let entries = read(&file).unwrap();
    assert!(entries.iter().all(|e| e.id == "kept"));
    assert_eq!(entries.len(), appends);
}

#[test]
fn a_torn_or_corrupt_file_is_refused_with_its_name_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    append(&file, &[entry("a1", "x", 1.0)]).unwrap();
    let good = std::fs::read_to_string(&file).unwrap();

    let torn = format!("{good}{{\"commit\":\"b2\",\"id");
    std::fs::write(&file, &torn).unwrap();
    let error = message(append(&file, &[entry("c3", "x", 1.0)]).unwrap_err());
    assert!(
        error.contains("h.jsonl") && error.contains("middle of a line"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        torn,
        "never rewritten"
    );

    let corrupt = format!("{good}not json\n");
    std::fs::write(&file, &corrupt).unwrap();
    let error = message(read(&file).unwrap_err());
    assert!(error.contains("h.jsonl line 3"), "{error}");
    let error = message(prune(&file, &regex::Regex::new("x").unwrap()).unwrap_err());
    assert!(error.contains("line 3"), "{error}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), corrupt);

    let negative = format!(
        "{good}{}\n",
        serde_json::to_string(&entry("d4", "x", -1.0)).unwrap()
    );
    std::fs::write(&file, &negative).unwrap();
    assert!(message(read(&file).unwrap_err()).contains("line 3"));

    std::fs::write(&file, "{\"something\":\"else\"}\n").unwrap();
    assert!(message(read(&file).unwrap_err()).contains("header"));
}

#[test]
fn a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    std::fs::write(&file, "{\"perf_guard_history\":99}\n").unwrap();
    let error = message(read(&file).unwrap_err());
    assert!(
        error.contains("version 99") && error.contains("newer harness"),
        "{error}"
    );
}

/// A file of version 1, as the first harness wrote it: the machine as its class only.
const VERSION_1: &str = include_str!("../../tests/data/history-v1.jsonl");

#[test]
fn a_version_1_file_is_read_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    std::fs::write(&file, VERSION_1).unwrap();
    let entries = read(&file).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0].machine.class,
        "intel-r-xeon-r-processor-2cores-linux"
    );
    assert_eq!(entries[0].machine.cpu_model, None);
    assert_eq!(entries[0].subject, "");
    assert_eq!(entries[2].median, 128073.0);
    // Appending to an old file is refused until it is migrated; migrating keeps every entry.
    let error = message(append(&file, &[entry("c", "x", 1.0)]).unwrap_err());
    assert!(error.contains("history migrate"), "{error}");
    assert_eq!(migrate_file(&file).unwrap(), 1);
    assert_eq!(read(&file).unwrap(), entries);
    append(&file, &[entry("c", "x", 1.0)]).unwrap();
    assert_eq!(read(&file).unwrap().len(), 4);
}

#[test]
fn aliases_carry_a_renamed_benchmark_s_history() {
    let mut entries = vec![
        entry("a", "cache/get/old-name", 1.0),
        entry("b", "cache/get/middle-name", 2.0),
        entry("c", "cache/get/new-name", 3.0),
        entry("c", "unrelated", 4.0),
    ];
    let aliases = BTreeMap::from([
        (
            "cache/get/old-name".to_string(),
            "cache/get/middle-name".to_string(),
        ),
        (
            "cache/get/middle-name".to_string(),
            "cache/get/new-name".to_string(),
        ),
    ]);
    apply_aliases(&mut entries, &aliases);
    let series = series(&entries);
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].id, "cache/get/new-name");
    assert_eq!(series[0].values(), [1.0, 2.0, 3.0]);
}

#[test]
fn prune_removes_only_matching_benchmarks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    append(
        &file,
        &[
            entry("a", "gone/one", 1.0),
            entry("a", "kept", 2.0),
            entry("b", "gone/two", 3.0),
        ],
    )
    .unwrap();
    assert_eq!(
        prune(&file, &regex::Regex::new("^gone/").unwrap()).unwrap(),
        2
    );
    let entries = read(&file).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, "kept");
}

#[test]
fn runs_that_cannot_be_history_are_refused() {
    let mut run = crate::model::Run {
        schema_version: crate::model::SCHEMA_VERSION,
        meta: Default::default(),
        benchmarks: Vec::new(),
    };
    assert!(message(entries_of_run(&run, "").unwrap_err()).contains("no commit"));
    run.meta.commit = Some("abc".to_string());
    run.meta.dirty = Some(true);
    assert!(message(entries_of_run(&run, "").unwrap_err()).contains("uncommitted"));
    run.meta.dirty = Some(false);
    run.meta.quick = true;
    assert!(message(entries_of_run(&run, "").unwrap_err()).contains("--quick"));
}
