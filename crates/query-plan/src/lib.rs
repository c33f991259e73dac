//! Parse, plan and explain a useful SQL subset against a catalogue with statistics.
//!
//! * [`parse`]: SQL (via `sqlparser`, generic dialect) into a small [`Query`] model; anything
//!   outside the subset is [`Error::Unsupported`], naming the construct and its position.
//! * [`catalog`]: tables with row counts and column statistics, indexes (composite, unique,
//!   partial); built in code or from `CREATE TABLE` / `CREATE INDEX`.
//! * [`plan`]: a cost model with documented constants choosing sequential, index and
//!   index-only scans, sort versus index order, join order and method; index hints. What
//!   cannot use an index (`LIKE '%x%'`, `ILIKE`, predicates over `CASE`, `EXTRACT`, casts or
//!   other functions, `HAVING`) is a filter at PostgreSQL's default selectivities, not refused.
//!   Subqueries: `[NOT] EXISTS` and `IN (SELECT ...)` as semi- and anti-joins, scalar
//!   subqueries as init plans or per-row subplans, derived tables, `WITH` queries and views
//!   as subquery scans, `UNION [ALL]` as an append.
//! * [`explain`]: the plan as indented text or JSON.
//! * [`fingerprint`]: normalisation (literals become `?`, IN-lists of any length collapse,
//!   keyword case and whitespace do not matter) and a stable 64-bit fingerprint per shape.
//! * [`registry`]: a concurrent workload registry per fingerprint (calls, errors, total, min,
//!   max, mean, p50/p95/p99 from a log-linear histogram) with a slow-query log.
//! * [`recommend`]: index recommendations for a workload (for example the registry's),
//!   trying hypothetical single- and two-column indexes in the cost model.
//!
//! # Example
//!
//! ```
//! use query_plan::{Catalog, ColumnStats, Index, NodeKind, Table, explain_text, plan_sql};
//!
//! let mut catalog = Catalog::new();
//! catalog.add_table(
//!     Table::new("orders", 100_000)
//!         .column("id", ColumnStats::new().distinct(100_000).range(1.0, 100_000.0))
//!         .column("customer", ColumnStats::new().distinct(5_000))
//!         .column("total", ColumnStats::new().distinct(10_000).range(0.0, 1_000.0)),
//! );
//! catalog.add_index(Index::new("orders_customer", "orders", ["customer"]))?;
//!
//! let plan = plan_sql(&catalog, "SELECT id, total FROM orders WHERE customer = 42")?;
//! assert_eq!(plan.root.kind, NodeKind::IndexScan);
//! assert_eq!(plan.root.index.as_deref(), Some("orders_customer"));
//! println!("{}", explain_text(&plan));
//!
//! let err = plan_sql(&catalog, "SELECT id FROM orders INTERSECT SELECT id FROM orders").unwrap_err();
//! assert!(err.to_string().contains("INTERSECT"));
//! # Ok::<(), query_plan::Error>(())
//! ```
pub mod catalog;
pub mod error;
pub mod explain;
pub mod fingerprint;
pub mod parse;
pub mod plan;
pub mod recommend;
pub mod registry;

pub use catalog::{Catalog, Column, ColumnStats, Index, Table};
pub use error::{Error, Position, Result};
pub use explain::{explain_json, explain_text};
pub use parse::{Query, parse_query};
pub use plan::{
    IndexHint, JoinSearch, NodeKind, Plan, PlanNode, PlanOptions, plan_query, plan_sql,
    plan_sql_with,
};
