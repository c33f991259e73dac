//! Every query of the shared sets (TPC-H q1..q22, ClickBench) either plans or fails with
//! `Unsupported` / `Parse` naming the construct; the share that plans is printed.

use std::path::PathBuf;

use query_plan::{Catalog, Error, PlanOptions, explain_text, parse_query, plan_query};

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SHARED_DATA") {
        Some(d) => PathBuf::from(d).join("sql"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sql"),
    };
    dir.is_dir().then_some(dir)
}

/// The TPC-H schema, with DataFusion's `CREATE EXTERNAL TABLE` syntax reduced to plain
/// `CREATE TABLE`.
fn tpch_catalog(dir: &std::path::Path) -> Catalog {
    let text = std::fs::read_to_string(dir.join("tpch/schema.sql")).expect("schema.sql");
    let mut ddl = String::new();
    for statement in text.split(';') {
        let Some(end) = statement.find("STORED AS") else {
            continue;
        };
        let body = statement[..end].replace("CREATE EXTERNAL TABLE", "CREATE TABLE");
        let body = body.replace(",\n)", "\n)");
        ddl.push_str(&body);
        ddl.push_str(";\n");
    }
    Catalog::from_sql(&ddl).expect("TPC-H schema loads")
}

/// Outcome of one query: `Ok(())` if it planned, else the error.
fn run(base: &Catalog, name: &str, sql: &str) -> Result<(), Error> {
    let result = std::panic::catch_unwind(|| {
        let query = parse_query(sql)?;
        let mut catalog = base.clone();
        catalog.extend_from_query(&query);
        let plan = plan_query(&catalog, &query, &PlanOptions::default())?;
        assert!(plan.cost().is_finite() && plan.cost() > 0.0, "{name}");
        let _ = explain_text(&plan);
        Ok(())
    });
    result.unwrap_or_else(|_| panic!("{name}: planner panicked"))
}

#[test]
fn shared_queries_plan_or_fail_cleanly() {
    let Some(dir) = data_dir() else {
        eprintln!("notice: shared SQL data not found; set SHARED_DATA to run this test");
        return;
    };
    let mut queries: Vec<(String, String, Catalog)> = Vec::new();
    let tpch = tpch_catalog(&dir);
    for i in 1..=22 {
        let path = dir.join(format!("tpch/q{i}.sql"));
        let sql = std::fs::read_to_string(&path).expect("query file");
        queries.push((format!("tpch/q{i}"), sql, tpch.clone()));
    }
    let clickbench =
        std::fs::read_to_string(dir.join("clickbench/queries.sql")).expect("clickbench");
    for (i, line) in clickbench
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        queries.push((format!("clickbench/q{i}"), line.to_string(), Catalog::new()));
    }

    let mut planned = Vec::new();
    let mut failures = Vec::new();
    for (name, sql, catalog) in &queries {
        match run(catalog, name, sql) {
            Ok(()) => planned.push(name.clone()),
            Err(e @ (Error::Unsupported { .. } | Error::Parse(_))) => {
                failures.push((name.clone(), e))
            }
            Err(other) => panic!("{name}: expected a plan, Unsupported or Parse, got {other}"),
        }
    }
    let total = queries.len();
    for prefix in ["tpch", "clickbench"] {
        let n = queries.iter().filter(|q| q.0.starts_with(prefix)).count();
        let p = planned.iter().filter(|q| q.starts_with(prefix)).count();
        println!(
            "{prefix}: {p}/{n} plan ({:.0} %)",
            100.0 * p as f64 / n as f64
        );
    }
    println!(
        "all: {}/{total} plan ({:.0} %)",
        planned.len(),
        100.0 * planned.len() as f64 / total as f64
    );
    for (name, e) in &failures {
        println!("{name}: {e}");
        if let Error::Unsupported { construct, .. } = e {
            assert!(!construct.is_empty());
        }
    }
    assert_eq!(planned.len() + failures.len(), total);
    // The subset covers the simple queries: most of ClickBench and some of TPC-H.
    assert!(
        planned.len() * 2 > total,
        "only {} of {total} plan",
        planned.len()
    );
}

#[test]
fn tpch_q5_joins_six_tables() {
    let Some(dir) = data_dir() else {
        eprintln!("notice: shared SQL data not found; set SHARED_DATA to run this test");
        return;
    };
    let sql = std::fs::read_to_string(dir.join("tpch/q5.sql")).unwrap();
    let query = parse_query(&sql).unwrap();
    assert_eq!(query.tables.len(), 6);
    let plan = plan_query(&tpch_catalog(&dir), &query, &PlanOptions::default()).unwrap();
    let text = explain_text(&plan);
    println!("{text}");
    for t in [
        "customer", "orders", "lineitem", "supplier", "nation", "region",
    ] {
        assert!(plan.root.scan_of(t).is_some(), "{t} missing:\n{text}");
    }
}
