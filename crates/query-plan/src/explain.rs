//! EXPLAIN output: indented text and JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::plan::{Plan, PlanNode};

/// Indented text, one node per line, children prefixed with `->`, details below their node.
///
/// ```text
/// Limit  (rows=10 cost=0.00..44.12)
///   Limit: 10
///   ->  Index Scan using t_a on t  (rows=10000 cost=4.03..40156.25)
/// ```
pub fn explain_text(plan: &Plan) -> String {
    let mut out = String::new();
    write_node(&mut out, &plan.root, 0);
    out
}

fn write_node(out: &mut String, node: &PlanNode, depth: usize) {
    let indent = "  ".repeat(depth * 2);
    let arrow = if depth == 0 { "" } else { "->  " };
    let _ = write!(out, "{indent}{arrow}{}", node.kind.name());
    if let Some(index) = &node.index {
        let _ = write!(out, " using {index}");
    }
    if let Some(table) = &node.table {
        let _ = write!(out, " on {table}");
    }
    let _ = writeln!(
        out,
        "  (rows={:.0} cost={:.2}..{:.2})",
        node.rows, node.startup_cost, node.cost
    );
    let detail_indent = if depth == 0 {
        "  ".to_string()
    } else {
        format!("{indent}      ")
    };
    for d in &node.details {
        let _ = writeln!(out, "{detail_indent}{d}");
    }
    for child in &node.children {
        write_node(out, child, depth + 1);
    }
}

/// JSON: `{"node": "Index Scan", "table": ..., "index": ..., "rows": ..., "startup_cost": ...,
/// "cost": ..., "details": [...], "children": [...]}`; absent table/index are `null`.
pub fn explain_json(plan: &Plan) -> Value {
    node_json(&plan.root)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn node_json(node: &PlanNode) -> Value {
    json!({
        "node": node.kind.name(),
        "table": node.table,
        "index": node.index,
        "rows": node.rows.round(),
        "startup_cost": round2(node.startup_cost),
        "cost": round2(node.cost),
        "details": node.details,
        "children": node.children.iter().map(node_json).collect::<Vec<_>>(),
    })
}
