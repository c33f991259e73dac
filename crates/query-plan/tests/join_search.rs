//! The greedy join search against the exhaustive one: on the shared TPC-H queries, on
//! seeded random join graphs, and on joins too large for the exhaustive search.

#[path = "support/shared.rs"]
mod shared;

use query_plan::{
    Catalog, ColumnStats, Index, JoinSearch, NodeKind, Plan, PlanOptions, Table, parse_query,
    plan_query,
};
use shared::{data_dir, queries, tpch_catalog};

fn plan_with(catalog: &Catalog, sql: &str, search: JoinSearch) -> Plan {
    let query = parse_query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let catalog = shared::catalog_for(catalog, &query);
    plan_query(
        &catalog,
        &query,
        &PlanOptions::default().join_search(search),
    )
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Greedy cost over exhaustive cost, per query.
fn ratios(catalog: &Catalog, sqls: &[String]) -> Vec<f64> {
    sqls.iter()
        .map(|sql| {
            let exhaustive = plan_with(catalog, sql, JoinSearch::Auto).cost();
            let greedy = plan_with(catalog, sql, JoinSearch::Greedy).cost();
            greedy / exhaustive
        })
        .collect()
}

fn summary(ratios: &[f64]) -> (usize, f64, f64) {
    let mut sorted = ratios.to_vec();
    sorted.sort_by(f64::total_cmp);
    let same = ratios.iter().filter(|r| (**r - 1.0).abs() < 1e-9).count();
    let p95 = sorted[(sorted.len() * 95).div_ceil(100) - 1];
    (same, p95, *sorted.last().expect("ratios"))
}

#[test]
fn greedy_against_exhaustive_on_the_shared_tpch_queries() {
    let Some(dir) = data_dir() else {
        eprintln!("notice: shared SQL data not found; set SHARED_DATA to run this test");
        return;
    };
    let catalog = tpch_catalog(&dir);
    let sqls: Vec<String> = queries(&dir)
        .into_iter()
        .filter(|q| q.name.starts_with("tpch"))
        .filter(|q| {
            parse_query(&q.sql).is_ok_and(|query| {
                let catalog = shared::catalog_for(&catalog, &query);
                plan_query(&catalog, &query, &PlanOptions::default()).is_ok()
            })
        })
        .map(|q| q.sql)
        .collect();
    let r = ratios(&catalog, &sqls);
    let (same, p95, worst) = summary(&r);
    println!(
        "tpch: greedy = exhaustive on {same} of {} queries, p95 ratio {p95:.4}, worst {worst:.4}",
        r.len()
    );
    // Pinned from the measurement (issue 12): the greedy order costs the same as the
    // exhaustive one on 18 of the 21 TPC-H queries that plan, at most 0.17 % more on the rest.
    assert!(same >= 18, "{r:?}");
    assert!(worst <= 1.002, "{r:?}");
}

/// A small seeded generator (xorshift64*), so the random graphs are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` tables `t0..` with log-uniform sizes (10 to 10⁶ rows), a random spanning tree of
/// join equalities plus a few extra edges, indexes on some join columns, and a range
/// filter on some tables.
fn random_join(rng: &mut Rng, n: usize) -> (Catalog, String) {
    let mut catalog = Catalog::new();
    let mut rows = Vec::new();
    for t in 0..n {
        let r = 10f64.powf(1.0 + 5.0 * rng.below(1000) as f64 / 1000.0) as u64;
        rows.push(r);
        let mut table = Table::new(format!("t{t}"), r).column(
            "f",
            ColumnStats::new().distinct(r.min(1000)).range(0.0, 1000.0),
        );
        for k in 0..n {
            let distinct = (r / (1 + rng.below(10))).max(1);
            table = table.column(format!("k{k}"), ColumnStats::new().distinct(distinct));
        }
        catalog.add_table(table);
    }
    let mut edges = Vec::new();
    for t in 1..n {
        edges.push((rng.below(t as u64) as usize, t));
    }
    for _ in 0..rng.below(3) {
        let a = rng.below(n as u64) as usize;
        let b = rng.below(n as u64) as usize;
        if a != b {
            edges.push((a.min(b), a.max(b)));
        }
    }
    let mut predicates = Vec::new();
    for &(a, b) in &edges {
        predicates.push(format!("t{a}.k{b} = t{b}.k{a}"));
        for (t, col) in [(a, b), (b, a)] {
            if rng.below(2) == 0 {
                let name = format!("t{t}_k{col}");
                if catalog.index(&name).is_none() {
                    catalog
                        .add_index(Index::new(name, format!("t{t}"), [format!("k{col}")]))
                        .unwrap();
                }
            }
        }
    }
    for t in 0..n {
        if rng.below(3) == 0 {
            predicates.push(format!("t{t}.f < {}", 1 + rng.below(500)));
        }
    }
    let tables: Vec<String> = (0..n).map(|t| format!("t{t}")).collect();
    let sql = format!(
        "SELECT t0.f FROM {} WHERE {}",
        tables.join(", "),
        predicates.join(" AND ")
    );
    (catalog, sql)
}

#[test]
fn greedy_against_exhaustive_on_random_join_graphs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut all = Vec::new();
    for n in [4, 6, 8, 10] {
        let mut r = Vec::new();
        for _ in 0..50 {
            let (catalog, sql) = random_join(&mut rng, n);
            r.extend(ratios(&catalog, &[sql]));
        }
        let (same, p95, worst) = summary(&r);
        println!(
            "{n} tables: greedy = exhaustive on {same} of {}, p95 ratio {p95:.3}, worst {worst:.3}",
            r.len()
        );
        all.extend(r);
    }
    let (same, p95, worst) = summary(&all);
    println!(
        "all: greedy = exhaustive on {same} of {}, p95 ratio {p95:.3}, worst {worst:.3}",
        all.len()
    );
    // Pinned from the measurement (issue 12), so a change to either search shows here.
    // Measured: the same cost on 139 of 200, p95 1.076, worst 6.09 (10 tables).
    assert!(same >= 139, "{same} of {}", all.len());
    assert!(p95 <= 1.08, "p95 {p95}");
    assert!(worst <= 6.1, "worst {worst}");
}

#[test]
fn joins_beyond_the_exhaustive_limit_are_planned_greedily() {
    let mut rng = Rng(42);
    for n in [11, 16, 32, 63] {
        let (catalog, sql) = random_join(&mut rng, n);
        let plan = plan_with(&catalog, &sql, JoinSearch::Auto);
        let scans = plan
            .root
            .walk()
            .into_iter()
            .filter(|node| {
                matches!(
                    node.kind,
                    NodeKind::SeqScan | NodeKind::IndexScan | NodeKind::IndexOnlyScan
                )
            })
            .count();
        assert_eq!(scans, n, "{n} tables");
        // Above the limit Auto is the greedy search itself.
        let greedy = plan_with(&catalog, &sql, JoinSearch::Greedy);
        assert_eq!(plan, greedy, "{n} tables");
    }
}
