//! The crate's error type.

use std::fmt;

/// A position in the SQL text: 1-based line and column.
pub type Position = (u64, u64);

/// Everything that can go wrong while parsing, cataloguing or planning.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The text is not valid SQL (sqlparser's message, which includes the position).
    #[error("parse error: {0}")]
    Parse(String),
    /// Valid SQL outside the supported subset.
    #[error("unsupported: {construct} ({})", PositionDisplay(*position))]
    Unsupported {
        /// What is not supported, e.g. `subquery`, `window function`, `UNION`.
        construct: String,
        /// Where it starts in the SQL text, when sqlparser records a location.
        position: Option<Position>,
    },
    /// A table the catalogue does not know.
    #[error("unknown table `{0}`")]
    UnknownTable(String),
    /// A column that no table in the query has.
    #[error("unknown column `{0}`")]
    UnknownColumn(String),
    /// An unqualified column that more than one table in the query has.
    #[error("ambiguous column `{0}`")]
    AmbiguousColumn(String),
    /// An index hint that cannot be honoured (unknown index, or a partial index whose
    /// predicate the query does not imply).
    #[error("index hint: {0}")]
    Hint(String),
    /// A catalogue definition problem (e.g. a `CREATE INDEX` on an unknown table).
    #[error("catalog: {0}")]
    Catalog(String),
}

impl Error {
    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(construct: impl Into<String>, position: Option<Position>) -> Self {
        Error::Unsupported {
            construct: construct.into(),
            position,
        }
    }
}

struct PositionDisplay(Option<Position>);

impl fmt::Display for PositionDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, "at line {line}, column {column}"),
            None => f.write_str("position unknown"),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
