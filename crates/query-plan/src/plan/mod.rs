//! The cost-based planner.
//!
//! # Cost model
//!
//! Costs are in abstract units; the constants are in [`cost`]. Tables are assumed to
//! store [`cost::ROWS_PER_PAGE`] rows per page and index leaves
//! [`cost::INDEX_ENTRIES_PER_PAGE`] entries per page.
//!
//! * **Sequential scan**: `pages × SEQ_PAGE_COST + rows × CPU_TUPLE_COST`, plus
//!   `CPU_OPERATOR_COST` per row and filter conjunct.
//! * **Index scan** matching `m` entries: a descent of `RANDOM_PAGE_COST +
//!   log2(entries) × CPU_OPERATOR_COST`, then `m × CPU_INDEX_TUPLE_COST`, the leaf pages
//!   read in order (`m / INDEX_ENTRIES_PER_PAGE × SEQ_PAGE_COST`), and one random heap
//!   access per entry (`m × (RANDOM_PAGE_COST + CPU_TUPLE_COST)`).
//! * **Index-only scan** (every column the query needs from the table is a key column):
//!   the same without the heap accesses.
//! * **Sort**: `n × log2(n) × SORT_COMPARISON_COST` (with a `LIMIT k`, a top-k sort:
//!   `n × log2(2k)`); it is blocking, so its start-up cost is its total cost.
//! * **Limit** `k` over a child that yields `n` rows: `startup + (total − startup) × k / n`,
//!   which is what makes an index in `ORDER BY` order win for small limits.
//! * **Hash join**: both inputs, plus `HASH_BUILD_COST` per build (inner) row,
//!   `HASH_PROBE_COST` per probe (outer) row and `CPU_TUPLE_COST` per output row.
//! * **Nested loop with an index**: the outer input, plus per outer row one index lookup
//!   on the inner table's join column (as an index scan above, `m = rows / distinct`).
//! * **Nested loop** (inner materialised): both inputs plus `CPU_OPERATOR_COST` per pair.
//! * **Aggregate**: `CPU_OPERATOR_COST` per input row and expression, `CPU_TUPLE_COST` per
//!   group.
//!
//! Join order: every left-deep order is costed by dynamic programming over table subsets
//! for up to [`MAX_DP_TABLES`] tables (joins along an equality preferred to cross
//! products). Beyond that (or with [`JoinSearch::Greedy`]), a greedy search with local
//! improvement: from each table in turn, the next table is the one that keeps the
//! intermediate result smallest (and, a second order, the one whose join step is
//! cheapest), along an equality when one exists; the cheapest of these `2n` orders is then
//! improved by moving single tables while that lowers the cost. Polynomial in the tables
//! instead of `O(n 2ⁿ)`.
//!
//! # Selectivity
//!
//! Equality `(1 − nulls) / distinct`; `<>` its complement; ranges from min/max by linear
//! interpolation (strings by their first bytes), with lower and upper bounds on one column
//! combined into one interval; `IN` `k / distinct`; `LIKE 'p%'` as the range `[p, p+)`;
//! `IS NULL` the null fraction; `AND` the product, `OR` `a + b − ab`, `NOT` `1 − s`. Without
//! statistics: equality [`DEFAULT_EQ_SEL`], range [`DEFAULT_RANGE_SEL`], `LIKE`
//! [`DEFAULT_LIKE_SEL`]. A join equality `1 / max(distinct)`.
//!
//! ## What cannot use an index is estimated, not refused
//!
//! The defaults follow PostgreSQL's `selfuncs.h` and `patternsel`:
//!
//! * `LIKE` with any other pattern than `'prefix%'`: the fixed prefix before the first
//!   wildcard is a range as above (and an `Index Cond` on an index of the column), and the
//!   rest of the pattern a filter of [`DEFAULT_MATCH_SEL`] (0.005); a leading wildcard, an
//!   `ILIKE` or a parameter pattern is [`DEFAULT_MATCH_SEL`] alone; a pattern without a
//!   wildcard is an equality. `NOT LIKE` is `(1 − nulls) − s`.
//! * A predicate over an expression the planner cannot map to a column (functions, `CASE`,
//!   casts, `EXTRACT`, arithmetic on a column): `=` [`DEFAULT_EQ_SEL`] (0.005), `<>` its
//!   complement, `<`/`>` [`DEFAULT_INEQ_SEL`] (1/3), `BETWEEN` [`DEFAULT_RANGE_INEQ_SEL`]
//!   (0.005), `IN` `k ×` [`DEFAULT_EQ_SEL`], `IS NULL` [`DEFAULT_UNK_SEL`] (0.005), a pattern
//!   match [`DEFAULT_MATCH_SEL`], any other boolean expression [`DEFAULT_BOOL_SEL`] (0.5).
//!   It is a filter (`CPU_OPERATOR_COST` per row, like any conjunct); projecting such an
//!   expression costs nothing extra (an aggregate already charges per expression).
//! * `HAVING` conjuncts: the same defaults (so `count(*) > 10` keeps 1/3 of the groups),
//!   a filter on the aggregate node at `CPU_OPERATOR_COST` per group and conjunct.
//!
//! EXPLAIN marks each such filter with `(default selectivity s)`.

mod subquery;

use std::collections::HashMap;

use crate::catalog::{Catalog, ColumnStats, Index, Table};
use crate::error::{Error, Result};
use crate::parse::{
    self, CmpOp, ColumnRef, ExprKind, Literal, OrderKey, Pred, Query, Scalar, SelectItemModel,
    Subquery,
};
pub use subquery::DEFAULT_NUM_DISTINCT;
use subquery::{Memo, Relation, Sublink};

/// Cost constants (abstract units).
pub mod cost {
    /// Reading one page sequentially.
    pub const SEQ_PAGE_COST: f64 = 1.0;
    /// Reading one page at a random position (one heap access from an index).
    pub const RANDOM_PAGE_COST: f64 = 4.0;
    /// Processing one row.
    pub const CPU_TUPLE_COST: f64 = 0.01;
    /// Processing one index entry.
    pub const CPU_INDEX_TUPLE_COST: f64 = 0.005;
    /// Evaluating one operator or comparison.
    pub const CPU_OPERATOR_COST: f64 = 0.0025;
    /// One comparison in a sort.
    pub const SORT_COMPARISON_COST: f64 = 2.0 * CPU_OPERATOR_COST;
    /// Inserting one row into a hash table.
    pub const HASH_BUILD_COST: f64 = 0.02;
    /// Probing a hash table with one row.
    pub const HASH_PROBE_COST: f64 = 0.01;
    /// Rows per table page.
    pub const ROWS_PER_PAGE: f64 = 100.0;
    /// Entries per index leaf page.
    pub const INDEX_ENTRIES_PER_PAGE: f64 = 200.0;
}

/// Equality selectivity when the number of distinct values is unknown.
pub const DEFAULT_EQ_SEL: f64 = 0.005;
/// Range selectivity when min/max are unknown.
pub const DEFAULT_RANGE_SEL: f64 = 1.0 / 3.0;
/// `LIKE 'prefix%'` selectivity when min/max are unknown.
pub const DEFAULT_LIKE_SEL: f64 = 0.05;
/// Pattern match (`LIKE` beyond a fixed prefix, `ILIKE`, regular expressions) without
/// statistics: PostgreSQL's `DEFAULT_MATCH_SEL`.
pub const DEFAULT_MATCH_SEL: f64 = 0.005;
/// Inequality (`<`, `>`) on an expression: PostgreSQL's `DEFAULT_INEQ_SEL`.
pub const DEFAULT_INEQ_SEL: f64 = 1.0 / 3.0;
/// `BETWEEN` on an expression: PostgreSQL's `DEFAULT_RANGE_INEQ_SEL`.
pub const DEFAULT_RANGE_INEQ_SEL: f64 = 0.005;
/// `IS NULL` on an expression: PostgreSQL's `DEFAULT_UNK_SEL`.
pub const DEFAULT_UNK_SEL: f64 = 0.005;
/// Any other boolean expression: PostgreSQL's default in `boolvarsel`.
pub const DEFAULT_BOOL_SEL: f64 = 0.5;
/// Number of groups assumed for a grouping expression without statistics.
pub const DEFAULT_GROUPS: f64 = 200.0;
/// Largest join costed exhaustively.
pub const MAX_DP_TABLES: usize = 10;
/// Join equalities beyond which each table keeps a list of its own (fewer are scanned).
const INCIDENT_LISTS_FROM: usize = 8;

/// Kinds of plan nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Read the whole table.
    SeqScan,
    /// Walk an index and fetch matching rows from the table.
    IndexScan,
    /// Answer from the index alone.
    IndexOnlyScan,
    /// Nested-loop join (inner materialised, or probed through an index).
    NestedLoop,
    /// Hash join (the second child is the build side).
    HashJoin,
    /// Sort (top-N when under a limit).
    Sort,
    /// Plain aggregate (one output row).
    Aggregate,
    /// Grouped aggregate through a hash table.
    HashAggregate,
    /// `LIMIT` / `OFFSET`.
    Limit,
    /// Hash join keeping every outer row (`LEFT JOIN`; the second child, the build side, is
    /// the NULL-filled one).
    HashLeftJoin,
    /// Nested loop keeping every outer row (`LEFT JOIN`).
    NestedLoopLeftJoin,
    /// Keep the outer rows that have a match in the inner input (`EXISTS`, `IN (SELECT ...)`),
    /// through a hash table of the inner input (the second child).
    HashSemiJoin,
    /// Keep the outer rows without a match (`NOT EXISTS`), through a hash table.
    HashAntiJoin,
    /// A semi-join that runs the parameterised inner plan once per outer row.
    NestedLoopSemiJoin,
    /// An anti-join that runs the parameterised inner plan once per outer row.
    NestedLoopAntiJoin,
    /// Read a derived table, `WITH` query or view: its plan is the child.
    SubqueryScan,
    /// A subquery evaluated once per row of the node it hangs under (correlated, or hashed
    /// for `NOT IN`); after that node's inputs among its children.
    SubPlan,
    /// A subquery evaluated once before the node it hangs under runs (uncorrelated).
    InitPlan,
    /// The rows of every child in turn (`UNION ALL`; under a hash aggregate for `UNION`).
    Append,
}

impl NodeKind {
    /// The display name.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::SeqScan => "Seq Scan",
            NodeKind::IndexScan => "Index Scan",
            NodeKind::IndexOnlyScan => "Index Only Scan",
            NodeKind::NestedLoop => "Nested Loop",
            NodeKind::HashJoin => "Hash Join",
            NodeKind::Sort => "Sort",
            NodeKind::Aggregate => "Aggregate",
            NodeKind::HashAggregate => "HashAggregate",
            NodeKind::Limit => "Limit",
            NodeKind::HashLeftJoin => "Hash Left Join",
            NodeKind::NestedLoopLeftJoin => "Nested Loop Left Join",
            NodeKind::HashSemiJoin => "Hash Semi Join",
            NodeKind::HashAntiJoin => "Hash Anti Join",
            NodeKind::NestedLoopSemiJoin => "Nested Loop Semi Join",
            NodeKind::NestedLoopAntiJoin => "Nested Loop Anti Join",
            NodeKind::SubqueryScan => "Subquery Scan",
            NodeKind::SubPlan => "SubPlan",
            NodeKind::InitPlan => "InitPlan",
            NodeKind::Append => "Append",
        }
    }
}

/// One node of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanNode {
    /// What the node does.
    pub kind: NodeKind,
    /// For scans: the table (`name` or `name alias`).
    pub table: Option<String>,
    /// For index scans: the index.
    pub index: Option<String>,
    /// Estimated output rows.
    pub rows: f64,
    /// Estimated cost before the first row.
    pub startup_cost: f64,
    /// Estimated total cost.
    pub cost: f64,
    /// Conditions, sort keys and the like (`Index Cond: ...`, `Filter: ...`).
    pub details: Vec<String>,
    /// Inputs.
    pub children: Vec<PlanNode>,
}

impl PlanNode {
    /// Every node of the tree, depth first (this node first).
    pub fn walk(&self) -> Vec<&PlanNode> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }

    /// Whether some node of the tree has this kind.
    pub fn contains(&self, kind: NodeKind) -> bool {
        self.walk().iter().any(|n| n.kind == kind)
    }

    /// The scan node of a table (by binding name), if any.
    pub fn scan_of(&self, table: &str) -> Option<&PlanNode> {
        self.walk().into_iter().find(|n| {
            matches!(
                n.kind,
                NodeKind::SeqScan
                    | NodeKind::IndexScan
                    | NodeKind::IndexOnlyScan
                    | NodeKind::SubqueryScan
            ) && n
                .table
                .as_deref()
                .is_some_and(|t| t == table || t.split(' ').nth(1) == Some(table))
        })
    }
}

/// An index hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexHint {
    /// Access the index's table only through this index.
    Force(String),
    /// Never use this index.
    Ignore(String),
}

/// Planner options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    /// Index hints.
    pub hints: Vec<IndexHint>,
    /// How the join order is searched.
    pub join_search: JoinSearch,
}

/// How the planner searches join orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JoinSearch {
    /// Exhaustive (dynamic programming) up to [`MAX_DP_TABLES`] tables, greedy beyond.
    #[default]
    Auto,
    /// Greedy at any size (to compare it with the exhaustive search, or to plan faster).
    Greedy,
}

impl PlanOptions {
    /// Force an index.
    #[must_use]
    pub fn force_index(mut self, name: impl Into<String>) -> Self {
        self.hints.push(IndexHint::Force(name.into()));
        self
    }

    /// Ignore an index.
    #[must_use]
    pub fn ignore_index(mut self, name: impl Into<String>) -> Self {
        self.hints.push(IndexHint::Ignore(name.into()));
        self
    }

    /// Search join orders this way.
    #[must_use]
    pub fn join_search(mut self, search: JoinSearch) -> Self {
        self.join_search = search;
        self
    }
}

/// A finished plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The root node.
    pub root: PlanNode,
}

impl Plan {
    /// Total estimated cost.
    pub fn cost(&self) -> f64 {
        self.root.cost
    }

    /// Estimated output rows.
    pub fn rows(&self) -> f64 {
        self.root.rows
    }
}

/// Parse and plan `sql` with default options.
pub fn plan_sql(catalog: &Catalog, sql: &str) -> Result<Plan> {
    plan_query(catalog, &parse::parse_query(sql)?, &PlanOptions::default())
}

/// Parse and plan `sql` with options (hints).
pub fn plan_sql_with(catalog: &Catalog, sql: &str, options: &PlanOptions) -> Result<Plan> {
    plan_query(catalog, &parse::parse_query(sql)?, options)
}

/// Plan a parsed query.
pub fn plan_query(catalog: &Catalog, query: &Query, options: &PlanOptions) -> Result<Plan> {
    subquery::plan_statement(catalog, query, options)
}

// ---------------------------------------------------------------------------------------
// Selectivity.

/// Position of a literal on a line, for interpolation between min and max.
fn position(l: &Literal) -> Option<(bool, f64)> {
    match l {
        Literal::Number(n) => Some((true, *n)),
        Literal::String(s) => {
            let mut v = 0.0;
            let mut scale = 1.0;
            for &b in s.as_bytes().iter().take(8) {
                scale /= 256.0;
                v += f64::from(b) * scale;
            }
            Some((false, v))
        }
        _ => None,
    }
}

/// Fraction of the `[min, max]` range below `v`, if the statistics allow it.
fn fraction_below(stats: &ColumnStats, v: &Literal) -> Option<f64> {
    let (kn, lo) = position(stats.min.as_ref()?)?;
    let (kx, hi) = position(stats.max.as_ref()?)?;
    let (kv, x) = position(v)?;
    if kn != kx || kn != kv {
        return None;
    }
    if hi <= lo {
        return Some(if x < lo { 0.0 } else { 1.0 });
    }
    Some(((x - lo) / (hi - lo)).clamp(0.0, 1.0))
}

/// A bound of an interval: value and inclusiveness.
type Bound = Option<(Literal, bool)>;

fn range_sel(stats: &ColumnStats, lo: &Bound, hi: &Bound) -> f64 {
    let non_null = 1.0 - stats.null_frac;
    let below_hi = match hi {
        None => Some(1.0),
        Some((v, _)) => fraction_below(stats, v),
    };
    let below_lo = match lo {
        None => Some(0.0),
        Some((v, _)) => fraction_below(stats, v),
    };
    match (below_lo, below_hi) {
        (Some(a), Some(b)) => {
            // At least one distinct value's worth when the interval is non-empty.
            let floor = if stats.distinct > 0 {
                1.0 / stats.distinct as f64
            } else {
                0.0
            };
            let s = (b - a).max(0.0);
            non_null * if b >= a { s.max(floor.min(1.0)) } else { 0.0 }
        }
        _ => {
            let bounds = usize::from(lo.is_some()) + usize::from(hi.is_some());
            non_null * DEFAULT_RANGE_SEL.powi(bounds as i32).max(0.005)
        }
    }
}

fn eq_sel(stats: &ColumnStats) -> f64 {
    let non_null = 1.0 - stats.null_frac;
    if stats.distinct > 0 {
        non_null / stats.distinct as f64
    } else {
        DEFAULT_EQ_SEL
    }
}

fn like_upper(prefix: &str) -> Literal {
    let mut s = prefix.to_string();
    s.push(char::MAX);
    Literal::String(s)
}

/// Statistics lookup for a column reference.
pub(crate) trait StatsLookup {
    fn stats(&self, col: &ColumnRef) -> ColumnStats;
}

/// Selectivity of one predicate.
pub(crate) fn selectivity(p: &Pred, st: &dyn StatsLookup) -> f64 {
    let s = match p {
        Pred::And(ps) => conjunction_selectivity(ps.iter(), st),
        Pred::Or(ps) => ps.iter().fold(0.0, |acc, q| {
            let b = selectivity(q, st);
            acc + b - acc * b
        }),
        Pred::Not(q) => 1.0 - selectivity(q, st),
        Pred::Cmp { col, op, value } => {
            let stats = st.stats(col);
            if *value == Literal::Null {
                0.0
            } else {
                match op {
                    CmpOp::Eq => eq_sel(&stats),
                    CmpOp::NotEq => (1.0 - stats.null_frac) - eq_sel(&stats),
                    CmpOp::Lt | CmpOp::LtEq => {
                        range_sel(&stats, &None, &Some((value.clone(), *op == CmpOp::LtEq)))
                    }
                    CmpOp::Gt | CmpOp::GtEq => {
                        range_sel(&stats, &Some((value.clone(), *op == CmpOp::GtEq)), &None)
                    }
                }
            }
        }
        Pred::ColCmp { left, op, right } => match op {
            CmpOp::Eq => {
                let a = st.stats(left).distinct;
                let b = st.stats(right).distinct;
                match a.max(b) {
                    0 => DEFAULT_EQ_SEL,
                    n => 1.0 / n as f64,
                }
            }
            CmpOp::NotEq => 1.0 - DEFAULT_EQ_SEL,
            _ => DEFAULT_RANGE_SEL,
        },
        Pred::In {
            col,
            values,
            negated,
        } => {
            let stats = st.stats(col);
            let s = (eq_sel(&stats) * values.len() as f64).min(1.0 - stats.null_frac);
            if *negated {
                (1.0 - stats.null_frac) - s
            } else {
                s
            }
        }
        Pred::Between {
            col,
            low,
            high,
            negated,
        } => {
            let stats = st.stats(col);
            let s = range_sel(
                &stats,
                &Some((low.clone(), true)),
                &Some((high.clone(), true)),
            );
            if *negated {
                (1.0 - stats.null_frac) - s
            } else {
                s
            }
        }
        Pred::LikePrefix {
            col,
            prefix,
            negated,
        } => {
            let stats = st.stats(col);
            let s = prefix_sel(&stats, prefix);
            if *negated {
                (1.0 - stats.null_frac) - s
            } else {
                s
            }
        }
        Pred::IsNull { col, negated } => {
            let nf = st.stats(col).null_frac;
            if *negated { 1.0 - nf } else { nf }
        }
        Pred::Like {
            col,
            pattern,
            negated,
            case_insensitive,
        } => {
            let stats = st.stats(col);
            let s = like_sel(&stats, pattern, *case_insensitive);
            if *negated {
                (1.0 - stats.null_frac) - s
            } else {
                s
            }
        }
        Pred::Expr { kind, negated, .. } => expr_sel(*kind, *negated),
        // The planner estimates subqueries itself (see `subquery`); elsewhere, a boolean.
        Pred::Subquery(_) => DEFAULT_BOOL_SEL,
    };
    s.clamp(0.0, 1.0)
}

/// Selectivity of `LIKE 'p%'`: the string range `[p, p+)`.
fn prefix_sel(stats: &ColumnStats, prefix: &str) -> f64 {
    let lo = Literal::String(prefix.to_string());
    match (
        fraction_below(stats, &lo),
        fraction_below(stats, &like_upper(prefix)),
    ) {
        (Some(a), Some(b)) => (1.0 - stats.null_frac) * (b - a).max(0.0),
        _ => DEFAULT_LIKE_SEL,
    }
}

/// Selectivity of `[I]LIKE pattern` (not negated), after PostgreSQL's `patternsel`: the fixed
/// prefix's range times [`DEFAULT_MATCH_SEL`] for the rest of the pattern.
fn like_sel(stats: &ColumnStats, pattern: &Literal, case_insensitive: bool) -> f64 {
    let Literal::String(p) = pattern else {
        return DEFAULT_MATCH_SEL;
    };
    if case_insensitive {
        return DEFAULT_MATCH_SEL;
    }
    match parse::like_fixed_prefix(p) {
        (_, true) => eq_sel(stats),
        ("", false) => DEFAULT_MATCH_SEL,
        (prefix, false) if p[prefix.len()..].chars().all(|c| c == '%') => prefix_sel(stats, prefix),
        (prefix, false) => prefix_sel(stats, prefix) * DEFAULT_MATCH_SEL,
    }
}

/// The default selectivity of a predicate over an opaque expression (see the module docs).
pub(crate) fn expr_sel(kind: ExprKind, negated: bool) -> f64 {
    let s = match kind {
        ExprKind::Eq => DEFAULT_EQ_SEL,
        ExprKind::Ineq => DEFAULT_INEQ_SEL,
        ExprKind::Range => DEFAULT_RANGE_INEQ_SEL,
        ExprKind::In(k) => (DEFAULT_EQ_SEL * k as f64).min(1.0),
        ExprKind::IsNull => DEFAULT_UNK_SEL,
        ExprKind::Match => DEFAULT_MATCH_SEL,
        ExprKind::Bool => DEFAULT_BOOL_SEL,
    };
    if negated { 1.0 - s } else { s }
}

/// The default selectivity a predicate is estimated with, when statistics cannot say: a
/// `LIKE` beyond its fixed prefix and predicates over opaque expressions. EXPLAIN shows it.
pub(crate) fn default_selectivity(p: &Pred) -> Option<f64> {
    match p {
        Pred::Like {
            pattern, negated, ..
        } => {
            if let Literal::String(text) = pattern
                && parse::like_fixed_prefix(text).1
            {
                return None;
            }
            Some(if *negated {
                1.0 - DEFAULT_MATCH_SEL
            } else {
                DEFAULT_MATCH_SEL
            })
        }
        Pred::Expr { kind, negated, .. } => Some(expr_sel(*kind, *negated)),
        _ => None,
    }
}

/// A predicate as EXPLAIN shows it: its text, with `(default selectivity s)` after each
/// part estimated by a default.
pub(crate) fn describe(p: &Pred) -> String {
    let join = |ps: &[Pred], sep: &str| {
        let parts: Vec<String> = ps.iter().map(describe).collect();
        format!("({})", parts.join(sep))
    };
    match p {
        Pred::And(ps) => join(ps, " AND "),
        Pred::Or(ps) => join(ps, " OR "),
        Pred::Not(q) => format!("NOT {}", describe(q)),
        _ => match default_selectivity(p) {
            Some(s) => format!("{p} (default selectivity {})", format_sel(s)),
            None => p.to_string(),
        },
    }
}

/// A selectivity with up to four decimals, trailing zeros removed (`0.005`, `0.3333`).
fn format_sel(s: f64) -> String {
    let text = format!("{s:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The index condition a `LIKE` can use: its fixed prefix as `LIKE 'prefix%'` (or an
/// equality when the pattern has no wildcard); the pattern itself stays a filter.
fn like_index_cond(p: &Pred) -> Option<Pred> {
    let Pred::Like {
        col,
        pattern: Literal::String(text),
        negated: false,
        case_insensitive: false,
    } = p
    else {
        return None;
    };
    match parse::like_fixed_prefix(text) {
        (_, true) => Some(Pred::Cmp {
            col: col.clone(),
            op: CmpOp::Eq,
            value: Literal::String(text.clone()),
        }),
        ("", false) => None,
        (prefix, false) => Some(Pred::LikePrefix {
            col: col.clone(),
            prefix: prefix.to_string(),
            negated: false,
        }),
    }
}

/// Selectivity of a conjunction: range conjuncts on the same column are merged into one
/// interval; everything else multiplies.
pub(crate) fn conjunction_selectivity<'a>(
    preds: impl Iterator<Item = &'a Pred>,
    st: &dyn StatsLookup,
) -> f64 {
    let mut ranges: Vec<(&ColumnRef, Bound, Bound)> = Vec::new();
    let mut s = 1.0;
    for p in preds {
        if let Pred::Cmp { col, op, value } = p
            && matches!(op, CmpOp::Lt | CmpOp::LtEq | CmpOp::Gt | CmpOp::GtEq)
            && *value != Literal::Null
        {
            let entry = match ranges.iter_mut().find(|(c, ..)| *c == col) {
                Some(e) => e,
                None => {
                    ranges.push((col, None, None));
                    ranges.last_mut().expect("just pushed")
                }
            };
            let bound = Some((value.clone(), matches!(op, CmpOp::LtEq | CmpOp::GtEq)));
            if matches!(op, CmpOp::Lt | CmpOp::LtEq) {
                entry.2 = tighter(entry.2.take(), bound, true);
            } else {
                entry.1 = tighter(entry.1.take(), bound, false);
            }
            continue;
        }
        s *= selectivity(p, st);
    }
    for (col, lo, hi) in &ranges {
        s *= range_sel(&st.stats(col), lo, hi);
    }
    s.clamp(0.0, 1.0)
}

fn lit_cmp(a: &Literal, b: &Literal) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Literal::Number(x), Literal::Number(y)) => x.partial_cmp(y),
        (Literal::String(x), Literal::String(y)) => Some(x.cmp(y)),
        (Literal::Bool(x), Literal::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The tighter of two bounds (`upper` says which direction tightens).
fn tighter(a: Bound, b: Bound, upper: bool) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => match lit_cmp(&a.0, &b.0) {
            Some(std::cmp::Ordering::Less) => Some(if upper { a } else { b }),
            Some(std::cmp::Ordering::Greater) => Some(if upper { b } else { a }),
            Some(std::cmp::Ordering::Equal) => Some((a.0, a.1 && b.1)),
            None => Some(a),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Implication (for partial indexes).

/// The interval a conjunct restricts a column to, if it is a range-like conjunct.
fn as_interval(p: &Pred) -> Option<(&str, Bound, Bound)> {
    match p {
        Pred::Cmp { col, op, value } if *value != Literal::Null => {
            let b = Some((value.clone(), true));
            let strict = Some((value.clone(), false));
            Some(match op {
                CmpOp::Eq => (&col.name, b.clone(), b),
                CmpOp::Lt => (&col.name, None, strict),
                CmpOp::LtEq => (&col.name, None, b),
                CmpOp::Gt => (&col.name, strict, None),
                CmpOp::GtEq => (&col.name, b, None),
                CmpOp::NotEq => return None,
            })
        }
        Pred::Between {
            col,
            low,
            high,
            negated: false,
        } => Some((
            &col.name,
            Some((low.clone(), true)),
            Some((high.clone(), true)),
        )),
        _ => None,
    }
}

/// Whether bound `inner` is at least as tight as `outer` (`upper` gives the direction).
fn bound_within(inner: &Bound, outer: &Bound, upper: bool) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((iv, ii)), Some((ov, oi))) => match lit_cmp(iv, ov) {
            Some(std::cmp::Ordering::Equal) => *oi || !*ii,
            Some(std::cmp::Ordering::Less) => upper,
            Some(std::cmp::Ordering::Greater) => !upper,
            None => false,
        },
    }
}

/// Whether the query conjuncts (of one table, qualifiers ignored) imply `target`.
///
/// A target conjunct is implied by an identical query conjunct, by a query range on the same
/// column that lies inside the target's range, by an `IN` list whose values all lie inside
/// it, and `col IS NOT NULL` by any comparison on `col`. A target `OR` is implied when one
/// of its branches is; a target `AND` when all parts are.
pub fn implies(query_conjuncts: &[Pred], target: &Pred) -> bool {
    let target = target.unqualified();
    let query: Vec<Pred> = query_conjuncts.iter().map(Pred::unqualified).collect();
    implied(&query, &target)
}

fn implied(query: &[Pred], target: &Pred) -> bool {
    match target {
        Pred::And(ps) => ps.iter().all(|p| implied(query, p)),
        Pred::Or(ps) if !query.contains(target) => ps.iter().any(|p| implied(query, p)),
        _ => query.iter().any(|q| conjunct_implies(q, target)),
    }
}

fn conjunct_implies(q: &Pred, t: &Pred) -> bool {
    if q == t {
        return true;
    }
    if let Pred::IsNull { col, negated: true } = t {
        let strict = match q {
            Pred::Cmp { value, .. } => *value != Literal::Null,
            Pred::In { negated, .. }
            | Pred::Between { negated, .. }
            | Pred::LikePrefix { negated, .. }
            | Pred::Like { negated, .. } => !negated,
            _ => false,
        };
        return strict && q.columns().iter().any(|c| c.name == col.name);
    }
    let Some((tc, tlo, thi)) = as_interval(t) else {
        return false;
    };
    if let Pred::In {
        col,
        values,
        negated: false,
    } = q
    {
        return col.name == tc
            && values.iter().all(|v| {
                let b = Some((v.clone(), true));
                bound_within(&b, &tlo, false) && bound_within(&b, &thi, true)
            });
    }
    match as_interval(q) {
        Some((qc, qlo, qhi)) => {
            qc == tc && bound_within(&qlo, &tlo, false) && bound_within(&qhi, &thi, true)
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------
// What an index could serve (for the index advisor).

/// The columns of one table that an index could serve in one query, as the planner sees
/// them (qualifiers and aliases resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexableColumns {
    /// The table's catalogue name.
    pub table: String,
    /// Columns restricted by an equality-like conjunct (`=`, `IN`, `IS NULL`).
    pub eq: Vec<String>,
    /// Columns restricted by a range-like conjunct (`<`, `BETWEEN`, `LIKE 'p%'`, ...).
    pub range: Vec<String>,
    /// Columns of join equalities with another table.
    pub join: Vec<String>,
    /// `ORDER BY` columns, in order, when every key is a column of this table.
    pub order: Vec<String>,
    /// Every column the query reads from the table.
    pub needed: Vec<String>,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// Per table of `query` (in `FROM` order), the columns an index could serve.
pub(crate) fn indexable_columns(catalog: &Catalog, query: &Query) -> Result<Vec<IndexableColumns>> {
    let options = PlanOptions::default();
    let memo = Memo::default();
    let rels = subquery::relations(catalog, query, &options, &memo)?;
    let planner = Planner::new(catalog, query, &rels, &options, &memo)?;
    let mut out: Vec<IndexableColumns> = planner
        .tables
        .iter()
        .enumerate()
        .map(|(t, table)| IndexableColumns {
            table: table.name.clone(),
            needed: planner.needed[t].clone(),
            ..IndexableColumns::default()
        })
        .collect();
    for (t, preds) in planner.local.iter().enumerate() {
        for p in preds.iter().chain(&planner.like_conds[t]) {
            let Some(col) = single_column(p) else {
                continue;
            };
            if is_eq_like(p) {
                push_unique(&mut out[t].eq, &col.name);
            } else if is_range_like(p) {
                push_unique(&mut out[t].range, &col.name);
            }
        }
    }
    for (a, ca, b, cb, _) in &planner.edges {
        push_unique(&mut out[*a].join, ca);
        push_unique(&mut out[*b].join, cb);
    }
    let mut order: Option<(usize, Vec<String>)> = None;
    for key in &query.order_by {
        let Scalar::Column(c) = &key.expr else {
            order = None;
            break;
        };
        match (planner.resolve(c)?, &mut order) {
            (Some((t, name)), None) => order = Some((t, vec![name])),
            (Some((t, name)), Some((ot, cols))) if t == *ot => cols.push(name),
            _ => {
                order = None;
                break;
            }
        }
    }
    if let Some((t, cols)) = order {
        out[t].order = cols;
    }
    // Derived tables have no indexes; their queries and the subqueries (as planned, with
    // their correlated columns as parameters) read catalogue tables an index could serve.
    let mut out: Vec<IndexableColumns> = out
        .into_iter()
        .enumerate()
        .filter(|(t, _)| planner.rels[*t].derived.is_none())
        .map(|(_, u)| u)
        .collect();
    for t in &query.tables {
        if let Some(d) = &t.derived {
            out.extend(indexable_columns(catalog, &d.query)?);
        }
    }
    for s in planner.sublinks.iter().chain(&planner.having_sublinks) {
        for q in &s.queries {
            out.extend(indexable_columns(catalog, q)?);
        }
    }
    for arm in &query.union {
        out.extend(indexable_columns(catalog, &arm.query)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The planner.

struct Planner<'a> {
    catalog: &'a Catalog,
    query: &'a Query,
    tables: Vec<&'a Table>,
    /// Per table: single-table conjuncts.
    local: Vec<Vec<Pred>>,
    /// Per table: index conditions derived from `LIKE` patterns with a fixed prefix (the
    /// patterns themselves stay in `local`, as filters).
    like_conds: Vec<Vec<Pred>>,
    /// Join equalities: (table a, column a, table b, column b, predicate).
    edges: Vec<(usize, String, usize, String, Pred)>,
    /// Multi-table conjuncts other than equalities: (table mask, predicate).
    residual: Vec<(u64, Pred)>,
    /// Per table: columns the query needs from it.
    needed: Vec<Vec<String>>,
    /// Output aliases.
    aliases: Vec<String>,
    forced: HashMap<String, String>,
    ignored: Vec<String>,
    /// Per table: selectivity of its single-table conjuncts.
    local_sel: Vec<f64>,
    /// Per join equality: its selectivity.
    edge_sel: Vec<f64>,
    /// Per residual conjunct: its selectivity.
    residual_sel: Vec<f64>,
    /// Per join equality: the best index probe into its first and its second table.
    probes: Vec<[Option<(&'a Index, Estimate)>; 2]>,
    /// Per table: its join equalities (positions in `edges`, in order), when there are more
    /// than [`INCIDENT_LISTS_FROM`] (fewer are scanned); else empty.
    incident: Vec<Vec<usize>>,
    /// Per table: the tables a join equality links it to (empty without equalities).
    adjacent: Vec<u64>,
    /// Per table: its relation (a derived table's plan, or none for a catalogue table).
    rels: &'a [Relation<'a>],
    /// Subqueries of `WHERE`, planned; each applies where its outer tables meet.
    sublinks: Vec<Sublink>,
    /// Subqueries of `HAVING`, planned; they filter the aggregate's output.
    having_sublinks: Vec<Sublink>,
    /// The options, for the subqueries.
    options: PlanOptions,
    /// The subqueries already planned for this statement.
    memo: &'a Memo,
    /// Per table: for the NULL-filled side of a `LEFT JOIN`, the tables that must be joined
    /// before it (those its `ON` reads); `None` for any other table.
    required: Vec<Option<u64>>,
    /// `WHERE` conjuncts over the NULL-filled side of a `LEFT JOIN`, applied above the joins.
    above: Vec<Pred>,
}

struct Lookup<'p, 'a> {
    planner: &'p Planner<'a>,
}

impl StatsLookup for Lookup<'_, '_> {
    fn stats(&self, col: &ColumnRef) -> ColumnStats {
        self.planner
            .resolve(col)
            .ok()
            .flatten()
            .and_then(|(t, name)| self.planner.tables[t].get_column(&name))
            .map(|c| c.stats.clone())
            .unwrap_or_default()
    }
}

/// The numbers of a plan node, without its description.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    rows: f64,
    startup: f64,
    cost: f64,
}

impl Estimate {
    fn of(node: &PlanNode) -> Self {
        Estimate {
            rows: node.rows,
            startup: node.startup_cost,
            cost: node.cost,
        }
    }
}

/// How two inputs are joined.
#[derive(Debug, Clone, Copy)]
enum JoinMethod {
    /// Hash join on every join equality.
    Hash,
    /// Nested loop probing the inner table through an index on this edge's column.
    IndexLoop(usize),
    /// Nested loop over the materialised inner input.
    Loop,
}

/// The best plan found for a subset of the tables: its estimate and, for two or more
/// tables, the table joined last and the step that joined it.
type Subset = (Estimate, Option<(usize, JoinStep)>);

/// A costed join of an outer input with one more table.
#[derive(Debug, Clone, Copy)]
struct JoinStep {
    method: JoinMethod,
    est: Estimate,
}

/// One way to read a table.
struct Access {
    node: PlanNode,
    /// Key columns whose order the output follows, after equality-bound leading columns.
    order: Vec<String>,
}

impl<'a> Planner<'a> {
    /// A planner for `query` over its relations (`rels`, one per table in `FROM`, from
    /// [`subquery::relations`]).
    fn new(
        catalog: &'a Catalog,
        query: &'a Query,
        rels: &'a [Relation<'_>],
        options: &PlanOptions,
        memo: &'a Memo,
    ) -> Result<Self> {
        if query.tables.len() > 63 {
            return Err(Error::unsupported("more than 63 tables", None));
        }
        let tables: Vec<&'a Table> = rels.iter().map(|r| &*r.table).collect();
        let aliases = query
            .select
            .iter()
            .filter_map(|s| match s {
                SelectItemModel::Expr { alias: Some(a), .. } => Some(a.clone()),
                _ => None,
            })
            .collect();
        let mut planner = Planner {
            catalog,
            query,
            tables,
            local: vec![Vec::new(); query.tables.len()],
            like_conds: vec![Vec::new(); query.tables.len()],
            edges: Vec::new(),
            residual: Vec::new(),
            needed: vec![Vec::new(); query.tables.len()],
            aliases,
            forced: HashMap::new(),
            ignored: Vec::new(),
            local_sel: Vec::new(),
            edge_sel: Vec::new(),
            residual_sel: Vec::new(),
            probes: Vec::new(),
            incident: Vec::new(),
            adjacent: Vec::new(),
            rels,
            sublinks: Vec::new(),
            having_sublinks: Vec::new(),
            options: options.clone(),
            memo,
            required: Vec::new(),
            above: Vec::new(),
        };
        planner.apply_hints(options)?;
        let subqueries = planner.classify()?;
        planner.prepare_sublinks(subqueries)?;
        planner.estimate_predicates();
        Ok(planner)
    }

    fn apply_hints(&mut self, options: &PlanOptions) -> Result<()> {
        for hint in &options.hints {
            let name = match hint {
                IndexHint::Force(n) | IndexHint::Ignore(n) => n,
            };
            let index = self
                .catalog
                .index(name)
                .ok_or_else(|| Error::Hint(format!("unknown index `{name}`")))?;
            match hint {
                IndexHint::Ignore(_) => self.ignored.push(name.clone()),
                IndexHint::Force(_) => {
                    if !subquery::reads_table(self.query, &index.table) {
                        return Err(Error::Hint(format!(
                            "index `{name}` is on table `{}`, which the query does not read",
                            index.table
                        )));
                    }
                    if let Some(previous) = self.forced.insert(index.table.clone(), name.clone()) {
                        return Err(Error::Hint(format!(
                            "two indexes forced on table `{}`: `{previous}` and `{name}`",
                            index.table
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Resolve a column to (table position, column name). `Ok(None)` for an output alias.
    fn resolve(&self, col: &ColumnRef) -> Result<Option<(usize, String)>> {
        match &col.qualifier {
            Some(q) => {
                let t = qualified_table(&self.query.tables, q)
                    .ok_or_else(|| Error::UnknownTable(q.clone()))?;
                if self.tables[t].get_column(&col.name).is_none() {
                    return Err(Error::UnknownColumn(col.to_string()));
                }
                Ok(Some((t, col.name.clone())))
            }
            None => {
                let mut found = None;
                for (i, t) in self.tables.iter().enumerate() {
                    if t.get_column(&col.name).is_some() {
                        if found.is_some() {
                            return Err(Error::AmbiguousColumn(col.name.clone()));
                        }
                        found = Some(i);
                    }
                }
                match found {
                    Some(t) => Ok(Some((t, col.name.clone()))),
                    None if self.aliases.contains(&col.name) => Ok(None),
                    None => Err(Error::UnknownColumn(col.name.clone())),
                }
            }
        }
    }

    fn need(&mut self, cols: Vec<&ColumnRef>) -> Result<u64> {
        let mut mask = 0u64;
        for c in cols {
            if let Some((t, name)) = self.resolve(c)? {
                mask |= 1 << t;
                if !self.needed[t].contains(&name) {
                    self.needed[t].push(name);
                }
            }
        }
        Ok(mask)
    }

    /// Sort the conjuncts into single-table filters, join equalities and other multi-table
    /// conjuncts; returns the subquery conjuncts of `WHERE` and `HAVING` (`true`), which
    /// [`Planner::prepare_sublinks`] plans.
    fn classify(&mut self) -> Result<Vec<(&'a Subquery, bool)>> {
        let query = self.query;
        let mut subqueries = Vec::new();
        for item in &query.select {
            match item {
                SelectItemModel::Wildcard => {
                    for (t, table) in self.tables.iter().enumerate() {
                        for c in &table.columns {
                            if !self.needed[t].contains(&c.name) {
                                self.needed[t].push(c.name.clone());
                            }
                        }
                    }
                }
                SelectItemModel::Expr { expr, .. } => {
                    self.need(expr.columns())?;
                }
            }
        }
        for g in &query.group_by {
            self.need(g.columns())?;
        }
        for o in &query.order_by {
            self.need(o.expr.columns())?;
        }
        for h in &query.having {
            self.need(h.columns())?;
            if let Pred::Subquery(sub) = h {
                subqueries.push((&**sub, true));
            }
        }
        let nullable = self.nullable_tables()?;
        for p in &query.predicates {
            if let Pred::Subquery(sub) = p {
                subqueries.push((&**sub, false));
                continue;
            }
            let mask = self.need(p.columns())?;
            if mask & nullable != 0 {
                // Over the NULL-filled rows of an outer join: after the joins.
                self.above.push(p.clone());
                continue;
            }
            self.place(p, mask)?;
        }
        for join in &query.left_joins {
            let b = 1u64 << join.table;
            for p in &join.on {
                let mask = self.need(p.columns())?;
                if nullable & b == 0 {
                    self.place(p, mask)?; // reduced to an inner join
                    continue;
                }
                let others = mask & !b;
                if others >> join.table != 0 {
                    return Err(Error::unsupported(
                        format!("LEFT JOIN condition `{p}` reading a table joined after it"),
                        None,
                    ));
                }
                if let Some(required) = &mut self.required[join.table] {
                    *required |= others;
                }
                // A condition that does not read the joined table still belongs to its join.
                self.place(p, mask | b)?;
            }
        }
        Ok(subqueries)
    }

    /// The tables on the NULL-filled side of a `LEFT JOIN` that stays an outer join (with
    /// `required` set to the tables its `ON` reads). A `WHERE` conjunct that is false or
    /// unknown when the table's columns are NULL (a comparison, `IN`, `LIKE`, `IS NOT NULL`)
    /// drops the NULL-filled rows, so that join is an inner join (PostgreSQL's
    /// `reduce_outer_joins`).
    fn nullable_tables(&mut self) -> Result<u64> {
        let mut nullable = 0u64;
        if !self.query.left_joins.is_empty() {
            self.required = vec![None; self.tables.len()];
        }
        for join in &self.query.left_joins {
            let t = join.table;
            let mut rejects = false;
            for p in &self.query.predicates {
                rejects |= self.rejects_nulls_of(p, t)?;
            }
            if !rejects {
                nullable |= 1 << t;
                self.required[t] = Some(0);
            }
        }
        Ok(nullable)
    }

    /// Whether `p` cannot hold when table `t`'s columns are NULL.
    fn rejects_nulls_of(&self, p: &Pred, t: usize) -> Result<bool> {
        Ok(match p {
            Pred::And(ps) => {
                let mut any = false;
                for q in ps {
                    any |= self.rejects_nulls_of(q, t)?;
                }
                any
            }
            Pred::Or(ps) => {
                let mut all = true;
                for q in ps {
                    all &= self.rejects_nulls_of(q, t)?;
                }
                all
            }
            Pred::IsNull { negated: false, .. }
            | Pred::Not(_)
            | Pred::Expr { .. }
            | Pred::Subquery(_) => false,
            other => {
                let mut reads = false;
                for c in other.columns() {
                    reads |= matches!(self.resolve(c)?, Some((u, _)) if u == t);
                }
                reads
            }
        })
    }

    /// File one conjunct over the tables of `mask`: a filter of one table, a join equality
    /// or another multi-table conjunct.
    fn place(&mut self, p: &Pred, mask: u64) -> Result<()> {
        if mask.count_ones() <= 1 {
            let t = mask.trailing_zeros() as usize;
            if mask == 0 {
                return Err(Error::unsupported(
                    format!("predicate without a table column: `{p}`"),
                    None,
                ));
            }
            if let Some(cond) = like_index_cond(p)
                && !self.local[t].contains(&cond)
                && !self.like_conds[t].contains(&cond)
            {
                self.like_conds[t].push(cond);
            }
            self.local[t].push(p.clone());
            return Ok(());
        }
        if let Pred::ColCmp {
            left,
            op: CmpOp::Eq,
            right,
        } = p
            && let (Some((a, ca)), Some((b, cb))) = (self.resolve(left)?, self.resolve(right)?)
        {
            self.edges.push((a, ca, b, cb, p.clone()));
            return Ok(());
        }
        self.residual.push((mask, p.clone()));
        Ok(())
    }

    /// For the NULL-filled side of a `LEFT JOIN`, the tables that must be joined before it.
    fn required(&self, t: usize) -> Option<u64> {
        self.required.get(t).copied().flatten()
    }

    /// Whether table `t` may join the tables of `outer_mask`: a `LEFT JOIN`'s table after
    /// the tables its `ON` reads, and never as the first table of an order.
    fn joinable(&self, outer_mask: u64, t: usize) -> bool {
        let first = outer_mask.trailing_zeros() as usize;
        let outer_alone_nullable = outer_mask.count_ones() == 1 && self.required(first).is_some();
        !outer_alone_nullable && self.required(t).is_none_or(|req| outer_mask & req == req)
    }

    /// `WHERE` conjuncts over a `LEFT JOIN`'s NULL-filled rows, as a filter above the joins.
    fn apply_above(&self, mut node: PlanNode) -> PlanNode {
        use cost::*;
        if self.above.is_empty() {
            return node;
        }
        let preds: Vec<&Pred> = self.above.iter().collect();
        let sel = conjunction_selectivity(preds.iter().copied(), &self.lookup());
        node.cost += node.rows * CPU_OPERATOR_COST * preds.len() as f64;
        node.rows = (node.rows * sel).max(1.0);
        node.details.extend(Self::filter_detail(&preds));
        node
    }

    /// Selectivities and index probes that do not depend on the join order, computed once.
    fn estimate_predicates(&mut self) {
        let n = self.tables.len();
        if !self.edges.is_empty() {
            self.adjacent = vec![0; n];
        }
        if self.edges.len() > INCIDENT_LISTS_FROM {
            self.incident = vec![Vec::new(); n];
        }
        for (e, (a, _, b, _, _)) in self.edges.iter().enumerate() {
            self.adjacent[*a] |= 1 << b;
            self.adjacent[*b] |= 1 << a;
            if let Some(list) = self.incident.get_mut(*a) {
                list.push(e);
            }
            if let Some(list) = self.incident.get_mut(*b) {
                list.push(e);
            }
        }
        let st = self.lookup();
        let local_sel = self
            .local
            .iter()
            .map(|preds| conjunction_selectivity(preds.iter(), &st))
            .collect();
        let edge_sel = self.edges.iter().map(|e| selectivity(&e.4, &st)).collect();
        let residual_sel = self
            .residual
            .iter()
            .map(|(_, p)| selectivity(p, &st))
            .collect();
        self.local_sel = local_sel;
        self.edge_sel = edge_sel;
        self.residual_sel = residual_sel;
        // A probe reads the table alone: not into a table whose subqueries must filter it.
        let probe = |t: usize, col: &str| {
            let filtered = self.sublinks.iter().any(|s| s.mask == 1 << t);
            (!filtered).then(|| self.probe_estimate(t, col)).flatten()
        };
        self.probes = (0..self.edges.len())
            .map(|e| {
                let (a, ca, b, cb, _) = &self.edges[e];
                [probe(*a, ca), probe(*b, cb)]
            })
            .collect();
    }

    fn lookup(&self) -> Lookup<'_, 'a> {
        Lookup { planner: self }
    }

    fn label(&self, t: usize) -> String {
        let r = &self.query.tables[t];
        if r.derived.is_some() {
            return r.binding().to_string();
        }
        match &r.alias {
            Some(a) => format!("{} {a}", r.name),
            None => r.name.clone(),
        }
    }

    fn index_allowed(&self, t: usize, index: &Index) -> bool {
        if self.ignored.contains(&index.name) {
            return false;
        }
        match self.forced.get(&self.tables[t].name) {
            Some(forced) => *forced == index.name,
            None => true,
        }
    }

    fn partial_ok(&self, t: usize, index: &Index) -> bool {
        index
            .predicate
            .as_ref()
            .is_none_or(|p| implies(&self.local[t], p))
    }

    fn filter_detail(preds: &[&Pred]) -> Option<String> {
        (!preds.is_empty()).then(|| {
            format!(
                "Filter: {}",
                preds
                    .iter()
                    .map(|p| describe(p))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        })
    }

    /// All ways to read table `t` on its own.
    fn access_paths(&self, t: usize) -> Result<Vec<Access>> {
        use cost::*;
        if let Some(plan) = &self.rels[t].derived {
            return Ok(vec![self.subquery_scan(t, plan)]);
        }
        let table = self.tables[t];
        let n = (table.rows as f64).max(1.0);
        let pages = (n / ROWS_PER_PAGE).ceil().max(1.0);
        let st = self.lookup();
        let local: Vec<&Pred> = self.local[t].iter().collect();
        let sel = conjunction_selectivity(local.iter().copied(), &st);
        let out_rows = (n * sel).max(1.0);
        let filter_cpu = n * CPU_OPERATOR_COST * local.len() as f64;
        let mut paths = Vec::new();

        let forced = self.forced.get(&table.name);
        if forced.is_none() {
            let mut node = PlanNode {
                kind: NodeKind::SeqScan,
                table: Some(self.label(t)),
                index: None,
                rows: out_rows,
                startup_cost: 0.0,
                cost: pages * SEQ_PAGE_COST + n * CPU_TUPLE_COST + filter_cpu,
                details: Vec::new(),
                children: Vec::new(),
            };
            node.details.extend(Self::filter_detail(&local));
            paths.push(Access {
                node,
                order: Vec::new(),
            });
        }

        for index in self.catalog.indexes_on(&table.name) {
            if !self.index_allowed(t, index) {
                continue;
            }
            if !self.partial_ok(t, index) {
                if forced == Some(&index.name) {
                    return Err(Error::Hint(format!(
                        "partial index `{}` cannot be used: the query does not imply its predicate `{}`",
                        index.name,
                        index
                            .predicate
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_default()
                    )));
                }
                continue;
            }
            // Index conditions: equality-like conjuncts on leading columns, then ranges on
            // the next one.
            let mut conds: Vec<&Pred> = Vec::new();
            let mut eq_prefix = 0;
            let mut order_kept = true;
            for col in &index.columns {
                let on_col: Vec<&Pred> = local
                    .iter()
                    .copied()
                    .chain(&self.like_conds[t])
                    .filter(|p| single_column(p).is_some_and(|c| c.name == *col))
                    .collect();
                let eqs: Vec<&Pred> = on_col.iter().copied().filter(|p| is_eq_like(p)).collect();
                if !eqs.is_empty() {
                    // An IN list or IS NULL scan visits several key ranges: no order.
                    order_kept &= eqs
                        .iter()
                        .all(|p| matches!(p, Pred::Cmp { op: CmpOp::Eq, .. }));
                    conds.extend(eqs);
                    eq_prefix += 1;
                    continue;
                }
                conds.extend(on_col.iter().copied().filter(|p| is_range_like(p)));
                break;
            }
            let entries = match &index.predicate {
                Some(p) => n * selectivity(p, &st),
                None => n,
            }
            .max(1.0);
            let matched = if conds.is_empty() {
                entries
            } else {
                (n * conjunction_selectivity(conds.iter().copied(), &st)).clamp(1.0, entries)
            };
            let covered = self.needed[t].iter().all(|c| index.columns.contains(c));
            let remaining: Vec<&Pred> = local
                .iter()
                .copied()
                .filter(|p| !conds.contains(p))
                .collect();
            let descent = RANDOM_PAGE_COST + entries.log2().max(1.0) * CPU_OPERATOR_COST;
            let index_part = matched * CPU_INDEX_TUPLE_COST
                + (matched / INDEX_ENTRIES_PER_PAGE).ceil() * SEQ_PAGE_COST
                + matched * CPU_OPERATOR_COST * remaining.len() as f64;
            let heap = matched * (RANDOM_PAGE_COST + CPU_TUPLE_COST);
            let (kind, total) = if covered {
                (NodeKind::IndexOnlyScan, descent + index_part)
            } else {
                (NodeKind::IndexScan, descent + index_part + heap)
            };
            let mut details = Vec::new();
            if !conds.is_empty() {
                details.push(format!(
                    "Index Cond: {}",
                    conds
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(" AND ")
                ));
            }
            details.extend(Self::filter_detail(&remaining));
            paths.push(Access {
                node: PlanNode {
                    kind,
                    table: Some(self.label(t)),
                    index: Some(index.name.clone()),
                    rows: out_rows.min(matched),
                    startup_cost: descent,
                    cost: total,
                    details,
                    children: Vec::new(),
                },
                order: if order_kept {
                    index.columns[eq_prefix.min(index.columns.len())..].to_vec()
                } else {
                    Vec::new()
                },
            });
        }
        if paths.is_empty() {
            return Err(Error::Hint(format!(
                "no usable access path for table `{}` under the given hints",
                table.name
            )));
        }
        Ok(paths)
    }

    /// The cheapest lookup of table `t` through an index whose first column is `col`, per
    /// outer row, if one is usable: the index and the per-probe estimate.
    fn probe_estimate(&self, t: usize, col: &str) -> Option<(&'a Index, Estimate)> {
        use cost::*;
        if self.rels[t].derived.is_some() {
            return None;
        }
        let table = self.tables[t];
        let n = (table.rows as f64).max(1.0);
        let n_local = self.local[t].len() as f64;
        let mut best: Option<(&'a Index, Estimate)> = None;
        for index in self.catalog.indexes_on(&table.name) {
            if index.columns.first().map(String::as_str) != Some(col)
                || !self.index_allowed(t, index)
                || !self.partial_ok(t, index)
            {
                continue;
            }
            let per_probe = if index.unique {
                1.0
            } else {
                (n * table
                    .get_column(col)
                    .map_or(DEFAULT_EQ_SEL, |c| eq_sel(&c.stats)))
                .max(1.0)
            };
            let covered = self.needed[t].iter().all(|c| index.columns.contains(c));
            let descent = RANDOM_PAGE_COST + n.log2().max(1.0) * CPU_OPERATOR_COST;
            let mut cost =
                descent + per_probe * (CPU_INDEX_TUPLE_COST + CPU_OPERATOR_COST * n_local);
            if !covered {
                cost += per_probe * (RANDOM_PAGE_COST + CPU_TUPLE_COST);
            }
            let est = Estimate {
                rows: (per_probe * self.local_sel[t]).max(1.0),
                startup: descent,
                cost,
            };
            if best.is_none_or(|(_, b)| est.cost < b.cost) {
                best = Some((index, est));
            }
        }
        best
    }

    /// The plan node of an index probe found by [`Planner::probe_estimate`].
    fn probe_node(&self, t: usize, index: &Index, est: Estimate, join_pred: &Pred) -> PlanNode {
        let covered = self.needed[t].iter().all(|c| index.columns.contains(c));
        let local: Vec<&Pred> = self.local[t].iter().collect();
        let mut details = vec![format!("Index Cond: {join_pred}")];
        details.extend(Self::filter_detail(&local));
        PlanNode {
            kind: if covered {
                NodeKind::IndexOnlyScan
            } else {
                NodeKind::IndexScan
            },
            table: Some(self.label(t)),
            index: Some(index.name.clone()),
            rows: est.rows,
            startup_cost: est.startup,
            cost: est.cost,
            details,
            children: Vec::new(),
        }
    }

    /// Join equalities between table `t` and the tables of `outer_mask` (positions in
    /// `self.edges`).
    fn edges_between(&self, outer_mask: u64, t: usize) -> impl Iterator<Item = usize> + '_ {
        // Few equalities are scanned; many go through each table's own list.
        let (scan, list): (usize, &[usize]) = match self.incident.get(t) {
            Some(list) => (0, list),
            None => (self.edges.len(), &[]),
        };
        (0..scan).chain(list.iter().copied()).filter(move |&e| {
            let (a, _, b, _, _) = &self.edges[e];
            (*a == t && outer_mask & (1 << b) != 0) || (*b == t && outer_mask & (1 << a) != 0)
        })
    }

    /// Whether a join equality links table `t` to the tables of `outer_mask`.
    fn connected(&self, outer_mask: u64, t: usize) -> bool {
        self.adjacent
            .get(t)
            .is_some_and(|adj| adj & outer_mask != 0)
    }

    /// Multi-table conjuncts (positions in `self.residual`) that become checkable when `t`
    /// joins `outer_mask`.
    fn residual_between(&self, outer_mask: u64, t: usize) -> impl Iterator<Item = usize> + '_ {
        let mask = outer_mask | (1 << t);
        self.residual
            .iter()
            .enumerate()
            .filter(move |(_, (m, _))| m & mask == *m && m & outer_mask != *m)
            .map(|(i, _)| i)
    }

    /// Costs joining `outer` (covering `outer_mask`) with table `t` read as `inner`, by
    /// every method, and returns the cheapest (the first on ties: hash, index loops in
    /// edge order, plain nested loop).
    fn join_step(&self, outer: Estimate, outer_mask: u64, t: usize, inner: Estimate) -> JoinStep {
        use cost::*;
        let mut sel = 1.0;
        let mut n_edges = 0usize;
        for e in self.edges_between(outer_mask, t) {
            sel *= self.edge_sel[e];
            n_edges += 1;
        }
        let mut n_residual = 0usize;
        for r in self.residual_between(outer_mask, t) {
            sel *= self.residual_sel[r];
            n_residual += 1;
        }
        let mut rows = (outer.rows * inner.rows * sel).max(1.0);
        if self.required(t).is_some() {
            // A left join keeps every outer row, with NULLs where nothing matched.
            rows = rows.max(outer.rows);
        }
        let residual_cpu = rows * CPU_OPERATOR_COST * n_residual as f64;
        let mut best: Option<JoinStep> = None;
        let mut consider = |step: JoinStep| {
            if best.is_none_or(|b| step.est.cost < b.est.cost) {
                best = Some(step);
            }
        };
        if n_edges > 0 {
            consider(JoinStep {
                method: JoinMethod::Hash,
                est: Estimate {
                    rows,
                    startup: inner.cost + inner.rows * HASH_BUILD_COST + outer.startup,
                    cost: outer.cost
                        + inner.cost
                        + inner.rows * HASH_BUILD_COST
                        + outer.rows * HASH_PROBE_COST
                        + rows * CPU_TUPLE_COST
                        + residual_cpu,
                },
            });
            for e in self.edges_between(outer_mask, t) {
                let Some((_, probe)) = self.probes[e][usize::from(self.edges[e].0 != t)] else {
                    continue;
                };
                consider(JoinStep {
                    method: JoinMethod::IndexLoop(e),
                    est: Estimate {
                        rows,
                        startup: outer.startup + probe.startup,
                        cost: outer.cost
                            + outer.rows * probe.cost
                            + rows * CPU_TUPLE_COST
                            + rows * CPU_OPERATOR_COST * (n_edges - 1) as f64
                            + residual_cpu,
                    },
                });
            }
        }
        consider(JoinStep {
            method: JoinMethod::Loop,
            est: Estimate {
                rows,
                startup: outer.startup + inner.cost,
                cost: outer.cost
                    + inner.cost
                    + outer.rows * inner.rows * CPU_OPERATOR_COST * (1 + n_edges) as f64
                    + rows * CPU_TUPLE_COST,
            },
        });
        best.expect("the nested loop is always possible")
    }

    /// The plan node of a join step chosen by [`Planner::join_step`].
    fn join_node(
        &self,
        outer: PlanNode,
        outer_mask: u64,
        t: usize,
        inner: PlanNode,
        step: JoinStep,
    ) -> PlanNode {
        let conds: Vec<String> = self
            .edges_between(outer_mask, t)
            .map(|e| self.edges[e].4.to_string())
            .collect();
        let residual: Vec<&Pred> = self
            .residual_between(outer_mask, t)
            .map(|r| &self.residual[r].1)
            .collect();
        let mut details = Vec::new();
        let left = self.required(t).is_some();
        let (kind, children) = match step.method {
            JoinMethod::Hash => {
                details.push(format!("Hash Cond: {}", conds.join(" AND ")));
                let kind = if left {
                    NodeKind::HashLeftJoin
                } else {
                    NodeKind::HashJoin
                };
                (kind, vec![outer, inner])
            }
            JoinMethod::IndexLoop(e) => {
                let (a, _, _, _, pred) = &self.edges[e];
                let (index, est) =
                    self.probes[e][usize::from(*a != t)].expect("an index loop has a probe");
                let mut probe = self.probe_node(t, index, est, pred);
                probe
                    .details
                    .push(format!("Loops: {:.0} (rows and cost per loop)", outer.rows));
                if conds.len() > 1 {
                    details.push(format!("Join Filter: {}", conds.join(" AND ")));
                }
                (NodeKind::NestedLoop, vec![outer, probe])
            }
            JoinMethod::Loop => {
                if !conds.is_empty() {
                    details.push(format!("Join Filter: {}", conds.join(" AND ")));
                }
                (NodeKind::NestedLoop, vec![outer, inner])
            }
        };
        details.extend(Self::filter_detail(&residual).map(|f| format!("Join {f}")));
        let kind = match kind {
            NodeKind::NestedLoop if left => NodeKind::NestedLoopLeftJoin,
            other => other,
        };
        PlanNode {
            kind,
            table: None,
            index: None,
            rows: step.est.rows,
            startup_cost: step.est.startup,
            cost: step.est.cost,
            details,
            children,
        }
    }

    fn best_unordered(paths: &[Access]) -> &PlanNode {
        &paths
            .iter()
            .min_by(|a, b| a.node.cost.total_cmp(&b.node.cost))
            .expect("non-empty")
            .node
    }

    /// The join tree: every left-deep order costed by dynamic programming over table subsets
    /// (estimates only; nodes are built once, for the winning tree), or the greedy search
    /// beyond [`MAX_DP_TABLES`] tables.
    fn join_tree(&self, singles: &[PlanNode]) -> PlanNode {
        let n = singles.len();
        if n == 1 {
            return singles[0].clone();
        }
        if n > MAX_DP_TABLES || self.options.join_search == JoinSearch::Greedy {
            return self.greedy_join_tree(singles);
        }
        let full = (1u64 << n) - 1;
        let estimates: Vec<Estimate> = singles.iter().map(Estimate::of).collect();
        let mut best: Vec<Option<Subset>> = vec![None; 1 << n];
        for (t, est) in estimates.iter().enumerate() {
            best[1 << t] = Some((*est, None));
        }
        for mask in 1..=full {
            if mask.count_ones() < 2 {
                continue;
            }
            let connected = |outer: u64, t: usize| self.connected(outer, t);
            // Prefer joins along an edge; fall back to cross products only if none exists.
            let any_connected = (0..n).any(|t| {
                mask & (1 << t) != 0
                    && best[(mask ^ (1 << t)) as usize].is_some()
                    && connected(mask ^ (1 << t), t)
                    && self.joinable(mask ^ (1 << t), t)
            });
            let mut choice: Option<Subset> = None;
            for (t, inner) in estimates.iter().enumerate() {
                if mask & (1 << t) == 0 {
                    continue;
                }
                let outer_mask = mask ^ (1 << t);
                let Some((outer, _)) = best[outer_mask as usize] else {
                    continue;
                };
                if !self.joinable(outer_mask, t) || (any_connected && !connected(outer_mask, t)) {
                    continue;
                }
                let step = self.join_step(outer, outer_mask, t, *inner);
                if choice.is_none_or(|(c, _)| step.est.cost < c.cost) {
                    choice = Some((step.est, Some((t, step))));
                }
            }
            best[mask as usize] = choice;
        }
        self.build_join_tree(full, &best, singles)
    }

    /// Greedy left-deep orders, then a local search: from each starting table, the next
    /// table is the one that keeps the intermediate result smallest, or (a second order)
    /// whose join step is cheapest, along an equality when one exists; the cheapest of these
    /// `2n` orders is then improved by moving one table to another position while that
    /// lowers the cost.
    fn greedy_join_tree(&self, singles: &[PlanNode]) -> PlanNode {
        let n = singles.len();
        let estimates: Vec<Estimate> = singles.iter().map(Estimate::of).collect();
        let mut best: Option<(f64, Vec<usize>)> = None;
        for start in (0..n).filter(|&t| self.required(t).is_none()) {
            for by_rows in [true, false] {
                let order = self.greedy_order(&estimates, start, by_rows);
                let cost = self.order_cost(&estimates, &order);
                if best.as_ref().is_none_or(|(b, _)| cost < *b) {
                    best = Some((cost, order));
                }
            }
        }
        let (mut cost, mut order) = best.expect("one order at least");
        // Local search: move one table to another position; repeat while it helps. A move
        // leaves the order before its first changed position as it was, so the joins up to
        // there are taken from `prefix` rather than costed again.
        for _ in 0..n {
            let mut improved = false;
            let mut prefix = self.prefixes(&estimates, &order);
            for from in 0..n {
                for to in 0..n {
                    if from == to {
                        continue;
                    }
                    let mut candidate = order.clone();
                    let t = candidate.remove(from);
                    candidate.insert(to, t);
                    let first = from.min(to);
                    let c = self.order_cost_from(&estimates, &candidate, first, prefix[first]);
                    if c < cost * (1.0 - 1e-12) {
                        (cost, order) = (c, candidate);
                        prefix = self.prefixes(&estimates, &order);
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        let mut node = singles[order[0]].clone();
        let mut mask = 1u64 << order[0];
        let mut acc = estimates[order[0]];
        for &t in &order[1..] {
            let step = self.join_step(acc, mask, t, estimates[t]);
            node = self.join_node(node, mask, t, singles[t].clone(), step);
            acc = step.est;
            mask |= 1 << t;
        }
        node
    }

    /// One greedy left-deep order from `start`: each step joins the table (along an equality
    /// when one exists) giving the fewest rows (`by_rows`) or the cheapest join.
    fn greedy_order(&self, estimates: &[Estimate], start: usize, by_rows: bool) -> Vec<usize> {
        let n = estimates.len();
        let mut mask = 1u64 << start;
        let mut acc = estimates[start];
        let mut order = vec![start];
        while order.len() < n {
            let connected = |t: usize| self.connected(mask, t);
            let open = |t: usize| mask & (1 << t) == 0 && self.joinable(mask, t);
            let any_connected = (0..n).any(|t| open(t) && connected(t));
            let key = |step: &JoinStep| {
                if by_rows {
                    (step.est.rows, step.est.cost)
                } else {
                    (step.est.cost, step.est.rows)
                }
            };
            let mut choice: Option<(usize, JoinStep)> = None;
            for (t, inner) in estimates.iter().enumerate() {
                if !open(t) || (any_connected && !connected(t)) {
                    continue;
                }
                let step = self.join_step(acc, mask, t, *inner);
                if choice.is_none_or(|(_, c)| key(&step) < key(&c)) {
                    choice = Some((t, step));
                }
            }
            let (t, step) = choice.expect("a table is left to join");
            acc = step.est;
            mask |= 1 << t;
            order.push(t);
        }
        order
    }

    /// The estimated cost of joining the tables in this left-deep order.
    fn order_cost(&self, estimates: &[Estimate], order: &[usize]) -> f64 {
        self.order_cost_from(estimates, order, 0, None)
    }

    /// The cost of `order`, its joins before position `first` given by `prefix` (the
    /// estimate and tables of the first `first` tables; `None` when `first` is 0).
    fn order_cost_from(
        &self,
        estimates: &[Estimate],
        order: &[usize],
        first: usize,
        prefix: Option<(Estimate, u64)>,
    ) -> f64 {
        let (mut acc, mut mask, rest) = match prefix {
            Some((acc, mask)) => (acc, mask, &order[first..]),
            None => (estimates[order[0]], 1u64 << order[0], &order[1..]),
        };
        if first == 0 && self.required(order[0]).is_some() {
            return f64::INFINITY;
        }
        for &t in rest {
            if !self.joinable(mask, t) {
                return f64::INFINITY;
            }
            acc = self.join_step(acc, mask, t, estimates[t]).est;
            mask |= 1 << t;
        }
        acc.cost
    }

    /// Per position `i` of `order`: the estimate and tables of its first `i` tables (`None`
    /// for none).
    fn prefixes(&self, estimates: &[Estimate], order: &[usize]) -> Vec<Option<(Estimate, u64)>> {
        let mut out = vec![None];
        let mut acc = estimates[order[0]];
        let mut mask = 1u64 << order[0];
        out.push(Some((acc, mask)));
        for &t in &order[1..order.len() - 1] {
            acc = self.join_step(acc, mask, t, estimates[t]).est;
            mask |= 1 << t;
            out.push(Some((acc, mask)));
        }
        out
    }

    fn build_join_tree(
        &self,
        mask: u64,
        best: &[Option<Subset>],
        singles: &[PlanNode],
    ) -> PlanNode {
        match best[mask as usize].expect("every subset on the path is planned") {
            (_, None) => singles[mask.trailing_zeros() as usize].clone(),
            (_, Some((t, step))) => {
                let outer_mask = mask ^ (1 << t);
                let outer = self.build_join_tree(outer_mask, best, singles);
                self.join_node(outer, outer_mask, t, singles[t].clone(), step)
            }
        }
    }

    fn aggregate(&self, input: PlanNode) -> Result<PlanNode> {
        use cost::*;
        if !self.query.is_aggregate() {
            return Ok(input);
        }
        let n_exprs = self.query.select.len() + self.query.group_by.len();
        let agg_cpu = input.rows * CPU_OPERATOR_COST * n_exprs.max(1) as f64;
        // HAVING: a filter over the groups, each conjunct at its default selectivity.
        let st = self.lookup();
        let having: Vec<&Pred> = self
            .query
            .having
            .iter()
            .filter(|p| !matches!(p, Pred::Subquery(_)))
            .collect();
        let having_sel = conjunction_selectivity(having.iter().copied(), &st);
        let having_detail = Self::filter_detail(&having);
        if self.query.group_by.is_empty() {
            let cost =
                input.cost + agg_cpu + CPU_TUPLE_COST + CPU_OPERATOR_COST * having.len() as f64;
            return Ok(PlanNode {
                kind: NodeKind::Aggregate,
                table: None,
                index: None,
                rows: 1.0,
                startup_cost: cost,
                cost,
                details: having_detail.into_iter().collect(),
                children: vec![input],
            });
        }
        let mut groups = 1.0;
        for g in &self.query.group_by {
            groups *= match g {
                Scalar::Column(c) => match self.resolve(c)? {
                    Some((t, name)) => match self.tables[t].get_column(&name) {
                        Some(col) if col.stats.distinct > 0 => col.stats.distinct as f64,
                        _ => DEFAULT_GROUPS,
                    },
                    None => DEFAULT_GROUPS,
                },
                Scalar::Literal(_) => 1.0,
                _ => DEFAULT_GROUPS,
            };
        }
        let groups = groups.min(input.rows).max(1.0);
        let cost = input.cost
            + agg_cpu
            + groups * CPU_TUPLE_COST
            + groups * CPU_OPERATOR_COST * having.len() as f64;
        let mut details = vec![format!(
            "Group Key: {}",
            self.query
                .group_by
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )];
        details.extend(having_detail);
        Ok(PlanNode {
            kind: NodeKind::HashAggregate,
            table: None,
            index: None,
            rows: (groups * having_sel).max(1.0),
            startup_cost: cost,
            cost,
            details,
            children: vec![input],
        })
    }

    fn sort_and_limit(&self, input: PlanNode, ordered: bool) -> PlanNode {
        sort_and_limit(self.query, input, ordered)
    }
}

/// `ORDER BY` (unless the input is `ordered`) and `LIMIT`/`OFFSET` of `q` over `input`.
fn sort_and_limit(q: &Query, input: PlanNode, ordered: bool) -> PlanNode {
    use cost::*;
    let wanted = q.limit.map(|l| (l + q.offset.unwrap_or(0)) as f64);
    let mut node = input;
    if !q.order_by.is_empty() && !ordered {
        let n = node.rows.max(1.0);
        let cmp = match wanted {
            Some(k) => n * (2.0 * k).max(2.0).log2(),
            None => n * n.max(2.0).log2(),
        };
        let cost = node.cost + cmp * SORT_COMPARISON_COST;
        let keys = q
            .order_by
            .iter()
            .map(|k| format!("{}{}", k.expr, if k.desc { " DESC" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ");
        let label = if wanted.is_some() { "top-N" } else { "full" };
        node = PlanNode {
            kind: NodeKind::Sort,
            table: None,
            index: None,
            rows: node.rows,
            startup_cost: cost,
            cost,
            details: vec![format!("Sort Key: {keys}"), format!("Method: {label}")],
            children: vec![node],
        };
    }
    if let Some(k) = wanted {
        let frac = (k / node.rows.max(1.0)).min(1.0);
        let rows = (node.rows.min(k) - q.offset.unwrap_or(0) as f64).max(0.0);
        let cost = node.startup_cost + (node.cost - node.startup_cost) * frac;
        let mut details = vec![format!("Limit: {}", q.limit.unwrap_or(0))];
        if let Some(o) = q.offset {
            details.push(format!("Offset: {o}"));
        }
        node = PlanNode {
            kind: NodeKind::Limit,
            table: None,
            index: None,
            rows,
            startup_cost: node.startup_cost,
            cost,
            details,
            children: vec![node],
        };
    }
    node
}

impl Planner<'_> {
    /// Whether an access path's order satisfies `ORDER BY` (single-table, no aggregation).
    fn provides_order(&self, t: usize, access: &Access) -> Result<bool> {
        let keys: &[OrderKey] = &self.query.order_by;
        if keys.is_empty() || access.order.len() < keys.len() {
            return Ok(false);
        }
        let desc = keys[0].desc;
        for (k, col) in keys.iter().zip(&access.order) {
            let Scalar::Column(c) = &k.expr else {
                return Ok(false);
            };
            if k.desc != desc || self.resolve(c)? != Some((t, col.clone())) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn plan(&self) -> Result<Plan> {
        let mut singles = Vec::new();
        let mut all_paths = Vec::new();
        for t in 0..self.tables.len() {
            let mut paths = self.access_paths(t)?;
            // Subqueries over this table alone filter it before any join.
            if self.sublinks.iter().any(|s| s.mask == 1 << t) {
                for access in &mut paths {
                    access.node = self.apply_sublinks(access.node.clone(), |mask| mask == 1 << t);
                }
            }
            singles.push(Self::best_unordered(&paths).clone());
            all_paths.push(paths);
        }
        // Subqueries over no table or several apply once their tables are joined.
        let above_joins = |mask: u64| mask.count_ones() != 1;
        let mut candidates = Vec::new();
        let filters_only = self.sublinks.iter().all(Sublink::keeps_order);
        if self.tables.len() == 1
            && !self.query.is_aggregate()
            && !self.query.order_by.is_empty()
            && filters_only
        {
            for access in &all_paths[0] {
                let ordered = self.provides_order(0, access)?;
                let node = self.apply_sublinks(access.node.clone(), above_joins);
                candidates.push(self.sort_and_limit(node, ordered));
            }
        } else {
            let joined = self.apply_above(self.join_tree(&singles));
            let joined = self.apply_sublinks(joined, above_joins);
            let mut aggregated = self.aggregate(joined)?;
            for s in &self.having_sublinks {
                aggregated = self.apply_sublink(aggregated, s);
            }
            candidates.push(self.sort_and_limit(aggregated, false));
        }
        let root = candidates
            .into_iter()
            .min_by(|a, b| a.cost.total_cmp(&b.cost))
            .expect("at least one candidate");
        Ok(Plan { root })
    }
}

/// The position of the table a column qualifier names: by its alias or name, or the
/// unaliased table whose schema-qualified name ends in it (`q` for `s.q`).
fn qualified_table(tables: &[parse::TableRef], q: &str) -> Option<usize> {
    tables.iter().position(|t| t.binding() == q).or_else(|| {
        tables
            .iter()
            .position(|t| t.alias.is_none() && t.name.ends_with(&format!(".{q}")))
    })
}

fn single_column(p: &Pred) -> Option<&ColumnRef> {
    match p {
        Pred::Cmp { col, .. }
        | Pred::In { col, .. }
        | Pred::Between { col, .. }
        | Pred::LikePrefix { col, .. }
        | Pred::IsNull { col, .. } => Some(col),
        _ => None,
    }
}

fn is_eq_like(p: &Pred) -> bool {
    matches!(
        p,
        Pred::Cmp { op: CmpOp::Eq, .. }
            | Pred::In { negated: false, .. }
            | Pred::IsNull { negated: false, .. }
    )
}

fn is_range_like(p: &Pred) -> bool {
    matches!(
        p,
        Pred::Cmp {
            op: CmpOp::Lt | CmpOp::LtEq | CmpOp::Gt | CmpOp::GtEq,
            ..
        } | Pred::Between { negated: false, .. }
            | Pred::LikePrefix { negated: false, .. }
    )
}
