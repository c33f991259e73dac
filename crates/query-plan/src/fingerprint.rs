//! Query normalisation and fingerprinting.
//!
//! Two queries that differ only in their constants should be counted as one *query shape*
//! by the [workload registry](crate::registry). This module turns SQL text into that
//! shape:
//!
//! 1. the text is parsed with sqlparser's [`GenericDialect`] (any statement sqlparser
//!    accepts works, not only the planner's subset; several statements are allowed);
//! 2. the AST is walked with sqlparser's [`VisitorMut`], and
//!    - every literal (numbers, all kinds of quoted strings, booleans, and the string of a
//!      typed literal such as `DATE '1996-01-01'` or `INTERVAL '3' MONTH`) becomes the
//!      placeholder `?`; existing placeholders (`$1`, `:name`, `?`) become `?` too;
//!      `NULL` is kept, because `x = NULL` and `x = 1` are different shapes;
//!    - a sign in front of a literal is folded into the placeholder (`-5` → `?`);
//!    - a list `IN (…)` whose items are all constants, of any length, collapses to
//!      `IN (?)`; a list that mentions a column or other non-constant keeps its items;
//!    - aliases of output columns are dropped (`SELECT sum(x) AS total` → `SELECT sum(x)`),
//!      as pg_stat_statements and pg_query ignore them; an `ORDER BY` or `GROUP BY` that
//!      names such an alias names the aliased expression instead, so `… AS t ORDER BY t`
//!      and `… ORDER BY sum(x)` are one shape. Table aliases are kept;
//! 3. the rewritten AST is printed again with `to_string()`. Re-printing makes keyword
//!    case, whitespace, comments and redundant formatting irrelevant.
//!
//! **Identifiers keep their case**: `SELECT A FROM t` and `SELECT a FROM t` normalise
//! differently (whether they mean the same column depends on the database's rules for
//! unquoted identifiers, which the fingerprint does not guess). Quoting is kept too.
//!
//! The [`Fingerprint`] is the 64-bit FNV-1a hash of the normalised text: stable across
//! runs, processes, platforms and Rust versions (unlike `std`'s randomised hasher), so
//! fingerprints can be stored and compared later. It prints as 16 hex digits.
//!
//! ```
//! use query_plan::fingerprint::{fingerprint, normalize};
//!
//! let a = "select * from t where id = 42 and name in ('a', 'b', 'c')";
//! let b = "SELECT *\n  FROM t WHERE id = 7 AND name IN ('x')";
//! assert_eq!(normalize(a).unwrap(), "SELECT * FROM t WHERE id = ? AND name IN (?)");
//! assert_eq!(fingerprint(a).unwrap(), fingerprint(b).unwrap());
//! ```

use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Arc;

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, InTarget, OrderByKind, Query, SelectItem, SetExpr, UnaryOperator,
    Value, ValueWithSpan, VisitMut, VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A stable 64-bit identifier of a query shape: the FNV-1a hash of its normalised text.
///
/// `Display` (and `{:x}`) prints exactly 16 lowercase hex digits; [`FromStr`] parses them
/// back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of an already normalised text (FNV-1a, 64 bit).
    ///
    /// `fingerprint(sql)` equals `Fingerprint::of_normalized(&normalize(sql)?)`.
    pub fn of_normalized(text: &str) -> Self {
        Fingerprint(fnv1a64(text.as_bytes()))
    }

    /// The raw 64-bit value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::LowerHex for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl FromStr for Fingerprint {
    type Err = std::num::ParseIntError;

    /// Parses the hex form printed by `Display` (with or without leading zeros).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Fingerprint)
    }
}

/// Why a text could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// sqlparser rejected the text (its message includes the position).
    #[error("cannot fingerprint: parse error: {0}")]
    Parse(String),
    /// The text contains no statement (empty, only whitespace, comments or `;`).
    #[error("cannot fingerprint: no SQL statement")]
    Empty,
}

/// A query's normalised text together with its fingerprint, computed once.
///
/// Hot paths that run the same statement many times can build this once and pass
/// `&Normalized` to [`Registry::record`](crate::registry::Registry::record), skipping the
/// parse on every call while still giving the registry the normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The fingerprint of [`text`](Self::text).
    pub fingerprint: Fingerprint,
    /// The normalised text (see the [module docs](self)).
    pub text: Arc<str>,
    /// `false` when sqlparser could not parse the query and [`Normalized::new_lossy`]
    /// fell back to the whitespace-collapsed raw text.
    pub parsed: bool,
}

impl Normalized {
    /// Parses and normalises `sql`.
    pub fn new(sql: &str) -> Result<Self, FingerprintError> {
        let text = normalize(sql)?;
        Ok(Normalized {
            fingerprint: Fingerprint::of_normalized(&text),
            text: text.into(),
            parsed: true,
        })
    }

    /// Like [`Normalized::new`], but never fails: text sqlparser cannot parse is keyed by
    /// its raw text with runs of whitespace collapsed to one space (literals are *not*
    /// replaced then), and [`parsed`](Self::parsed) is `false`. Useful for monitoring,
    /// where a query with a syntax error must still be counted.
    pub fn new_lossy(sql: &str) -> Self {
        match Self::new(sql) {
            Ok(n) => n,
            Err(_) => {
                let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                Normalized {
                    fingerprint: Fingerprint::of_normalized(&text),
                    text: text.into(),
                    parsed: false,
                }
            }
        }
    }
}

/// Normalises `sql`: literals become `?`, constant `IN` lists become `IN (?)`, and the
/// text is re-printed from the AST. Several statements are joined with `"; "`.
pub fn normalize(sql: &str) -> Result<String, FingerprintError> {
    let mut statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| FingerprintError::Parse(e.to_string()))?;
    if statements.is_empty() {
        return Err(FingerprintError::Empty);
    }
    let _ = statements.visit(&mut Normalizer);
    let mut out = String::with_capacity(sql.len());
    for (i, statement) in statements.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&statement.to_string());
    }
    Ok(out)
}

/// The fingerprint of `sql`'s [normalised](normalize) text.
pub fn fingerprint(sql: &str) -> Result<Fingerprint, FingerprintError> {
    normalize(sql).map(|text| Fingerprint::of_normalized(&text))
}

/// FNV-1a, 64 bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The AST rewriter behind [`normalize`].
struct Normalizer;

fn placeholder() -> Value {
    Value::Placeholder("?".to_owned())
}

fn is_placeholder(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(&v.value, Value::Placeholder(p) if p == "?"))
}

/// A constant after rewriting: a placeholder, `NULL`, a typed literal or a parenthesised
/// constant.
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) | Expr::TypedString(_) => true,
        Expr::Nested(inner) => is_constant(inner),
        _ => false,
    }
}

/// Drops the output-column aliases of every `SELECT` in `body`; returns those of the first
/// (leftmost) one, whose names an `ORDER BY` of a set operation refers to.
fn strip_output_aliases(body: &mut SetExpr) -> Vec<(Ident, Expr)> {
    match body {
        SetExpr::Select(select) => {
            let mut aliases = Vec::new();
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { expr, alias } = item {
                    aliases.push((alias.clone(), expr.clone()));
                    *item = SelectItem::UnnamedExpr(expr.clone());
                }
            }
            if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
                for expr in exprs {
                    resolve_alias(expr, &aliases);
                }
            }
            aliases
        }
        SetExpr::SetOperation { left, right, .. } => {
            let aliases = strip_output_aliases(left);
            strip_output_aliases(right);
            aliases
        }
        _ => Vec::new(),
    }
}

/// An expression that is exactly an output alias becomes the aliased expression.
fn resolve_alias(expr: &mut Expr, aliases: &[(Ident, Expr)]) {
    if let Expr::Identifier(name) = expr
        && let Some((_, aliased)) = aliases.iter().find(|(alias, _)| alias == name)
    {
        *expr = aliased.clone();
    }
}

impl VisitorMut for Normalizer {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let aliases = strip_output_aliases(&mut query.body);
        if let Some(order_by) = &mut query.order_by
            && let OrderByKind::Expressions(exprs) = &mut order_by.kind
        {
            for item in exprs {
                resolve_alias(&mut item.expr, &aliases);
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<()> {
        if !matches!(value.value, Value::Null) {
            value.value = placeholder();
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        // Children are visited first, so literals below are already placeholders.
        match expr {
            Expr::UnaryOp {
                op: UnaryOperator::Minus | UnaryOperator::Plus,
                expr: inner,
            } if is_placeholder(inner) => {
                *expr = (**inner).clone();
            }
            Expr::In {
                target: InTarget::List(list),
                ..
            } if !list.is_empty() && list.iter().all(is_constant) => {
                *list = vec![Expr::Value(placeholder().into())];
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fp(sql: &str) -> Fingerprint {
        fingerprint(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    #[test]
    fn output_aliases_do_not_change_the_shape() {
        let plain = "SELECT sum(x) FROM t GROUP BY g ORDER BY sum(x)";
        for aliased in [
            "SELECT sum(x) AS total FROM t GROUP BY g ORDER BY total",
            "select sum(x) as s from t group by g order by s",
            "SELECT sum(x) FROM t GROUP BY g ORDER BY sum(x)",
        ] {
            assert_eq!(fp(aliased), fp(plain), "{aliased}");
        }
        assert_eq!(
            normalize("SELECT a AS x, b AS y FROM t GROUP BY x ORDER BY y DESC").unwrap(),
            "SELECT a, b FROM t GROUP BY a ORDER BY b DESC"
        );
        // A union: the aliases of every branch go; ORDER BY names the first branch's.
        assert_eq!(
            normalize("SELECT a AS k FROM t UNION SELECT b AS j FROM u ORDER BY k").unwrap(),
            "SELECT a FROM t UNION SELECT b FROM u ORDER BY a"
        );
        // Table aliases, and columns that merely share a name, stay.
        assert_ne!(fp("SELECT t.a FROM t"), fp("SELECT x.a FROM t AS x"));
        assert_ne!(
            fp("SELECT a FROM t ORDER BY b"),
            fp("SELECT a AS b FROM t ORDER BY b")
        );
    }

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            normalize("SELECT a FROM t WHERE b = 1 AND c = 'x' AND d = TRUE AND e IS NULL")
                .unwrap(),
            "SELECT a FROM t WHERE b = ? AND c = ? AND d = ? AND e IS NULL"
        );
        assert_eq!(
            normalize("select * from t where x > -3.5 limit 10 offset 20").unwrap(),
            "SELECT * FROM t WHERE x > ? LIMIT ? OFFSET ?"
        );
        assert_eq!(
            normalize("select * from t where d >= date '1996-01-01' + interval '3' month").unwrap(),
            "SELECT * FROM t WHERE d >= DATE ? + INTERVAL ? MONTH"
        );
        // NULL is kept: `= NULL` is a different shape from `= 1`.
        assert_ne!(
            fp("SELECT a FROM t WHERE b = NULL"),
            fp("SELECT a FROM t WHERE b = 1")
        );
        // Existing placeholders unify with literals.
        assert_eq!(
            fp("SELECT a FROM t WHERE b = $1"),
            fp("SELECT a FROM t WHERE b = 1")
        );
    }

    #[test]
    fn same_shape_same_fingerprint() {
        let base = fp("SELECT a, b FROM t WHERE id = 1 AND name = 'x' AND k IN (1, 2, 3)");
        for sql in [
            "SELECT a, b FROM t WHERE id = 99999 AND name = 'something else' AND k IN (7)",
            "select a,b from t where id=1 and name='x' and k in (1,2,3,4,5,6,7,8,9,10)",
            "SeLeCt   a ,\n\tb\nFROM t   WHERE id = -1 AND name = 'x' AND k IN (-1, 2.5, 'z')",
            "SELECT a, b FROM t -- a comment\n WHERE id = 1 AND name = 'x' AND k IN (1)",
        ] {
            assert_eq!(fp(sql), base, "{sql}");
        }
        assert_eq!(
            normalize("select a from t where k not in (1, 2, 3)").unwrap(),
            "SELECT a FROM t WHERE k NOT IN (?)"
        );
    }

    #[test]
    fn different_shape_different_fingerprint() {
        let base = fp("SELECT a FROM t WHERE b = 1");
        for sql in [
            "SELECT c FROM t WHERE b = 1",           // different column selected
            "SELECT a FROM t WHERE c = 1",           // different predicate column
            "SELECT a FROM t WHERE b < 1",           // different operator
            "SELECT a FROM u WHERE b = 1",           // different table
            "SELECT a FROM t WHERE b = 1 AND c = 2", // extra predicate
            "SELECT a FROM t WHERE b IN (1)",        // IN is not =
            "SELECT a FROM t WHERE b = 1 ORDER BY a",
            "SELECT A FROM t WHERE b = 1", // identifiers keep their case
        ] {
            assert_ne!(fp(sql), base, "{sql}");
        }
        // An IN list naming a column is not collapsed.
        assert_eq!(
            normalize("SELECT a FROM t WHERE b IN (1, c)").unwrap(),
            "SELECT a FROM t WHERE b IN (?, c)"
        );
    }

    #[test]
    fn display_and_errors() {
        let f = Fingerprint(0xab);
        assert_eq!(f.to_string(), "00000000000000ab");
        assert_eq!("00000000000000ab".parse::<Fingerprint>().unwrap(), f);
        assert_eq!(fp("SELECT 1").to_string().len(), 16);
        // FNV-1a known answers.
        assert_eq!(Fingerprint::of_normalized("").0, 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fingerprint::of_normalized("a").0, 0xaf63_dc4c_8601_ec8c);
        assert!(matches!(
            fingerprint("SELEC 1"),
            Err(FingerprintError::Parse(_))
        ));
        assert_eq!(fingerprint("  ;  "), Err(FingerprintError::Empty));
        let lossy = Normalized::new_lossy("SELEC   1\n FROM x");
        assert!(!lossy.parsed);
        assert_eq!(&*lossy.text, "SELEC 1 FROM x");
        let n = Normalized::new("select 1").unwrap();
        assert!(n.parsed);
        assert_eq!(n.fingerprint, fp("SELECT 2"));
    }

    /// `$SHARED_DATA/sql`, or `<workspace>/../shared/data/sql`.
    fn shared_sql_dir() -> PathBuf {
        match std::env::var_os("SHARED_DATA") {
            Some(dir) => PathBuf::from(dir).join("sql"),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sql"),
        }
    }

    /// Every shared query fingerprints without panicking; reports how many parse.
    #[test]
    fn shared_queries_fingerprint() {
        let dir = shared_sql_dir();
        if !dir.is_dir() {
            eprintln!(
                "notice: {} not found; skipping shared query fingerprints",
                dir.display()
            );
            return;
        }
        let mut queries: Vec<(String, String)> = Vec::new();
        let clickbench = dir.join("clickbench/queries.sql");
        if let Ok(text) = std::fs::read_to_string(&clickbench) {
            for (i, line) in text.lines().enumerate() {
                if !line.trim().is_empty() {
                    queries.push((format!("clickbench:{}", i + 1), line.to_owned()));
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("tpch")) {
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if name.starts_with('q') && name.ends_with(".sql") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    queries.push((format!("tpch:{name}"), text));
                }
            }
        }
        let mut parsed = 0;
        let mut shapes = std::collections::HashSet::new();
        for (name, sql) in &queries {
            match normalize(sql) {
                Ok(text) => {
                    parsed += 1;
                    assert!(!text.is_empty());
                    // Normalising is idempotent.
                    assert_eq!(normalize(&text).as_deref(), Ok(text.as_str()), "{name}");
                    shapes.insert(Fingerprint::of_normalized(&text));
                }
                Err(e) => eprintln!("{name}: {e}"),
            }
        }
        eprintln!(
            "fingerprint: {parsed}/{} shared queries parse ({} distinct shapes)",
            queries.len(),
            shapes.len()
        );
        assert!(!queries.is_empty());
    }
}
