//! The database the store talks to: Spin's SQLite interface in the component, rusqlite in native
//! tests and benchmarks. One call runs one statement, as in Spin.

//!
//! Below it, how a connection is kept: [`pool`] (how many per instance), [`kept`] (reopened
//! after loss), [`shared`] (one connection, serialized by a [`fair_lock`], writes
//! group-committed), and the schema those connections must have ([`migrations`]).

pub mod fair_lock;
pub mod kept;
pub mod migrations;
pub mod pool;
pub mod shared;
#[cfg(any(test, feature = "rusqlite"))]
pub mod sqlite;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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
    /// A libSQL server could not be reached, refused the runtime's credentials, or lost the
    /// connection's state (an expired stream): a transport failure, not an SQL one.
    Unreachable(String),
}

impl DbError {
    /// An error message of the runtime's SQLite interface, classified. Spin passes a libSQL
    /// client's failures through `io` as "Hrana: `http error: …`" (no answer from the server)
    /// or "Hrana: `api error: …`" (the server refused the request itself: an expired stream,
    /// a bad token); SQL errors over libSQL and every local SQLite error stay [`DbError::Io`].
    pub fn from_runtime(message: String) -> Self {
        let transport = message.starts_with("Hrana: `http error")
            || message.starts_with("Hrana: `api error")
            // The server went away while a cursor's rows were coming.
            || (message.starts_with("Hrana: `cursor error")
                && ["error reading a body", "connection closed", "connection reset", "broken pipe"]
                    .iter()
                    .any(|sign| message.contains(sign)));
        if transport {
            Self::Unreachable(message)
        } else {
            Self::Io(message)
        }
    }

    /// A transport failure in which the server surely did not run the statement: it rejected
    /// the stream as expired, or no TCP connection was made. (A connection that broke after
    /// the request was sent may have run it.)
    pub fn statement_never_ran(&self) -> bool {
        match self {
            Self::Unreachable(message) => {
                message.contains("STREAM_EXPIRED")
                    || message.contains("tcp connect error")
                    // sqld had no connection slot free within its timeout.
                    || message.contains("Timed out while opening database connection")
            }
            Self::InvalidConnection => true,
            _ => false,
        }
    }

    /// What the statements of a transaction whose connection was lost answer.
    pub fn lost_transaction() -> Self {
        Self::Unreachable(
            "the connection to the database was lost inside a transaction; it was rolled back"
                .into(),
        )
    }

    /// SQLite's "no such table: X" (Spin passes the SQLite message through `Io`).
    pub fn missing_table(&self) -> Option<&str> {
        match self {
            Self::Io(message) => message.split("no such table: ").nth(1).map(|rest| {
                // libSQL (sqld) wraps the message in backquotes: "…no such table: user```".
                rest.split(|c: char| c.is_whitespace() || c == ')' || c == '`')
                    .next()
                    .unwrap_or("")
            }),
            _ => None,
        }
    }
}

impl DbError {
    /// SQLite's `SQLITE_BUSY`: another connection holds the lock (Spin passes the message
    /// through `Io`: "database is locked").
    pub fn locked(&self) -> bool {
        matches!(self, Self::Io(message) if message.contains("database is locked"))
    }

    /// A `BEGIN` refused because a transaction is already open on the connection ("cannot
    /// start a transaction within a transaction"): how the guest asks SQLite whether one is.
    pub fn transaction_open(&self) -> bool {
        matches!(self, Self::Io(message) if message.contains("within a transaction"))
    }

    /// A libSQL server aborted the statement (`SQLITE_INTERRUPT`), or the transaction it
    /// belonged to: sqld 0.24.33 rolls back a transaction that has held its write lock for 5 s
    /// while others waited, and answers its next statement `TRANSACTION_TIMEOUT`
    /// ("Transaction timed out"). Either way the statement did nothing, and an open
    /// transaction is gone; a statement after it would run in autocommit.
    pub fn interrupted(&self) -> bool {
        matches!(self, Self::Io(message)
            if ["SQLITE_INTERRUPT", "TRANSACTION_TIMEOUT", "Transaction timed out"]
                .iter()
                .any(|sign| message.contains(sign)))
    }

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
            Self::Unreachable(message) => write!(f, "database server unreachable: {message}"),
        }
    }
}

impl std::error::Error for DbError {}

/// What [`Database::execute`] hands back: a statement's rows, once the runtime has run it.
pub type Rows<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, DbError>> + 'a>>;

pub trait Database {
    /// Runs one statement with positional parameters (`?1`, `?2`, …) and returns its rows.
    /// Under Spin it awaits the runtime (the statement runs on the host's blocking pool), so
    /// other requests of the instance run meanwhile; natively (rusqlite) it is ready at once.
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a>;

    /// Whether the statements run inside a transaction a caller already opened ([`Nested`]): a
    /// unit of work that needs a transaction of its own then takes a savepoint instead.
    fn nested(&self) -> bool {
        false
    }

    /// Whether writes waiting for this connection pay to commit together ([`crate::db::shared`]):
    /// yes for a local SQLite file (one fsync for many), no for a libSQL server (every statement
    /// of a group is a round trip under the server's write lock).
    fn group_commit(&self) -> bool {
        true
    }

    /// Whether this is an open connection to a libSQL server (see [`crate::db::kept`]).
    fn remote(&self) -> bool {
        false
    }

    /// The caller will not use the database for a while (it waits for a change): a request
    /// that holds the instance's shared connection gives it to the others meanwhile
    /// ([`crate::db::shared`]); its next statement takes it again.
    fn idle(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// A borrowed database is a database (a wrapper can take `&db`).
impl<D: Database + ?Sized> Database for &D {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        (**self).execute(sql, params)
    }

    fn nested(&self) -> bool {
        (**self).nested()
    }

    fn group_commit(&self) -> bool {
        (**self).group_commit()
    }

    fn remote(&self) -> bool {
        (**self).remote()
    }

    fn idle(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        (**self).idle()
    }
}

/// The database inside a transaction its holder opened (a batch): the same connection.
pub struct Nested<'a>(pub &'a dyn Database);

impl Database for Nested<'_> {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        self.0.execute(sql, params)
    }

    fn nested(&self) -> bool {
        true
    }
}

/// `.now()` on a future that is ready at once: see [`ready`].
pub trait Now: Future + Sized {
    fn now(self) -> Self::Output {
        ready(self)
    }
}

impl<F: Future> Now for F {}

/// Runs a future whose every await is ready at once (the native [`Database`]s: rusqlite runs
/// each statement before its future is first polled) to its end. For tests and native
/// embeddings; a future that would wait is a bug there, and this panics instead of hanging.
#[allow(
    clippy::panic,
    reason = "only native embeddings and tests call it, never a request"
)]
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("db::ready: the future waits for something"),
    }
}

/// What a statement that succeeded did to its connection's transaction: `Some(true)` opened
/// one, `Some(false)` ended it, `None` neither. Savepoints inside a transaction change nothing;
/// `ROLLBACK TO` keeps the transaction open. (A runtime adapter that keeps a connection across
/// requests uses it to know whether a request left a transaction behind.)
pub fn transaction_effect(sql: &str) -> Option<bool> {
    let mut words = sql.split_whitespace();
    let first = words.next()?;
    if first.eq_ignore_ascii_case("BEGIN") {
        Some(true)
    } else if first.eq_ignore_ascii_case("COMMIT") || first.eq_ignore_ascii_case("END") {
        Some(false)
    } else if first.eq_ignore_ascii_case("ROLLBACK") {
        let mut next = words.next();
        if next.is_some_and(|w| w.eq_ignore_ascii_case("TRANSACTION")) {
            next = words.next();
        }
        match next {
            Some(w) if w.eq_ignore_ascii_case("TO") => None,
            _ => Some(false),
        }
    } else {
        None
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

    /// What Spin passes on from a libSQL server (sqld 0.24), as seen under Spin 4.0.2.
    #[test]
    fn reads_libsql_messages() {
        let missing = DbError::from_runtime(
            "Hrana: `cursor error: `error at step 0: (error code: SQLITE_UNKNOWN) `SQLite \
             error: no such table: user```"
                .into(),
        );
        assert_eq!(missing.missing_table(), Some("user"));
        let locked =
            DbError::from_runtime("Hrana: `cursor error: SQLITE_BUSY: database is locked`".into());
        assert!(locked.locked());
        let interrupted = DbError::from_runtime(
            "Hrana: `cursor error: `error at step 0: (error code: SQLITE_INTERRUPT) `SQLite \
             error: interrupted```"
                .into(),
        );
        assert!(interrupted.interrupted() && !interrupted.locked());
        // sqld's answer to a statement of a transaction it rolled back for holding its write
        // lock too long, in the form its SQLITE_INTERRUPT takes above (its code and message
        // are sqld's, in hrana/stmt.rs; the wrapping was not seen for this one).
        for timed_out in [
            "Hrana: `cursor error: `error at step 0: (error code: TRANSACTION_TIMEOUT) \
             `Transaction timed out```",
            "Hrana: `stream error: Transaction timed out`",
        ] {
            let error = DbError::from_runtime(timed_out.into());
            assert!(error.interrupted() && !error.locked(), "{timed_out}");
        }
        for (message, never_ran) in [
            (
                "Hrana: `http error: `error trying to connect: tcp connect error: Connection \
                 refused (os error 111)``",
                true,
            ),
            (
                "Hrana: `api error: `{\"message\":\"The stream has expired due to \
                 inactivity\",\"code\":\"STREAM_EXPIRED\"}``",
                true,
            ),
            (
                "Hrana: `api error: `{\"error\":\"Unauthorized: `The JWT is invalid`\"}``",
                false,
            ),
            (
                "Hrana: `api error: `{\"error\":\"Timed out while opening database \
                 connection\"}``",
                true,
            ),
            (
                "Hrana: `http error: `connection closed before message completed``",
                false,
            ),
            (
                "Hrana: `cursor error: `cursor error: `error reading a body from connection: \
                 unexpected EOF during chunk size line```",
                false,
            ),
        ] {
            let error = DbError::from_runtime(message.into());
            assert!(matches!(error, DbError::Unreachable(_)), "{message}");
            assert_eq!(error.statement_never_ran(), never_ran, "{message}");
        }
        assert!(matches!(
            DbError::from_runtime("UNIQUE constraint failed: tasks.id".into()),
            DbError::Io(_)
        ));
    }

    #[test]
    fn a_begin_inside_a_transaction_says_one_is_open() {
        let db = crate::db::sqlite::SqliteDb::in_memory();
        db.run("BEGIN", &[]).unwrap();
        let inside = db.run("BEGIN", &[]).unwrap_err();
        assert!(inside.transaction_open(), "{inside}");
        db.run("ROLLBACK", &[]).unwrap();
        let other = db.run("SELECT * FROM nowhere", &[]).unwrap_err();
        assert!(!other.transaction_open(), "{other}");
    }

    #[test]
    fn tells_which_statements_open_and_end_a_transaction() {
        for (sql, effect) in [
            ("BEGIN IMMEDIATE", Some(true)),
            ("begin", Some(true)),
            ("COMMIT", Some(false)),
            ("END TRANSACTION", Some(false)),
            ("ROLLBACK", Some(false)),
            ("ROLLBACK TRANSACTION", Some(false)),
            ("ROLLBACK TO unit", None),
            ("rollback transaction to unit", None),
            ("SAVEPOINT unit", None),
            ("RELEASE unit", None),
            ("SELECT 1", None),
            ("", None),
        ] {
            assert_eq!(transaction_effect(sql), effect, "{sql}");
        }
    }
}
