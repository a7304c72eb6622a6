//! The interfaces the component imports, answered for one request's [`RequestState`]: Spin's
//! SQLite and variables (WASI and `wasi:http` come from wasmtime-wasi). Each translates between
//! the generated bindings and the module that does the work.

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::bindings::{sqlite, variables};
use crate::sqlite::{ConnectionHandle, Error, QueryResult, Value};
use crate::state::RequestState;
use crate::variables::VariableError;

fn to_binding_error(e: Error) -> sqlite::Error {
    match e {
        Error::NoSuchDatabase => sqlite::Error::NoSuchDatabase,
        Error::AccessDenied => sqlite::Error::AccessDenied,
        Error::InvalidConnection => sqlite::Error::InvalidConnection,
        Error::DatabaseFull => sqlite::Error::DatabaseFull,
        Error::Io(m) => sqlite::Error::Io(m),
    }
}

fn from_binding_value(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(f) => Value::Real(f),
        sqlite::Value::Text(s) => Value::Text(s),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    }
}

fn to_binding_value(v: Value) -> sqlite::Value {
    match v {
        Value::Integer(i) => sqlite::Value::Integer(i),
        Value::Real(f) => sqlite::Value::Real(f),
        Value::Text(s) => sqlite::Value::Text(s),
        Value::Blob(b) => sqlite::Value::Blob(b),
        Value::Null => sqlite::Value::Null,
    }
}

fn to_binding_result(r: QueryResult) -> sqlite::QueryResult {
    sqlite::QueryResult {
        columns: r.columns,
        rows: r
            .rows
            .into_iter()
            .map(|row| sqlite::RowResult {
                values: row.values.into_iter().map(to_binding_value).collect(),
            })
            .collect(),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Io(format!("sqlite task failed: {e}"))))
}

impl sqlite::Host for RequestState {}

impl sqlite::HostConnection for RequestState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<ConnectionHandle>, sqlite::Error> {
        let connection = self.app.sqlite.open(&database).map_err(to_binding_error)?;
        self.table
            .push(Arc::new(connection))
            .map_err(|e| sqlite::Error::Io(e.to_string()))
    }

    async fn execute(
        &mut self,
        conn: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let connection = self
            .table
            .get(&conn)
            .map_err(|_| sqlite::Error::InvalidConnection)?
            .clone();
        let parameters: Vec<Value> = parameters.into_iter().map(from_binding_value).collect();
        // As Spin does: every statement on the blocking pool, since any of them may wait.
        blocking(move || connection.execute(&statement, parameters))
            .await
            .map(to_binding_result)
            .map_err(to_binding_error)
    }

    async fn drop(&mut self, conn: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.app.variables.get(&name).map_err(|e| match e {
            VariableError::InvalidName(m) => variables::Error::InvalidName(m),
            VariableError::Undefined(m) => variables::Error::Undefined(m),
        })
    }
}
