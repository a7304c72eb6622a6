//! The database the store talks to: Spin's SQLite interface in the component, rusqlite in native
//! tests and benchmarks. One call runs one statement, as in Spin.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

pub type Row = Vec<Value>;

/// Errors as Spin's SQLite interface reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    NoSuchDatabase,
    AccessDenied,
    InvalidConnection,
    DatabaseFull,
    Io(String),
}

impl DbError {
    /// SQLite's "no such table: X" (Spin passes the SQLite message through `Io`).
    pub fn missing_table(&self) -> Option<&str> {
        match self {
            Self::Io(message) => message.split("no such table: ").nth(1).map(|rest| {
                rest.split(|c: char| c.is_whitespace() || c == ')')
                    .next()
                    .unwrap_or("")
            }),
            _ => None,
        }
    }
}

impl DbError {
    /// Whether a statement failed because the schema lacks what it names: a table, a column,
    /// or the unique index an `ON CONFLICT` target needs. On a database that is new, or being
    /// migrated by a concurrent request, that means "migrate, then try again".
    pub fn schema_behind(&self) -> bool {
        match self {
            Self::Io(message) => [
                "no such table",
                "no such column",
                "has no column named",
                "ON CONFLICT clause does not match",
                // `INDEXED BY` an index a later migration creates.
                "no such index",
                // A virtual table another request is creating in that moment.
                "vtable constructor failed",
            ]
            .iter()
            .any(|sign| message.contains(sign)),
            _ => false,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchDatabase => f.write_str("no such database"),
            Self::AccessDenied => f.write_str("access to the database denied"),
            Self::InvalidConnection => f.write_str("invalid database connection"),
            Self::DatabaseFull => f.write_str("database full"),
            Self::Io(message) => write!(f, "database error: {message}"),
        }
    }
}

impl std::error::Error for DbError {}

pub trait Database {
    /// Runs one statement with positional parameters (`?1`, `?2`, …) and returns its rows.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;

    /// Whether the statements run inside a transaction a caller already opened ([`Nested`]): a
    /// unit of work that needs a transaction of its own then takes a savepoint instead.
    fn nested(&self) -> bool {
        false
    }
}

/// A borrowed database is a database (a wrapper can take `&db`).
impl<D: Database + ?Sized> Database for &D {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        (**self).execute(sql, params)
    }

    fn nested(&self) -> bool {
        (**self).nested()
    }
}

/// The database inside a transaction its holder opened (a batch): the same connection.
pub struct Nested<'a>(pub &'a dyn Database);

impl Database for Nested<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.0.execute(sql, params)
    }

    fn nested(&self) -> bool {
        true
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Integer(i64::from(value))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_missing_tables() {
        let error = DbError::Io("no such table: schema_migrations".into());
        assert_eq!(error.missing_table(), Some("schema_migrations"));
        let error = DbError::Io("prepare failed: no such table: main.user (code 1)".into());
        assert_eq!(error.missing_table(), Some("main.user"));
        assert_eq!(DbError::Io("disk I/O error".into()).missing_table(), None);
        assert_eq!(DbError::AccessDenied.missing_table(), None);
        assert!(DbError::Io("no such table: tasks".into()).schema_behind());
        assert!(DbError::Io("no such index: tasks_stale".into()).schema_behind());
        assert!(
            DbError::Io(
                "ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint".into()
            )
            .schema_behind()
        );
        assert!(!DbError::Io("disk I/O error".into()).schema_behind());
    }
}
