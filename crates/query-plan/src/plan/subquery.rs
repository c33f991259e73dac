//! Subqueries, derived tables and `UNION`: each planned as a query of its own, then read,
//! joined, filtered or appended in the enclosing plan.
//!
//! * **Derived tables, `WITH` queries, views** are planned first; the enclosing query reads
//!   each through a [`NodeKind::SubqueryScan`] as a table whose row count is the plan's and
//!   whose columns carry the statistics of the columns they project (distinct counts capped
//!   at the row count; computed columns have none). A `WITH` query or view is inlined at
//!   every reference. Filters on its columns stay above the scan (no push-down).
//! * **`EXISTS` / `IN (SELECT ...)`** are semi-joins, **`NOT EXISTS`** an anti-join. The
//!   subquery's conjuncts that read the outer query are taken out of it: equalities with
//!   an outer column become join keys (with the `IN` column and the subquery's output),
//!   other comparisons a join filter. Two methods are costed and the cheaper kept: a hash
//!   join over the subquery planned once without those conjuncts, and a nested loop that runs
//!   the subquery per outer row with them as parameters (`inner = ?`, which an index can
//!   serve). The share of outer rows with a match is PostgreSQL's `eqjoinsel_semi` without
//!   MCV lists: `nd2 / nd1` when the subquery has fewer distinct keys (`nd2`) than the outer
//!   column (`nd1`, [`DEFAULT_NUM_DISTINCT`] when unknown), else all; times the join filter's
//!   selectivity; an anti-join keeps the rest. A subquery that aggregates is only run per
//!   row when correlated (its groups depend on the outer row).
//! * **`NOT IN (SELECT ...)`** is not an anti-join (a `NULL` in the subquery makes it
//!   unknown): it is a filter over a hashed subplan, as PostgreSQL plans it.
//! * **`x op (SELECT ...)`** is a filter: an [`NodeKind::InitPlan`] computed once when the
//!   subquery is uncorrelated, else a [`NodeKind::SubPlan`] run per row of the node it
//!   filters, its cost per row added. Its selectivity is that of `x op ?` (an unknown
//!   value: `1 / distinct` for `=`, the default range selectivity otherwise).
//! * Where a subquery applies: on the scan of its one outer table (before any join), above
//!   the joins when it reads several outer tables or none, on the aggregate in `HAVING`.
//!   A table filtered this way is not probed through an index by a join.
//! * **`UNION ALL`** is an [`NodeKind::Append`] of the arms' plans; **`UNION`** puts a hash
//!   aggregate on all columns above the arms so far, keeping every row in the estimate
//!   (PostgreSQL's assumption too: the arms share no rows). `ORDER BY` and `LIMIT` apply
//!   to the result.

use std::borrow::Cow;
use std::cell::RefCell;

use super::{Access, conjunction_selectivity, qualified_table};
use super::{
    IndexHint, NodeKind, Plan, PlanNode, PlanOptions, Planner, StatsLookup, cost, expr_sel,
    selectivity, sort_and_limit,
};
use crate::catalog::{Catalog, Column, ColumnStats, Table};
use crate::error::{Error, Result};
use crate::parse::{
    AggFunc, CmpOp, ColumnRef, DerivedKind, ExprKind, Literal, Pred, Query, Scalar,
    SelectItemModel, Subquery, SubqueryTest, TableRef,
};

/// Distinct values assumed for a column without statistics (PostgreSQL's
/// `DEFAULT_NUM_DISTINCT`).
pub const DEFAULT_NUM_DISTINCT: f64 = 200.0;

/// One relation of a query's `FROM`: a catalogue table, or a derived table with its plan.
pub(super) struct Relation<'c> {
    pub(super) table: Cow<'c, Table>,
    pub(super) derived: Option<Plan>,
}

/// A planned query and its output columns, for the query that reads it.
#[derive(Clone)]
pub(super) struct Planned {
    pub(super) plan: Plan,
    pub(super) columns: Vec<Column>,
}

/// The subqueries planned so far while planning one statement, by query: a subquery met
/// again (the subqueries of a subquery planned both once and per row) is planned once.
/// Planning depends only on the catalogue, the query and the options, which one statement
/// shares.
#[derive(Default)]
pub(super) struct Memo(RefCell<Vec<(Query, Planned)>>);

impl Memo {
    fn get_or_plan(
        &self,
        query: &Query,
        plan: impl FnOnce() -> Result<Planned>,
    ) -> Result<Planned> {
        if let Some((_, planned)) = self.0.borrow().iter().find(|(q, _)| q == query) {
            return Ok(planned.clone());
        }
        let planned = plan()?;
        self.0.borrow_mut().push((query.clone(), planned.clone()));
        Ok(planned)
    }
}

/// Plan a statement.
pub(super) fn plan_statement(
    catalog: &Catalog,
    query: &Query,
    options: &PlanOptions,
) -> Result<Plan> {
    let memo = Memo::default();
    if !query.union.is_empty() {
        return Ok(plan_union(catalog, query, options, &memo)?.plan);
    }
    let rels = relations(catalog, query, options, &memo)?;
    Planner::new(catalog, query, &rels, options, &memo)?.plan()
}

/// Plan a query inside the statement (a `UNION` or a SELECT with its subqueries), with its
/// output columns.
fn plan_relation(
    catalog: &Catalog,
    query: &Query,
    options: &PlanOptions,
    memo: &Memo,
) -> Result<Planned> {
    memo.get_or_plan(query, || {
        if !query.union.is_empty() {
            return plan_union(catalog, query, options, memo);
        }
        let rels = relations(catalog, query, options, memo)?;
        plan_over(catalog, query, &rels, options, memo)
    })
}

fn plan_over(
    catalog: &Catalog,
    query: &Query,
    rels: &[Relation<'_>],
    options: &PlanOptions,
    memo: &Memo,
) -> Result<Planned> {
    let planner = Planner::new(catalog, query, rels, options, memo)?;
    let plan = planner.plan()?;
    let columns = planner.output_columns(plan.rows())?;
    Ok(Planned { plan, columns })
}

/// The relations of `query`'s `FROM`, derived tables planned.
pub(super) fn relations<'c>(
    catalog: &'c Catalog,
    query: &Query,
    options: &PlanOptions,
    memo: &Memo,
) -> Result<Vec<Relation<'c>>> {
    query
        .tables
        .iter()
        .map(|t| {
            let Some(derived) = &t.derived else {
                let table = catalog
                    .table(&t.name)
                    .ok_or_else(|| Error::UnknownTable(t.name.clone()))?;
                return Ok(Relation {
                    table: Cow::Borrowed(table),
                    derived: None,
                });
            };
            let options = child_options(catalog, options, &derived.query);
            let planned = plan_relation(catalog, &derived.query, &options, memo)?;
            let mut columns = planned.columns;
            if derived.columns.len() > columns.len() {
                return Err(Error::unsupported(
                    format!(
                        "column list of {} names for `{}`, which has {} columns",
                        derived.columns.len(),
                        t.binding(),
                        columns.len()
                    ),
                    None,
                ));
            }
            for (column, name) in columns.iter_mut().zip(&derived.columns) {
                column.name = name.clone();
            }
            Ok(Relation {
                table: Cow::Owned(Table {
                    name: t.binding().to_string(),
                    rows: planned.plan.rows().round().max(1.0) as u64,
                    columns,
                }),
                derived: Some(planned.plan),
            })
        })
        .collect()
}

/// Whether `query` reads the catalogue table `name` anywhere (its subqueries included).
pub(super) fn reads_table(query: &Query, name: &str) -> bool {
    query.tables.iter().any(|t| match &t.derived {
        None => t.name == name,
        Some(d) => reads_table(&d.query, name),
    }) || query
        .predicates
        .iter()
        .chain(&query.having)
        .any(|p| matches!(p, Pred::Subquery(s) if reads_table(&s.query, name)))
        || query.union.iter().any(|a| reads_table(&a.query, name))
}

/// The hints that apply to a subquery: every ignored index, and the forced indexes of the
/// tables it reads.
fn child_options(catalog: &Catalog, options: &PlanOptions, query: &Query) -> PlanOptions {
    PlanOptions {
        join_search: options.join_search,
        hints: options
            .hints
            .iter()
            .filter(|h| match h {
                IndexHint::Ignore(_) => true,
                IndexHint::Force(name) => catalog
                    .index(name)
                    .is_some_and(|i| reads_table(query, &i.table)),
            })
            .cloned()
            .collect(),
    }
}

fn plan_union(
    catalog: &Catalog,
    query: &Query,
    options: &PlanOptions,
    memo: &Memo,
) -> Result<Planned> {
    let first = Query {
        union: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        ..query.clone()
    };
    let head = plan_relation(catalog, &first, options, memo)?;
    let width = head.columns.len();
    let mut inputs = vec![head.plan.root];
    for arm in &query.union {
        let planned = plan_relation(catalog, &arm.query, options, memo)?;
        if planned.columns.len() != width {
            return Err(Error::unsupported(
                format!(
                    "UNION of SELECTs with {width} and {} columns",
                    planned.columns.len()
                ),
                None,
            ));
        }
        inputs.push(planned.plan.root);
        if !arm.all {
            let all = append(std::mem::take(&mut inputs));
            inputs.push(distinct(all, &head.columns));
        }
    }
    let combined = if inputs.len() == 1 {
        inputs.pop().expect("one input")
    } else {
        append(inputs)
    };
    let root = sort_and_limit(query, combined, false);
    let rows = root.rows;
    let columns = head
        .columns
        .into_iter()
        .map(|c| Column {
            stats: capped(c.stats, rows),
            ..c
        })
        .collect();
    Ok(Planned {
        plan: Plan { root },
        columns,
    })
}

fn append(inputs: Vec<PlanNode>) -> PlanNode {
    let rows: f64 = inputs.iter().map(|n| n.rows).sum();
    PlanNode {
        kind: NodeKind::Append,
        table: None,
        index: None,
        rows,
        startup_cost: inputs.first().map_or(0.0, |n| n.startup_cost),
        cost: inputs.iter().map(|n| n.cost).sum::<f64>() + rows * cost::CPU_TUPLE_COST,
        details: Vec::new(),
        children: inputs,
    }
}

/// `UNION`'s duplicate removal: a hash aggregate on every column, keeping every row in the
/// estimate.
fn distinct(input: PlanNode, columns: &[Column]) -> PlanNode {
    use cost::*;
    let cost = input.cost
        + input.rows * CPU_OPERATOR_COST * columns.len().max(1) as f64
        + input.rows * CPU_TUPLE_COST;
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    PlanNode {
        kind: NodeKind::HashAggregate,
        table: None,
        index: None,
        rows: input.rows,
        startup_cost: cost,
        cost,
        details: vec![format!("Group Key: {} (UNION)", names.join(", "))],
        children: vec![input],
    }
}

fn capped(mut stats: ColumnStats, rows: f64) -> ColumnStats {
    let rows = rows.round().max(1.0) as u64;
    stats.distinct = stats.distinct.min(rows);
    stats
}

/// The name PostgreSQL gives an unnamed output column.
fn output_name(expr: &Scalar) -> String {
    match expr {
        Scalar::Column(c) => c.name.clone(),
        Scalar::Agg { func, .. } => match func {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
        .to_string(),
        _ => "?column?".to_string(),
    }
}

/// The tables of a subquery's own `FROM`, to tell its columns from the outer query's.
struct Scope<'s> {
    refs: &'s [TableRef],
    tables: Vec<&'s Table>,
}

impl Scope<'_> {
    fn has(&self, col: &ColumnRef) -> bool {
        match &col.qualifier {
            Some(q) => qualified_table(self.refs, q).is_some(),
            None => self
                .tables
                .iter()
                .any(|t| t.get_column(&col.name).is_some()),
        }
    }
}

/// How a planned subquery enters the enclosing plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SublinkKind {
    /// `EXISTS`, `IN`: a semi-join.
    Semi,
    /// `NOT EXISTS`: an anti-join.
    Anti,
    /// A comparison with its value, `NOT IN`, an uncorrelated `EXISTS`: a filter.
    Filter,
}

/// A subquery of `WHERE` or `HAVING`, planned and decorrelated.
pub(super) struct Sublink {
    /// Its number among the query's subqueries, as EXPLAIN names it (`SubPlan 2`).
    number: usize,
    kind: SublinkKind,
    /// The outer tables it reads (bit per table position).
    pub(super) mask: u64,
    /// The subquery planned once: the build side of a hash join, a hashed `NOT IN`, an
    /// InitPlan.
    once: Option<Plan>,
    /// The subquery planned for one outer row, its correlated columns as parameters.
    per_row: Option<Plan>,
    /// A hashed subplan (`NOT IN`) rather than an InitPlan.
    hashed: bool,
    /// Join keys as EXPLAIN shows them (`outer = inner`).
    keys: Vec<String>,
    /// Correlated comparisons other than equalities.
    join_filter: Vec<String>,
    /// The outer columns passed in per row.
    params: Vec<String>,
    /// The share of input rows that pass.
    sel: f64,
    /// A filter's text, the subquery named by its plan (`l_quantity < (SubPlan 1)`).
    text: String,
    /// The subquery as planned (decorrelated, parameterised), for the index advisor.
    pub(super) queries: Vec<Query>,
}

impl Sublink {
    /// Whether applying it keeps its input's row order (a filter does; a join may not).
    pub(super) fn keeps_order(&self) -> bool {
        self.kind == SublinkKind::Filter
    }
}

/// A subquery's conjuncts split by whether they read the outer query.
#[derive(Default)]
struct Correlation {
    /// Conjuncts over the subquery's own tables only.
    own: Vec<Pred>,
    /// Per correlated conjunct, `inner op ?` for the per-row plan.
    params: Vec<Pred>,
    /// Correlated equalities: (outer column, inner column).
    keys: Vec<(ColumnRef, ColumnRef)>,
    /// Correlated comparisons other than equalities.
    filters: Vec<Pred>,
    /// Every outer column read.
    outer: Vec<ColumnRef>,
}

fn correlation(child: &Query, scope: &Scope<'_>) -> Result<Correlation> {
    let mut c = Correlation::default();
    for p in &child.predicates {
        let outer: Vec<&ColumnRef> = match p {
            // A nested subquery is planned with the subquery that holds it.
            Pred::Subquery(_) => Vec::new(),
            _ => p
                .columns()
                .into_iter()
                .filter(|col| !scope.has(col))
                .collect(),
        };
        if outer.is_empty() {
            c.own.push(p.clone());
            continue;
        }
        let refuse = || {
            Error::unsupported(
                format!(
                    "correlated condition `{p}` (a subquery may compare its columns with the outer query's, column to column)"
                ),
                None,
            )
        };
        let Pred::ColCmp { left, op, right } = p else {
            return Err(refuse());
        };
        if outer.len() != 1 {
            return Err(refuse());
        }
        let (inner, op, outer_col) = if scope.has(left) {
            (left, *op, right)
        } else {
            (right, op.flip(), left)
        };
        c.outer.push(outer_col.clone());
        c.params.push(Pred::Cmp {
            col: inner.clone(),
            op,
            value: Literal::Param,
        });
        if op == CmpOp::Eq {
            c.keys.push((outer_col.clone(), inner.clone()));
        } else {
            c.filters.push(p.clone());
        }
    }
    Ok(c)
}

/// The one expression a scalar or `IN` subquery returns.
fn single_output(child: &Query, what: &str) -> Result<Scalar> {
    match child.select.as_slice() {
        [SelectItemModel::Expr { expr, .. }] => Ok(expr.clone()),
        _ => Err(Error::unsupported(
            format!("{what} subquery that does not return exactly one column"),
            None,
        )),
    }
}

fn item(expr: Scalar) -> SelectItemModel {
    SelectItemModel::Expr { expr, alias: None }
}

impl Planner<'_> {
    /// Plan the subqueries [`Planner::classify`] found (`true`: in `HAVING`).
    pub(super) fn prepare_sublinks(&mut self, subqueries: Vec<(&Subquery, bool)>) -> Result<()> {
        for (i, (sub, having)) in subqueries.into_iter().enumerate() {
            let sublink = self.sublink(sub, i + 1)?;
            if having {
                self.having_sublinks.push(sublink);
            } else {
                self.sublinks.push(sublink);
            }
        }
        Ok(())
    }

    fn plan_child(&self, query: &Query, rels: &[Relation<'_>]) -> Result<Planned> {
        let options = child_options(self.catalog, &self.options, query);
        if query.union.is_empty() {
            self.memo.get_or_plan(query, || {
                plan_over(self.catalog, query, rels, &options, self.memo)
            })
        } else {
            plan_relation(self.catalog, query, &options, self.memo)
        }
    }

    fn sublink(&mut self, sub: &Subquery, number: usize) -> Result<Sublink> {
        let child = &sub.query;
        let options = child_options(self.catalog, &self.options, child);
        let rels = relations(self.catalog, child, &options, self.memo)?;
        let scope = Scope {
            refs: &child.tables,
            tables: rels.iter().map(|r| &*r.table).collect(),
        };
        let corr = correlation(child, &scope)?;
        if !child.union.is_empty() && !corr.outer.is_empty() {
            return Err(Error::unsupported("correlated UNION subquery", None));
        }
        let mut mask = self.need(corr.outer.iter().collect())?;
        if let Some(left) = sub.test.left() {
            mask |= self.need(left.columns())?;
        }
        let correlated = !corr.outer.is_empty();
        let aggregate = child.is_aggregate();
        let params: Vec<String> = corr.outer.iter().map(ToString::to_string).collect();
        let not = if sub.negated { "NOT " } else { "" };
        let mut sublink = Sublink {
            number,
            kind: SublinkKind::Filter,
            mask,
            once: None,
            per_row: None,
            hashed: false,
            keys: Vec::new(),
            join_filter: corr.filters.iter().map(ToString::to_string).collect(),
            params,
            sel: 1.0,
            text: String::new(),
            queries: Vec::new(),
        };
        // The subquery with its correlated conjuncts as parameters, run per outer row.
        let mut queries = Vec::new();
        let mut per_row =
            |extra: Vec<Pred>, select: Option<Vec<SelectItemModel>>| -> Result<Plan> {
                let mut q = child.clone();
                q.predicates = corr
                    .own
                    .iter()
                    .cloned()
                    .chain(corr.params.clone())
                    .collect();
                q.predicates.extend(extra);
                if let Some(select) = select {
                    q.select = select;
                }
                let plan = self.plan_child(&q, &rels)?.plan;
                queries.push(q);
                Ok(plan)
            };
        match &sub.test {
            SubqueryTest::Compare { left, op } => {
                single_output(child, "scalar")?;
                let sel = self.compare_sel(left, *op);
                sublink.sel = if sub.negated { 1.0 - sel } else { sel };
                let name = if correlated {
                    sublink.per_row = Some(per_row(Vec::new(), None)?);
                    "SubPlan"
                } else {
                    sublink.once = Some(self.plan_child(child, &rels)?.plan);
                    sublink.queries.push(child.clone());
                    "InitPlan"
                };
                sublink.text = format!("{not}{left} {} ({name} {number})", op.symbol());
            }
            SubqueryTest::In(left) if sub.negated => {
                // NOT IN: a filter over the subquery's hashed values (or per row when
                // correlated); the rows kept are those without a match.
                single_output(child, "IN")?;
                let name = if correlated {
                    sublink.per_row = Some(per_row(Vec::new(), None)?);
                    "SubPlan"
                } else {
                    sublink.hashed = true;
                    "hashed SubPlan"
                };
                let planned = self.plan_child(child, &rels)?;
                let matched =
                    self.semi_sel(&[(Some(left), &planned.columns[0])], planned.plan.rows());
                sublink.sel = 1.0 - matched;
                if !correlated {
                    sublink.once = Some(planned.plan);
                    sublink.queries.push(child.clone());
                }
                sublink.text = format!("NOT ({left} IN ({name} {number}))");
            }
            SubqueryTest::Exists if !correlated => {
                // Either every row passes or none: a one-time filter, estimated as passing.
                let mut q = child.clone();
                q.select = vec![item(Scalar::Literal(Literal::Number(1.0)))];
                sublink.once = Some(self.plan_child(&q, &rels)?.plan);
                sublink.queries.push(q);
                sublink.text = format!("{not}EXISTS (InitPlan {number})");
            }
            SubqueryTest::Exists | SubqueryTest::In(_) => {
                sublink.kind = if sub.negated {
                    SublinkKind::Anti
                } else {
                    SublinkKind::Semi
                };
                // Keys: the correlated equalities, then the IN column with the output.
                let mut outer_keys: Vec<Option<&Scalar>> = Vec::new();
                let mut select: Vec<SelectItemModel> = Vec::new();
                let outer_cols: Vec<Scalar> = corr
                    .keys
                    .iter()
                    .map(|(outer, _)| Scalar::Column(outer.clone()))
                    .collect();
                for ((outer, inner), outer_scalar) in corr.keys.iter().zip(&outer_cols) {
                    sublink.keys.push(format!("{outer} = {inner}"));
                    outer_keys.push(Some(outer_scalar));
                    select.push(item(Scalar::Column(inner.clone())));
                }
                let mut in_param = Vec::new();
                let mut in_param_ok = true;
                if let SubqueryTest::In(left) = &sub.test {
                    let inner = single_output(child, "IN")?;
                    sublink.keys.push(format!("{left} = {inner}"));
                    outer_keys.push(Some(left));
                    match &inner {
                        Scalar::Column(c) if !aggregate || child.group_by.contains(&inner) => {
                            in_param.push(Pred::Cmp {
                                col: c.clone(),
                                op: CmpOp::Eq,
                                value: Literal::Param,
                            });
                        }
                        _ => in_param_ok = false,
                    }
                    select.push(item(inner));
                }
                // The inner columns of the join filter, which the join reads too.
                for p in &corr.filters {
                    for col in p.columns() {
                        let column = Scalar::Column(col.clone());
                        if scope.has(col) && !select.iter().any(|s| *s == item(column.clone())) {
                            select.push(item(column));
                        }
                    }
                }
                if select.is_empty() {
                    select.push(item(Scalar::Literal(Literal::Number(1.0))));
                }
                // Planned once without the correlated conjuncts: the groups of an aggregate
                // would change, so only an uncorrelated aggregate is planned so.
                let mut once_rows = None;
                let regroups = aggregate && correlated;
                if !sublink.keys.is_empty() && !regroups {
                    let mut q = child.clone();
                    q.predicates = corr.own.clone();
                    q.select = select.clone();
                    let planned = self.plan_child(&q, &rels)?;
                    let pairs: Vec<(Option<&Scalar>, &Column)> =
                        outer_keys.iter().copied().zip(&planned.columns).collect();
                    once_rows = Some(self.semi_sel(&pairs, planned.plan.rows()));
                    sublink.once = Some(planned.plan);
                    sublink.queries.push(q);
                }
                if in_param_ok && (correlated || !in_param.is_empty()) {
                    let plan = per_row(in_param, Some(select))?;
                    sublink.per_row = Some(plan);
                }
                let matched = match once_rows {
                    Some(s) => s,
                    // Without a plan of the whole subquery: the per-row plan's chance of a
                    // match, one row or more expected meaning all.
                    None => sublink.per_row.as_ref().map_or(1.0, |p| p.rows().min(1.0)),
                };
                let filter_sel: f64 = corr
                    .filters
                    .iter()
                    .map(|p| selectivity(p, &self.lookup()))
                    .product();
                let matched = (matched * filter_sel).clamp(0.0, 1.0);
                sublink.sel = if sub.negated { 1.0 - matched } else { matched };
                if sublink.once.is_none() && sublink.per_row.is_none() {
                    return Err(Error::unsupported(
                        format!("subquery `{}` (no way to join it)", sub.text),
                        None,
                    ));
                }
            }
        }
        sublink.queries.extend(queries);
        Ok(sublink)
    }

    /// The selectivity of `left op ?` for a value not known when planning.
    fn compare_sel(&self, left: &Scalar, op: CmpOp) -> f64 {
        match left {
            Scalar::Column(c) => selectivity(
                &Pred::Cmp {
                    col: c.clone(),
                    op,
                    value: Literal::Param,
                },
                &self.lookup(),
            ),
            _ => {
                let kind = match op {
                    CmpOp::Eq | CmpOp::NotEq => ExprKind::Eq,
                    _ => ExprKind::Ineq,
                };
                expr_sel(kind, op == CmpOp::NotEq)
            }
        }
    }

    /// The share of outer rows with a match in a subquery of `inner_rows` rows, over key
    /// pairs (outer expression, inner output column): the most selective pair's.
    fn semi_sel(&self, pairs: &[(Option<&Scalar>, &Column)], inner_rows: f64) -> f64 {
        let mut sel: f64 = 1.0;
        for (outer, inner) in pairs {
            let (nd1, null_frac) = match outer {
                Some(Scalar::Column(c)) => {
                    let stats = self.lookup().stats(c);
                    // As PostgreSQL: nd1 is clamped to its table's rows, not to the rows
                    // its filters leave (only nd2 is clamped to the subquery's rows).
                    let rows = match self.resolve(c) {
                        Ok(Some((t, _))) => (self.tables[t].rows as f64).max(1.0),
                        _ => f64::INFINITY,
                    };
                    let nd = if stats.distinct > 0 {
                        stats.distinct as f64
                    } else {
                        DEFAULT_NUM_DISTINCT
                    };
                    (nd.min(rows), stats.null_frac)
                }
                _ => (DEFAULT_NUM_DISTINCT, 0.0),
            };
            let nd2 = if inner.stats.distinct > 0 {
                (inner.stats.distinct as f64).min(inner_rows)
            } else {
                inner_rows
            }
            .max(1.0);
            let s = if nd1 <= nd2 { 1.0 } else { nd2 / nd1 };
            sel = sel.min(s * (1.0 - null_frac));
        }
        sel
    }

    /// Apply every `WHERE` subquery whose outer-table mask satisfies `which` to `node`.
    pub(super) fn apply_sublinks(&self, node: PlanNode, which: impl Fn(u64) -> bool) -> PlanNode {
        self.sublinks
            .iter()
            .filter(|s| which(s.mask))
            .fold(node, |node, s| self.apply_sublink(node, s))
    }

    /// `input` filtered, semi-joined or anti-joined by one planned subquery (the cheaper
    /// method when there are two).
    pub(super) fn apply_sublink(&self, input: PlanNode, s: &Sublink) -> PlanNode {
        use cost::*;
        let rows = (input.rows * s.sel).max(1.0);
        let loops = format!("Loops: {:.0} (rows and cost per loop)", input.rows);
        let param_detail =
            (!s.params.is_empty()).then(|| format!("Params: {}", s.params.join(", ")));
        if s.kind == SublinkKind::Filter {
            let mut node = input;
            let (kind, plan, startup, extra, mut details) = match (&s.per_row, &s.once) {
                (Some(per), _) => (
                    NodeKind::SubPlan,
                    per,
                    per.root.startup_cost,
                    node.rows * per.cost(),
                    vec![loops],
                ),
                (None, Some(once)) if s.hashed => (
                    NodeKind::SubPlan,
                    once,
                    once.cost() + once.rows() * HASH_BUILD_COST,
                    once.cost() + once.rows() * HASH_BUILD_COST + node.rows * HASH_PROBE_COST,
                    vec!["Hashed: built once, probed per row".to_string()],
                ),
                (None, Some(once)) => (
                    NodeKind::InitPlan,
                    once,
                    once.cost(),
                    once.cost() + node.rows * CPU_OPERATOR_COST,
                    Vec::new(),
                ),
                (None, None) => unreachable!("a filter subquery has a plan"),
            };
            details.extend(param_detail);
            node.startup_cost += startup;
            node.cost += extra;
            node.rows = rows;
            match node.details.iter_mut().find(|d| d.starts_with("Filter: ")) {
                Some(filter) => {
                    filter.push_str(" AND ");
                    filter.push_str(&s.text);
                }
                None => node.details.push(format!("Filter: {}", s.text)),
            }
            node.children
                .push(subplan_node(kind, s.number, plan, details));
            return node;
        }
        let anti = s.kind == SublinkKind::Anti;
        let mut best: Option<PlanNode> = None;
        let mut consider = |node: PlanNode| {
            if best.as_ref().is_none_or(|b| node.cost < b.cost) {
                best = Some(node);
            }
        };
        let join_filter = (!s.join_filter.is_empty())
            .then(|| format!("Join Filter: {}", s.join_filter.join(" AND ")));
        if let Some(once) = &s.once {
            let build = once.cost() + once.rows() * HASH_BUILD_COST;
            let mut details = vec![format!("Hash Cond: {}", s.keys.join(" AND "))];
            details.extend(join_filter.clone());
            consider(PlanNode {
                kind: if anti {
                    NodeKind::HashAntiJoin
                } else {
                    NodeKind::HashSemiJoin
                },
                table: None,
                index: None,
                rows,
                startup_cost: build + input.startup_cost,
                cost: input.cost
                    + build
                    + input.rows * HASH_PROBE_COST
                    + input.rows * CPU_OPERATOR_COST * s.join_filter.len() as f64
                    + rows * CPU_TUPLE_COST,
                details,
                children: vec![input.clone(), once.root.clone()],
            });
        }
        if let Some(per) = &s.per_row {
            let mut inner = per.root.clone();
            inner.details.push(loops);
            inner.details.extend(param_detail);
            consider(PlanNode {
                kind: if anti {
                    NodeKind::NestedLoopAntiJoin
                } else {
                    NodeKind::NestedLoopSemiJoin
                },
                table: None,
                index: None,
                rows,
                startup_cost: input.startup_cost + per.root.startup_cost,
                cost: input.cost + input.rows * per.cost() + rows * CPU_TUPLE_COST,
                details: join_filter.into_iter().collect(),
                children: vec![input, inner],
            });
        }
        best.expect("a semi- or anti-join subquery has a plan")
    }

    /// A derived table read as a table: its plan below, the filters on its columns above.
    pub(super) fn subquery_scan(&self, t: usize, plan: &Plan) -> Access {
        use cost::*;
        let local: Vec<&Pred> = self.local[t].iter().collect();
        let n = plan.rows().max(1.0);
        let sel = conjunction_selectivity(local.iter().copied(), &self.lookup());
        let mut details = Vec::new();
        match self.query.tables[t].derived.as_ref().map(|d| d.kind) {
            Some(DerivedKind::With) => details.push("Source: WITH query (inlined)".to_string()),
            Some(DerivedKind::View) => details.push("Source: view (inlined)".to_string()),
            _ => {}
        }
        details.extend(Self::filter_detail(&local));
        Access {
            node: PlanNode {
                kind: NodeKind::SubqueryScan,
                table: Some(self.label(t)),
                index: None,
                rows: (n * sel).max(1.0),
                startup_cost: plan.root.startup_cost,
                cost: plan.cost() + n * CPU_TUPLE_COST + n * CPU_OPERATOR_COST * local.len() as f64,
                details,
                children: vec![plan.root.clone()],
            },
            order: Vec::new(),
        }
    }

    /// The query's output columns with the statistics of the columns they project.
    pub(super) fn output_columns(&self, rows: f64) -> Result<Vec<Column>> {
        let mut out = Vec::new();
        for item in &self.query.select {
            match item {
                SelectItemModel::Wildcard => {
                    for table in &self.tables {
                        for c in &table.columns {
                            out.push(Column {
                                name: c.name.clone(),
                                stats: capped(c.stats.clone(), rows),
                            });
                        }
                    }
                }
                SelectItemModel::Expr { expr, alias } => {
                    let stats = match expr {
                        Scalar::Column(c) => match self.resolve(c)? {
                            Some((t, name)) => self.tables[t]
                                .get_column(&name)
                                .map(|c| c.stats.clone())
                                .unwrap_or_default(),
                            None => ColumnStats::default(),
                        },
                        _ => ColumnStats::default(),
                    };
                    out.push(Column {
                        name: alias.clone().unwrap_or_else(|| output_name(expr)),
                        stats: capped(stats, rows),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The node of a subplan or init plan: the subquery's plan below it.
fn subplan_node(kind: NodeKind, number: usize, plan: &Plan, mut details: Vec<String>) -> PlanNode {
    details.insert(0, format!("Id: {number}"));
    PlanNode {
        kind,
        table: None,
        index: None,
        rows: plan.rows(),
        startup_cost: plan.root.startup_cost,
        cost: plan.cost(),
        details,
        children: vec![plan.root.clone()],
    }
}
