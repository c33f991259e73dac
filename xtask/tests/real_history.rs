//! Change points on this repository's own history: the instruction counts that `cargo xtask
//! bench backfill` measured for past commits of `main` (committed in `baselines/history/`) must
//! show their level shifts at the commits that caused them.

use std::path::Path;

use xtask::changepoint::{self, Options};
use xtask::history;
use xtask::model::Metric;

/// The backfilled history, measured on this kind of machine; instruction counts do not depend
/// on the machine's speed, so the test holds wherever it runs.
const HISTORY: &str = "baselines/history/amd-epyc-2cores-linux.jsonl";

fn series(id: &str) -> history::Series {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(HISTORY);
    let entries = history::read(&path).expect("the backfilled history reads");
    history::series(&entries)
        .into_iter()
        .find(|series| series.id == id && series.metric == Metric::Instructions)
        .unwrap_or_else(|| panic!("{HISTORY} has no instruction counts of {id}"))
}

#[test]
fn cache_hit_x1000_shifts_at_the_commits_that_moved_it() {
    let series = series("iai_cache::cache::hit/x1000");
    let found = changepoint::detect(&series.values(), &Options::default());
    let at = |index: usize| &series.points[index];
    let shifts: Vec<String> = found
        .iter()
        .map(|cp| {
            format!(
                "{} {} → {} ({})",
                &at(cp.index).commit[..7],
                cp.before,
                cp.after,
                at(cp.index).subject
            )
        })
        .collect();
    // The shift from 125,073 to 128,073 instructions came with the commit that gave query-plan
    // its iai benchmarks and so linked it into the `benches` package (code layout, not cache
    // code): found at that commit, with that size.
    let linked = found
        .iter()
        .find(|cp| cp.before == 125_073.0 && cp.after == 128_073.0)
        .unwrap_or_else(|| panic!("no 125,073 → 128,073 shift among {shifts:#?}"));
    let commit = at(linked.index);
    assert!(
        commit.commit.starts_with("5ec0066"),
        "the shift is at {} {:?}, not at 5ec0066 (query-plan: iai benchmarks …); all: {shifts:#?}",
        &commit.commit[..7],
        commit.subject
    );
    assert!(at(linked.index - 1).median == 125_073.0);
    // The other shifts of the series, each at the commit where the count moved:
    // - babb973, the cache's rewrite of its read path (shared lock, atomic node marks, CLOCK
    //   window): 289,040 → 125,073 instructions per 1,000 hits;
    // - bb163ae, the hit-ratio watch: 128,073 → 125,072 (checked on misses; the hit path's
    //   code is unchanged and moved within the binary);
    // - a32c5a5, refresh-ahead: 125,072 → 124,076 (each node gained a refresh time beside its
    //   expiry time).
    // One-instruction moves from layout (125,072 → 125,073 at f751e6e) are not change points.
    let commits: Vec<&str> = found.iter().map(|cp| &at(cp.index).commit[..7]).collect();
    assert_eq!(
        commits,
        ["babb973", "5ec0066", "bb163ae", "a32c5a5"],
        "{shifts:#?}"
    );
    // Every change point is a real change of level: the value at the commit differs from the
    // one before it (a detector placing shifts a few commits off would fail here).
    for cp in &found {
        assert_ne!(
            at(cp.index).median,
            at(cp.index - 1).median,
            "a change point where nothing changed: {shifts:#?}"
        );
    }
}
