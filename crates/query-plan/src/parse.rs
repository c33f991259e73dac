//! Parsing SQL (via `sqlparser`, generic dialect) into a small query model.
//!
//! The supported subset: one `SELECT` over named tables (with aliases), joined by comma or
//! `[INNER] JOIN ... ON` with column equalities; `WHERE` built from `AND`/`OR`/`NOT`,
//! comparisons of a column with a constant (`=`, `<>`, `<`, `<=`, `>`, `>=`), column-to-column
//! comparisons, `[NOT] IN (constants)`, `[NOT] BETWEEN`, `[NOT] LIKE` / `ILIKE` with any
//! pattern, `IS [NOT] NULL`; a projection of columns, constants, arithmetic, scalar functions
//! and expressions (`CASE`, `CAST`, `EXTRACT`, `COALESCE`, ...) and the aggregates
//! `COUNT`/`SUM`/`AVG`/`MIN`/`MAX` (`COUNT(*)`, `COUNT(DISTINCT x)`); `GROUP BY` expressions
//! or ordinals; `HAVING`; `ORDER BY`; `LIMIT`/`OFFSET`.
//!
//! A predicate over an expression the planner cannot map to a column range (a function call,
//! `CASE`, a cast, arithmetic on a column, ...) is kept as [`Pred::Expr`]: its SQL text, the
//! columns it reads and the [`ExprKind`] that chooses its default selectivity. Projections
//! of such expressions are [`Scalar::Expr`].
//!
//! Subqueries: a conjunct of `WHERE` or `HAVING` may be `[NOT] EXISTS (...)`,
//! `x [NOT] IN (SELECT ...)` or `x op (SELECT ...)` ([`Pred::Subquery`], correlated or not);
//! `FROM` may hold derived tables, `WITH` queries (non-recursive) and the views of a
//! `CREATE VIEW ...; SELECT ...; DROP VIEW ...` script ([`Derived`]); `UNION [ALL]` combines
//! SELECTs ([`Query::union`]); `LEFT [OUTER] JOIN ... ON` keeps its conditions apart
//! ([`Query::left_joins`]). Subqueries elsewhere (under `OR`, in the projection), window
//! functions, `INTERSECT`/`EXCEPT`, recursive CTEs, right and full joins and `DISTINCT`
//! stay [`Error::Unsupported`].

use std::fmt;
use std::ops::ControlFlow;

use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    JoinConstraint, JoinOperator, LimitClause, OrderByKind, SelectItem, SetExpr, Spanned,
    Statement, TableFactor, UnaryOperator,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Position, Result};

/// A column reference, optionally qualified by a table name or alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnRef {
    /// Table name or alias, if written.
    pub qualifier: Option<String>,
    /// Column name (unquoted identifiers are lower-cased).
    pub name: String,
}

impl ColumnRef {
    /// An unqualified column.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            qualifier: None,
            name: name.into(),
        }
    }
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.qualifier {
            Some(q) => write!(f, "{q}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A constant.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Literal {
    /// Any number.
    Number(f64),
    /// A string, or a typed string such as `date '1995-03-15'` (kept as its text).
    String(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
    /// A parameter placeholder (`?`, `$1`, `:name`): its value is unknown, so selectivity
    /// falls back to statistics that do not need it (equality: `1 / distinct`) or to the
    /// defaults. Normalised text (see [`crate::fingerprint`]) plans this way.
    Param,
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n}"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("NULL"),
            Literal::Param => f.write_str("?"),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>` / `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flip(self) -> Self {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// A boolean predicate over columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    /// All must hold.
    And(Vec<Pred>),
    /// At least one must hold.
    Or(Vec<Pred>),
    /// Negation.
    Not(Box<Pred>),
    /// `column op constant`.
    Cmp {
        /// The column.
        col: ColumnRef,
        /// The operator.
        op: CmpOp,
        /// The constant.
        value: Literal,
    },
    /// `column op column` (an equality between two tables is a join condition).
    ColCmp {
        /// Left column.
        left: ColumnRef,
        /// The operator.
        op: CmpOp,
        /// Right column.
        right: ColumnRef,
    },
    /// `column [NOT] IN (constants)`.
    In {
        /// The column.
        col: ColumnRef,
        /// The constants.
        values: Vec<Literal>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `column [NOT] BETWEEN low AND high`.
    Between {
        /// The column.
        col: ColumnRef,
        /// Lower bound (inclusive).
        low: Literal,
        /// Upper bound (inclusive).
        high: Literal,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `column [NOT] LIKE 'prefix%'`.
    LikePrefix {
        /// The column.
        col: ColumnRef,
        /// The literal prefix before the trailing `%`.
        prefix: String,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The column.
        col: ColumnRef,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `column [NOT] LIKE pattern` or `ILIKE` for any pattern other than a bare `'prefix%'`
    /// (which is [`Pred::LikePrefix`]): the fixed prefix before the first wildcard, if any,
    /// is an index range (case-sensitive `LIKE` only), the rest a filter.
    Like {
        /// The column.
        col: ColumnRef,
        /// The pattern: a string, or a parameter whose value is unknown.
        pattern: Literal,
        /// `NOT LIKE`.
        negated: bool,
        /// `ILIKE`.
        case_insensitive: bool,
    },
    /// A predicate over an expression the planner cannot map to a column range (functions,
    /// `CASE`, casts, arithmetic on columns, aggregates in `HAVING`): a filter with a
    /// default selectivity chosen by its kind.
    Expr {
        /// The predicate's SQL text (as sqlparser prints it).
        text: String,
        /// Every column it reads.
        columns: Vec<ColumnRef>,
        /// Which default selectivity applies.
        kind: ExprKind,
        /// The negated form (`<>`, `NOT IN`, `NOT BETWEEN`, `IS NOT NULL`, `NOT LIKE`).
        negated: bool,
    },
    /// A subquery test, only as a conjunct of `WHERE` or `HAVING`: a semi- or anti-join, or
    /// a comparison with a scalar subquery's value (see [`crate::plan`]).
    Subquery(Box<Subquery>),
}

/// A subquery in a predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// What is tested.
    pub test: SubqueryTest,
    /// `NOT EXISTS`, `NOT IN`, or `NOT (x op (SELECT ...))`.
    pub negated: bool,
    /// The subquery; its columns that no table of its own `FROM` has belong to the
    /// enclosing query (a correlated subquery).
    pub query: Query,
    /// The predicate's SQL text (as sqlparser prints it).
    pub text: String,
}

/// The test a [`Subquery`] predicate makes.
#[derive(Debug, Clone, PartialEq)]
pub enum SubqueryTest {
    /// `EXISTS (subquery)`.
    Exists,
    /// `expr IN (subquery)`: the subquery returns one column.
    In(Scalar),
    /// `left op (subquery)`: the subquery returns one row of one column.
    Compare {
        /// The expression compared with the subquery's value.
        left: Scalar,
        /// The operator, with the subquery on its right.
        op: CmpOp,
    },
}

impl SubqueryTest {
    /// The enclosing query's expression the test reads (`None` for `EXISTS`).
    pub fn left(&self) -> Option<&Scalar> {
        match self {
            SubqueryTest::Exists => None,
            SubqueryTest::In(left) | SubqueryTest::Compare { left, .. } => Some(left),
        }
    }
}

/// The shape of a predicate over an opaque expression, which chooses its default
/// selectivity (see [`crate::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExprKind {
    /// `expr = x` (negated: `<>`).
    Eq,
    /// `expr < x`, `<=`, `>`, `>=`.
    Ineq,
    /// `expr BETWEEN a AND b`.
    Range,
    /// `expr IN (k values)`.
    In(usize),
    /// `expr IS NULL` (negated: `IS NOT NULL`).
    IsNull,
    /// A pattern match: `LIKE`, `ILIKE`, `SIMILAR TO`, regular expressions.
    Match,
    /// Any other boolean expression.
    Bool,
}

impl Pred {
    /// Split a top-level `AND` into its conjuncts.
    pub fn conjuncts(self) -> Vec<Pred> {
        match self {
            Pred::And(parts) => parts.into_iter().flat_map(Pred::conjuncts).collect(),
            other => vec![other],
        }
    }

    /// Every column the predicate mentions.
    pub fn columns(&self) -> Vec<&ColumnRef> {
        let mut out = Vec::new();
        self.collect_columns(&mut out);
        out
    }

    fn collect_columns<'a>(&'a self, out: &mut Vec<&'a ColumnRef>) {
        match self {
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.collect_columns(out)),
            Pred::Not(p) => p.collect_columns(out),
            Pred::ColCmp { left, right, .. } => {
                out.push(left);
                out.push(right);
            }
            Pred::Cmp { col, .. }
            | Pred::In { col, .. }
            | Pred::Between { col, .. }
            | Pred::LikePrefix { col, .. }
            | Pred::Like { col, .. }
            | Pred::IsNull { col, .. } => out.push(col),
            Pred::Expr { columns, .. } => out.extend(columns),
            Pred::Subquery(sub) => {
                if let Some(left) = sub.test.left() {
                    out.extend(left.columns());
                }
            }
        }
    }

    /// The same predicate with every column qualifier removed.
    pub fn unqualified(&self) -> Pred {
        let strip = |c: &ColumnRef| ColumnRef::new(c.name.clone());
        match self {
            Pred::And(ps) => Pred::And(ps.iter().map(Pred::unqualified).collect()),
            Pred::Or(ps) => Pred::Or(ps.iter().map(Pred::unqualified).collect()),
            Pred::Not(p) => Pred::Not(Box::new(p.unqualified())),
            Pred::Cmp { col, op, value } => Pred::Cmp {
                col: strip(col),
                op: *op,
                value: value.clone(),
            },
            Pred::ColCmp { left, op, right } => Pred::ColCmp {
                left: strip(left),
                op: *op,
                right: strip(right),
            },
            Pred::In {
                col,
                values,
                negated,
            } => Pred::In {
                col: strip(col),
                values: values.clone(),
                negated: *negated,
            },
            Pred::Between {
                col,
                low,
                high,
                negated,
            } => Pred::Between {
                col: strip(col),
                low: low.clone(),
                high: high.clone(),
                negated: *negated,
            },
            Pred::LikePrefix {
                col,
                prefix,
                negated,
            } => Pred::LikePrefix {
                col: strip(col),
                prefix: prefix.clone(),
                negated: *negated,
            },
            Pred::IsNull { col, negated } => Pred::IsNull {
                col: strip(col),
                negated: *negated,
            },
            Pred::Like {
                col,
                pattern,
                negated,
                case_insensitive,
            } => Pred::Like {
                col: strip(col),
                pattern: pattern.clone(),
                negated: *negated,
                case_insensitive: *case_insensitive,
            },
            Pred::Expr {
                text,
                columns,
                kind,
                negated,
            } => Pred::Expr {
                text: text.clone(),
                columns: columns.iter().map(strip).collect(),
                kind: *kind,
                negated: *negated,
            },
            // A subquery's text keeps its qualifiers: they name its own tables.
            Pred::Subquery(sub) => Pred::Subquery(sub.clone()),
        }
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, ps: &[Pred], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        let not = |n: bool| if n { "NOT " } else { "" };
        match self {
            Pred::And(ps) => join(f, ps, " AND "),
            Pred::Or(ps) => join(f, ps, " OR "),
            Pred::Not(p) => write!(f, "NOT {p}"),
            Pred::Cmp { col, op, value } => write!(f, "{col} {} {value}", op.symbol()),
            Pred::ColCmp { left, op, right } => write!(f, "{left} {} {right}", op.symbol()),
            Pred::In {
                col,
                values,
                negated,
            } => {
                write!(f, "{col} {}IN (", not(*negated))?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Pred::Between {
                col,
                low,
                high,
                negated,
            } => write!(f, "{col} {}BETWEEN {low} AND {high}", not(*negated)),
            Pred::LikePrefix {
                col,
                prefix,
                negated,
            } => write!(f, "{col} {}LIKE '{prefix}%'", not(*negated)),
            Pred::IsNull { col, negated } => write!(f, "{col} IS {}NULL", not(*negated)),
            Pred::Like {
                col,
                pattern,
                negated,
                case_insensitive,
            } => {
                let op = if *case_insensitive { "ILIKE" } else { "LIKE" };
                write!(f, "{col} {}{op} {pattern}", not(*negated))
            }
            Pred::Expr { text, .. } => f.write_str(text),
            Pred::Subquery(sub) => f.write_str(&sub.text),
        }
    }
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `COUNT`
    Count,
    /// `SUM`
    Sum,
    /// `AVG`
    Avg,
    /// `MIN`
    Min,
    /// `MAX`
    Max,
}

/// A scalar expression in the projection, `GROUP BY` or `ORDER BY`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A column.
    Column(ColumnRef),
    /// A constant.
    Literal(Literal),
    /// `left op right` with `op` one of `+ - * / %`.
    Arith {
        /// The operator character.
        op: char,
        /// Left operand.
        left: Box<Scalar>,
        /// Right operand.
        right: Box<Scalar>,
    },
    /// Unary minus.
    Neg(Box<Scalar>),
    /// An aggregate; `arg == None` is `COUNT(*)`.
    Agg {
        /// The function.
        func: AggFunc,
        /// The argument.
        arg: Option<Box<Scalar>>,
        /// `DISTINCT` inside the call.
        distinct: bool,
    },
    /// Any other expression without aggregates (a scalar function call, `CASE`, a cast,
    /// `EXTRACT`, ...): its SQL text and the columns it reads.
    Expr {
        /// The SQL text (as sqlparser prints it).
        text: String,
        /// Every column it reads.
        columns: Vec<ColumnRef>,
    },
}

impl Scalar {
    /// Every column the expression mentions.
    pub fn columns(&self) -> Vec<&ColumnRef> {
        fn walk<'a>(s: &'a Scalar, out: &mut Vec<&'a ColumnRef>) {
            match s {
                Scalar::Column(c) => out.push(c),
                Scalar::Literal(_) => {}
                Scalar::Arith { left, right, .. } => {
                    walk(left, out);
                    walk(right, out);
                }
                Scalar::Neg(e) => walk(e, out),
                Scalar::Agg { arg, .. } => {
                    if let Some(a) = arg {
                        walk(a, out);
                    }
                }
                Scalar::Expr { columns, .. } => out.extend(columns),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Whether the expression contains an aggregate.
    pub fn has_aggregate(&self) -> bool {
        match self {
            Scalar::Agg { .. } => true,
            Scalar::Arith { left, right, .. } => left.has_aggregate() || right.has_aggregate(),
            Scalar::Neg(e) => e.has_aggregate(),
            _ => false,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Column(c) => write!(f, "{c}"),
            Scalar::Literal(l) => write!(f, "{l}"),
            Scalar::Arith { op, left, right } => write!(f, "({left} {op} {right})"),
            Scalar::Neg(e) => write!(f, "-{e}"),
            Scalar::Expr { text, .. } => f.write_str(text),
            Scalar::Agg {
                func,
                arg,
                distinct,
            } => {
                let name = match func {
                    AggFunc::Count => "count",
                    AggFunc::Sum => "sum",
                    AggFunc::Avg => "avg",
                    AggFunc::Min => "min",
                    AggFunc::Max => "max",
                };
                let d = if *distinct { "DISTINCT " } else { "" };
                match arg {
                    Some(a) => write!(f, "{name}({d}{a})"),
                    None => write!(f, "{name}(*)"),
                }
            }
        }
    }
}

/// A table in `FROM`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    /// The table's name in the catalogue; for a derived table, its alias or the name of its
    /// `WITH` query or view.
    pub name: String,
    /// The alias, if any.
    pub alias: Option<String>,
    /// For a derived table (a subquery in `FROM`, a `WITH` query, a view of the script): its
    /// query, planned on its own and read through a subquery scan.
    pub derived: Option<Box<Derived>>,
}

/// A relation defined by a query rather than read from the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// Where it was defined.
    pub kind: DerivedKind,
    /// Its query.
    pub query: Query,
    /// Its column names from the alias, `WITH` or view column list (empty: the names of the
    /// query's projection).
    pub columns: Vec<String>,
}

/// Where a [`Derived`] relation was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedKind {
    /// A subquery in `FROM`.
    Subquery,
    /// A `WITH` query (inlined at each reference, as PostgreSQL does for a non-recursive CTE
    /// without side effects).
    With,
    /// A view the same script created (`CREATE VIEW ...; SELECT ...; DROP VIEW ...`).
    View,
}

impl TableRef {
    /// The name by which columns refer to this table (alias if given, else name).
    pub fn binding(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// One item of the projection.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItemModel {
    /// `*` (all columns of every table).
    Wildcard,
    /// An expression, optionally aliased.
    Expr {
        /// The expression.
        expr: Scalar,
        /// `AS alias`.
        alias: Option<String>,
    },
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    /// The expression (an output alias appears as an unqualified column).
    pub expr: Scalar,
    /// `DESC`.
    pub desc: bool,
}

/// The parsed query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Tables in `FROM`, in written order.
    pub tables: Vec<TableRef>,
    /// The projection.
    pub select: Vec<SelectItemModel>,
    /// `WHERE` and `JOIN ... ON` conditions, split into conjuncts.
    pub predicates: Vec<Pred>,
    /// `GROUP BY` expressions (ordinals resolved to the projection).
    pub group_by: Vec<Scalar>,
    /// `HAVING`, split into conjuncts: each a [`Pred::Expr`] over the aggregate's output.
    pub having: Vec<Pred>,
    /// `ORDER BY` keys (ordinals resolved to the projection).
    pub order_by: Vec<OrderKey>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
    /// The SELECTs combined with this one by `UNION [ALL]`, in written order. When there are
    /// any, `order_by`, `limit` and `offset` apply to the combined rows.
    pub union: Vec<UnionArm>,
    /// `LEFT [OUTER] JOIN`s: their tables are in `tables`, their `ON` conjuncts here (not in
    /// `predicates`).
    pub left_joins: Vec<LeftJoin>,
}

/// One `LEFT [OUTER] JOIN table ON ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftJoin {
    /// The position in [`Query::tables`] of the table whose rows may be missing (filled
    /// with `NULL`s).
    pub table: usize,
    /// The `ON` conjuncts.
    pub on: Vec<Pred>,
}

/// One SELECT after a `UNION` or `UNION ALL`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionArm {
    /// `UNION ALL` (keep duplicates) rather than `UNION`.
    pub all: bool,
    /// The arm's query (its own `ORDER BY` and `LIMIT` if it was parenthesised with them).
    pub query: Query,
}

/// A `WITH` query or view in scope, by name.
#[derive(Debug, Clone)]
struct Named {
    name: String,
    derived: Derived,
}

impl Query {
    /// Whether the query aggregates (a `GROUP BY`, a `HAVING` or an aggregate in the
    /// projection).
    pub fn is_aggregate(&self) -> bool {
        !self.group_by.is_empty()
            || !self.having.is_empty()
            || self.select.iter().any(|s| match s {
                SelectItemModel::Expr { expr, .. } => expr.has_aggregate(),
                SelectItemModel::Wildcard => false,
            })
    }
}

fn pos_of(span: sqlparser::tokenizer::Span) -> Option<Position> {
    (span.start.line > 0).then_some((span.start.line, span.start.column))
}

fn unsupported_at<T: Spanned>(construct: impl Into<String>, node: &T) -> Error {
    Error::unsupported(construct, pos_of(node.span()))
}

/// Parse one SQL statement (a trailing `;` is fine) into a [`Query`], or a script of
/// `CREATE VIEW`s, one `SELECT` that may read those views, and `DROP VIEW`s (as TPC-H q15).
pub fn parse_query(sql: &str) -> Result<Query> {
    let statements =
        Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| Error::Parse(e.to_string()))?;
    match statements.as_slice() {
        [] => Err(Error::Parse("no SQL statement".into())),
        [statement] => query_from_statement(statement),
        several => script(several),
    }
}

/// `CREATE VIEW v [(columns)] AS query; ...; SELECT ...; DROP VIEW v; ...`: the views are in
/// scope of the SELECT (and of the views after them); anything else is refused.
fn script(statements: &[Statement]) -> Result<Query> {
    let mut views: Vec<Named> = Vec::new();
    let mut main = None;
    let refuse = |statement: &Statement| {
        unsupported_at(
            "more than one statement (a script may only be CREATE VIEW ...; SELECT ...; DROP VIEW ...)",
            statement,
        )
    };
    for statement in statements {
        match statement {
            Statement::CreateView(view) if main.is_none() && !view.materialized => {
                let query = convert_query(&view.query, &views)?;
                views.push(Named {
                    name: object_name(&view.name),
                    derived: Derived {
                        kind: DerivedKind::View,
                        query,
                        columns: view.columns.iter().map(|c| ident(&c.name)).collect(),
                    },
                });
            }
            Statement::Query(query) if main.is_none() => {
                main = Some(convert_query(query, &views)?);
            }
            Statement::Drop {
                object_type: ast::ObjectType::View,
                names,
                ..
            } if main.is_some()
                && names
                    .iter()
                    .all(|n| views.iter().any(|v| v.name == object_name(n))) => {}
            other => return Err(refuse(other)),
        }
    }
    main.ok_or_else(|| refuse(statements.last().expect("a script has statements")))
}

/// Convert one parsed statement.
pub fn query_from_statement(statement: &Statement) -> Result<Query> {
    let Statement::Query(query) = statement else {
        let kind = statement.to_string();
        let kind: String = kind
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(unsupported_at(
            format!("statement `{kind}` (only SELECT)"),
            statement,
        ));
    };
    convert_query(query, &[])
}

/// Convert a query with the `WITH` queries and views of `scope` visible to it.
fn convert_query(query: &ast::Query, scope: &[Named]) -> Result<Query> {
    let with_scope;
    let scope = match &query.with {
        None => scope,
        Some(with) => {
            if with.recursive {
                return Err(unsupported_at("WITH RECURSIVE", with));
            }
            let mut inner = scope.to_vec();
            for cte in &with.cte_tables {
                let q = convert_query(&cte.query, &inner)?;
                inner.push(Named {
                    name: ident(&cte.alias.name),
                    derived: Derived {
                        kind: DerivedKind::With,
                        query: q,
                        columns: cte.alias.columns.iter().map(|c| ident(&c.name)).collect(),
                    },
                });
            }
            with_scope = inner;
            &with_scope
        }
    };
    if query.fetch.is_some() {
        return Err(Error::unsupported("FETCH", pos_of(query.span())));
    }
    if !query.locks.is_empty() {
        return Err(Error::unsupported("FOR UPDATE/SHARE", pos_of(query.span())));
    }
    let mut arms = Vec::new();
    set_arms(query.body.as_ref(), true, scope, &mut arms)?;
    let mut arms = arms.into_iter();
    let (_, mut out) = arms.next().expect("a query body has one arm at least");
    out.union = arms.map(|(all, query)| UnionArm { all, query }).collect();
    let has_own_order = |q: &ast::Query| q.order_by.is_some() || q.limit_clause.is_some();
    if !out.union.is_empty()
        && let SetExpr::Query(first) = first_arm(query.body.as_ref())
        && has_own_order(first)
    {
        return Err(unsupported_at(
            "ORDER BY or LIMIT inside the first SELECT of a UNION",
            first.as_ref(),
        ));
    }

    if let Some(order_by) = &query.order_by {
        match &order_by.kind {
            OrderByKind::All(_) => return Err(unsupported_at("ORDER BY ALL", order_by)),
            OrderByKind::Expressions(exprs) => {
                for e in exprs {
                    if e.with_fill.is_some() {
                        return Err(unsupported_at("ORDER BY ... WITH FILL", e));
                    }
                    let expr = resolve_ordinal(&e.expr, &out.select)?;
                    let desc = match &e.options.sort {
                        None | Some(ast::OrderBySort::Asc) => false,
                        Some(ast::OrderBySort::Desc) => true,
                        Some(ast::OrderBySort::Using(_)) => {
                            return Err(unsupported_at("ORDER BY ... USING", e));
                        }
                    };
                    out.order_by.push(OrderKey { expr, desc });
                }
            }
        }
    }
    if let Some(limit) = &query.limit_clause {
        match limit {
            LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            } => {
                if let Some(first) = limit_by.first() {
                    return Err(unsupported_at("LIMIT BY", first));
                }
                if let Some(l) = limit {
                    out.limit = Some(const_u64(l, "LIMIT", PARAM_LIMIT)?);
                }
                if let Some(o) = offset {
                    out.offset = Some(const_u64(&o.value, "OFFSET", 0)?);
                }
            }
            LimitClause::OffsetCommaLimit { offset, limit } => {
                out.limit = Some(const_u64(limit, "LIMIT", PARAM_LIMIT)?);
                out.offset = Some(const_u64(offset, "OFFSET", 0)?);
            }
        }
    }
    Ok(out)
}

/// The arms of a query body, flattened left to right: `(all, query)` where `all` says the arm
/// was added by `UNION ALL` (the first arm's flag is `first_all`, unused).
fn set_arms(
    body: &SetExpr,
    first_all: bool,
    scope: &[Named],
    out: &mut Vec<(bool, Query)>,
) -> Result<()> {
    match body {
        SetExpr::Select(select) => {
            let mut q = Query::default();
            convert_select(select, scope, &mut q)?;
            out.push((first_all, q));
        }
        SetExpr::Query(q) => out.push((first_all, convert_query(q, scope)?)),
        SetExpr::SetOperation {
            op: ast::SetOperator::Union,
            set_quantifier,
            left,
            right,
        } => {
            let all = match set_quantifier {
                ast::SetQuantifier::All => true,
                ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                other => {
                    return Err(unsupported_at(format!("UNION {other}"), body));
                }
            };
            set_arms(left, first_all, scope, out)?;
            set_arms(right, all, scope, out)?;
        }
        SetExpr::SetOperation { op, .. } => {
            return Err(unsupported_at(format!("set operation {op}"), body));
        }
        SetExpr::Values(v) => return Err(unsupported_at("VALUES", v)),
        other => return Err(unsupported_at("non-SELECT query body", other)),
    }
    Ok(())
}

/// The leftmost arm of a (possibly nested) set operation.
fn first_arm(body: &SetExpr) -> &SetExpr {
    match body {
        SetExpr::SetOperation { left, .. } => first_arm(left),
        other => other,
    }
}

/// The row count assumed for `LIMIT ?` (a parameter, as in normalised text): a page of
/// results. `OFFSET ?` is taken as 0.
pub const PARAM_LIMIT: u64 = 100;

fn const_u64(e: &Expr, what: &str, param: u64) -> Result<u64> {
    match const_literal(e) {
        Some(Literal::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Ok(n as u64),
        Some(Literal::Param) => Ok(param),
        _ => Err(unsupported_at(
            format!("{what} that is not a non-negative integer constant"),
            e,
        )),
    }
}

fn resolve_ordinal(e: &Expr, select: &[SelectItemModel]) -> Result<Scalar> {
    if let Some(Literal::Number(n)) = const_literal(e)
        && n.fract() == 0.0
        && n >= 1.0
    {
        return match select.get(n as usize - 1) {
            Some(SelectItemModel::Expr { expr, alias }) => Ok(match alias {
                Some(a) => Scalar::Column(ColumnRef::new(a.clone())),
                None => expr.clone(),
            }),
            _ => Err(unsupported_at(
                format!("ordinal {n} that is not an expression in the select list"),
                e,
            )),
        };
    }
    convert_scalar(e)
}

fn convert_select(select: &ast::Select, scope: &[Named], out: &mut Query) -> Result<()> {
    if let Some(d) = &select.distinct {
        return Err(Error::unsupported(
            format!("SELECT {d}"),
            pos_of(select.select_token.0.span),
        ));
    }
    if let Some(top) = &select.top {
        return Err(Error::unsupported(
            format!("{top}"),
            pos_of(select.select_token.0.span),
        ));
    }
    if select.into.is_some() {
        return Err(Error::unsupported(
            "SELECT INTO",
            pos_of(select.select_token.0.span),
        ));
    }
    if let Some(q) = &select.qualify {
        return Err(unsupported_at("QUALIFY", q));
    }
    if let Some(p) = &select.prewhere {
        return Err(unsupported_at("PREWHERE", p));
    }
    if !select.named_window.is_empty() {
        return Err(Error::unsupported(
            "named WINDOW clause",
            pos_of(select.span()),
        ));
    }
    if !select.lateral_views.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.connect_by.is_empty()
    {
        return Err(Error::unsupported(
            "dialect-specific SELECT clause (LATERAL VIEW, CLUSTER/DISTRIBUTE/SORT BY, CONNECT BY)",
            pos_of(select.span()),
        ));
    }
    if select.from.is_empty() {
        return Err(Error::unsupported(
            "SELECT without FROM",
            pos_of(select.select_token.0.span),
        ));
    }

    for twj in &select.from {
        out.tables.push(convert_table_factor(&twj.relation, scope)?);
        for join in &twj.joins {
            out.tables
                .push(convert_table_factor(&join.relation, scope)?);
            let mut left = false;
            let constraint = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => c,
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => {
                    left = true;
                    c
                }
                JoinOperator::CrossJoin(JoinConstraint::None) => &JoinConstraint::None,
                other => {
                    let name = format!("{other:?}");
                    let name = name.split('(').next().unwrap_or("").to_string();
                    return Err(unsupported_at(format!("{name} join"), &join.relation));
                }
            };
            match constraint {
                JoinConstraint::On(e) if left => {
                    let mut on = Vec::new();
                    convert_conjuncts(e, scope, false, &mut on)?;
                    if on.iter().any(|p| matches!(p, Pred::Subquery(_))) {
                        return Err(unsupported_at("subquery in a LEFT JOIN's ON", e));
                    }
                    out.left_joins.push(LeftJoin {
                        table: out.tables.len() - 1,
                        on,
                    });
                }
                JoinConstraint::On(e) => convert_conjuncts(e, scope, false, &mut out.predicates)?,
                JoinConstraint::None if left => {
                    return Err(unsupported_at("LEFT JOIN without ON", &join.relation));
                }
                JoinConstraint::None => {}
                JoinConstraint::Using(_) | JoinConstraint::UsingAlias(..) => {
                    return Err(unsupported_at("JOIN ... USING", &join.relation));
                }
                JoinConstraint::Natural => {
                    return Err(unsupported_at("NATURAL JOIN", &join.relation));
                }
            }
        }
    }

    for item in &select.projection {
        let model = match item {
            SelectItem::UnnamedExpr(e) => SelectItemModel::Expr {
                expr: convert_scalar(e)?,
                alias: None,
            },
            SelectItem::ExprWithAlias { expr, alias } => SelectItemModel::Expr {
                expr: convert_scalar(expr)?,
                alias: Some(ident(alias)),
            },
            SelectItem::Wildcard(opts) => {
                if opts.opt_exclude.is_some()
                    || opts.opt_except.is_some()
                    || opts.opt_replace.is_some()
                    || opts.opt_rename.is_some()
                    || opts.opt_ilike.is_some()
                {
                    return Err(unsupported_at("wildcard options", item));
                }
                SelectItemModel::Wildcard
            }
            other => return Err(unsupported_at(format!("select item `{other}`"), other)),
        };
        out.select.push(model);
    }

    if let Some(selection) = &select.selection {
        convert_conjuncts(selection, scope, false, &mut out.predicates)?;
    }

    match &select.group_by {
        GroupByExpr::All(_) => {
            return Err(Error::unsupported("GROUP BY ALL", pos_of(select.span())));
        }
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(Error::unsupported(
                    "GROUP BY modifiers (ROLLUP/CUBE/TOTALS)",
                    pos_of(select.span()),
                ));
            }
            for e in exprs {
                let s = resolve_ordinal(e, &out.select)?;
                if s.has_aggregate() {
                    return Err(unsupported_at("aggregate in GROUP BY", e));
                }
                out.group_by.push(s);
            }
        }
    }
    if let Some(having) = &select.having {
        convert_conjuncts(having, scope, true, &mut out.having)?;
    }
    Ok(())
}

/// The conjuncts of `WHERE`, `ON` or (`having`) `HAVING`, into `out`. A conjunct may be a
/// subquery test; `HAVING` conjuncts are otherwise [`Pred::Expr`] filters over the
/// aggregate's output (aggregates allowed, window functions refused).
fn convert_conjuncts(e: &Expr, scope: &[Named], having: bool, out: &mut Vec<Pred>) -> Result<()> {
    match e {
        Expr::Nested(inner) => convert_conjuncts(inner, scope, having, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            convert_conjuncts(left, scope, having, out)?;
            convert_conjuncts(right, scope, having, out)
        }
        _ => {
            if let Some(sub) = subquery_pred(e, e, false, scope)? {
                out.push(Pred::Subquery(Box::new(sub)));
            } else if having {
                out.push(opaque_pred(e, true)?);
            } else {
                out.extend(convert_pred(e)?.conjuncts());
            }
            Ok(())
        }
    }
}

/// `[NOT] EXISTS (q)`, `x [NOT] IN (q)` or `x op (q)` (or `(q) op x`), under any number of
/// `NOT`s; `None` for any other expression. `whole` is the conjunct, for the text.
fn subquery_pred(
    e: &Expr,
    whole: &Expr,
    negated: bool,
    scope: &[Named],
) -> Result<Option<Subquery>> {
    let sub = |test, negated, query: &ast::Query| -> Result<Option<Subquery>> {
        Ok(Some(Subquery {
            test,
            negated,
            query: convert_query(query, scope)?,
            text: whole.to_string(),
        }))
    };
    match e {
        Expr::Nested(inner) => subquery_pred(inner, whole, negated, scope),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => subquery_pred(expr, whole, !negated, scope),
        Expr::Exists {
            subquery,
            negated: n,
        } => sub(SubqueryTest::Exists, negated ^ n, subquery),
        Expr::In {
            expr,
            target: ast::InTarget::Subquery(subquery),
            negated: n,
            ..
        } => sub(
            SubqueryTest::In(convert_scalar(expr)?),
            negated ^ n,
            subquery,
        ),
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = cmp_op(op) else {
                return Ok(None);
            };
            match (scalar_subquery(left), scalar_subquery(right)) {
                (None, Some(q)) => sub(
                    SubqueryTest::Compare {
                        left: convert_scalar(left)?,
                        op,
                    },
                    negated,
                    q,
                ),
                (Some(q), None) => sub(
                    SubqueryTest::Compare {
                        left: convert_scalar(right)?,
                        op: op.flip(),
                    },
                    negated,
                    q,
                ),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn scalar_subquery(e: &Expr) -> Option<&ast::Query> {
    match e {
        Expr::Subquery(q) => Some(q),
        Expr::Nested(inner) => scalar_subquery(inner),
        _ => None,
    }
}

fn convert_table_factor(tf: &TableFactor, scope: &[Named]) -> Result<TableRef> {
    match tf {
        TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            sample,
            index_directives,
            ..
        } => {
            if args.is_some() {
                return Err(unsupported_at("table-valued function", tf));
            }
            if !with_hints.is_empty()
                || version.is_some()
                || *with_ordinality
                || !partitions.is_empty()
                || sample.is_some()
                || !index_directives.is_empty()
            {
                return Err(unsupported_at(
                    "table modifiers (hints, time travel, sampling, partitions)",
                    tf,
                ));
            }
            let name = object_name(name);
            // A `WITH` query or view of this name hides a catalogue table (innermost first).
            let named = scope.iter().rev().find(|n| n.name == name);
            let alias = match alias {
                Some(a) if !a.columns.is_empty() => {
                    let Some(named) = named else {
                        return Err(unsupported_at("table alias with column list", tf));
                    };
                    let mut derived = named.derived.clone();
                    derived.columns = a.columns.iter().map(|c| ident(&c.name)).collect();
                    return Ok(TableRef {
                        name,
                        alias: Some(ident(&a.name)),
                        derived: Some(Box::new(derived)),
                    });
                }
                Some(a) => Some(ident(&a.name)),
                None => None,
            };
            Ok(TableRef {
                name,
                alias,
                derived: named.map(|n| Box::new(n.derived.clone())),
            })
        }
        TableFactor::Derived {
            lateral,
            subquery,
            alias,
            sample,
        } => {
            if *lateral {
                return Err(unsupported_at("LATERAL subquery", tf));
            }
            if sample.is_some() {
                return Err(unsupported_at("table modifiers (sampling)", tf));
            }
            let Some(alias) = alias else {
                return Err(unsupported_at("subquery in FROM without an alias", tf));
            };
            let name = ident(&alias.name);
            Ok(TableRef {
                name: name.clone(),
                alias: Some(name),
                derived: Some(Box::new(Derived {
                    kind: DerivedKind::Subquery,
                    query: convert_query(subquery, scope)?,
                    columns: alias.columns.iter().map(|c| ident(&c.name)).collect(),
                })),
            })
        }
        TableFactor::NestedJoin { .. } => Err(unsupported_at("parenthesised join", tf)),
        TableFactor::UNNEST { .. } => Err(unsupported_at("UNNEST", tf)),
        TableFactor::TableFunction { .. } | TableFactor::Function { .. } => {
            Err(unsupported_at("table function", tf))
        }
        _ => Err(unsupported_at("table factor of this kind", tf)),
    }
}

/// Identifier text: unquoted identifiers are case-insensitive (lower-cased), quoted ones
/// keep their case.
pub(crate) fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

pub(crate) fn object_name(n: &ast::ObjectName) -> String {
    n.0.iter()
        .map(|part| match part.as_ident() {
            Some(i) => ident(i),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn column_of(e: &Expr) -> Option<ColumnRef> {
    match e {
        Expr::Identifier(i) => Some(ColumnRef::new(ident(i))),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let (last, quals) = parts.split_last()?;
            Some(ColumnRef {
                qualifier: Some(quals.iter().map(ident).collect::<Vec<_>>().join(".")),
                name: ident(last),
            })
        }
        Expr::Nested(inner) => column_of(inner),
        _ => None,
    }
}

/// Evaluate a constant expression: literals, typed strings, unary minus and numeric
/// arithmetic.
fn const_literal(e: &Expr) -> Option<Literal> {
    match e {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse().ok().map(Literal::Number),
            ast::Value::SingleQuotedString(s)
            | ast::Value::DoubleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s) => Some(Literal::String(s.clone())),
            ast::Value::Boolean(b) => Some(Literal::Bool(*b)),
            ast::Value::Null => Some(Literal::Null),
            ast::Value::Placeholder(_) => Some(Literal::Param),
            _ => None,
        },
        Expr::TypedString(ts) => match &ts.value.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                Some(Literal::String(s.clone()))
            }
            _ => None,
        },
        Expr::Nested(inner) => const_literal(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match const_literal(expr)? {
            Literal::Number(n) => Some(Literal::Number(-n)),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => match const_literal(expr)? {
            Literal::Number(n) => Some(Literal::Number(n)),
            _ => None,
        },
        Expr::BinaryOp { left, op, right } => {
            if let Expr::Interval(interval) = right.as_ref() {
                let sign = match op {
                    BinaryOperator::Plus => 1,
                    BinaryOperator::Minus => -1,
                    _ => return None,
                };
                let Literal::String(date) = const_literal(left)? else {
                    return None;
                };
                return date_plus_interval(&date, interval, sign).map(Literal::String);
            }
            let (Literal::Number(a), Literal::Number(b)) =
                (const_literal(left)?, const_literal(right)?)
            else {
                return None;
            };
            match op {
                BinaryOperator::Plus => Some(Literal::Number(a + b)),
                BinaryOperator::Minus => Some(Literal::Number(a - b)),
                BinaryOperator::Multiply => Some(Literal::Number(a * b)),
                BinaryOperator::Divide if b != 0.0 => Some(Literal::Number(a / b)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn cmp_op(op: &BinaryOperator) -> Option<CmpOp> {
    Some(match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::NotEq,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::LtEq,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::GtEq,
        _ => return None,
    })
}

/// Name the construct of an expression the subset does not support.
fn unsupported_expr(e: &Expr) -> Error {
    let construct = match e {
        Expr::Subquery(_) => "scalar subquery".to_string(),
        Expr::Exists { .. } => "EXISTS subquery".to_string(),
        Expr::In {
            target: ast::InTarget::Subquery(_),
            ..
        } => "IN (subquery)".to_string(),
        Expr::Case { .. } => "CASE expression".to_string(),
        Expr::Cast { .. } => "CAST".to_string(),
        Expr::Extract { .. } => "EXTRACT".to_string(),
        Expr::Substring { .. } => "SUBSTRING".to_string(),
        Expr::Interval(_) => "INTERVAL arithmetic".to_string(),
        Expr::SimilarTo { .. } | Expr::RLike { .. } => "regular-expression match".to_string(),
        Expr::Function(f) if f.over.is_some() => format!("window function {}", f.name),
        Expr::Function(f) => format!("function {}", f.name),
        Expr::Like { any: true, .. } | Expr::ILike { any: true, .. } => {
            format!("LIKE ANY in `{e}`")
        }
        Expr::BinaryOp { op, .. } => format!("operator {op} in `{e}`"),
        other => format!("expression `{other}`"),
    };
    unsupported_at(construct, e)
}

fn convert_pred(e: &Expr) -> Result<Pred> {
    match e {
        Expr::Nested(inner) => convert_pred(inner),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => Ok(Pred::And(vec![convert_pred(left)?, convert_pred(right)?])),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            let mut parts = Vec::new();
            for side in [left, right] {
                match convert_pred(side)? {
                    Pred::Or(ps) => parts.extend(ps),
                    p => parts.push(p),
                }
            }
            Ok(Pred::Or(parts))
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Ok(Pred::Not(Box::new(convert_pred(expr)?))),
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = cmp_op(op) else {
                return opaque_pred(e, false);
            };
            match (column_of(left), column_of(right)) {
                (Some(l), Some(r)) => Ok(Pred::ColCmp {
                    left: l,
                    op,
                    right: r,
                }),
                (Some(col), None) => match const_literal(right) {
                    Some(value) => Ok(Pred::Cmp { col, op, value }),
                    None => opaque_pred(e, false),
                },
                (None, Some(col)) => match const_literal(left) {
                    Some(value) => Ok(Pred::Cmp {
                        col,
                        op: op.flip(),
                        value,
                    }),
                    None => opaque_pred(e, false),
                },
                (None, None) => opaque_pred(e, false),
            }
        }
        Expr::In {
            expr,
            target,
            negated,
            ..
        } => {
            let ast::InTarget::List(list) = target else {
                return Err(unsupported_expr(e));
            };
            let values: Option<Vec<Literal>> = list.iter().map(const_literal).collect();
            match (column_of(expr), values) {
                (Some(col), Some(values)) => Ok(Pred::In {
                    col,
                    values,
                    negated: *negated,
                }),
                _ => opaque_pred(e, false),
            }
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => match (column_of(expr), const_literal(low), const_literal(high)) {
            (Some(col), Some(low), Some(high)) => Ok(Pred::Between {
                col,
                low,
                high,
                negated: *negated,
            }),
            _ => opaque_pred(e, false),
        },
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like_pred(e, expr, pattern, *negated, false),
        Expr::ILike {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like_pred(e, expr, pattern, *negated, true),
        Expr::Like { any: true, .. } | Expr::ILike { any: true, .. } => Err(unsupported_expr(e)),
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => match column_of(inner) {
            Some(col) => Ok(Pred::IsNull {
                col,
                negated: matches!(e, Expr::IsNotNull(_)),
            }),
            None => opaque_pred(e, false),
        },
        // Everything else that is free of subqueries and window functions (a LIKE with an
        // ESCAPE clause, SIMILAR TO, a boolean function, CASE, ...) is an opaque filter.
        other => opaque_pred(other, false),
    }
}

/// `expr [NOT] LIKE/ILIKE pattern`: a bare `'prefix%'` (case-sensitive) stays
/// [`Pred::LikePrefix`]; any other pattern on a column is [`Pred::Like`]; a pattern that is
/// not a constant, or an operand that is not a column, is an opaque match.
fn like_pred(
    e: &Expr,
    expr: &Expr,
    pattern: &Expr,
    negated: bool,
    case_insensitive: bool,
) -> Result<Pred> {
    let Some(col) = column_of(expr) else {
        return opaque_pred(e, false);
    };
    match const_literal(pattern) {
        Some(Literal::String(p)) => {
            if !case_insensitive
                && let Some(prefix) = p.strip_suffix('%')
                // As before issue 12 (a backslash is an ordinary character here), so the
                // plans of queries that planned then do not change.
                && !prefix.contains(['%', '_'])
            {
                return Ok(Pred::LikePrefix {
                    col,
                    prefix: prefix.to_string(),
                    negated,
                });
            }
            Ok(Pred::Like {
                col,
                pattern: Literal::String(p),
                negated,
                case_insensitive,
            })
        }
        Some(Literal::Param) => Ok(Pred::Like {
            col,
            pattern: Literal::Param,
            negated,
            case_insensitive,
        }),
        _ => opaque_pred(e, false),
    }
}

/// The text before the first wildcard (`%`, `_`) or backslash of a `LIKE` pattern, and
/// whether that is the whole pattern (no wildcard at all). It stops at a backslash because
/// PostgreSQL takes it as the default escape character: the prefix is then right whether the
/// backslash escapes or not.
pub fn like_fixed_prefix(pattern: &str) -> (&str, bool) {
    match pattern.find(['%', '_', '\\']) {
        Some(i) => (&pattern[..i], false),
        None => (pattern, true),
    }
}

/// Aggregate functions outside the subset's five: refused rather than treated as scalar
/// functions, which would make the query look like it does not aggregate.
const OTHER_AGGREGATES: &[&str] = &[
    "any_value",
    "approx_count_distinct",
    "array_agg",
    "bit_and",
    "bit_or",
    "bool_and",
    "bool_or",
    "corr",
    "covar_pop",
    "covar_samp",
    "every",
    "group_concat",
    "listagg",
    "median",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "uniq",
    "var_pop",
    "var_samp",
    "variance",
];

fn is_aggregate_name(name: &str) -> bool {
    matches!(name, "count" | "sum" | "avg" | "min" | "max") || OTHER_AGGREGATES.contains(&name)
}

/// Refuse what an opaque expression must not contain: subqueries, window functions, and
/// aggregates (unless `aggregates_allowed`, in `HAVING`), naming the construct.
fn check_opaque(e: &Expr, aggregates_allowed: bool) -> Result<()> {
    let flow = ast::visit_expressions(e, |x| {
        let error = match x {
            Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::In {
                target: ast::InTarget::Subquery(_),
                ..
            } => Some(unsupported_expr(x)),
            Expr::Function(f) if f.over.is_some() => Some(unsupported_expr(x)),
            Expr::Function(f) if matches!(f.args, FunctionArguments::Subquery(_)) => {
                Some(unsupported_at("subquery as function argument", x))
            }
            Expr::Function(f) => {
                let name = object_name(&f.name).to_lowercase();
                if OTHER_AGGREGATES.contains(&name.as_str()) {
                    Some(unsupported_at(format!("aggregate function {}", f.name), x))
                } else if !aggregates_allowed && is_aggregate_name(&name) {
                    Some(unsupported_at(
                        format!("aggregate inside an expression: `{e}`"),
                        x,
                    ))
                } else {
                    None
                }
            }
            _ => None,
        };
        match error {
            Some(err) => ControlFlow::Break(err),
            None => ControlFlow::Continue(()),
        }
    });
    match flow {
        ControlFlow::Break(err) => Err(err),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Every column an expression reads, in first-seen order.
fn expr_columns(e: &Expr) -> Vec<ColumnRef> {
    let mut out: Vec<ColumnRef> = Vec::new();
    let _ = ast::visit_expressions(e, |x| {
        if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
            && let Some(c) = column_of(x)
            && !out.contains(&c)
        {
            out.push(c);
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The default-selectivity kind of a boolean expression, and whether it is negated.
fn expr_kind(e: &Expr) -> (ExprKind, bool) {
    match e {
        Expr::Nested(inner) => expr_kind(inner),
        Expr::BinaryOp { op, .. } => match op {
            BinaryOperator::Eq => (ExprKind::Eq, false),
            BinaryOperator::NotEq => (ExprKind::Eq, true),
            BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => (ExprKind::Ineq, false),
            BinaryOperator::PGRegexMatch | BinaryOperator::PGRegexIMatch => {
                (ExprKind::Match, false)
            }
            BinaryOperator::PGRegexNotMatch | BinaryOperator::PGRegexNotIMatch => {
                (ExprKind::Match, true)
            }
            _ => (ExprKind::Bool, false),
        },
        Expr::In {
            target: ast::InTarget::List(list),
            negated,
            ..
        } => (ExprKind::In(list.len()), *negated),
        Expr::Between { negated, .. } => (ExprKind::Range, *negated),
        Expr::Like { negated, .. }
        | Expr::ILike { negated, .. }
        | Expr::SimilarTo { negated, .. }
        | Expr::RLike { negated, .. } => (ExprKind::Match, *negated),
        Expr::IsNull(_) => (ExprKind::IsNull, false),
        Expr::IsNotNull(_) => (ExprKind::IsNull, true),
        _ => (ExprKind::Bool, false),
    }
}

/// A predicate the planner keeps as an opaque filter with a default selectivity.
fn opaque_pred(e: &Expr, aggregates_allowed: bool) -> Result<Pred> {
    check_opaque(e, aggregates_allowed)?;
    let (kind, negated) = expr_kind(e);
    Ok(Pred::Expr {
        text: e.to_string(),
        columns: expr_columns(e),
        kind,
        negated,
    })
}

/// A scalar expression the planner does not look into.
fn opaque_scalar(e: &Expr) -> Result<Scalar> {
    check_opaque(e, false)?;
    Ok(Scalar::Expr {
        text: e.to_string(),
        columns: expr_columns(e),
    })
}

fn convert_scalar(e: &Expr) -> Result<Scalar> {
    if let Some(c) = column_of(e) {
        return Ok(Scalar::Column(c));
    }
    if let Some(l) = const_literal(e) {
        return Ok(Scalar::Literal(l));
    }
    match e {
        Expr::Nested(inner) => convert_scalar(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => Ok(Scalar::Neg(Box::new(convert_scalar(expr)?))),
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Plus => '+',
                BinaryOperator::Minus => '-',
                BinaryOperator::Multiply => '*',
                BinaryOperator::Divide => '/',
                BinaryOperator::Modulo => '%',
                _ => return opaque_scalar(e),
            };
            Ok(Scalar::Arith {
                op,
                left: Box::new(convert_scalar(left)?),
                right: Box::new(convert_scalar(right)?),
            })
        }
        Expr::Function(f)
            if f.over.is_none() && !is_aggregate_name(&object_name(&f.name).to_lowercase()) =>
        {
            opaque_scalar(e)
        }
        Expr::Function(f) => convert_aggregate(e, f),
        other => opaque_scalar(other),
    }
}

fn convert_aggregate(e: &Expr, f: &ast::Function) -> Result<Scalar> {
    if f.over.is_some() {
        return Err(unsupported_expr(e));
    }
    let name = object_name(&f.name).to_lowercase();
    let func = match name.as_str() {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        _ => return Err(unsupported_expr(e)),
    };
    if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(unsupported_at(format!("aggregate modifiers in `{e}`"), e));
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(unsupported_at(format!("aggregate arguments in `{e}`"), e));
    };
    if !list.clauses.is_empty() || list.args.len() != 1 {
        return Err(unsupported_at(
            format!("aggregate with other than one argument: `{e}`"),
            e,
        ));
    }
    let distinct = matches!(
        list.duplicate_treatment,
        Some(ast::DuplicateTreatment::Distinct)
    );
    let arg = match &list.args[0] {
        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if func == AggFunc::Count && !distinct => {
            None
        }
        FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) => {
            let s = convert_scalar(a)?;
            if s.has_aggregate() {
                return Err(unsupported_at("nested aggregate", a));
            }
            Some(Box::new(s))
        }
        _ => {
            return Err(unsupported_at(format!("aggregate argument in `{e}`"), e));
        }
    };
    Ok(Scalar::Agg {
        func,
        arg,
        distinct,
    })
}

/// Parse a boolean expression on its own, e.g. the predicate of a partial index.
pub fn parse_predicate(sql: &str) -> Result<Pred> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| Error::Parse(e.to_string()))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| Error::Parse(e.to_string()))?;
    convert_pred(&expr)
}

pub(crate) fn convert_predicate(e: &Expr) -> Result<Pred> {
    convert_pred(e)
}

/// `date ± interval` for ISO dates (`YYYY-MM-DD`) and whole years, months or days.
fn date_plus_interval(date: &str, interval: &ast::Interval, sign: i64) -> Option<String> {
    use ast::DateTimeField as F;
    if interval.last_field.is_some() {
        return None;
    }
    let Literal::String(text) = const_literal(&interval.value)? else {
        return None;
    };
    let mut words = text.split_whitespace();
    let amount: i64 = words.next()?.parse().ok()?;
    let unit = match (&interval.leading_field, words.next()) {
        (Some(F::Year | F::Years), None) => 'y',
        (Some(F::Month | F::Months), None) => 'm',
        (Some(F::Day | F::Days), None) => 'd',
        (None, Some(w)) => match w.to_ascii_lowercase().trim_end_matches('s') {
            "year" => 'y',
            "month" => 'm',
            "day" => 'd',
            _ => return None,
        },
        _ => return None,
    };
    if words.next().is_some() {
        return None;
    }
    let mut parts = date.splitn(3, '-');
    let (y, m, d): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let amount = amount * sign;
    let (y, m, d) = match unit {
        'y' => clamp_day(y + amount, m, d),
        'm' => {
            let months = y * 12 + (m - 1) + amount;
            clamp_day(months.div_euclid(12), months.rem_euclid(12) + 1, d)
        }
        _ => civil_from_days(days_from_civil(y, m, d) + amount),
    };
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn clamp_day(y: i64, m: i64, d: i64) -> (i64, i64, i64) {
    (y, m, d.min(days_in_month(y, m)))
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(sql: &str) -> Option<Literal> {
        let dialect = GenericDialect {};
        let expr = Parser::new(&dialect)
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        const_literal(&expr)
    }

    #[test]
    fn constant_folding() {
        assert_eq!(lit("0.04 + 0.01"), Some(Literal::Number(0.05)));
        assert_eq!(lit("-(3 * 2)"), Some(Literal::Number(-6.0)));
        let s = |v: &str| Some(Literal::String(v.to_string()));
        assert_eq!(
            lit("date '1994-01-01' + interval '1' year"),
            s("1995-01-01")
        );
        assert_eq!(
            lit("date '1996-11-01' + interval '3' month"),
            s("1997-02-01")
        );
        assert_eq!(
            lit("date '1998-12-01' - interval '68 days'"),
            s("1998-09-24")
        );
        assert_eq!(
            lit("date '2000-01-31' + interval '1' month"),
            s("2000-02-29")
        );
        assert_eq!(lit("date '1999-12-31' + interval '1 day'"), s("2000-01-01"));
        assert_eq!(lit("x + 1"), None);
        assert_eq!(lit("date '1994-01-01' + interval '1' hour"), None);
    }

    #[test]
    fn model_of_a_query() {
        let q = parse_query(
            "SELECT a.x, COUNT(*) AS n FROM t a JOIN u ON a.id = u.id \
             WHERE a.y BETWEEN 1 AND 2 AND (u.z = 'k' OR u.z IS NULL) \
             GROUP BY a.x ORDER BY n DESC LIMIT 5 OFFSET 2",
        )
        .unwrap();
        assert_eq!(q.tables.len(), 2);
        assert_eq!(q.tables[0].binding(), "a");
        assert_eq!(q.predicates.len(), 3);
        assert!(matches!(
            q.predicates[0],
            Pred::ColCmp { op: CmpOp::Eq, .. }
        ));
        assert_eq!(q.group_by.len(), 1);
        assert!(q.order_by[0].desc);
        assert_eq!((q.limit, q.offset), (Some(5), Some(2)));
        assert!(q.is_aggregate());
    }

    fn pred(sql: &str) -> Pred {
        parse_predicate(sql).unwrap()
    }

    #[test]
    fn like_patterns() {
        let col = ColumnRef::new("a");
        // A bare prefix keeps its own variant (and its index-range behaviour).
        assert_eq!(
            pred("a LIKE 'abc%'"),
            Pred::LikePrefix {
                col: col.clone(),
                prefix: "abc".into(),
                negated: false
            }
        );
        let like = |pattern: Literal, negated, case_insensitive| Pred::Like {
            col: col.clone(),
            pattern,
            negated,
            case_insensitive,
        };
        let s = |t: &str| Literal::String(t.into());
        assert_eq!(pred("a LIKE 'abc%def'"), like(s("abc%def"), false, false));
        assert_eq!(pred("a NOT LIKE '%x%'"), like(s("%x%"), true, false));
        assert_eq!(pred("a ILIKE 'abc%'"), like(s("abc%"), false, true));
        assert_eq!(pred("a LIKE ?"), like(Literal::Param, false, false));
        assert_eq!(like_fixed_prefix("abc%def"), ("abc", false));
        assert_eq!(like_fixed_prefix("ab_"), ("ab", false));
        assert_eq!(like_fixed_prefix("%x"), ("", false));
        assert_eq!(like_fixed_prefix("exact"), ("exact", true));
        // A LIKE over an expression, or with ESCAPE, is an opaque match.
        assert!(matches!(
            pred("lower(a) LIKE '%x%'"),
            Pred::Expr {
                kind: ExprKind::Match,
                negated: false,
                ..
            }
        ));
        assert!(matches!(
            pred("a NOT LIKE 'x!%' ESCAPE '!'"),
            Pred::Expr {
                kind: ExprKind::Match,
                negated: true,
                ..
            }
        ));
    }

    #[test]
    fn expression_predicates_keep_text_columns_and_kind() {
        let check = |sql: &str, kind: ExprKind, negated: bool, columns: &[&str]| {
            let Pred::Expr {
                text,
                columns: got,
                kind: got_kind,
                negated: got_negated,
            } = pred(sql)
            else {
                panic!("{sql}: not an expression predicate");
            };
            assert_eq!((got_kind, got_negated), (kind, negated), "{sql}");
            let names: Vec<&str> = got.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, columns, "{sql}");
            assert_eq!(text, sql, "{sql}");
        };
        check("EXTRACT(YEAR FROM d) = 1995", ExprKind::Eq, false, &["d"]);
        check("COALESCE(a, b) <> 0", ExprKind::Eq, true, &["a", "b"]);
        check("CAST(a AS INT) < 3", ExprKind::Ineq, false, &["a"]);
        check("a + 1 BETWEEN 2 AND 3", ExprKind::Range, false, &["a"]);
        check("a * 2 NOT IN (1, 2)", ExprKind::In(2), true, &["a"]);
        check("a IN (b, 1)", ExprKind::In(2), false, &["a", "b"]);
        check("NULLIF(a, 0) IS NULL", ExprKind::IsNull, false, &["a"]);
        check(
            "CASE WHEN t.a > 1 THEN b ELSE c END = 'x'",
            ExprKind::Eq,
            false,
            &["a", "b", "c"],
        );
        check("starts_with(a, 'x')", ExprKind::Bool, false, &["a"]);
    }

    #[test]
    fn opaque_expressions_refuse_subqueries_windows_and_aggregates() {
        let err = |sql: &str| parse_predicate(sql).unwrap_err().to_string();
        assert!(err("a + (SELECT 1) > 2").contains("scalar subquery"));
        assert!(err("f(EXISTS (SELECT 1))").contains("EXISTS"));
        assert!(err("sum(a) OVER () > 1").contains("window function"));
        assert!(err("CASE WHEN sum(a) > 1 THEN 1 END = 1").contains("aggregate inside"));
    }

    #[test]
    fn having_and_expression_projections() {
        let q = parse_query(
            "SELECT EXTRACT(YEAR FROM d) AS y, SUM(CASE WHEN a > 0 THEN b ELSE 0 END) FROM t \
             GROUP BY EXTRACT(YEAR FROM d) HAVING COUNT(*) > 10 AND SUM(c) = 1",
        )
        .unwrap();
        assert!(matches!(
            &q.select[0],
            SelectItemModel::Expr {
                expr: Scalar::Expr { .. },
                ..
            }
        ));
        assert!(matches!(
            &q.select[1],
            SelectItemModel::Expr {
                expr: Scalar::Agg { arg: Some(_), .. },
                ..
            }
        ));
        assert_eq!(q.group_by[0].to_string(), "EXTRACT(YEAR FROM d)");
        assert_eq!(q.having.len(), 2);
        assert_eq!(q.having[0].to_string(), "COUNT(*) > 10");
        assert_eq!(q.having[1].columns(), [&ColumnRef::new("c")]);
        assert!(matches!(
            q.having[1],
            Pred::Expr {
                kind: ExprKind::Eq,
                ..
            }
        ));
    }
}
