//! The store's [`Database`] over rusqlite, for native benchmarks and the query-plan test. It
//! executes the way the bundled host's `sqlite` interface does (one connection behind a mutex,
//! SQLite's defaults, the connection's prepared-statement cache, every row copied out), so
//! what the store pays per statement here is what it pays under the host, minus the wasm
//! boundary.

use rusqlite::types::{Value as SqlValue, ValueRef};
use std::path::Path;
use std::sync::Mutex;
use task_api::db::{Database, DbError, Row, Value};

pub struct Sqlite(Mutex<rusqlite::Connection>);

impl Sqlite {
    pub fn open(path: &Path) -> Self {
        Self::from(rusqlite::Connection::open(path).expect("open the database"))
    }

    pub fn in_memory() -> Self {
        Self::from(rusqlite::Connection::open_in_memory().expect("open an in-memory database"))
    }

    /// The raw connection, for bulk loading and `EXPLAIN QUERY PLAN`.
    pub fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.0.lock().unwrap()
    }
}

impl From<rusqlite::Connection> for Sqlite {
    fn from(connection: rusqlite::Connection) -> Self {
        Self(Mutex::new(connection))
    }
}

impl Database for Sqlite {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
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
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}
