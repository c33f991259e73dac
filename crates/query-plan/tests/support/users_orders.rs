//! The `users` / `orders` catalogue of the subquery and outer-join tests, and a comparison
//! of estimates.
//!
//! Included with `#[path]` by those tests, so both read the same statistics.

#![allow(dead_code)]

use query_plan::{Catalog, ColumnStats, Index, Table};

/// `users` (10 000 rows, `id` unique) and `orders` (100 000 rows from 5 000 distinct users),
/// primary keys only.
pub fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.add_table(
        Table::new("users", 10_000)
            .column(
                "id",
                ColumnStats::new().distinct(10_000).range(1.0, 10_000.0),
            )
            .column("age", ColumnStats::new().distinct(80).range(18.0, 98.0))
            .column("country", ColumnStats::new().distinct(50)),
    );
    c.add_table(
        Table::new("orders", 100_000)
            .column(
                "id",
                ColumnStats::new().distinct(100_000).range(1.0, 100_000.0),
            )
            .column(
                "user_id",
                ColumnStats::new().distinct(5_000).range(1.0, 10_000.0),
            )
            .column("status", ColumnStats::new().distinct(4))
            .column(
                "total",
                ColumnStats::new().distinct(50_000).range(0.0, 1_000.0),
            ),
    );
    c.add_index(Index::new("users_pkey", "users", ["id"]).unique())
        .unwrap();
    c.add_index(Index::new("orders_pkey", "orders", ["id"]).unique())
        .unwrap();
    c
}

pub fn with_user_index() -> Catalog {
    let mut c = catalog();
    c.add_index(Index::new("orders_user", "orders", ["user_id"]))
        .unwrap();
    c
}

/// Equal within a relative 10⁻⁶ (estimates are products of floating-point factors).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}
