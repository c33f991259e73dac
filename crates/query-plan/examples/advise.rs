//! Index recommendations, end to end: an application's queries are recorded in a
//! [`Registry`] (literals and all), the registry's normalised workload goes to the advisor,
//! and the advice is printed. Then the same for the TPC-H queries that plan (scale factor 1
//! statistics, primary keys only), if the shared data is present.
//!
//! `cargo run -p query-plan --example advise`

#[path = "../tests/support/shared.rs"]
mod shared;

use std::time::Duration;

use query_plan::recommend::{AdvisorConfig, SavingBasis, Workload, recommend};
use query_plan::registry::Registry;
use query_plan::{Catalog, ColumnStats, Index, Table, parse_query};

/// An online shop: customers, products, orders; only primary keys are indexed.
fn shop() -> Result<Catalog, query_plan::Error> {
    let mut c = Catalog::new();
    c.add_table(
        Table::new("customers", 200_000)
            .column("id", ColumnStats::new().distinct(200_000).range(1.0, 2e5))
            .column(
                "email",
                ColumnStats::new().distinct(200_000).text_range("a", "z"),
            )
            .column("country", ColumnStats::new().distinct(60)),
    );
    c.add_table(
        Table::new("products", 50_000)
            .column("id", ColumnStats::new().distinct(50_000).range(1.0, 5e4))
            .column("category", ColumnStats::new().distinct(400))
            .column("price", ColumnStats::new().distinct(10_000).range(1.0, 2e3)),
    );
    c.add_table(
        Table::new("orders", 8_000_000)
            .column("id", ColumnStats::new().distinct(8_000_000).range(1.0, 8e6))
            .column(
                "customer_id",
                ColumnStats::new().distinct(200_000).range(1.0, 2e5),
            )
            .column(
                "product_id",
                ColumnStats::new().distinct(50_000).range(1.0, 5e4),
            )
            .column("status", ColumnStats::new().distinct(6))
            .column(
                "created",
                ColumnStats::new()
                    .distinct(2_000)
                    .text_range("2020-01-01", "2025-06-30"),
            )
            .column(
                "total",
                ColumnStats::new().distinct(200_000).range(0.0, 5e3),
            ),
    );
    c.add_index(Index::new("customers_pkey", "customers", ["id"]).unique())?;
    c.add_index(Index::new("products_pkey", "products", ["id"]).unique())?;
    c.add_index(Index::new("orders_pkey", "orders", ["id"]).unique())?;
    Ok(c)
}

/// A deterministic stream of requests: `(sql, latency)`.
fn requests() -> Vec<(String, Duration)> {
    let mut out = Vec::new();
    let mut x: u64 = 0x5eed;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    for i in 0..20_000u64 {
        let (sql, ms) = match i % 10 {
            // "My orders" page: the hot query.
            0..=3 => (
                format!(
                    "SELECT id, total, status FROM orders WHERE customer_id = {} \
                     ORDER BY created DESC LIMIT 20",
                    next(200_000) + 1
                ),
                35 + next(20),
            ),
            // Order details.
            4..=6 => (
                format!("SELECT * FROM orders WHERE id = {}", next(8_000_000) + 1),
                1 + next(2),
            ),
            // Login.
            7 | 8 => (
                format!(
                    "SELECT id FROM customers WHERE email = 'user{}@example.com'",
                    next(200_000)
                ),
                12 + next(5),
            ),
            // Back office: a category's orders in a period.
            _ => (
                format!(
                    "SELECT o.id, o.total FROM orders o JOIN products p ON o.product_id = p.id \
                     WHERE p.category = 'c{}' AND o.created BETWEEN '2025-01-01' AND '2025-01-31'",
                    next(400)
                ),
                900 + next(300),
            ),
        };
        out.push((sql, Duration::from_millis(ms)));
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::default();
    for (sql, latency) in requests() {
        registry.record(&sql, latency, true);
    }
    let workload = Workload::from_registry(&registry);
    println!("== shop: {} query shapes recorded", workload.queries.len());
    for q in &workload.queries {
        println!("   {:>6} x {}", q.calls, q.sql);
    }
    let advice = recommend(&shop()?, &workload, &AdvisorConfig::default());
    println!("{advice}");
    let per_query = recommend(
        &shop()?,
        &workload,
        &AdvisorConfig {
            basis: SavingBasis::HelpedQueries,
            ..AdvisorConfig::default()
        },
    );
    println!("== shop, saving measured on the queries each index helps (not the whole workload)");
    for r in &per_query.recommendations {
        println!("   {}; (saves {:.1} %)", r.create_sql, 100.0 * r.saving);
    }
    println!();

    if let Some(dir) = shared::data_dir() {
        let tpch = shared::tpch_catalog(&dir);
        let queries: Vec<(String, u64)> = shared::queries(&dir)
            .into_iter()
            .filter(|q| q.set == shared::QuerySet::Tpch && parse_query(&q.sql).is_ok())
            .map(|q| (q.sql, 1))
            .collect();
        let workload = Workload::new(queries);
        let config = AdvisorConfig {
            basis: SavingBasis::HelpedQueries,
            ..AdvisorConfig::default()
        };
        println!(
            "== TPC-H (SF1 statistics, primary keys only), {} queries that parse, each once; \
             saving measured on the queries helped",
            workload.queries.len()
        );
        println!("{}", recommend(&tpch, &workload, &config));
    }
    Ok(())
}
