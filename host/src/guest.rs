//! The Spin interfaces a component imports, answered for one instance's [`InstanceState`]:
//! SQLite (`spin:sqlite/sqlite@3.1.0` and `fermyon:spin/sqlite@2.0.0`) and variables
//! (`spin:variables/variables@3.0.0` and `fermyon:spin/variables@2.0.0`); WASI and `wasi:http`
//! come from wasmtime-wasi(-http). Each translates between the generated bindings and the module
//! that does the work.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime::StoreContextMut;
use wasmtime::component::{
    Accessor, Destination, FutureReader, Resource, StreamProducer, StreamReader, StreamResult,
};

use crate::bindings::{SpinHost, sqlite, sqlite3, variables, variables3};
use crate::sqlite::{Connection, Error, QueryResult, RowResult, Value};
use crate::state::InstanceState;
use crate::variables::VariableError;

fn to_v2_error(e: Error) -> sqlite::Error {
    match e {
        Error::NoSuchDatabase => sqlite::Error::NoSuchDatabase,
        Error::AccessDenied => sqlite::Error::AccessDenied,
        Error::InvalidConnection => sqlite::Error::InvalidConnection,
        Error::DatabaseFull => sqlite::Error::DatabaseFull,
        Error::Io(m) => sqlite::Error::Io(m),
    }
}

fn to_v3_error(e: Error) -> sqlite3::Error {
    match e {
        Error::NoSuchDatabase => sqlite3::Error::NoSuchDatabase,
        Error::AccessDenied => sqlite3::Error::AccessDenied,
        Error::InvalidConnection => sqlite3::Error::InvalidConnection,
        Error::DatabaseFull => sqlite3::Error::DatabaseFull,
        Error::Io(m) => sqlite3::Error::Io(m),
    }
}

fn from_v2_value(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(f) => Value::Real(f),
        sqlite::Value::Text(s) => Value::Text(s),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    }
}

fn from_v3_value(v: sqlite3::Value) -> Value {
    match v {
        sqlite3::Value::Integer(i) => Value::Integer(i),
        sqlite3::Value::Real(f) => Value::Real(f),
        sqlite3::Value::Text(s) => Value::Text(s),
        sqlite3::Value::Blob(b) => Value::Blob(b),
        sqlite3::Value::Null => Value::Null,
    }
}

fn to_v2_value(v: Value) -> sqlite::Value {
    match v {
        Value::Integer(i) => sqlite::Value::Integer(i),
        Value::Real(f) => sqlite::Value::Real(f),
        Value::Text(s) => sqlite::Value::Text(s),
        Value::Blob(b) => sqlite::Value::Blob(b),
        Value::Null => sqlite::Value::Null,
    }
}

fn to_v3_value(v: Value) -> sqlite3::Value {
    match v {
        Value::Integer(i) => sqlite3::Value::Integer(i),
        Value::Real(f) => sqlite3::Value::Real(f),
        Value::Text(s) => sqlite3::Value::Text(s),
        Value::Blob(b) => sqlite3::Value::Blob(b),
        Value::Null => sqlite3::Value::Null,
    }
}

fn to_v2_result(r: QueryResult) -> sqlite::QueryResult {
    sqlite::QueryResult {
        columns: r.columns,
        rows: r
            .rows
            .into_iter()
            .map(|row| sqlite::RowResult {
                values: row.values.into_iter().map(to_v2_value).collect(),
            })
            .collect(),
    }
}

fn to_v3_row(row: RowResult) -> sqlite3::RowResult {
    sqlite3::RowResult {
        values: row.values.into_iter().map(to_v3_value).collect(),
    }
}

fn to_v3_result(r: QueryResult) -> sqlite3::QueryResult {
    sqlite3::QueryResult {
        columns: r.columns,
        rows: r.rows.into_iter().map(to_v3_row).collect(),
    }
}

/// Runs SQLite work on tokio's blocking pool, as Spin does: any statement may wait for a lock
/// or the disk.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Io(format!("sqlite task failed: {e}"))))
}

impl InstanceState {
    /// `open`, either interface: a new connection object in this instance's table (the file
    /// is opened on its first statement).
    fn open_connection(&mut self, database: &str) -> Result<u32, Error> {
        let connection = self.app.sqlite.open(database)?;
        self.connections.push(Arc::new(connection))
    }

    fn connection(&self, rep: u32) -> Result<Arc<Connection>, Error> {
        self.connections.get(rep).ok_or(Error::InvalidConnection)
    }
}

async fn execute_on(
    connection: Result<Arc<Connection>, Error>,
    statement: String,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let connection = connection?;
    blocking(move || connection.execute(&statement, parameters)).await
}

// A handle the guest still holds is always in the table (only its drop removes it), so the
// fallbacks to 0 below are for the impossible case.

async fn changes_of(connection: Result<Arc<Connection>, Error>) -> u64 {
    match connection {
        Ok(c) => blocking(move || c.changes()).await.unwrap_or(0),
        Err(_) => 0,
    }
}

async fn last_insert_rowid_of(connection: Result<Arc<Connection>, Error>) -> i64 {
    match connection {
        Ok(c) => blocking(move || c.last_insert_rowid()).await.unwrap_or(0),
        Err(_) => 0,
    }
}

// fermyon:spin/sqlite@2.0.0 (spin-sdk 5.x).

impl sqlite::Host for InstanceState {}

impl sqlite::HostConnection for InstanceState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<sqlite::Connection>, sqlite::Error> {
        self.open_connection(&database)
            .map(Resource::new_own)
            .map_err(to_v2_error)
    }

    async fn execute(
        &mut self,
        conn: Resource<sqlite::Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let parameters = parameters.into_iter().map(from_v2_value).collect();
        execute_on(self.connection(conn.rep()), statement, parameters)
            .await
            .map(to_v2_result)
            .map_err(to_v2_error)
    }

    async fn drop(&mut self, conn: Resource<sqlite::Connection>) -> wasmtime::Result<()> {
        self.connections.remove(conn.rep());
        Ok(())
    }
}

// spin:sqlite/sqlite@3.1.0 (spin-sdk 6.0): the synchronous functions.

impl sqlite3::Host for InstanceState {}

impl sqlite3::HostConnection for InstanceState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<sqlite3::Connection>, sqlite3::Error> {
        self.open_connection(&database)
            .map(Resource::new_own)
            .map_err(to_v3_error)
    }

    async fn execute(
        &mut self,
        conn: Resource<sqlite3::Connection>,
        statement: String,
        parameters: Vec<sqlite3::Value>,
    ) -> Result<sqlite3::QueryResult, sqlite3::Error> {
        let parameters = parameters.into_iter().map(from_v3_value).collect();
        execute_on(self.connection(conn.rep()), statement, parameters)
            .await
            .map(to_v3_result)
            .map_err(to_v3_error)
    }

    async fn last_insert_rowid(&mut self, conn: Resource<sqlite3::Connection>) -> i64 {
        last_insert_rowid_of(self.connection(conn.rep())).await
    }

    async fn changes(&mut self, conn: Resource<sqlite3::Connection>) -> u64 {
        changes_of(self.connection(conn.rep())).await
    }

    async fn drop(&mut self, conn: Resource<sqlite3::Connection>) -> wasmtime::Result<()> {
        self.connections.remove(conn.rep());
        Ok(())
    }
}

/// The rows of an `execute-async`, as the blocking task steps to them: at most a few buffered
/// ahead of the guest (the channel's capacity), so a large result never sits in host memory.
struct RowStream {
    rows: tokio::sync::mpsc::Receiver<sqlite3::RowResult>,
}

impl<D> StreamProducer<D> for RowStream {
    type Item = sqlite3::RowResult;
    type Buffer = Option<sqlite3::RowResult>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<'a, D>,
        mut destination: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        if destination.remaining(store) == Some(0) {
            // A zero-length read only asks whether the stream is open.
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        match self.get_mut().rows.poll_recv(cx) {
            Poll::Ready(Some(row)) => {
                destination.set_buffer(Some(row));
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(None) => Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

type ExecuteAsync = (
    Vec<String>,
    StreamReader<sqlite3::RowResult>,
    FutureReader<Result<(), sqlite3::Error>>,
);

// spin:sqlite/sqlite@3.1.0: the async functions, which run without holding the store.

impl sqlite3::HostConnectionWithStore for SpinHost {
    async fn open_async<T: Send>(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> Result<Resource<sqlite3::Connection>, sqlite3::Error> {
        accessor
            .with(|mut access| access.get().open_connection(&database))
            .map(Resource::new_own)
            .map_err(to_v3_error)
    }

    async fn execute_async<T: Send>(
        accessor: &Accessor<T, Self>,
        conn: Resource<sqlite3::Connection>,
        statement: String,
        parameters: Vec<sqlite3::Value>,
    ) -> Result<ExecuteAsync, sqlite3::Error> {
        let connection = accessor
            .with(|mut access| access.get().connection(conn.rep()))
            .map_err(to_v3_error)?;
        let parameters: Vec<Value> = parameters.into_iter().map(from_v3_value).collect();
        let (columns_tx, columns_rx) = tokio::sync::oneshot::channel();
        let (rows_tx, rows_rx) = tokio::sync::mpsc::channel(4);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        // As in Spin 4.0.2: the column names come back as soon as the statement is prepared,
        // the rows through the stream, and every failure (a statement that does not prepare
        // included, with no columns) through the future.
        tokio::task::spawn_blocking(move || {
            let mut columns_tx = Some(columns_tx);
            let result = connection.stream(
                &statement,
                parameters,
                |names| {
                    if let Some(tx) = columns_tx.take() {
                        let _ = tx.send(names);
                    }
                    Ok(())
                },
                |row| {
                    rows_tx
                        .blocking_send(to_v3_row(row))
                        .map_err(|_| Error::Io("row send error".to_string()))
                },
            );
            if let Some(tx) = columns_tx.take() {
                let _ = tx.send(Vec::new());
            }
            let _ = done_tx.send(result.map_err(to_v3_error));
        });
        let columns = columns_rx
            .await
            .map_err(|e| sqlite3::Error::Io(format!("sqlite task failed: {e}")))?;
        let done = async move {
            Ok::<_, wasmtime::Error>(
                done_rx
                    .await
                    .unwrap_or_else(|_| Err(sqlite3::Error::Io("sqlite task failed".to_string()))),
            )
        };
        accessor
            .with(|mut access| -> wasmtime::Result<ExecuteAsync> {
                let rows = StreamReader::new(&mut access, RowStream { rows: rows_rx })?;
                let done = FutureReader::new(&mut access, done)?;
                Ok((columns, rows, done))
            })
            .map_err(|e| sqlite3::Error::Io(e.to_string()))
    }

    async fn last_insert_rowid_async<T: Send>(
        accessor: &Accessor<T, Self>,
        conn: Resource<sqlite3::Connection>,
    ) -> i64 {
        last_insert_rowid_of(accessor.with(|mut access| access.get().connection(conn.rep()))).await
    }

    async fn changes_async<T: Send>(
        accessor: &Accessor<T, Self>,
        conn: Resource<sqlite3::Connection>,
    ) -> u64 {
        changes_of(accessor.with(|mut access| access.get().connection(conn.rep()))).await
    }
}

// Variables: fermyon:spin/variables@2.0.0 and spin:variables/variables@3.0.0.

impl variables::Host for InstanceState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.app.variables.get(&name).map_err(|e| match e {
            VariableError::InvalidName(m) => variables::Error::InvalidName(m),
            VariableError::Undefined(m) => variables::Error::Undefined(m),
        })
    }
}

impl variables3::Host for InstanceState {}

impl variables3::HostWithStore for SpinHost {
    async fn get<T: Send>(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> Result<String, variables3::Error> {
        accessor
            .with(|mut access| access.get().app.variables.get(&name))
            .map_err(|e| match e {
                VariableError::InvalidName(m) => variables3::Error::InvalidName(m),
                VariableError::Undefined(m) => variables3::Error::Undefined(m),
            })
    }
}
