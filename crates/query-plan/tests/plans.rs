//! Known-answer tests for the planner on a small catalogue built in code.

use query_plan::{
    Catalog, ColumnStats, Error, Index, NodeKind, PlanOptions, Table, explain_json, explain_text,
    plan_sql, plan_sql_with,
};

/// `users` (10 000 rows) and `orders` (100 000 rows) with indexes.
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.add_table(
        Table::new("users", 10_000)
            .column(
                "id",
                ColumnStats::new().distinct(10_000).range(1.0, 10_000.0),
            )
            .column(
                "email",
                ColumnStats::new().distinct(10_000).text_range("a", "z"),
            )
            .column("age", ColumnStats::new().distinct(80).range(18.0, 98.0))
            .column("country", ColumnStats::new().distinct(50))
            .column(
                "deleted_at",
                ColumnStats::new().distinct(100).null_frac(0.95),
            ),
    );
    c.add_table(
        Table::new("orders", 100_000)
            .column(
                "id",
                ColumnStats::new().distinct(100_000).range(1.0, 100_000.0),
            )
            .column(
                "user_id",
                ColumnStats::new().distinct(10_000).range(1.0, 10_000.0),
            )
            .column("status", ColumnStats::new().distinct(4))
            .column(
                "total",
                ColumnStats::new().distinct(50_000).range(0.0, 1_000.0),
            )
            .column(
                "created",
                ColumnStats::new()
                    .distinct(1_000)
                    .text_range("2020-01-01", "2024-12-31"),
            ),
    );
    c.add_index(Index::new("users_pkey", "users", ["id"]).unique())
        .unwrap();
    c.add_index(Index::new("users_email", "users", ["email"]).unique())
        .unwrap();
    c.add_index(Index::new("users_age", "users", ["age"]))
        .unwrap();
    c.add_index(Index::new("orders_pkey", "orders", ["id"]).unique())
        .unwrap();
    c.add_index(Index::new("orders_user", "orders", ["user_id"]))
        .unwrap();
    c.add_index(Index::new(
        "orders_status_total",
        "orders",
        ["status", "total"],
    ))
    .unwrap();
    c.add_index(
        Index::new("orders_big", "orders", ["created"])
            .partial("total > 900")
            .unwrap(),
    )
    .unwrap();
    c
}

#[test]
fn equality_on_indexed_column_picks_the_index() {
    let plan = plan_sql(
        &catalog(),
        "SELECT * FROM users WHERE email = 'x@example.com'",
    )
    .unwrap();
    assert_eq!(
        plan.root.kind,
        NodeKind::IndexScan,
        "{}",
        explain_text(&plan)
    );
    assert_eq!(plan.root.index.as_deref(), Some("users_email"));
    assert!(plan.rows() <= 2.0);
}

#[test]
fn predicate_matching_most_rows_picks_the_seq_scan() {
    // age in [18, 98]: age > 26 matches 90 %.
    let plan = plan_sql(&catalog(), "SELECT * FROM users WHERE age > 26").unwrap();
    assert_eq!(plan.root.kind, NodeKind::SeqScan, "{}", explain_text(&plan));
    let expected = 10_000.0 * 0.9;
    assert!(
        (plan.rows() - expected).abs() < 100.0,
        "rows {}",
        plan.rows()
    );
    // A narrow range on the same column uses the index.
    let plan = plan_sql(&catalog(), "SELECT * FROM users WHERE age = 30 AND id < 20").unwrap();
    assert_eq!(
        plan.root.kind,
        NodeKind::IndexScan,
        "{}",
        explain_text(&plan)
    );
    assert_eq!(plan.root.index.as_deref(), Some("users_pkey"));
}

#[test]
fn partial_index_only_when_implied() {
    let c = catalog();
    // Tighter range on the same column: implied.
    let sql = "SELECT * FROM orders WHERE total > 950 AND created >= '2024-12-01'";
    let plan = plan_sql(&c, sql).unwrap();
    assert_eq!(
        plan.root.index.as_deref(),
        Some("orders_big"),
        "{}",
        explain_text(&plan)
    );
    // Identical conjunct: implied.
    let sql = "SELECT * FROM orders WHERE total > 900 AND created = '2024-12-01'";
    let plan = plan_sql(&c, sql).unwrap();
    assert_eq!(
        plan.root.index.as_deref(),
        Some("orders_big"),
        "{}",
        explain_text(&plan)
    );
    // Wider range: not implied, never used, even when forced.
    let sql = "SELECT * FROM orders WHERE total > 100 AND created = '2024-12-01'";
    let plan = plan_sql(&c, sql).unwrap();
    assert!(
        plan.root
            .walk()
            .iter()
            .all(|n| n.index.as_deref() != Some("orders_big"))
    );
    let err =
        plan_sql_with(&c, sql, &PlanOptions::default().force_index("orders_big")).unwrap_err();
    assert!(matches!(err, Error::Hint(_)), "{err}");
    // No predicate on total at all: not implied.
    let plan = plan_sql(&c, "SELECT * FROM orders WHERE created = '2024-12-01'").unwrap();
    assert!(
        plan.root
            .walk()
            .iter()
            .all(|n| n.index.as_deref() != Some("orders_big"))
    );
}

#[test]
fn implication_rules() {
    use query_plan::parse::parse_predicate;
    use query_plan::plan::implies;
    let p = |s: &str| parse_predicate(s).unwrap();
    assert!(implies(&[p("a > 5")], &p("a > 5")));
    assert!(implies(&[p("a > 6")], &p("a >= 5")));
    assert!(implies(&[p("a >= 5")], &p("a >= 5")));
    assert!(!implies(&[p("a >= 5")], &p("a > 5")));
    assert!(implies(&[p("a BETWEEN 6 AND 7")], &p("a > 5")));
    assert!(implies(&[p("a = 7")], &p("a BETWEEN 5 AND 10")));
    assert!(implies(&[p("a IN (6, 7)")], &p("a > 5")));
    assert!(!implies(&[p("a IN (5, 7)")], &p("a > 5")));
    assert!(!implies(&[p("b > 6")], &p("a > 5")));
    assert!(implies(&[p("t.a = 1")], &p("a IS NOT NULL")));
    assert!(implies(
        &[p("s = 'open'"), p("x < 3")],
        &p("s = 'open' AND x < 4")
    ));
    assert!(!implies(&[p("a < 3")], &p("a > 5")));
}

#[test]
fn index_only_scan_when_covered() {
    let plan = plan_sql(
        &catalog(),
        "SELECT id FROM users WHERE id BETWEEN 10 AND 20",
    )
    .unwrap();
    assert_eq!(
        plan.root.kind,
        NodeKind::IndexOnlyScan,
        "{}",
        explain_text(&plan)
    );
    let plan = plan_sql(
        &catalog(),
        "SELECT total FROM orders WHERE status = 'open' AND total < 10",
    )
    .unwrap();
    assert_eq!(
        plan.root.kind,
        NodeKind::IndexOnlyScan,
        "{}",
        explain_text(&plan)
    );
    assert_eq!(plan.root.index.as_deref(), Some("orders_status_total"));
    // Not covered: a heap column is needed.
    let plan = plan_sql(
        &catalog(),
        "SELECT email FROM users WHERE id BETWEEN 10 AND 20",
    )
    .unwrap();
    assert_eq!(
        plan.root.kind,
        NodeKind::IndexScan,
        "{}",
        explain_text(&plan)
    );
}

#[test]
fn order_by_uses_index_order_when_cheaper() {
    let c = catalog();
    let plan = plan_sql(&c, "SELECT * FROM users ORDER BY age LIMIT 10").unwrap();
    assert_eq!(plan.root.kind, NodeKind::Limit, "{}", explain_text(&plan));
    assert!(
        !plan.root.contains(NodeKind::Sort),
        "{}",
        explain_text(&plan)
    );
    assert_eq!(plan.root.children[0].index.as_deref(), Some("users_age"));
    // Descending order: a backwards index scan, still no sort.
    let plan = plan_sql(&c, "SELECT * FROM users ORDER BY age DESC LIMIT 10").unwrap();
    assert!(
        !plan.root.contains(NodeKind::Sort),
        "{}",
        explain_text(&plan)
    );
    // Whole table: sorting a sequential scan is cheaper than 10 000 random accesses.
    let plan = plan_sql(&c, "SELECT * FROM users ORDER BY age").unwrap();
    assert_eq!(plan.root.kind, NodeKind::Sort, "{}", explain_text(&plan));
    assert_eq!(plan.root.children[0].kind, NodeKind::SeqScan);
    // No index on the order column: always a sort.
    let plan = plan_sql(&c, "SELECT * FROM users ORDER BY country LIMIT 5").unwrap();
    assert!(
        plan.root.contains(NodeKind::Sort),
        "{}",
        explain_text(&plan)
    );
    // Equality on the leading column keeps the order of the next one.
    let plan = plan_sql(
        &c,
        "SELECT status, total FROM orders WHERE status = 'open' ORDER BY total LIMIT 3",
    )
    .unwrap();
    assert!(
        !plan.root.contains(NodeKind::Sort),
        "{}",
        explain_text(&plan)
    );
}

#[test]
fn hints_force_and_ignore() {
    let c = catalog();
    let sql = "SELECT * FROM users WHERE email = 'x@example.com'";
    let plan = plan_sql_with(&c, sql, &PlanOptions::default().ignore_index("users_email")).unwrap();
    assert_eq!(plan.root.kind, NodeKind::SeqScan, "{}", explain_text(&plan));
    // Forcing an index without a matching predicate: a full index scan.
    let plan = plan_sql_with(&c, sql, &PlanOptions::default().force_index("users_age")).unwrap();
    assert_eq!(
        plan.root.index.as_deref(),
        Some("users_age"),
        "{}",
        explain_text(&plan)
    );
    // Forced even where a sequential scan is cheaper.
    let plan = plan_sql_with(
        &c,
        "SELECT * FROM users WHERE age > 26",
        &PlanOptions::default().force_index("users_age"),
    )
    .unwrap();
    assert_eq!(plan.root.kind, NodeKind::IndexScan);
    let err = plan_sql_with(&c, sql, &PlanOptions::default().force_index("nope")).unwrap_err();
    assert!(matches!(err, Error::Hint(_)));
    let err =
        plan_sql_with(&c, sql, &PlanOptions::default().force_index("orders_pkey")).unwrap_err();
    assert!(err.to_string().contains("does not read"), "{err}");
}

#[test]
fn join_methods() {
    let c = catalog();
    // One user, probe their orders through the index: nested loop with index.
    let sql = "SELECT o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = 'x@example.com'";
    let plan = plan_sql(&c, sql).unwrap();
    let text = explain_text(&plan);
    assert_eq!(plan.root.kind, NodeKind::NestedLoop, "{text}");
    assert_eq!(
        plan.root.children[1].index.as_deref(),
        Some("orders_user"),
        "{text}"
    );
    assert_eq!(
        plan.root.children[0].table.as_deref(),
        Some("users u"),
        "{text}"
    );
    // Everything joined with everything: hash join, smaller side built.
    let sql = "SELECT u.email, o.total FROM users u, orders o WHERE o.user_id = u.id";
    let plan = plan_sql(&c, sql).unwrap();
    let text = explain_text(&plan);
    assert_eq!(plan.root.kind, NodeKind::HashJoin, "{text}");
    assert_eq!(
        plan.root.children[1].table.as_deref(),
        Some("users u"),
        "{text}"
    );
    assert!((plan.rows() - 100_000.0).abs() < 1.0, "{text}");
    // Ignoring the index turns the first query into a hash join.
    let sql = "SELECT o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = 'x@example.com'";
    let plan = plan_sql_with(&c, sql, &PlanOptions::default().ignore_index("orders_user")).unwrap();
    assert_ne!(plan.root.children[1].index.as_deref(), Some("orders_user"));
}

#[test]
fn aggregates_group_by_and_limit() {
    let plan = plan_sql(
        &catalog(),
        "SELECT status, COUNT(*), SUM(total) FROM orders GROUP BY status ORDER BY 2 DESC LIMIT 3",
    )
    .unwrap();
    let kinds: Vec<NodeKind> = plan.root.walk().iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds[..3],
        [NodeKind::Limit, NodeKind::Sort, NodeKind::HashAggregate]
    );
    assert_eq!(plan.root.children[0].children[0].rows, 4.0);
    let plan = plan_sql(&catalog(), "SELECT COUNT(*) FROM orders").unwrap();
    assert_eq!(plan.root.kind, NodeKind::Aggregate);
    assert_eq!(plan.rows(), 1.0);
}

#[test]
fn selectivities() {
    let c = catalog();
    let rows = |sql: &str| plan_sql(&c, sql).unwrap().rows();
    assert!((rows("SELECT * FROM users WHERE country = 'SE'") - 200.0).abs() < 1.0);
    assert!((rows("SELECT * FROM users WHERE country IN ('SE', 'NO')") - 400.0).abs() < 1.0);
    assert!((rows("SELECT * FROM users WHERE deleted_at IS NULL") - 9_500.0).abs() < 1.0);
    assert!((rows("SELECT * FROM users WHERE NOT (country = 'SE')") - 9_800.0).abs() < 1.0);
    // OR: a + b − ab.
    let or = rows("SELECT * FROM users WHERE country = 'SE' OR age = 30");
    let expected = 10_000.0 * (0.02 + 0.0125 - 0.02 * 0.0125);
    assert!((or - expected).abs() < 1.0, "{or} vs {expected}");
    // Range with both bounds is one interval: 10 %.
    let r = rows("SELECT * FROM orders WHERE total >= 100 AND total < 200");
    assert!((r - 10_000.0).abs() < 10.0, "{r}");
    let b = rows("SELECT * FROM orders WHERE total BETWEEN 100 AND 200");
    assert!((b - 10_000.0).abs() < 10.0, "{b}");
    // LIKE prefix is a range on strings: narrower than the whole alphabet.
    let l = rows("SELECT * FROM users WHERE email LIKE 'm%'");
    assert!(l > 100.0 && l < 1_000.0, "{l}");
}

#[test]
fn unsupported_constructs_are_named() {
    let c = catalog();
    let cases = [
        // A subquery is planned as a conjunct of WHERE or HAVING, not under OR or NOT AND.
        (
            "SELECT * FROM users WHERE age > 30 OR id IN (SELECT user_id FROM orders)",
            "IN (subquery)",
        ),
        (
            "SELECT * FROM users WHERE age > 30 OR EXISTS (SELECT 1 FROM orders)",
            "EXISTS",
        ),
        (
            "SELECT id, ROW_NUMBER() OVER (ORDER BY age) FROM users",
            "window function",
        ),
        (
            "SELECT id FROM users INTERSECT SELECT user_id FROM orders",
            "INTERSECT",
        ),
        (
            "SELECT id FROM users UNION SELECT id, total FROM orders",
            "UNION of SELECTs with 1 and 2 columns",
        ),
        (
            "SELECT * FROM users u FULL JOIN orders o ON o.user_id = u.id",
            "FullOuter join",
        ),
        (
            "SELECT * FROM users WHERE CASE WHEN age > (SELECT 1) THEN 1 END = 1",
            "scalar subquery",
        ),
        (
            "SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.total > u.age * 2)",
            "correlated condition",
        ),
        (
            "WITH RECURSIVE x AS (SELECT 1) SELECT * FROM users",
            "WITH RECURSIVE",
        ),
        (
            "SELECT * FROM users, LATERAL (SELECT * FROM orders) o",
            "LATERAL",
        ),
        (
            "CREATE VIEW v AS SELECT id FROM users; DELETE FROM users",
            "more than one statement",
        ),
        ("DELETE FROM users", "statement"),
        ("SELECT DISTINCT country FROM users", "DISTINCT"),
    ];
    for (sql, construct) in cases {
        let err = plan_sql(&c, sql).unwrap_err();
        let Error::Unsupported { construct: got, .. } = &err else {
            panic!("{sql}: expected Unsupported, got {err:?}");
        };
        assert!(
            got.contains(construct),
            "{sql}: {got:?} does not name {construct:?}"
        );
        assert!(err.to_string().starts_with("unsupported: "), "{err}");
    }
    // Positions come from sqlparser's spans.
    let err = plan_sql(
        &c,
        "SELECT *\nFROM users\nWHERE age > 30 OR id IN (SELECT user_id FROM orders)",
    )
    .unwrap_err();
    let Error::Unsupported { position, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(position.map(|p| p.0), Some(3), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn parse_errors_and_unknown_names() {
    let c = catalog();
    assert!(matches!(
        plan_sql(&c, "SELEC * FROM users").unwrap_err(),
        Error::Parse(_)
    ));
    assert!(matches!(
        plan_sql(&c, "SELECT * FROM nope").unwrap_err(),
        Error::UnknownTable(_)
    ));
    assert!(matches!(
        plan_sql(&c, "SELECT nope FROM users").unwrap_err(),
        Error::UnknownColumn(_)
    ));
    assert!(matches!(
        plan_sql(&c, "SELECT id FROM users, orders").unwrap_err(),
        Error::AmbiguousColumn(_)
    ));
}

#[test]
fn catalog_from_ddl() {
    let mut c = Catalog::from_sql(
        "CREATE TABLE t (a INT, b TEXT, c INT);
         CREATE UNIQUE INDEX t_a ON t (a);
         CREATE INDEX t_bc ON t (b, c) WHERE c > 10;",
    )
    .unwrap();
    assert_eq!(c.table("t").unwrap().columns.len(), 3);
    assert!(c.index("t_a").unwrap().unique);
    assert_eq!(c.index("t_bc").unwrap().columns, ["b", "c"]);
    assert!(c.index("t_bc").unwrap().predicate.is_some());
    c.set_rows("t", 1_000_000).unwrap();
    c.set_stats("t", "a", ColumnStats::new().distinct(1_000_000))
        .unwrap();
    let plan = plan_sql(&c, "SELECT * FROM t WHERE a = 5").unwrap();
    assert_eq!(plan.root.index.as_deref(), Some("t_a"));
    assert!(Catalog::from_sql("CREATE INDEX i ON nope (a)").is_err());
}

#[test]
fn explain_text_and_json() {
    let plan = plan_sql(
        &catalog(),
        "SELECT o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = 'x@example.com' ORDER BY o.total LIMIT 5",
    )
    .unwrap();
    let text = explain_text(&plan);
    assert!(text.starts_with("Limit"), "{text}");
    assert!(
        text.contains("Index Scan using users_email on users u"),
        "{text}"
    );
    assert!(text.contains("rows="), "{text}");
    let json = explain_json(&plan);
    assert_eq!(json["node"], "Limit");
    assert!(json["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(json["children"][0]["node"], "Sort");
    let scan = &json["children"][0]["children"][0]["children"][0];
    assert_eq!(scan["table"], "users u");
    assert_eq!(scan["index"], "users_email");
    assert!(scan["rows"].is_number());
}

#[test]
fn normalised_text_with_placeholders_plans() {
    let c = catalog();
    let sql = query_plan::fingerprint::normalize(
        "SELECT id FROM orders WHERE user_id = 42 AND total > 10 ORDER BY id LIMIT 10 OFFSET 20",
    )
    .unwrap();
    assert_eq!(
        sql,
        "SELECT id FROM orders WHERE user_id = ? AND total > ? ORDER BY id LIMIT ? OFFSET ?"
    );
    let plan = plan_sql(&c, &sql).unwrap();
    // Equality on a parameter still uses the column's distinct count: the index wins.
    assert_eq!(
        plan.root.scan_of("orders").unwrap().index.as_deref(),
        Some("orders_user")
    );
    let text = explain_text(&plan);
    assert!(text.contains("user_id = ?"), "{text}");
    assert!(text.contains("Limit"), "{text}");
    // A LIKE pattern that is a parameter has no known prefix: a filter at the default
    // selectivity (it used to be refused).
    let plan = plan_sql(&c, "SELECT id FROM users WHERE email LIKE ?").unwrap();
    let text = explain_text(&plan);
    assert_eq!(plan.root.kind, NodeKind::SeqScan, "{text}");
    assert!((plan.rows() - 50.0).abs() < 1e-9, "{text}");
    assert!(
        text.contains("Filter: email LIKE ? (default selectivity 0.005)"),
        "{text}"
    );
}
