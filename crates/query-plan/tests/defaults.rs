//! Known-answer tests for what cannot use an index: `LIKE` beyond a fixed prefix, `ILIKE`,
//! predicates over expressions (`CASE`, `EXTRACT`, `COALESCE`, casts) and `HAVING` are
//! estimated with PostgreSQL's default selectivities instead of being refused (issue 12).

use query_plan::{
    Catalog, ColumnStats, Error, Index, NodeKind, Plan, Table, explain_json, explain_text, plan_sql,
};

/// `items` (100 000 rows): `name` indexed with a text range, `comment` without statistics.
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.add_table(
        Table::new("items", 100_000)
            .column(
                "id",
                ColumnStats::new().distinct(100_000).range(1.0, 100_000.0),
            )
            .column(
                "name",
                ColumnStats::new().distinct(50_000).text_range("a", "z"),
            )
            .column("comment", ColumnStats::new())
            .column("qty", ColumnStats::new().distinct(50).range(1.0, 50.0))
            .column("price", ColumnStats::new().distinct(10_000))
            .column(
                "shipped",
                ColumnStats::new()
                    .distinct(2_000)
                    .text_range("1992-01-01", "1998-12-31"),
            ),
    );
    c.add_index(Index::new("items_pkey", "items", ["id"]).unique())
        .unwrap();
    c.add_index(Index::new("items_name", "items", ["name"]))
        .unwrap();
    c
}

fn planned(sql: &str) -> (Plan, String) {
    let plan = plan_sql(&catalog(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = explain_text(&plan);
    (plan, text)
}

/// `sql` is a sequential scan of `items` keeping `rows` rows, with exactly this filter.
fn check_seq_filter(sql: &str, rows: f64, filter: &str) {
    let (plan, text) = planned(sql);
    assert_eq!(plan.root.kind, NodeKind::SeqScan, "{sql}\n{text}");
    assert!(
        (plan.rows() - rows).abs() < 0.5,
        "{sql}: rows {} expected {rows}\n{text}",
        plan.rows()
    );
    assert_eq!(plan.root.details, [format!("Filter: {filter}")], "{sql}");
}

#[test]
fn leading_wildcard_like_is_a_seq_scan_filter_at_the_default_selectivity() {
    check_seq_filter(
        "SELECT id FROM items WHERE comment LIKE '%special%'",
        100_000.0 * 0.005,
        "comment LIKE '%special%' (default selectivity 0.005)",
    );
    // On an indexed column the index is no help either.
    check_seq_filter(
        "SELECT id FROM items WHERE name LIKE '%son'",
        100_000.0 * 0.005,
        "name LIKE '%son' (default selectivity 0.005)",
    );
    // JSON shows the same filter.
    let (plan, _) = planned("SELECT id FROM items WHERE comment LIKE '%special%'");
    let json = explain_json(&plan);
    assert_eq!(json["node"], "Seq Scan");
    assert_eq!(
        json["details"][0],
        "Filter: comment LIKE '%special%' (default selectivity 0.005)"
    );
    assert_eq!(json["rows"], 500.0);
}

#[test]
fn like_with_a_fixed_prefix_uses_the_index_range_plus_a_filter() {
    let (plan, text) = planned("SELECT * FROM items WHERE name LIKE 'abc%def'");
    assert_eq!(plan.root.kind, NodeKind::IndexScan, "{text}");
    assert_eq!(plan.root.index.as_deref(), Some("items_name"), "{text}");
    assert_eq!(
        plan.root.details,
        [
            "Index Cond: name LIKE 'abc%'",
            "Filter: name LIKE 'abc%def' (default selectivity 0.005)",
        ],
        "{text}"
    );
    // The estimate is the prefix's range times the default for the rest of the pattern.
    let prefix_rows = plan_sql(&catalog(), "SELECT * FROM items WHERE name LIKE 'm%'")
        .unwrap()
        .rows();
    let (plan, text) = planned("SELECT * FROM items WHERE name LIKE 'm%x'");
    assert!(prefix_rows > 1_000.0, "{prefix_rows}");
    assert!(
        (plan.rows() - prefix_rows * 0.005).abs() < 1e-6,
        "{} vs {prefix_rows} × 0.005\n{text}",
        plan.rows()
    );
    // A bare prefix keeps its behaviour: an index range without a filter.
    let (plan, text) = planned("SELECT * FROM items WHERE name LIKE 'abc%'");
    assert_eq!(
        plan.root.details,
        ["Index Cond: name LIKE 'abc%'"],
        "{text}"
    );
    // A pattern without a wildcard is an equality.
    let (plan, text) = planned("SELECT * FROM items WHERE name LIKE 'abc'");
    assert_eq!(plan.root.index.as_deref(), Some("items_name"), "{text}");
    assert_eq!(
        plan.root.details,
        ["Index Cond: name = 'abc'", "Filter: name LIKE 'abc'"],
        "{text}"
    );
    assert!((plan.rows() - 2.0).abs() < 1e-9, "{text}");
}

#[test]
fn not_like_is_the_complement() {
    check_seq_filter(
        "SELECT id FROM items WHERE comment NOT LIKE '%special%'",
        100_000.0 * 0.995,
        "comment NOT LIKE '%special%' (default selectivity 0.995)",
    );
}

#[test]
fn ilike_never_uses_the_index() {
    check_seq_filter(
        "SELECT id FROM items WHERE name ILIKE 'abc%'",
        100_000.0 * 0.005,
        "name ILIKE 'abc%' (default selectivity 0.005)",
    );
    check_seq_filter(
        "SELECT id FROM items WHERE name NOT ILIKE '%abc%'",
        100_000.0 * 0.995,
        "name NOT ILIKE '%abc%' (default selectivity 0.995)",
    );
}

#[test]
fn case_in_a_filter() {
    check_seq_filter(
        "SELECT id FROM items WHERE CASE WHEN qty > 10 THEN 'big' ELSE 'small' END = 'big'",
        100_000.0 * 0.005,
        "CASE WHEN qty > 10 THEN 'big' ELSE 'small' END = 'big' (default selectivity 0.005)",
    );
}

#[test]
fn extract_year_equality() {
    check_seq_filter(
        "SELECT id FROM items WHERE EXTRACT(YEAR FROM shipped) = 1995",
        100_000.0 * 0.005,
        "EXTRACT(YEAR FROM shipped) = 1995 (default selectivity 0.005)",
    );
    // Beside an index condition it is a filter on the index scan.
    let (plan, text) =
        planned("SELECT * FROM items WHERE id = 7 AND EXTRACT(YEAR FROM shipped) = 1995");
    assert_eq!(plan.root.index.as_deref(), Some("items_pkey"), "{text}");
    assert_eq!(
        plan.root.details,
        [
            "Index Cond: id = 7",
            "Filter: EXTRACT(YEAR FROM shipped) = 1995 (default selectivity 0.005)",
        ],
        "{text}"
    );
}

#[test]
fn coalesce_inequality() {
    check_seq_filter(
        "SELECT id FROM items WHERE COALESCE(price, 0) > 10",
        100_000.0 / 3.0,
        "COALESCE(price, 0) > 10 (default selectivity 0.3333)",
    );
}

#[test]
fn casts_in_filters_and_projections() {
    check_seq_filter(
        "SELECT id FROM items WHERE CAST(qty AS TEXT) = '5'",
        500.0,
        "CAST(qty AS TEXT) = '5' (default selectivity 0.005)",
    );
    check_seq_filter(
        "SELECT id FROM items WHERE qty::TEXT <> '5'",
        100_000.0 * 0.995,
        "qty::TEXT <> '5' (default selectivity 0.995)",
    );
    // Projected expressions are accepted and read their columns: the index does not cover
    // `qty` and `shipped`, so this is an index scan, not an index-only scan.
    let (plan, text) = planned(
        "SELECT CAST(qty AS DOUBLE) AS q, DATE_TRUNC('month', shipped), id * 2 FROM items WHERE id = 5",
    );
    assert_eq!(plan.root.kind, NodeKind::IndexScan, "{text}");
    assert_eq!(plan.root.index.as_deref(), Some("items_pkey"), "{text}");
    // Grouping by and ordering by an expression.
    let (plan, text) = planned(
        "SELECT DATE_TRUNC('month', shipped) AS m, SUM(CASE WHEN qty > 10 THEN price ELSE 0 END) \
         FROM items GROUP BY DATE_TRUNC('month', shipped) ORDER BY m LIMIT 10",
    );
    let kinds: Vec<NodeKind> = plan.root.walk().iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            NodeKind::Limit,
            NodeKind::Sort,
            NodeKind::HashAggregate,
            NodeKind::SeqScan
        ],
        "{text}"
    );
    assert!(
        text.contains("Group Key: DATE_TRUNC('month', shipped)"),
        "{text}"
    );
}

#[test]
fn having_is_a_filter_over_the_aggregate() {
    let (plan, text) = planned(
        "SELECT qty, COUNT(*) FROM items GROUP BY qty HAVING COUNT(*) > 10 ORDER BY 2 DESC",
    );
    let agg = &plan.root.children[0];
    assert_eq!(agg.kind, NodeKind::HashAggregate, "{text}");
    assert_eq!(
        agg.details,
        [
            "Group Key: qty",
            "Filter: COUNT(*) > 10 (default selectivity 0.3333)"
        ],
        "{text}"
    );
    // 50 groups, a third kept.
    assert!((agg.rows - 50.0 / 3.0).abs() < 1e-9, "{text}");
    let json = explain_json(&plan);
    assert_eq!(json["children"][0]["node"], "HashAggregate");
    assert_eq!(
        json["children"][0]["details"][1],
        "Filter: COUNT(*) > 10 (default selectivity 0.3333)"
    );
    // Two conjuncts, one an equality; the plain aggregate keeps its one row.
    let (plan, text) = planned(
        "SELECT qty, SUM(price) FROM items GROUP BY qty HAVING SUM(price) = 100 AND COUNT(*) > 1",
    );
    assert!(
        (plan.rows() - (50.0_f64 * 0.005 / 3.0).max(1.0)).abs() < 1e-9,
        "{text}"
    );
    let (plan, text) = planned("SELECT COUNT(*) FROM items HAVING COUNT(*) > 10");
    assert_eq!(plan.root.kind, NodeKind::Aggregate, "{text}");
    assert_eq!(plan.rows(), 1.0);
    assert_eq!(
        plan.root.details,
        ["Filter: COUNT(*) > 10 (default selectivity 0.3333)"],
        "{text}"
    );
}

#[test]
fn expressions_over_two_tables_are_join_filters() {
    let (plan, text) =
        planned("SELECT a.id FROM items a JOIN items b ON a.id = b.id WHERE a.qty + b.qty > 10");
    assert_eq!(plan.root.kind, NodeKind::HashJoin, "{text}");
    assert!(
        text.contains("Join Filter: (a.qty + b.qty) > 10 (default selectivity 0.3333)")
            || text.contains("Join Filter: a.qty + b.qty > 10 (default selectivity 0.3333)"),
        "{text}"
    );
}

#[test]
fn what_is_still_unsupported_is_refused_by_name_and_position() {
    let cases = [
        (
            "SELECT id\nFROM items\nWHERE qty = 1 OR qty IN (SELECT qty FROM items)",
            "IN (subquery)",
            (3, 18),
        ),
        (
            "SELECT id FROM items\nWHERE CASE WHEN qty > 1 THEN (SELECT 1) END = 1",
            "scalar subquery",
            (2, 31),
        ),
        (
            "SELECT qty,\n  (SELECT MAX(qty) FROM items) FROM items",
            "scalar subquery",
            (2, 4),
        ),
        (
            "SELECT id FROM items\nWHERE NOT (qty > 1 AND EXISTS (SELECT 1 FROM items))",
            "EXISTS subquery",
            (2, 32),
        ),
        (
            "SELECT id,\n  SUM(qty) OVER (ORDER BY id) FROM items",
            "window function",
            (2, 3),
        ),
        (
            "SELECT CASE WHEN COUNT(*) > 1 THEN 1 END FROM items",
            "aggregate inside an expression",
            (1, 18),
        ),
        (
            "SELECT STRING_AGG(name, ',') FROM items",
            "function STRING_AGG",
            (1, 8),
        ),
    ];
    let c = catalog();
    for (sql, construct, position) in cases {
        let err = plan_sql(&c, sql).unwrap_err();
        let Error::Unsupported {
            construct: got,
            position: got_position,
        } = &err
        else {
            panic!("{sql}: expected Unsupported, got {err:?}");
        };
        assert!(
            got.contains(construct),
            "{sql}: {got:?} does not name {construct:?}"
        );
        assert_eq!(*got_position, Some(position), "{sql}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("at line {}, column {}", position.0, position.1)),
            "{err}"
        );
    }
}
