//! An instance's kept connection to the `default` database: opened on first use, opened again
//! after the runtime or the database server lost it, and never letting a lost transaction's
//! remainder run outside it.
//!
//! Spin's `default` database is a local SQLite file or, with `type = "libsql"` in the runtime
//! config, a libSQL server (sqld, Turso) reached over HTTP: one Hrana stream per connection,
//! every statement a round trip. A kept connection meets what a per-request one never did:
//! sqld expires a stream idle for 10 s (the next statement answers `STREAM_EXPIRED` and the
//! stream, with any transaction it held, is gone), and a restarted or unreachable server fails
//! the statement in flight. Spin reports both as SQLite I/O errors; [`DbError::from_runtime`]
//! tells them apart ([`DbError::Unreachable`]). Then:
//!
//! - the connection is dropped, and the next statement opens a new one (a new libSQL client);
//! - a statement the server never ran (an expired stream, a refused TCP connection) is run
//!   once more on the new connection when no transaction was open: the request does not see
//!   the loss;
//! - inside a transaction the loss is final for it: the server rolled it back, so every
//!   statement up to its `ROLLBACK`/`COMMIT` fails instead of running in autocommit on the
//!   new connection (a batch whose first half was lost must not commit its second half).
//!
//! Whether the database is a libSQL server is read once per connection from
//! `sqlite_source_id()` (libSQL's ends in `alt1`): there group commit does not pay (every
//! statement of a group is a round trip while the server's write lock is held), so
//! [`Database::group_commit`] says no.

use crate::db::{Database, DbError, Row, Rows, Value, transaction_effect};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A connection as the runtime opened it, and what it is.
pub struct Opened<C> {
    pub connection: C,
    /// A libSQL server (statements are round trips), not a local SQLite file.
    pub remote: bool,
}

/// What [`Open::open`] hands back.
pub type Opening<'a, C> = Pin<Box<dyn Future<Output = Result<Opened<C>, DbError>> + 'a>>;

/// Opens connections to the `default` database.
pub trait Open {
    type Connection: Database;
    fn open(&self) -> Opening<'_, Self::Connection>;
}

/// `sqlite_source_id()` of a libSQL build (sqld, Turso) ends in `alt1`; SQLite's own does not.
pub fn is_libsql_source_id(source_id: &str) -> bool {
    source_id.trim_end().ends_with("alt1")
}

/// The kept connection: see the module's documentation.
pub struct Kept<O: Open> {
    opener: O,
    connection: RefCell<Option<Rc<O::Connection>>>,
    /// Known once a connection was opened.
    remote: Cell<Option<bool>>,
    in_transaction: Cell<bool>,
    /// A transaction was open when the connection was lost: statements fail until it ends.
    lost_transaction: Cell<bool>,
}

impl<O: Open> Kept<O> {
    pub fn new(opener: O) -> Self {
        Self {
            opener,
            connection: RefCell::new(None),
            remote: Cell::new(None),
            in_transaction: Cell::new(false),
            lost_transaction: Cell::new(false),
        }
    }

    /// Whether the connection is a libSQL server's; `None` before the first statement.
    pub fn remote(&self) -> Option<bool> {
        self.remote.get()
    }

    async fn connection(&self) -> Result<Rc<O::Connection>, DbError> {
        if let Some(connection) = self.connection.borrow().as_ref() {
            return Ok(connection.clone());
        }
        let opened = self.opener.open().await?;
        self.remote.set(Some(opened.remote));
        let connection = Rc::new(opened.connection);
        *self.connection.borrow_mut() = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the connection (the runtime closes it; SQLite or the server rolls back what it
    /// had open). A transaction it held is lost.
    fn lose(&self) {
        self.connection.borrow_mut().take();
        if self.in_transaction.replace(false) {
            self.lost_transaction.set(true);
        }
    }

    async fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        if self.lost_transaction.get() {
            // Only the end of the lost transaction gets through, as a no-op.
            return match transaction_effect(sql) {
                Some(false) => {
                    self.lost_transaction.set(false);
                    if sql
                        .trim_start()
                        .to_ascii_uppercase()
                        .starts_with("ROLLBACK")
                    {
                        Ok(Vec::new())
                    } else {
                        Err(DbError::lost_transaction())
                    }
                }
                _ => Err(DbError::lost_transaction()),
            };
        }
        let mut again = true;
        loop {
            let connection = self.connection().await?;
            match connection.execute(sql, params).await {
                Ok(rows) => {
                    if let Some(open) = transaction_effect(sql) {
                        self.in_transaction.set(open);
                    }
                    return Ok(rows);
                }
                Err(error @ (DbError::InvalidConnection | DbError::Unreachable(_))) => {
                    let in_transaction = self.in_transaction.get();
                    self.lose();
                    if again && !in_transaction && error.statement_never_ran() {
                        again = false;
                        continue;
                    }
                    return Err(error);
                }
                Err(error) if error.interrupted() && self.in_transaction.replace(false) => {
                    // The server rolled the transaction back with the statement.
                    self.lost_transaction.set(true);
                    return Err(error);
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl<O: Open> Database for Kept<O> {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        Box::pin(self.run(sql, params))
    }

    /// Only on a connection known to be a local SQLite file.
    fn group_commit(&self) -> bool {
        self.remote.get() == Some(false)
    }

    fn remote(&self) -> bool {
        self.remote.get() == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;
    use crate::db::sqlite::SqliteDb;

    /// A database whose connections can be made to fail as a libSQL server's do.
    #[derive(Clone, Default)]
    struct Server {
        /// What the next statement of an already open connection answers instead of running.
        fail_next: Rc<RefCell<Option<DbError>>>,
        opened: Rc<Cell<usize>>,
        file: Rc<RefCell<Option<Rc<SqliteDb>>>>,
        remote: bool,
    }

    struct Connection {
        server: Server,
        db: Rc<SqliteDb>,
    }

    impl Database for Connection {
        fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
            let failure = self.server.fail_next.borrow_mut().take();
            Box::pin(std::future::ready(match failure {
                Some(error) => Err(error),
                None => self.db.run(sql, params),
            }))
        }
    }

    impl Open for Server {
        type Connection = Connection;
        fn open(&self) -> Opening<'_, Connection> {
            self.opened.set(self.opened.get() + 1);
            let db = self
                .file
                .borrow_mut()
                .get_or_insert_with(|| {
                    let db = SqliteDb::in_memory();
                    db.run("CREATE TABLE t (v INTEGER)", &[]).unwrap();
                    Rc::new(db)
                })
                .clone();
            // A new connection: whatever the old one left open is gone.
            let _ = db.run("ROLLBACK", &[]);
            Box::pin(std::future::ready(Ok(Opened {
                connection: Connection {
                    server: self.clone(),
                    db,
                },
                remote: self.remote,
            })))
        }
    }

    fn expired() -> DbError {
        DbError::from_runtime(
            "Hrana: `api error: `{\"message\":\"The stream has expired due to inactivity\",\
             \"code\":\"STREAM_EXPIRED\"}``"
                .into(),
        )
    }

    fn reset() -> DbError {
        DbError::from_runtime(
            "Hrana: `http error: `connection closed before message completed``".into(),
        )
    }

    /// A kept connection to a server that says it is libSQL.
    fn remote() -> (Server, Kept<Server>) {
        let server = Server {
            remote: true,
            ..Server::default()
        };
        let kept = Kept::new(server.clone());
        (server, kept)
    }

    fn count(kept: &Kept<Server>) -> i64 {
        match kept.execute("SELECT count(*) FROM t", &[]).now().unwrap()[0][0] {
            Value::Integer(n) => n,
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_expired_stream_outside_a_transaction_is_reopened_and_the_statement_runs_once() {
        let (server, kept) = remote();
        kept.execute("INSERT INTO t VALUES (1)", &[]).now().unwrap();
        *server.fail_next.borrow_mut() = Some(expired());
        kept.execute("INSERT INTO t VALUES (2)", &[]).now().unwrap();
        assert_eq!(server.opened.get(), 2);
        assert_eq!(count(&kept), 2);
        assert_eq!(kept.remote(), Some(true));
        assert!(!kept.group_commit());
    }

    #[test]
    fn a_failure_the_statement_may_have_run_through_is_not_repeated() {
        let server = Server::default();
        let kept = Kept::new(server.clone());
        kept.execute("SELECT 1", &[]).now().unwrap();
        *server.fail_next.borrow_mut() = Some(reset());
        let error = kept.execute("INSERT INTO t VALUES (1)", &[]).now();
        assert!(matches!(error, Err(DbError::Unreachable(_))), "{error:?}");
        assert_eq!(count(&kept), 0);
        assert_eq!(
            server.opened.get(),
            2,
            "dropped, opened again for the count"
        );
    }

    #[test]
    fn the_rest_of_a_lost_transaction_never_runs_in_autocommit() {
        let (server, kept) = remote();
        kept.execute("BEGIN IMMEDIATE", &[]).now().unwrap();
        kept.execute("INSERT INTO t VALUES (1)", &[]).now().unwrap();
        *server.fail_next.borrow_mut() = Some(expired());
        assert!(kept.execute("INSERT INTO t VALUES (2)", &[]).now().is_err());
        // What a batch would do next, were it careless: neither may run.
        assert!(kept.execute("INSERT INTO t VALUES (3)", &[]).now().is_err());
        assert!(kept.execute("COMMIT", &[]).now().is_err());
        // The transaction has ended; the connection serves again, and nothing was kept.
        assert_eq!(count(&kept), 0);
        kept.execute("BEGIN", &[]).now().unwrap();
        *server.fail_next.borrow_mut() = Some(expired());
        assert!(kept.execute("INSERT INTO t VALUES (4)", &[]).now().is_err());
        kept.execute("ROLLBACK", &[]).now().unwrap();
        kept.execute("INSERT INTO t VALUES (5)", &[]).now().unwrap();
        assert_eq!(count(&kept), 1);
    }

    #[test]
    fn an_interrupted_transaction_is_lost_but_the_connection_kept() {
        let (server, kept) = remote();
        kept.execute("BEGIN IMMEDIATE", &[]).now().unwrap();
        kept.execute("INSERT INTO t VALUES (1)", &[]).now().unwrap();
        // What sqld answers when it takes the write lock from a transaction.
        *server.fail_next.borrow_mut() = Some(DbError::from_runtime(
            "Hrana: `cursor error: `error at step 0: (error code: SQLITE_INTERRUPT) `SQLite \
             error: interrupted```"
                .into(),
        ));
        assert!(kept.execute("INSERT INTO t VALUES (2)", &[]).now().is_err());
        assert!(kept.execute("INSERT INTO t VALUES (3)", &[]).now().is_err());
        kept.execute("ROLLBACK", &[]).now().unwrap();
        assert_eq!(server.opened.get(), 1);
    }

    #[test]
    fn sql_errors_keep_the_connection() {
        let server = Server::default();
        let kept = Kept::new(server.clone());
        assert!(kept.execute("SELECT nope FROM t", &[]).now().is_err());
        kept.execute("SELECT 1", &[]).now().unwrap();
        assert_eq!(server.opened.get(), 1);
        assert!(kept.group_commit(), "a local file groups its commits");
    }

    #[test]
    fn libsql_is_told_by_its_source_id() {
        assert!(is_libsql_source_id(
            "2024-10-21 16:30:22 03a9703e27c44437c39363d0baf82db4ebc94538a0f28411c85dda156f82alt1"
        ));
        assert!(!is_libsql_source_id(
            "2025-02-18 13:38:58 873d4e274b4988d260ba8354a9718324a1c26187a4ab4c1cc0227c03d0f10e70"
        ));
    }
}
