//! The catalogue: tables with statistics and indexes.
//!
//! Build it in code ([`Catalog::add_table`], [`Table::column`], [`Index::new`]) or load
//! `CREATE TABLE` / `CREATE INDEX` statements with [`Catalog::from_sql`] and then set the
//! statistics in code ([`Catalog::set_rows`], [`Catalog::set_stats`]).

use std::collections::BTreeMap;

use sqlparser::ast::{self, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};
use crate::parse::{self, Literal, Pred, Query, Scalar, SelectItemModel};

/// Row count given to tables created from DDL or inferred from a query.
pub const DEFAULT_ROWS: u64 = 1_000;

/// Statistics of one column. `distinct == 0` means "unknown" (the planner then uses
/// default selectivities).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStats {
    /// Number of distinct non-null values; 0 if unknown.
    pub distinct: u64,
    /// Fraction of rows that are NULL (0.0..=1.0).
    pub null_frac: f64,
    /// Smallest value, if known.
    pub min: Option<Literal>,
    /// Largest value, if known.
    pub max: Option<Literal>,
}

impl ColumnStats {
    /// Unknown statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the number of distinct values.
    #[must_use]
    pub fn distinct(mut self, n: u64) -> Self {
        self.distinct = n;
        self
    }

    /// Set the NULL fraction.
    #[must_use]
    pub fn null_frac(mut self, f: f64) -> Self {
        self.null_frac = f.clamp(0.0, 1.0);
        self
    }

    /// Set a numeric min/max.
    #[must_use]
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(Literal::Number(min));
        self.max = Some(Literal::Number(max));
        self
    }

    /// Set a string (or date-as-text) min/max.
    #[must_use]
    pub fn text_range(mut self, min: impl Into<String>, max: impl Into<String>) -> Self {
        self.min = Some(Literal::String(min.into()));
        self.max = Some(Literal::String(max.into()));
        self
    }
}

/// A column and its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The name.
    pub name: String,
    /// The statistics.
    pub stats: ColumnStats,
}

/// A table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The name.
    pub name: String,
    /// Estimated number of rows.
    pub rows: u64,
    /// Columns in definition order.
    pub columns: Vec<Column>,
}

impl Table {
    /// A table with `rows` rows and no columns yet.
    pub fn new(name: impl Into<String>, rows: u64) -> Self {
        Self {
            name: name.into(),
            rows,
            columns: Vec::new(),
        }
    }

    /// Add (or replace) a column.
    #[must_use]
    pub fn column(mut self, name: impl Into<String>, stats: ColumnStats) -> Self {
        let name = name.into();
        match self.columns.iter_mut().find(|c| c.name == name) {
            Some(c) => c.stats = stats,
            None => self.columns.push(Column { name, stats }),
        }
        self
    }

    /// Look a column up by name.
    pub fn get_column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// An index: single-column or composite, optionally unique and/or partial.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// The name (used by hints and shown by EXPLAIN).
    pub name: String,
    /// The table it indexes.
    pub table: String,
    /// Key columns, most significant first.
    pub columns: Vec<String>,
    /// Whether keys are unique.
    pub unique: bool,
    /// For a partial index, the predicate rows must satisfy to be indexed.
    pub predicate: Option<Pred>,
}

impl Index {
    /// A (non-unique, non-partial) index on `columns` of `table`.
    pub fn new<I, S>(name: impl Into<String>, table: impl Into<String>, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            table: table.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            unique: false,
            predicate: None,
        }
    }

    /// Mark the index unique.
    #[must_use]
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Make the index partial with a predicate given as SQL, e.g. `"status = 'open'"`.
    pub fn partial(mut self, predicate_sql: &str) -> Result<Self> {
        self.predicate = Some(parse::parse_predicate(predicate_sql)?);
        Ok(self)
    }
}

/// Tables and indexes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    tables: BTreeMap<String, Table>,
    indexes: Vec<Index>,
}

impl Catalog {
    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a table.
    pub fn add_table(&mut self, table: Table) -> &mut Self {
        self.tables.insert(table.name.clone(), table);
        self
    }

    /// Add an index. Its table and columns must exist.
    pub fn add_index(&mut self, index: Index) -> Result<&mut Self> {
        let table = self.tables.get(&index.table).ok_or_else(|| {
            Error::Catalog(format!(
                "index {} on unknown table {}",
                index.name, index.table
            ))
        })?;
        if index.columns.is_empty() {
            return Err(Error::Catalog(format!(
                "index {} has no columns",
                index.name
            )));
        }
        for c in &index.columns {
            if table.get_column(c).is_none() {
                return Err(Error::Catalog(format!(
                    "index {} on unknown column {}.{c}",
                    index.name, index.table
                )));
            }
        }
        if self.indexes.iter().any(|i| i.name == index.name) {
            return Err(Error::Catalog(format!(
                "duplicate index name {}",
                index.name
            )));
        }
        self.indexes.push(index);
        Ok(self)
    }

    /// Remove an index by name; returns it if it existed.
    pub fn remove_index(&mut self, name: &str) -> Option<Index> {
        let pos = self.indexes.iter().position(|i| i.name == name)?;
        Some(self.indexes.remove(pos))
    }

    /// Look a table up.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// All tables, by name.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// All indexes.
    pub fn indexes(&self) -> &[Index] {
        &self.indexes
    }

    /// Look an index up by name.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Indexes of one table.
    pub fn indexes_on<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes.iter().filter(move |i| i.table == table)
    }

    /// Set a table's row count.
    pub fn set_rows(&mut self, table: &str, rows: u64) -> Result<()> {
        let t = self
            .tables
            .get_mut(table)
            .ok_or_else(|| Error::UnknownTable(table.to_string()))?;
        t.rows = rows;
        Ok(())
    }

    /// Set a column's statistics.
    pub fn set_stats(&mut self, table: &str, column: &str, stats: ColumnStats) -> Result<()> {
        let t = self
            .tables
            .get_mut(table)
            .ok_or_else(|| Error::UnknownTable(table.to_string()))?;
        let c = t
            .columns
            .iter_mut()
            .find(|c| c.name == column)
            .ok_or_else(|| Error::UnknownColumn(format!("{table}.{column}")))?;
        c.stats = stats;
        Ok(())
    }

    /// Load `CREATE TABLE` and `CREATE INDEX` statements (generic dialect). Tables get
    /// [`DEFAULT_ROWS`] rows and unknown column statistics; unnamed indexes are named
    /// `<table>_<col>_..._idx`. Any other statement is an error.
    pub fn from_sql(sql: &str) -> Result<Self> {
        let mut catalog = Self::new();
        catalog.load_sql(sql)?;
        Ok(catalog)
    }

    /// Like [`Catalog::from_sql`], adding to this catalogue.
    pub fn load_sql(&mut self, sql: &str) -> Result<()> {
        let statements =
            Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| Error::Parse(e.to_string()))?;
        for statement in &statements {
            match statement {
                Statement::CreateTable(ct) => {
                    let mut table = Table::new(parse::object_name(&ct.name), DEFAULT_ROWS);
                    for col in &ct.columns {
                        table = table.column(parse::ident(&col.name), ColumnStats::new());
                    }
                    self.add_table(table);
                }
                Statement::CreateIndex(ci) => {
                    let table = parse::object_name(&ci.table_name);
                    let mut columns = Vec::new();
                    for ic in &ci.columns {
                        match &ic.column.expr {
                            ast::Expr::Identifier(i) => columns.push(parse::ident(i)),
                            other => {
                                return Err(Error::unsupported(
                                    format!("index on expression `{other}`"),
                                    None,
                                ));
                            }
                        }
                    }
                    let name = match &ci.name {
                        Some(n) => parse::object_name(n),
                        None => format!("{table}_{}_idx", columns.join("_")),
                    };
                    let predicate = ci
                        .predicate
                        .as_ref()
                        .map(parse::convert_predicate)
                        .transpose()?;
                    self.add_index(Index {
                        name,
                        table,
                        columns,
                        unique: ci.unique,
                        predicate,
                    })?;
                }
                other => {
                    return Err(Error::Catalog(format!(
                        "expected CREATE TABLE or CREATE INDEX, got `{}`",
                        other.to_string().chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Add the tables and columns a query mentions that the catalogue lacks, with
    /// [`DEFAULT_ROWS`] rows and unknown statistics. Qualified columns go to the table they
    /// name; an unqualified column no table in the query already has goes to the first table
    /// (a heuristic for multi-table queries without a schema). Output aliases are skipped.
    ///
    /// Derived tables, subqueries and `UNION` arms are walked too; a column that a derived
    /// table of the query outputs, or that an enclosing query's table has (a correlated
    /// subquery's outer column), is not added.
    pub fn extend_from_query(&mut self, query: &Query) {
        self.extend_scoped(query, &[]);
    }

    /// [`Catalog::extend_from_query`] for a query inside the queries of `outer` (their
    /// catalogue table names).
    fn extend_scoped(&mut self, query: &Query, outer: &[&str]) {
        for t in &query.tables {
            match &t.derived {
                Some(d) => self.extend_scoped(&d.query, &[]),
                None if !self.tables.contains_key(&t.name) => {
                    self.add_table(Table::new(t.name.clone(), DEFAULT_ROWS));
                }
                None => {}
            }
        }
        let mut aliases: Vec<&str> = query
            .select
            .iter()
            .filter_map(|s| match s {
                SelectItemModel::Expr { alias: Some(a), .. } => Some(a.as_str()),
                _ => None,
            })
            .collect();
        // The columns derived tables output: theirs, not a catalogue table's.
        for t in &query.tables {
            if let Some(d) = &t.derived {
                aliases.extend(d.columns.iter().map(String::as_str));
                for item in &d.query.select {
                    if let SelectItemModel::Expr { expr, alias } = item {
                        match (alias, expr) {
                            (Some(a), _) => aliases.push(a),
                            (None, Scalar::Column(c)) => aliases.push(&c.name),
                            _ => {}
                        }
                    }
                }
            }
        }
        let own: Vec<&str> = query
            .tables
            .iter()
            .filter(|t| t.derived.is_none())
            .map(|t| t.name.as_str())
            .collect();
        let scope: Vec<&str> = outer.iter().copied().chain(own.iter().copied()).collect();
        for p in query.predicates.iter().chain(&query.having) {
            if let Pred::Subquery(sub) = p {
                self.extend_scoped(&sub.query, &scope);
            }
        }
        for arm in &query.union {
            self.extend_scoped(&arm.query, outer);
        }
        let mut columns = Vec::new();
        for s in &query.select {
            if let SelectItemModel::Expr { expr, .. } = s {
                columns.extend(expr.columns());
            }
        }
        for p in query
            .predicates
            .iter()
            .chain(query.left_joins.iter().flat_map(|j| &j.on))
        {
            columns.extend(p.columns());
        }
        for g in &query.group_by {
            columns.extend(g.columns());
        }
        for o in &query.order_by {
            columns.extend(o.expr.columns());
        }
        for h in &query.having {
            columns.extend(h.columns());
        }
        for c in columns {
            let target = match &c.qualifier {
                Some(q) => query
                    .tables
                    .iter()
                    .find(|t| t.binding() == q || t.name == *q)
                    .map(|t| t.name.clone()),
                None => {
                    if aliases.contains(&c.name.as_str()) {
                        continue;
                    }
                    let has = scope.iter().any(|t| {
                        self.tables
                            .get(*t)
                            .is_some_and(|tab| tab.get_column(&c.name).is_some())
                    });
                    if has {
                        continue;
                    }
                    own.first().map(|t| t.to_string())
                }
            };
            if let Some(table) = target.and_then(|t| self.tables.get_mut(&t))
                && table.get_column(&c.name).is_none()
            {
                table.columns.push(Column {
                    name: c.name.clone(),
                    stats: ColumnStats::new(),
                });
            }
        }
    }
}
