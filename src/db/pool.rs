//! The connections of an instance: one for a local SQLite file, up to [`REMOTE_CONNECTIONS`]
//! for a libSQL server.
//!
//! On a local file one connection serves every request of the instance ([`SharedDatabase`]):
//! a statement costs microseconds, and writes waiting for the connection commit together.
//! Over a libSQL server every statement is an HTTP round trip through Spin 4.0.2's libSQL
//! client (a one-statement GET: median 10.3 ms against 2.5 ms on a local file,
//! `bench/README.md`, "libSQL"): reads queued behind one connection would wait for each
//! other's round trips. So there a read takes a connection no other request is using, opening
//! one more (up to [`REMOTE_CONNECTIONS`]) when all are busy. Requests that may write take
//! turns on one connection of their own (see [`Pool::session`]): sqld serializes writers
//! anyway, and its own queue of concurrent writers is what stalled for seconds. Which kind of
//! database it is, is known once the first connection is open ([`Database::group_commit`]
//! says no for libSQL); until then the instance uses one.

use crate::db::shared::{Session, SessionEnd, SharedDatabase};
use crate::db::{Database, Rows, Value};
use std::cell::Cell;

/// At most this many connections per instance to a libSQL server: Spin 4.0.2 runs at most 16
/// requests of an instance at once, so none waits for another's round trips. Each holds a
/// stream, and an sqld stream holds one of its connection slots (`--max-concurrent-connections`,
/// 128 by default) until it is closed or expires; Spin runs many instances at once (4 to 24 for
/// 16 clients), so give sqld room (`deploy/replicas-on-sqld` passes 1,024).
pub const REMOTE_CONNECTIONS: usize = 16;

/// An instance's connections; each is opened only when a request first needs it.
pub struct Pool<D> {
    members: Vec<Member<D>>,
}

struct Member<D> {
    shared: SharedDatabase<D>,
    /// Requests given this connection that have not finished.
    users: Cell<usize>,
}

impl<D: Database> Pool<D> {
    /// A pool of up to [`REMOTE_CONNECTIONS`] connections made by `make` (lazily opening ones,
    /// so the unused cost nothing).
    pub fn new(mut make: impl FnMut() -> SharedDatabase<D>) -> Self {
        Self {
            members: (0..REMOTE_CONNECTIONS)
                .map(|_| Member {
                    shared: make(),
                    users: Cell::new(0),
                })
                .collect(),
        }
    }

    /// How many connections requests may spread over: one until the first is open and known
    /// to be a libSQL server's.
    fn width(&self) -> usize {
        match self.members.first() {
            Some(first) if first.shared.connection().remote() => self.members.len(),
            _ => 1,
        }
    }

    /// A request's use of the database: on a connection nobody uses, if there is one within the
    /// pool's width, else on the least used.
    ///
    /// Over a libSQL server, requests that may write all take the first connection, so they
    /// reach the server one at a time, in the order they came (its lock is fair), and reads
    /// spread over the rest. sqld 0.24.33 queues concurrent writers of a database itself and
    /// can lose the wake-up of a waiter; every writer then sleeps until its 5 s deadline
    /// (docs/storage.md, "What holds sqld's write lock for seconds"). Fewer writers from each
    /// instance make that rarer; a statement's round trip is paid either way.
    pub fn session(&self, read: bool) -> PooledSession<'_, D> {
        let width = self.width().min(self.members.len());
        let members = match (width, read) {
            (1, _) => &self.members[..1],
            (_, false) => &self.members[..1],
            (_, true) => &self.members[1..width],
        };
        let member = members
            .iter()
            .min_by_key(|member| member.users.get())
            .unwrap_or(&self.members[0]);
        member.users.set(member.users.get() + 1);
        PooledSession {
            session: member.shared.session(read),
            _user: User(&member.users),
        }
    }

    /// How many connections requests are using now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.members.iter().filter(|m| m.users.get() > 0).count()
    }
}

/// A [`Session`] on one of the pool's connections.
pub struct PooledSession<'p, D> {
    session: Session<'p, D>,
    _user: User<'p>,
}

/// Counts a request as a user of its connection until it is dropped (finished or cancelled).
struct User<'p>(&'p Cell<usize>);

impl Drop for User<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl<D: Database> PooledSession<'_, D> {
    /// See [`Session::finish`].
    pub async fn finish(self) -> SessionEnd {
        let PooledSession { session, _user } = self;
        session.finish().await
    }
}

impl<D: Database> Database for PooledSession<'_, D> {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        self.session.execute(sql, params)
    }

    fn nested(&self) -> bool {
        self.session.nested()
    }

    fn idle(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        self.session.idle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;
    use crate::db::sqlite::SqliteDb;

    /// A local database that says it is a libSQL server's.
    struct Remote(SqliteDb);

    impl Database for Remote {
        fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
            self.0.execute(sql, params)
        }
        fn group_commit(&self) -> bool {
            false
        }
        fn remote(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_local_database_keeps_one_connection_for_every_request() {
        let pool = Pool::new(|| SharedDatabase::new(SqliteDb::in_memory()));
        let sessions: Vec<_> = (0..5).map(|_| pool.session(false)).collect();
        assert_eq!(pool.in_use(), 1);
        drop(sessions);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn a_libsql_server_gives_each_concurrent_reader_its_own_connection() {
        let pool = Pool::new(|| SharedDatabase::new(Remote(SqliteDb::in_memory())));
        let first = pool.session(true);
        first.execute("SELECT 1", &[]).now().unwrap();
        let more: Vec<_> = (0..REMOTE_CONNECTIONS + 3)
            .map(|_| pool.session(true))
            .collect();
        // Every connection but the writers' one.
        assert_eq!(pool.in_use(), REMOTE_CONNECTIONS - 1);
        drop(more);
        assert_eq!(first.finish().now(), SessionEnd::Kept);
        assert_eq!(pool.in_use(), 0);
        // A finished request's connection is the next one's.
        let again = pool.session(true);
        assert_eq!(pool.in_use(), 1);
        drop(again);
    }

    #[test]
    fn a_libsql_servers_writers_share_one_connection_and_take_turns() {
        let pool = Pool::new(|| SharedDatabase::new(Remote(SqliteDb::in_memory())));
        let first = pool.session(true);
        first.execute("SELECT 1", &[]).now().unwrap();
        assert_eq!(first.finish().now(), SessionEnd::Kept);
        let (one, two) = (pool.session(false), pool.session(false));
        let others: Vec<_> = (0..3).map(|_| pool.session(false)).collect();
        let reader = pool.session(true);
        assert_eq!(
            pool.in_use(),
            2,
            "five writers on one connection, the reader on another"
        );
        // The first writer holds the connection; the second waits for it.
        one.execute("SELECT 1", &[]).now().unwrap();
        let mut second = Box::pin(two.execute("SELECT 2", &[]));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(second.as_mut().poll(&mut context).is_pending());
        // The reader does not wait for the writers.
        reader.execute("SELECT 3", &[]).now().unwrap();
        drop((reader, others));
        assert_eq!(one.finish().now(), SessionEnd::Kept);
        assert!(second.as_mut().poll(&mut context).is_ready());
    }
}
