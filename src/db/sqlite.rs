//! The store's [`Database`] over rusqlite, for everything that runs the pipeline natively: unit
//! tests, benchmarks and the native baseline. It executes the way Spin's local SQLite does
//! (SQLite's defaults, the connection's prepared-statement cache, one statement per call, every
//! row copied out), so what the store pays per statement here is what it pays under a runtime,
//! minus the runtime.

use crate::db::{Database, DbError, Row, Rows, Value};
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// One SQLite connection, behind a mutex so that a test can share it between threads.
pub struct SqliteDb(Mutex<rusqlite::Connection>);

impl SqliteDb {
    /// A connection to the file at `path`, with SQLite's defaults as Spin opens it.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        rusqlite::Connection::open(path)
            .map(Self::from)
            .map_err(|e| DbError::Io(format!("cannot open {}: {e}", path.display())))
    }

    /// A private in-memory database: it lives as long as this value. (Tests and benchmarks
    /// only: the component never compiles this module.)
    #[allow(
        clippy::expect_used,
        reason = "tests and benchmarks only; SQLite opens an in-memory database or nothing works"
    )]
    pub fn in_memory() -> Self {
        Self::from(rusqlite::Connection::open_in_memory().expect("an in-memory database"))
    }

    /// The raw connection, for bulk loading and `EXPLAIN QUERY PLAN`.
    pub fn connection(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock leaves the connection itself intact.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl From<rusqlite::Connection> for SqliteDb {
    fn from(connection: rusqlite::Connection) -> Self {
        Self(Mutex::new(connection))
    }
}

/// A database that remembers the text of every statement it runs, for tests and benchmarks
/// that count or inspect them.
pub struct StatementLog<D> {
    pub inner: D,
    statements: Mutex<Vec<String>>,
}

impl<D: Database> StatementLog<D> {
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            statements: Mutex::new(Vec::new()),
        }
    }

    /// The statements run since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.statements.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<D: Database> Database for StatementLog<D> {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        self.statements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sql.to_owned());
        self.inner.execute(sql, params)
    }
}

impl Database for SqliteDb {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        // Run now, hand back a ready future: rusqlite does not wait on anything.
        Box::pin(std::future::ready(self.run(sql, params)))
    }
}

impl SqliteDb {
    /// Runs one statement on this thread.
    pub fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let connection = self.connection();
        let io = |e: rusqlite::Error| DbError::Io(e.to_string());
        let mut statement = connection.prepare_cached(sql).map_err(io)?;
        let params = params.iter().map(|value| match value {
            Value::Integer(n) => SqlValue::Integer(*n),
            Value::Real(x) => SqlValue::Real(*x),
            Value::Text(s) => SqlValue::Text(s.clone()),
            Value::Blob(b) => SqlValue::Blob(b.clone()),
            Value::Null => SqlValue::Null,
        });
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(io)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(io)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(io)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(x) => Value::Real(x),
                    // As the runtimes do: the application always receives valid UTF-8.
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}
