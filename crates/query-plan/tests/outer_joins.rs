//! Known-answer tests for `LEFT [OUTER] JOIN`.

use query_plan::{Error, NodeKind, Plan, explain_text, plan_sql};

#[path = "support/users_orders.rs"]
mod users_orders;
use users_orders::{close, with_user_index as catalog};

fn plan(sql: &str) -> (Plan, String) {
    let plan = plan_sql(&catalog(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = explain_text(&plan);
    (plan, text)
}

#[test]
fn a_left_join_keeps_every_outer_row() {
    // As an inner join: 10 000 x 100 000 / 10 000 = 100 000 rows, more than the users.
    let (p, text) = plan("SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id");
    assert_eq!(p.root.kind, NodeKind::HashLeftJoin, "{text}");
    assert!(close(p.rows(), 100_000.0), "{text}");
    // The NULL-filled side is the build side, never the outer input.
    assert_eq!(
        p.root.children[0].table.as_deref(),
        Some("users u"),
        "{text}"
    );

    // With an ON condition on the orders, few match (10 000 x 100 / 10 000 = 100), but
    // every user is kept; the condition filters the orders before the join.
    let (p, text) =
        plan("SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.total > 999");
    assert!(
        matches!(
            p.root.kind,
            NodeKind::HashLeftJoin | NodeKind::NestedLoopLeftJoin
        ),
        "{text}"
    );
    assert!(close(p.rows(), 10_000.0), "{text}");
    let orders = p.root.scan_of("o").expect("orders scanned");
    assert!(
        orders.details.iter().any(|d| d.contains("o.total > 999")),
        "{text}"
    );
}

#[test]
fn a_where_condition_that_rejects_nulls_makes_it_an_inner_join() {
    let (p, text) =
        plan("SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.total > 500");
    assert!(
        !text.contains("Left Join"),
        "o.total > 500 drops the NULL-filled rows:\n{text}"
    );
    assert!(
        matches!(p.root.kind, NodeKind::HashJoin | NodeKind::NestedLoop),
        "{text}"
    );
    // IS NULL keeps them: the join stays an outer join and the filter sits above it.
    let (p2, text2) =
        plan("SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.id IS NULL");
    assert_eq!(p2.root.kind, NodeKind::HashLeftJoin, "{text2}");
    assert!(
        p2.root
            .details
            .contains(&"Filter: o.id IS NULL".to_string()),
        "{text2}"
    );
}

#[test]
fn a_selective_outer_probes_the_null_filled_side_through_an_index() {
    let (p, text) = plan(
        "SELECT u.id, o.total FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id = 5",
    );
    assert_eq!(p.root.kind, NodeKind::NestedLoopLeftJoin, "{text}");
    assert_eq!(
        p.root.children[0].table.as_deref(),
        Some("users u"),
        "{text}"
    );
    assert_eq!(
        p.root.children[1].index.as_deref(),
        Some("orders_user"),
        "{text}"
    );
}

#[test]
fn left_joins_chain_and_join_with_inner_joins() {
    // users LEFT JOIN orders, then an inner join on users: every order is kept in place.
    let (p, text) = plan(
        "SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id \
         JOIN users v ON v.id = u.id WHERE v.age = 30",
    );
    for t in ["u", "o", "v"] {
        assert!(p.root.scan_of(t).is_some(), "{t}\n{text}");
    }
    assert!(text.contains("Left Join"), "{text}");
    // A LEFT JOIN whose ON reads a table joined after it is refused.
    let err = plan_sql(
        &catalog(),
        "SELECT 1 FROM users u LEFT JOIN orders o ON o.user_id = v.id JOIN users v ON v.id = u.id",
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { construct, .. } if construct.contains("joined after it")),
        "{err}"
    );
    // Right and full joins are not built.
    let err = plan_sql(
        &catalog(),
        "SELECT 1 FROM users u RIGHT JOIN orders o ON o.user_id = u.id",
    )
    .unwrap_err();
    assert!(err.to_string().contains("Right"), "{err}");
}
