//! Instruction counts (callgrind) of planning and fingerprinting one query with `query-plan`,
//! next to parsing it with sqlparser alone.
//!
//! # Benchmark ids (stable: they name the output directories and baselines, do not rename)
//!
//! Group `query_plan`, functions `parse_only`, `parse_plan`, `plan` and `fingerprint`, each
//! with the cases `point` ([`POINT`]) and `join3` ([`JOIN3`]), so the ids are e.g.
//! `query_plan::plan join3`.
//!
//! # Workload
//! The queries and the catalogue are embedded (not read from `../shared`), so the counts
//! do not depend on files outside the repository:
//! - `point`: a lookup by an indexed column with an `ORDER BY ... LIMIT`;
//! - `join3`: three tables joined by equalities, with filters, grouping and ordering: the
//!   planner costs every join order and method.
//!
//! What is measured:
//! - `parse_only`: `sqlparser::Parser::parse_sql` with the generic dialect (the peer);
//! - `parse_plan`: `query_plan::parse_query` then `plan_query`;
//! - `plan`: `plan_query` on the query parsed in `setup` (planning alone);
//! - `fingerprint`: `query_plan::fingerprint::fingerprint` (parse, rewrite, print, hash).
//!
//! Building the catalogue and parsing for `plan` happen in `setup`, which is not counted.

use std::hint::black_box;

use ::query_plan::{
    Catalog, ColumnStats, Index, PlanOptions, Query, Table, parse_query, plan_query,
};
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

const POINT: &str = "SELECT id, total FROM orders WHERE customer_id = 42 AND status = 'open' \
                     ORDER BY created DESC LIMIT 20";

const JOIN3: &str = "SELECT c.country, p.category, SUM(o.total) AS revenue \
                     FROM orders o JOIN customers c ON o.customer_id = c.id \
                     JOIN products p ON o.product_id = p.id \
                     WHERE c.country IN ('NZ', 'AU') AND o.created >= '2024-01-01' \
                     AND p.price BETWEEN 10 AND 100 \
                     GROUP BY c.country, p.category ORDER BY revenue DESC LIMIT 10";

fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.add_table(
        Table::new("customers", 100_000)
            .column("id", ColumnStats::new().distinct(100_000).range(1.0, 1e5))
            .column("country", ColumnStats::new().distinct(50)),
    );
    c.add_table(
        Table::new("products", 20_000)
            .column("id", ColumnStats::new().distinct(20_000).range(1.0, 2e4))
            .column("category", ColumnStats::new().distinct(100))
            .column(
                "price",
                ColumnStats::new().distinct(5_000).range(1.0, 1_000.0),
            ),
    );
    c.add_table(
        Table::new("orders", 5_000_000)
            .column("id", ColumnStats::new().distinct(5_000_000).range(1.0, 5e6))
            .column(
                "customer_id",
                ColumnStats::new().distinct(100_000).range(1.0, 1e5),
            )
            .column(
                "product_id",
                ColumnStats::new().distinct(20_000).range(1.0, 2e4),
            )
            .column("status", ColumnStats::new().distinct(5))
            .column(
                "created",
                ColumnStats::new()
                    .distinct(1_500)
                    .text_range("2020-01-01", "2024-12-31"),
            )
            .column(
                "total",
                ColumnStats::new().distinct(100_000).range(0.0, 1e4),
            ),
    );
    for (name, table, cols) in [
        ("customers_pkey", "customers", &["id"][..]),
        ("products_pkey", "products", &["id"]),
        ("orders_pkey", "orders", &["id"]),
        ("orders_customer", "orders", &["customer_id", "created"]),
        ("orders_product", "orders", &["product_id"]),
    ] {
        c.add_index(Index::new(name, table, cols.iter().copied()))
            .expect("valid index");
    }
    c
}

fn with_catalog(sql: &'static str) -> (Catalog, &'static str) {
    (catalog(), sql)
}

fn parsed(sql: &'static str) -> (Catalog, Query) {
    (catalog(), parse_query(sql).expect("benchmark query parses"))
}

#[library_benchmark]
#[bench::point(POINT)]
#[bench::join3(JOIN3)]
fn parse_only(sql: &str) -> usize {
    let statements = Parser::parse_sql(&GenericDialect {}, black_box(sql)).expect("parses");
    black_box(statements.len())
}

#[library_benchmark]
#[bench::point(args = (POINT), setup = with_catalog)]
#[bench::join3(args = (JOIN3), setup = with_catalog)]
fn parse_plan(input: (Catalog, &str)) -> (Catalog, f64) {
    let (catalog, sql) = input;
    let query = parse_query(black_box(sql)).expect("parses");
    let cost = plan_query(&catalog, &query, &PlanOptions::default())
        .expect("plans")
        .cost();
    (catalog, black_box(cost))
}

#[library_benchmark]
#[bench::point(args = (POINT), setup = parsed)]
#[bench::join3(args = (JOIN3), setup = parsed)]
fn plan(input: (Catalog, Query)) -> (Catalog, Query, f64) {
    let (catalog, query) = input;
    let cost = plan_query(&catalog, black_box(&query), &PlanOptions::default())
        .expect("plans")
        .cost();
    (catalog, query, black_box(cost))
}

#[library_benchmark]
#[bench::point(POINT)]
#[bench::join3(JOIN3)]
fn fingerprint(sql: &str) -> u64 {
    black_box(
        ::query_plan::fingerprint::fingerprint(black_box(sql))
            .expect("fingerprints")
            .as_u64(),
    )
}

library_benchmark_group!(
    name = query_plan;
    benchmarks = parse_only, parse_plan, plan, fingerprint
);

main!(library_benchmark_groups = query_plan);
