//! The replay reproduces published LRU hit ratios on the shared traces.
//!
//! The traces live outside the project, in `../shared/data` from the workspace root
//! (`SHARED_DATA` overrides the path). Where they are absent the tests print a one-line notice
//! and pass. Only the `lru` replay runs here: it is what the published numbers check, and it
//! stays fast in a debug build.

use std::path::PathBuf;

use benches::replay::{Impl, replay_matrix};
use benches::trace::read_trace;

/// The shared traces folder, or `None` (after a notice) if it is absent.
fn traces_dir() -> Option<PathBuf> {
    let data = std::env::var_os("SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    let dir = data.join("cache-traces");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no shared traces at {} (set SHARED_DATA)",
            dir.display()
        );
        None
    }
}

/// LRU hit ratios, in percent, at each capacity.
fn lru_percentages(trace: &str, capacities: &[u64]) -> Option<Vec<f64>> {
    let keys = read_trace(&traces_dir()?.join(trace), None).unwrap();
    let results = replay_matrix(&keys, &[Impl::Lru], capacities, 2);
    Some(
        results
            .iter()
            .map(|result| result.stats.hit_ratio() * 100.0)
            .collect(),
    )
}

#[test]
fn oltp_lru_matches_the_arc_paper() {
    let capacities = [250, 500, 1000, 2000];
    let Some(got) = lru_percentages("OLTP.lis.zst", &capacities) else {
        return;
    };
    let published = [16.47, 23.45, 32.83, 42.47];
    for ((capacity, got), published) in capacities.iter().zip(&got).zip(published) {
        assert!(
            (got - published).abs() <= 0.05,
            "OLTP LRU at {capacity}: {got:.3} %, published {published} %"
        );
    }
}

#[test]
fn lirs_loop_lru_misses_until_the_loop_fits() {
    let Some(got) = lru_percentages("lirs-loop.trace.gz", &[1000, 1250]) else {
        return;
    };
    assert!(got[0] <= 0.05, "loop LRU at 1000: {:.3} %", got[0]);
    assert!(
        (got[1] - 99.8).abs() <= 0.05,
        "loop LRU at 1250: {:.3} %",
        got[1]
    );
}
