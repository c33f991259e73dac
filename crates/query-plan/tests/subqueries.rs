//! Known-answer tests for subqueries, derived tables, `WITH`, views and `UNION`.

use query_plan::plan::cost::{CPU_OPERATOR_COST, CPU_TUPLE_COST, HASH_BUILD_COST, HASH_PROBE_COST};
use query_plan::{Catalog, Error, NodeKind, Plan, PlanNode, explain_json, explain_text, plan_sql};

#[path = "support/users_orders.rs"]
mod users_orders;
use users_orders::{catalog, close, with_user_index};

fn plan(c: &Catalog, sql: &str) -> (Plan, String) {
    let plan = plan_sql(c, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = explain_text(&plan);
    (plan, text)
}

/// The cost of a plain query, to check what a subquery adds to it.
fn cost_of(c: &Catalog, sql: &str) -> f64 {
    plan(c, sql).0.cost()
}

#[test]
fn exists_is_a_semi_join_keeping_the_share_of_outer_keys_the_subquery_has() {
    // nd1 = 10 000 user ids, nd2 = 5 000 distinct orders.user_id: half the users match.
    let sql = "SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::HashSemiJoin, "{text}");
    assert!(close(p.rows(), 5_000.0), "{text}");
    assert_eq!(p.root.details, ["Hash Cond: u.id = o.user_id"], "{text}");
    // The subquery is planned once without its correlated conjunct, reading only the key.
    let inner = &p.root.children[1];
    assert_eq!(inner.kind, NodeKind::SeqScan, "{text}");
    assert!(close(inner.rows, 100_000.0), "{text}");
    // Hash semi join: both inputs, the build and probe per row, a tuple per output row.
    let outer = &p.root.children[0];
    let expected = outer.cost
        + inner.cost
        + inner.rows * HASH_BUILD_COST
        + outer.rows * HASH_PROBE_COST
        + p.rows() * CPU_TUPLE_COST;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );

    let (p, text) = plan(&catalog(), &sql.replace("EXISTS", "NOT EXISTS"));
    assert_eq!(p.root.kind, NodeKind::HashAntiJoin, "{text}");
    assert!(close(p.rows(), 5_000.0), "{text}");
}

#[test]
fn a_selective_outer_probes_the_subquery_per_row_through_an_index() {
    let sql = "SELECT id FROM users u WHERE u.id = 7 AND EXISTS \
               (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.total > 900)";
    let (p, text) = plan(&with_user_index(), sql);
    assert_eq!(p.root.kind, NodeKind::NestedLoopSemiJoin, "{text}");
    let inner = &p.root.children[1];
    assert_eq!(inner.index.as_deref(), Some("orders_user"), "{text}");
    assert!(
        inner
            .details
            .iter()
            .any(|d| d == "Index Cond: o.user_id = ?"),
        "{text}"
    );
    assert!(inner.details.iter().any(|d| d == "Params: u.id"), "{text}");
    // Per outer row, the parameterised plan's cost.
    let outer = &p.root.children[0];
    let expected = outer.cost + outer.rows * inner.cost + p.rows() * CPU_TUPLE_COST;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );
    // Many outer rows: one hash of the subquery is cheaper than an index probe per row.
    let (p, text) = plan(&with_user_index(), &sql.replace("u.id = 7", "u.age = 30"));
    assert_eq!(p.root.kind, NodeKind::HashSemiJoin, "{text}");
}

#[test]
fn in_subquery_is_a_semi_join_on_its_output_and_not_in_a_hashed_filter() {
    // The subquery keeps 25 000 orders (status has 4 values), still 5 000 distinct users.
    let sql = "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE status = 'paid')";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::HashSemiJoin, "{text}");
    assert_eq!(p.root.details, ["Hash Cond: id = user_id"], "{text}");
    assert!(close(p.root.children[1].rows, 25_000.0), "{text}");
    assert!(close(p.rows(), 5_000.0), "{text}");

    // NOT IN is no anti-join (a NULL in the subquery makes it unknown): a filter.
    let (p, text) = plan(&catalog(), &sql.replace(" IN ", " NOT IN "));
    // The filter sits on the scan of users (here the primary key's index-only scan).
    assert_eq!(p.root.table.as_deref(), Some("users"), "{text}");
    assert_eq!(
        p.root.details,
        ["Filter: NOT (id IN (hashed SubPlan 1))"],
        "{text}"
    );
    assert!(close(p.rows(), 5_000.0), "{text}");
    let sub = &p.root.children[0];
    assert_eq!(sub.kind, NodeKind::SubPlan, "{text}");
    let base = cost_of(&catalog(), "SELECT id FROM users");
    let once = sub.cost;
    let expected = base + once + sub.rows * HASH_BUILD_COST + 10_000.0 * HASH_PROBE_COST;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );
}

#[test]
fn an_uncorrelated_scalar_subquery_is_an_init_plan_run_once() {
    let sql = "SELECT id, age FROM users WHERE age > (SELECT AVG(age) FROM users)";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::SeqScan, "{text}");
    assert_eq!(p.root.details, ["Filter: age > (InitPlan 1)"], "{text}");
    // `age > ?` with an unknown value: the default range selectivity, 1/3.
    assert!(close(p.rows(), 10_000.0 / 3.0), "{text}");
    let init = &p.root.children[0];
    assert_eq!(init.kind, NodeKind::InitPlan, "{text}");
    assert_eq!(init.children[0].kind, NodeKind::Aggregate, "{text}");
    let base = cost_of(&catalog(), "SELECT id, age FROM users");
    let expected = base + init.cost + 10_000.0 * CPU_OPERATOR_COST;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );
    assert!(close(p.root.startup_cost, init.cost), "{text}");
}

#[test]
fn a_correlated_scalar_subquery_runs_per_row_with_its_outer_column_as_parameter() {
    let sql = "SELECT id FROM orders o WHERE o.total > \
               (SELECT AVG(i.total) FROM orders i WHERE i.user_id = o.user_id)";
    let c = with_user_index();
    let (p, text) = plan(&c, sql);
    assert_eq!(p.root.kind, NodeKind::SeqScan, "{text}");
    assert_eq!(p.root.details, ["Filter: o.total > (SubPlan 1)"], "{text}");
    let sub = &p.root.children[0];
    assert_eq!(sub.kind, NodeKind::SubPlan, "{text}");
    assert!(
        sub.details.contains(&"Params: o.user_id".to_string()),
        "{text}"
    );
    // Each run looks up one user's orders through the index.
    let scan = &sub.children[0].children[0];
    assert_eq!(scan.index.as_deref(), Some("orders_user"), "{text}");
    assert!(
        scan.details
            .contains(&"Index Cond: i.user_id = ?".to_string()),
        "{text}"
    );
    let base = cost_of(&c, "SELECT id, user_id, total FROM orders o");
    let expected = base + 100_000.0 * sub.cost;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );
    assert!(close(p.rows(), 100_000.0 / 3.0), "{text}");
}

#[test]
fn a_subquery_over_two_outer_tables_filters_their_join() {
    let sql = "SELECT u.id FROM users u, orders o WHERE u.id = o.user_id \
               AND o.total > (SELECT AVG(total) FROM orders i WHERE i.user_id = u.id)";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::HashJoin, "{text}");
    assert!(
        p.root
            .details
            .contains(&"Filter: o.total > (SubPlan 1)".to_string()),
        "{text}"
    );
    // The subplan follows the join's two inputs.
    assert_eq!(p.root.children.len(), 3, "{text}");
    assert_eq!(p.root.children[2].kind, NodeKind::SubPlan, "{text}");
}

#[test]
fn nested_subqueries_are_planned_inside_the_subquery_that_holds_them() {
    let sql = "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders o WHERE o.total > \
               (SELECT AVG(i.total) FROM orders i WHERE i.status = o.status))";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::HashSemiJoin, "{text}");
    let inner = &p.root.children[1];
    assert_eq!(inner.kind, NodeKind::SeqScan, "{text}");
    assert_eq!(inner.children[0].kind, NodeKind::SubPlan, "{text}");
    assert!(
        inner.children[0]
            .details
            .contains(&"Params: o.status".to_string()),
        "{text}"
    );
}

#[test]
fn a_derived_table_is_a_subquery_scan_with_its_columns_statistics() {
    let sql = "SELECT t.n FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) t \
               WHERE t.user_id = 42";
    let (p, text) = plan(&catalog(), sql);
    assert_eq!(p.root.kind, NodeKind::SubqueryScan, "{text}");
    assert_eq!(p.root.table.as_deref(), Some("t"), "{text}");
    let agg = &p.root.children[0];
    assert_eq!(agg.kind, NodeKind::HashAggregate, "{text}");
    assert!(close(agg.rows, 5_000.0), "{text}");
    // t.user_id carries orders.user_id's 5 000 distinct values: one row for one of them.
    assert!(close(p.rows(), 1.0), "{text}");
    let expected = agg.cost + 5_000.0 * CPU_TUPLE_COST + 5_000.0 * CPU_OPERATOR_COST;
    assert!(
        close(p.cost(), expected),
        "{} vs {expected}\n{text}",
        p.cost()
    );
    assert!(p.root.scan_of("t").is_some());

    // A column list renames the outputs; a longer list than the columns is refused.
    let (p, text) = plan(
        &catalog(),
        "SELECT cnt FROM (SELECT user_id, COUNT(*) FROM orders GROUP BY user_id) t (uid, cnt) \
         WHERE uid = 7",
    );
    assert!(close(p.rows(), 1.0), "{text}");
    let err = plan_sql(
        &catalog(),
        "SELECT * FROM (SELECT id FROM users) t (a, b, c)",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("column list of 3 names for `t`, which has 1 columns"),
        "{err}"
    );
}

#[test]
fn derived_tables_join_like_tables() {
    let sql = "SELECT u.id, t.n FROM users u, \
               (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) t \
               WHERE t.user_id = u.id AND u.age = 40";
    let (p, text) = plan(&catalog(), sql);
    assert!(p.root.scan_of("t").is_some(), "{text}");
    assert!(p.root.scan_of("u").is_some(), "{text}");
    assert!(
        matches!(p.root.kind, NodeKind::HashJoin | NodeKind::NestedLoop),
        "{text}"
    );
    // Joined through the users primary key, or hashed: either way 5 000 groups x 1/80.
    assert!(close(p.rows(), 5_000.0 / 80.0), "{} rows\n{text}", p.rows());
}

#[test]
fn with_queries_and_views_are_inlined_at_each_reference() {
    let sql = "WITH big AS (SELECT id, user_id FROM orders WHERE total > 900) \
               SELECT COUNT(*) FROM big b1, big b2 WHERE b1.user_id = b2.user_id";
    let (p, text) = plan(&catalog(), sql);
    let scans: Vec<&PlanNode> = p
        .root
        .walk()
        .into_iter()
        .filter(|n| n.kind == NodeKind::SubqueryScan)
        .collect();
    assert_eq!(scans.len(), 2, "{text}");
    for s in &scans {
        assert!(close(s.rows, 10_000.0), "{text}");
        assert!(
            s.details
                .contains(&"Source: WITH query (inlined)".to_string()),
            "{text}"
        );
    }
    // A WITH query hides a catalogue table of the same name, and later ones see earlier ones.
    let (p, text) = plan(
        &catalog(),
        "WITH users AS (SELECT id FROM orders WHERE total > 900), \
         few AS (SELECT id FROM users WHERE id < 10) SELECT * FROM few",
    );
    assert_eq!(p.root.kind, NodeKind::SubqueryScan, "{text}");
    assert!(p.root.scan_of("orders").is_some(), "{text}");

    let script = "CREATE VIEW spend (uid, total) AS \
                  SELECT user_id, SUM(total) FROM orders GROUP BY user_id; \
                  SELECT uid FROM spend WHERE total = (SELECT MAX(total) FROM spend); \
                  DROP VIEW spend;";
    let (p, text) = plan(&catalog(), script);
    assert_eq!(p.root.kind, NodeKind::SubqueryScan, "{text}");
    assert!(
        p.root
            .details
            .contains(&"Source: view (inlined)".to_string()),
        "{text}"
    );
    assert!(
        p.root
            .details
            .contains(&"Filter: total = (InitPlan 1)".to_string()),
        "{text}"
    );
    // Anything else in a script is refused, naming the statement.
    for bad in [
        "CREATE VIEW v AS SELECT id FROM users; SELECT * FROM v; DROP VIEW w;",
        "SELECT 1 FROM users; SELECT 2 FROM users;",
        "CREATE VIEW v AS SELECT id FROM users; DELETE FROM users;",
    ] {
        let err = plan_sql(&catalog(), bad).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { construct, .. } if construct.contains("more than one statement")),
            "{bad}: {err}"
        );
    }
}

#[test]
fn union_all_appends_and_union_removes_duplicates_above_the_arms() {
    let (p, text) = plan(
        &catalog(),
        "SELECT id FROM users UNION ALL SELECT user_id FROM orders",
    );
    assert_eq!(p.root.kind, NodeKind::Append, "{text}");
    assert!(close(p.rows(), 110_000.0), "{text}");
    let arms: f64 = p.root.children.iter().map(|c| c.cost).sum();
    assert!(close(p.cost(), arms + 110_000.0 * CPU_TUPLE_COST), "{text}");

    let (p, text) = plan(
        &catalog(),
        "SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY 1 LIMIT 10",
    );
    assert_eq!(p.root.kind, NodeKind::Limit, "{text}");
    assert_eq!(p.root.children[0].kind, NodeKind::Sort, "{text}");
    let dedup = &p.root.children[0].children[0];
    assert_eq!(dedup.kind, NodeKind::HashAggregate, "{text}");
    assert_eq!(dedup.details, ["Group Key: id (UNION)"], "{text}");
    assert_eq!(dedup.children[0].kind, NodeKind::Append, "{text}");

    // (a UNION b) UNION ALL c: duplicates are removed from a and b only.
    let (p, text) = plan(
        &catalog(),
        "SELECT id FROM users UNION SELECT id FROM users UNION ALL SELECT user_id FROM orders",
    );
    assert_eq!(p.root.kind, NodeKind::Append, "{text}");
    assert_eq!(p.root.children[0].kind, NodeKind::HashAggregate, "{text}");
    assert_eq!(p.root.children[1].kind, NodeKind::SeqScan, "{text}");
}

#[test]
fn explain_json_names_the_new_nodes() {
    let sql = "SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) \
               AND age > (SELECT AVG(age) FROM users)";
    let (p, text) = plan(&catalog(), sql);
    let json = explain_json(&p).to_string();
    for name in ["\"Hash Anti Join\"", "\"InitPlan\""] {
        assert!(json.contains(name), "{name} missing: {json}\n{text}");
    }
}

#[test]
fn the_advisor_sees_the_columns_a_subquery_probes() {
    use query_plan::recommend::{AdvisorConfig, Workload, recommend};
    let workload = Workload::new([(
        "SELECT id FROM orders o WHERE o.total > \
         (SELECT AVG(i.total) FROM orders i WHERE i.user_id = o.user_id)",
        1_000,
    )]);
    let advice = recommend(&catalog(), &workload, &AdvisorConfig::default());
    // An index led by the correlated column (user_id, or user_id with total to cover it).
    let best = &advice.recommendations[0].index;
    assert_eq!(
        (best.table.as_str(), best.columns[0].as_str()),
        ("orders", "user_id"),
        "{advice}"
    );
}

#[test]
fn fingerprints_normalise_inside_subqueries() {
    use query_plan::fingerprint::{fingerprint, normalize};
    let a = "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > 10)";
    let b = "select id from users where id in (select user_id from orders where total > 99.5)";
    assert_eq!(fingerprint(a).unwrap(), fingerprint(b).unwrap());
    assert!(
        normalize(a).unwrap().contains("total > ?"),
        "{}",
        normalize(a).unwrap()
    );
    let c = "SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM orders WHERE total > 10)";
    assert_ne!(fingerprint(a).unwrap(), fingerprint(c).unwrap());
}
