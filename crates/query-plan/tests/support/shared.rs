//! The shared SQL workloads (`../shared/data/sql`, see its SOURCES.md): where they are, the
//! TPC-H catalogue with scale-factor-1 statistics, and the query texts.
//!
//! Included with `#[path]` by the integration tests, the criterion benchmarks and the
//! `advise` example, so all of them read the same queries the same way.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use query_plan::{Catalog, ColumnStats, Index};

/// The shared SQL folder: `$SHARED_DATA/sql`, else `../shared/data/sql` beside the
/// workspace. `None` when absent.
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SHARED_DATA") {
        Some(d) => PathBuf::from(d).join("sql"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sql"),
    };
    dir.is_dir().then_some(dir)
}

/// One shared query: `tpch/q5` or `clickbench/q12` (0-based line), and its text.
pub struct SharedQuery {
    pub name: String,
    pub sql: String,
    /// Which catalogue it runs against.
    pub set: QuerySet,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuerySet {
    Tpch,
    ClickBench,
}

/// TPC-H q1..q22 then the ClickBench queries (one per line), in file order.
pub fn queries(dir: &Path) -> Vec<SharedQuery> {
    let mut out = Vec::new();
    for i in 1..=22 {
        let path = dir.join(format!("tpch/q{i}.sql"));
        let sql =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push(SharedQuery {
            name: format!("tpch/q{i}"),
            sql,
            set: QuerySet::Tpch,
        });
    }
    let path = dir.join("clickbench/queries.sql");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        out.push(SharedQuery {
            name: format!("clickbench/q{i}"),
            sql: line.to_string(),
            set: QuerySet::ClickBench,
        });
    }
    out
}

/// The TPC-H schema from `tpch/schema.sql` (DataFusion's `CREATE EXTERNAL TABLE ... STORED
/// AS ...` reduced to plain `CREATE TABLE`), with scale-factor-1 row counts, the key and
/// filter columns' statistics from the TPC-H specification, and primary-key indexes.
pub fn tpch_catalog(dir: &Path) -> Catalog {
    let path = dir.join("tpch/schema.sql");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut ddl = String::new();
    for statement in text.split(';') {
        let Some(end) = statement.find("STORED AS") else {
            continue;
        };
        let body = statement[..end].replace("CREATE EXTERNAL TABLE", "CREATE TABLE");
        ddl.push_str(&body.replace(",\n)", "\n)"));
        ddl.push_str(";\n");
    }
    let mut c = Catalog::from_sql(&ddl).expect("TPC-H schema loads");
    let rows = [
        ("region", 5),
        ("nation", 25),
        ("supplier", 10_000),
        ("customer", 150_000),
        ("part", 200_000),
        ("partsupp", 800_000),
        ("orders", 1_500_000),
        ("lineitem", 6_001_215),
    ];
    for (table, n) in rows {
        c.set_rows(table, n).expect("TPC-H table");
    }
    let d = |n: u64| ColumnStats::new().distinct(n);
    let stats = [
        ("region", "r_regionkey", d(5).range(0.0, 4.0)),
        ("region", "r_name", d(5)),
        ("nation", "n_nationkey", d(25).range(0.0, 24.0)),
        ("nation", "n_regionkey", d(5).range(0.0, 4.0)),
        ("nation", "n_name", d(25)),
        ("supplier", "s_suppkey", d(10_000).range(1.0, 10_000.0)),
        ("supplier", "s_nationkey", d(25).range(0.0, 24.0)),
        ("customer", "c_custkey", d(150_000).range(1.0, 150_000.0)),
        ("customer", "c_nationkey", d(25).range(0.0, 24.0)),
        ("customer", "c_mktsegment", d(5)),
        ("part", "p_partkey", d(200_000).range(1.0, 200_000.0)),
        ("part", "p_brand", d(25)),
        ("part", "p_type", d(150)),
        ("part", "p_size", d(50).range(1.0, 50.0)),
        ("part", "p_container", d(40)),
        ("partsupp", "ps_partkey", d(200_000).range(1.0, 200_000.0)),
        ("partsupp", "ps_suppkey", d(10_000).range(1.0, 10_000.0)),
        ("orders", "o_orderkey", d(1_500_000).range(1.0, 6_000_000.0)),
        ("orders", "o_custkey", d(100_000).range(1.0, 150_000.0)),
        ("orders", "o_orderstatus", d(3)),
        ("orders", "o_orderpriority", d(5)),
        (
            "orders",
            "o_orderdate",
            d(2_406).text_range("1992-01-01", "1998-08-02"),
        ),
        (
            "lineitem",
            "l_orderkey",
            d(1_500_000).range(1.0, 6_000_000.0),
        ),
        ("lineitem", "l_partkey", d(200_000).range(1.0, 200_000.0)),
        ("lineitem", "l_suppkey", d(10_000).range(1.0, 10_000.0)),
        ("lineitem", "l_linenumber", d(7).range(1.0, 7.0)),
        ("lineitem", "l_quantity", d(50).range(1.0, 50.0)),
        ("lineitem", "l_discount", d(11).range(0.0, 0.1)),
        ("lineitem", "l_returnflag", d(3)),
        ("lineitem", "l_linestatus", d(2)),
        ("lineitem", "l_shipmode", d(7)),
        ("lineitem", "l_shipinstruct", d(4)),
        (
            "lineitem",
            "l_shipdate",
            d(2_526).text_range("1992-01-02", "1998-12-01"),
        ),
        (
            "lineitem",
            "l_commitdate",
            d(2_466).text_range("1992-01-31", "1998-10-31"),
        ),
        (
            "lineitem",
            "l_receiptdate",
            d(2_554).text_range("1992-01-04", "1998-12-31"),
        ),
    ];
    for (table, column, s) in stats {
        c.set_stats(table, column, s)
            .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
    }
    let keys: [(&str, &[&str]); 8] = [
        ("region", &["r_regionkey"]),
        ("nation", &["n_nationkey"]),
        ("supplier", &["s_suppkey"]),
        ("customer", &["c_custkey"]),
        ("part", &["p_partkey"]),
        ("partsupp", &["ps_partkey", "ps_suppkey"]),
        ("orders", &["o_orderkey"]),
        ("lineitem", &["l_orderkey", "l_linenumber"]),
    ];
    for (table, cols) in keys {
        c.add_index(Index::new(format!("{table}_pkey"), table, cols.iter().copied()).unique())
            .expect("TPC-H key");
    }
    c
}

/// The catalogue a query runs against: TPC-H's, or for ClickBench (no schema shipped) the
/// tables and columns the query mentions with default statistics.
pub fn catalog_for(base: &Catalog, query: &query_plan::Query) -> Catalog {
    let mut catalog = base.clone();
    catalog.extend_from_query(query);
    catalog
}
