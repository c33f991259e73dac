//! Print the EXPLAIN (text and JSON) of a query against a small catalogue.
//!
//! `cargo run -p query-plan --example explain -- "SELECT ..."`

use query_plan::{Catalog, ColumnStats, Index, Table, explain_json, explain_text, plan_sql};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut catalog = Catalog::new();
    catalog.add_table(
        Table::new("users", 10_000)
            .column(
                "id",
                ColumnStats::new().distinct(10_000).range(1.0, 10_000.0),
            )
            .column("email", ColumnStats::new().distinct(10_000))
            .column("age", ColumnStats::new().distinct(80).range(18.0, 98.0)),
    );
    catalog.add_table(
        Table::new("orders", 100_000)
            .column("id", ColumnStats::new().distinct(100_000))
            .column("user_id", ColumnStats::new().distinct(10_000))
            .column(
                "total",
                ColumnStats::new().distinct(50_000).range(0.0, 1_000.0),
            ),
    );
    catalog.add_index(Index::new("users_email", "users", ["email"]).unique())?;
    catalog.add_index(Index::new("users_age", "users", ["age"]))?;
    catalog.add_index(Index::new("orders_user", "orders", ["user_id"]))?;
    let sql = std::env::args().nth(1).unwrap_or_else(|| {
        "SELECT o.total FROM users u JOIN orders o ON o.user_id = u.id \
         WHERE u.email = 'x@example.com' ORDER BY o.total DESC LIMIT 5"
            .to_string()
    });
    let plan = plan_sql(&catalog, &sql)?;
    println!("{}", explain_text(&plan));
    println!("{}", serde_json::to_string_pretty(&explain_json(&plan))?);
    Ok(())
}
