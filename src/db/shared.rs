//! One database connection shared by the concurrent requests of a component instance, with
//! writes group-committed.
//!
//! Spin 4.0.2 runs up to 16 requests of an instance at once; they share its connection (one
//! per instance, kept between requests). Each request uses it through a [`Session`], which
//! takes the instance's lock at its first statement and gives it back when the request has
//! its answer, so the statements of two requests never interleave: a `BEGIN … COMMIT` holds
//! only one request's statements. Writes of an instance wait for the lock in the guest, instead
//! of sleeping in SQLite's busy handler, first come, first served ([`FairLock`]: a request that
//! arrives as the lock is released queues behind those already waiting).
//!
//! # Group commit
//!
//! A write request that takes the lock while other writes wait behind it for their first
//! statement opens a *group*: `BEGIN IMMEDIATE`, then its work. (Reads waiting behind it do not
//! count, nor members of a committed group waiting to learn its outcome: with only them behind
//! it, a group of one would cost a write two statements more and make the read commit it.) The
//! writes behind it join the group and, once done, queue for the lock again. The first of them
//! to get it back commits the group: one `COMMIT`, one fsync, for every write that was waiting
//! at that moment. Every member answers only after that commit, with its outcome:
//! `synchronous` stays as configured (FULL), so an acknowledged write is durable as before. A
//! `COMMIT` that fails rolls the group back and every member answers 503
//! ([`SessionEnd::Lost`]).
//!
//! A failing write fails alone: a statement that fails undoes only itself (SQLite's statement
//! journal; no statement here uses `OR FAIL` or `RAISE(FAIL)`, which would keep part of it),
//! and a unit of work that must be all-or-nothing takes a savepoint, `ROLLBACK TO` on failure
//! (see [`Database::nested`]). A savepoint around each member would add two round trips to the
//! runtime per write, made while SQLite's write lock is held and other instances' writers wait
//! for it, and would undo nothing more: the errors that end a whole transaction (disk full,
//! I/O) take its savepoints with them. After such an error the group ends where it is: its
//! members so far answer 503, and the writes behind it do not run in a transaction that is
//! no longer there (`SharedDatabase::check_group`).
//!
//! A read (`GET`, `HEAD`) never joins a group: if one is open when it takes the lock, it
//! commits it first, so it reads committed data only and never waits for writes behind it.
//! Nor does a request whose first statement opens a transaction of its own.
//! With no other write waiting, a write runs as before, one autocommit statement at a time.
//!
//! Across instances and replicas SQLite's own lock still orders the writes. There a statement
//! that finds the database locked is retried by the guest: on a local file at once, up to
//! [`IMMEDIATE_RETRIES`] times, then after pauses of 1 ms doubling to at most 4 ms, for up to
//! [`BUSY_BUDGET`] of pauses. Not by SQLite's busy handler, whose sleeps grow to 100 ms and
//! make writers of other instances wait far longer than the lock is held (the connection runs
//! with `PRAGMA busy_timeout = 0`; see the runtime adapter).

use crate::db::fair_lock::{FairGuard, FairLock};
use crate::db::{Database, DbError, Row, Rows, Value, transaction_effect};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// At most this many requests commit together; the next one starts a new group.
pub const MAX_GROUP: usize = 64;

/// How long a statement keeps pausing and retrying while the database is locked by another
/// connection, after its immediate retries (what SQLite's busy timeout was: rusqlite's 5 s).
pub const BUSY_BUDGET: Duration = Duration::from_secs(5);

/// With the `phase-timing` feature, one stderr line for each write that runs alone (`WRITE
/// alone`), each group committed (`GROUP <members> <committed>`) and each retry of a statement
/// that met another connection's lock (`BUSY <µs paused first>`, 0 for an immediate retry),
/// which `bench/group-sizes` counts under load. Without it, nothing.
#[cfg(feature = "phase-timing")]
fn trace(line: std::fmt::Arguments<'_>) {
    // One write of the whole line: other instances write to the same log.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
}

#[cfg(not(feature = "phase-timing"))]
#[inline(always)]
fn trace(_line: std::fmt::Arguments<'_>) {}

/// Retries of a statement that met a locked database made at once, before the guest starts
/// pausing between them. Another connection holds SQLite's write lock for one commit (its
/// fsync: 0.16 ms at the median here, `bench/fsync`), and a retry is a round trip to the
/// runtime (the instance's other requests run meanwhile); the shortest pause the runtime gives
/// is its timer's tick, a millisecond or more, which left the lock free while this instance's
/// queue (its reads included) waited behind the paused statement: bench/README.md, "Retrying
/// a locked database at once". The price: each retry is a round trip through the runtime's
/// blocking pool, and with 64 writers on 2 cores the spinning instances starve the lock holder
/// (~40 % fewer writes/s, p99 ~1 s); every limit tried that avoids it lost the 16-writer and
/// mixed tails (bench/README.md, "A group member runs only its own statements").
const IMMEDIATE_RETRIES: u32 = 256;

/// The pause before retry number `retry` (from 0): none for the first `immediate`, then 1 ms,
/// doubling to at most 4 ms, so that a lock held for long (a migration, another replica's
/// batch) is not polled flat out.
fn busy_pause(retry: u32, immediate: u32) -> Option<Duration> {
    let paused = retry.checked_sub(immediate)?;
    Some(Duration::from_millis(1 << paused.min(2)))
}

/// Waits, for the retry of a statement that met a locked database.
pub trait Pause {
    fn pause(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + '_>>;
}

/// For connections with SQLite's own busy handler (natively): no retry of our own.
pub struct NoPause;

impl Pause for NoPause {
    fn pause(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// The connection of an instance and what its requests need to share it.
pub struct SharedDatabase<D> {
    connection: D,
    /// How to wait before retrying a statement that met a locked database; `None`: no retry.
    pause: Option<Box<dyn Pause>>,
    lock: FairLock,
    /// Write requests waiting for the lock before their first statement: the ones a group
    /// opened now would take in. Reads and the members of a group waiting to learn its outcome
    /// do not count: they would only make a lone write pay for a group of one (`BEGIN`,
    /// `COMMIT`) and a read commit it.
    waiting_writes: Cell<usize>,
    /// The group whose transaction is open on the connection, if any.
    group: RefCell<Option<Rc<Group>>>,
    /// Whether the statements so far left a transaction open (`BEGIN` ran, no `COMMIT` or
    /// `ROLLBACK` yet) outside any group: a request that failed or was cancelled mid-way.
    in_transaction: Cell<bool>,
}

/// Requests whose writes commit together.
#[derive(Default)]
struct Group {
    members: Cell<usize>,
    /// Set by whoever commits the group.
    outcome: RefCell<Option<Result<(), DbError>>>,
}

impl<D: Database> SharedDatabase<D> {
    /// A shared connection whose busy database is SQLite's business (its busy handler).
    pub fn new(connection: D) -> Self {
        Self::with_retries(connection, None)
    }

    /// A shared connection that retries statements meeting a locked database itself, waiting
    /// with `pause` (for connections with `busy_timeout = 0`).
    pub fn with_retries(connection: D, pause: Option<Box<dyn Pause>>) -> Self {
        Self {
            connection,
            pause,
            lock: FairLock::new(),
            waiting_writes: Cell::new(0),
            group: RefCell::new(None),
            in_transaction: Cell::new(false),
        }
    }

    /// The connection itself, for what runs outside any request.
    pub fn connection(&self) -> &D {
        &self.connection
    }

    /// A request's use of the database. `read` requests never join a group.
    pub fn session(&self, read: bool) -> Session<'_, D> {
        Session {
            shared: self,
            read,
            state: RefCell::new(State::Idle),
        }
    }

    /// The lock for a write's first statement, counted in `waiting_writes` while it waits.
    async fn lock_for_write(&self) -> FairGuard<'_> {
        self.waiting_writes.set(self.waiting_writes.get() + 1);
        let guard = self.lock.lock().await;
        self.waiting_writes.set(self.waiting_writes.get() - 1);
        guard
    }

    /// Runs a statement, again after a pause while another connection holds the lock. Safe:
    /// a statement that answered "locked" did nothing (in WAL, a write inside a transaction
    /// opened with `BEGIN IMMEDIATE` never meets it).
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let Some(pause) = &self.pause else {
            return self.connection.execute(sql, params).await;
        };
        let mut waited = Duration::ZERO;
        let mut retries = 0;
        loop {
            match self.connection.execute(sql, params).await {
                // An interrupted statement outside a transaction did nothing either (see
                // `DbError::interrupted`); inside one, the transaction is gone.
                Err(error)
                    if (error.locked() || (error.interrupted() && !self.in_transaction.get()))
                        && waited < BUSY_BUDGET =>
                {
                    // Over a libSQL server a retry is a round trip to a server all replicas
                    // share, which queues writers itself: no immediate retries there.
                    let immediate = if self.connection.remote() {
                        0
                    } else {
                        IMMEDIATE_RETRIES
                    };
                    let step = busy_pause(retries, immediate);
                    trace(format_args!(
                        "BUSY {}",
                        step.unwrap_or_default().as_micros()
                    ));
                    if let Some(step) = step {
                        pause.pause(step).await;
                        waited += step;
                    }
                    retries += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let rows = self.execute(sql, params).await;
        if rows.is_ok()
            && self.group.borrow().is_none()
            && let Some(open) = transaction_effect(sql)
        {
            self.in_transaction.set(open);
        }
        rows
    }

    /// A transaction a request left open outside any group is rolled back before the next
    /// request uses the connection.
    async fn settle(&self) {
        if self.in_transaction.get() && self.group.borrow().is_none() {
            let _ = self.execute("ROLLBACK", &[]).await;
            self.in_transaction.set(false);
        }
    }

    /// A member's statement failed. Most errors undo only the statement, but some (an I/O
    /// error, a full disk, an interrupt) make SQLite end the whole transaction: the group's
    /// writes so far are gone, and without this check the statements of the members after it
    /// would autocommit while the group's failed `COMMIT` told them their writes were lost.
    /// SQLite does not say which happened; a `BEGIN` does, as it fails only inside a
    /// transaction. If the group's transaction is gone (or its state cannot be told), the
    /// group ends here: rolled back, every member told so, the next write starts afresh.
    async fn check_group(&self, group: &Rc<Group>, error: &DbError) {
        let probe = self.connection.execute("BEGIN", &[]).await;
        if probe.is_err_and(|error| error.transaction_open()) {
            return;
        }
        let _ = self.connection.execute("ROLLBACK", &[]).await;
        let current = self.group.borrow().clone();
        if current.is_some_and(|current| Rc::ptr_eq(&current, group)) {
            self.group.borrow_mut().take();
        }
        trace(format_args!("GROUP {} false", group.members.get()));
        *group.outcome.borrow_mut() = Some(Err(error.clone()));
    }

    /// Commits the open group, if any, and tells its members how it went.
    async fn commit_group(&self) {
        let Some(group) = self.group.borrow_mut().take() else {
            return;
        };
        let outcome = match self.execute("COMMIT", &[]).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let _ = self.execute("ROLLBACK", &[]).await;
                Err(error)
            }
        };
        trace(format_args!(
            "GROUP {} {}",
            group.members.get(),
            outcome.is_ok()
        ));
        *group.outcome.borrow_mut() = Some(outcome);
    }
}

/// Whether a statement opens a transaction or a savepoint (`BEGIN`, `SAVEPOINT`).
fn opens_transaction(sql: &str) -> bool {
    transaction_effect(sql) == Some(true)
        || sql
            .split_whitespace()
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case("SAVEPOINT"))
}

/// One request's use of the instance's database: see the module's documentation.
pub struct Session<'s, D> {
    shared: &'s SharedDatabase<D>,
    read: bool,
    state: RefCell<State<'s>>,
}

enum State<'s> {
    /// No statement yet.
    Idle,
    /// Holding the lock, statements autocommit (or the request's own transaction).
    Alone(#[allow(dead_code)] FairGuard<'s>),
    /// Holding the lock, statements inside the group's transaction.
    Member(#[allow(dead_code)] FairGuard<'s>, Rc<Group>),
    Done,
}

/// How a request's use of the database ended.
#[derive(Debug, PartialEq)]
pub enum SessionEnd {
    /// Its writes are committed (or it wrote nothing).
    Kept,
    /// It was part of a group whose `COMMIT` failed: its writes are gone.
    Lost(DbError),
}

impl<D: Database> Session<'_, D> {
    /// Takes the connection for the request's first statement, `first`, and opens or joins a
    /// group if the request may write.
    async fn begin(&self, first: &str) {
        let shared = self.shared;
        // A request that opens its own transaction (or savepoint) first asked `nested()`
        // before it had the connection, and was told no: inside a group its `BEGIN` would
        // fail and its `COMMIT` commit the group. It runs alone, like a read.
        let alone = self.read || opens_transaction(first);
        let guard = if alone {
            shared.lock.lock().await
        } else {
            shared.lock_for_write().await
        };
        if alone {
            // A read sees committed data only, and a `BEGIN` cannot run inside a group's
            // transaction: an open group is committed first.
            shared.commit_group().await;
        }
        shared.settle().await;
        let group = shared.group.borrow().clone();
        let group = match group {
            Some(group) if group.members.get() < MAX_GROUP => Some(group),
            Some(_) => {
                shared.commit_group().await;
                None
            }
            None => None,
        };
        let group = match group {
            Some(group) => Some(group),
            None if !alone
                && shared.waiting_writes.get() > 0
                && shared.connection.group_commit() =>
            {
                match shared.execute("BEGIN IMMEDIATE", &[]).await {
                    Ok(_) => {
                        let group = Rc::new(Group::default());
                        *shared.group.borrow_mut() = Some(group.clone());
                        Some(group)
                    }
                    // Busy beyond the runtime's timeout, most likely: this request runs alone.
                    Err(_) => None,
                }
            }
            None => None,
        };
        let state = match group {
            Some(group) => {
                group.members.set(group.members.get() + 1);
                State::Member(guard, group)
            }
            None => {
                if !self.read {
                    trace(format_args!("WRITE alone"));
                }
                State::Alone(guard)
            }
        };
        *self.state.borrow_mut() = state;
    }

    /// Ends the request's use of the database: a member of a group lets the others run and
    /// waits until the group is committed.
    pub async fn finish(self) -> SessionEnd {
        let state = std::mem::replace(&mut *self.state.borrow_mut(), State::Done);
        let group = match state {
            State::Member(guard, group) => {
                drop(guard);
                group
            }
            State::Alone(guard) => {
                self.shared.settle().await;
                drop(guard);
                return SessionEnd::Kept;
            }
            State::Idle | State::Done => return SessionEnd::Kept,
        };
        // Queue behind the requests that were waiting: they join the group. The first member
        // back commits it for everyone.
        let guard = self.shared.lock.lock().await;
        let committed = group.outcome.borrow().is_some();
        let open = self
            .shared
            .group
            .borrow()
            .as_ref()
            .is_some_and(|current| Rc::ptr_eq(current, &group));
        if !committed && open {
            self.shared.commit_group().await;
        }
        drop(guard);
        let outcome = group.outcome.borrow().clone();
        match outcome {
            Some(Ok(())) => SessionEnd::Kept,
            Some(Err(error)) => SessionEnd::Lost(error),
            None => SessionEnd::Lost(DbError::Io("the group was never committed".into())),
        }
    }
}

impl<D: Database> Database for Session<'_, D> {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        Box::pin(async move {
            if matches!(*self.state.borrow(), State::Idle) {
                self.begin(sql).await;
            }
            let group = match &*self.state.borrow() {
                State::Member(_, group) => Some(group.clone()),
                _ => None,
            };
            let Some(group) = group else {
                return self.shared.run(sql, params).await;
            };
            // The group's transaction ended under this member: nothing more of it may run
            // (it would autocommit, and the request answers that its writes were lost).
            if let Some(Err(error)) = &*group.outcome.borrow() {
                return Err(error.clone());
            }
            let rows = self.shared.run(sql, params).await;
            if let Err(error) = &rows {
                self.shared.check_group(&group, error).await;
            }
            rows
        })
    }

    /// Inside a group every unit of work is a savepoint of the group's transaction.
    fn nested(&self) -> bool {
        matches!(*self.state.borrow(), State::Member(..))
    }

    /// A request that holds the connection alone gives it back (its next statement takes it
    /// again); a member of a group keeps its place, as its writes wait for the group's commit.
    fn idle(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async move {
            if !matches!(*self.state.borrow(), State::Alone(_)) {
                return;
            }
            self.shared.settle().await;
            // Dropping the guard gives the lock back.
            *self.state.borrow_mut() = State::Idle;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;
    use crate::db::sqlite::SqliteDb;

    /// A request that waits (a long-poll) gives the connection back: another request's
    /// statement then runs at once. Without `idle` it would wait for the lock, and `now()`
    /// panics on a future that is not ready.
    #[test]
    fn an_idle_request_lets_the_others_use_the_connection() {
        let shared = SharedDatabase::new(SqliteDb::in_memory());
        let waiting = shared.session(true);
        waiting.execute("SELECT 1", &[]).now().unwrap();
        waiting.idle().now();
        let other = shared.session(false);
        assert_eq!(
            other.execute("SELECT 2", &[]).now().unwrap(),
            vec![vec![Value::Integer(2)]]
        );
        assert_eq!(other.finish().now(), SessionEnd::Kept);
        // Its next statement takes the connection again.
        waiting.execute("SELECT 3", &[]).now().unwrap();
        assert_eq!(waiting.finish().now(), SessionEnd::Kept);
    }

    /// Requests of one instance, run the way a component instance runs its tasks: one thread,
    /// each polled in turn until every one is done. (The futures here only wait on each other,
    /// never on the outside, so polling round the ring always makes progress.)
    #[derive(Default)]
    struct Instance {
        tasks: Vec<Pin<Box<dyn Future<Output = ()>>>>,
    }

    impl Instance {
        fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
            self.tasks.push(Box::pin(task));
        }

        fn run(mut self) {
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            for _ in 0..100_000 {
                self.tasks
                    .retain_mut(|task| task.as_mut().poll(&mut context).is_pending());
                if self.tasks.is_empty() {
                    return;
                }
            }
            panic!("{} requests never finished", self.tasks.len());
        }
    }

    /// Lets the other requests run once.
    async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    fn shared() -> Rc<SharedDatabase<SqliteDb>> {
        let db = SqliteDb::in_memory();
        db.run("CREATE TABLE t (v INTEGER UNIQUE)", &[]).unwrap();
        Rc::new(SharedDatabase::new(db))
    }

    fn values(shared: &SharedDatabase<SqliteDb>) -> Vec<i64> {
        shared
            .connection()
            .run("SELECT v FROM t ORDER BY v", &[])
            .unwrap()
            .into_iter()
            .map(|row| match row[0] {
                Value::Integer(v) => v,
                _ => panic!("not an integer"),
            })
            .collect()
    }

    /// A request that writes `v`, yielding between its statements so others interleave.
    async fn write<D: Database>(
        shared: Rc<SharedDatabase<D>>,
        v: i64,
        log: Rc<RefCell<Vec<String>>>,
    ) {
        let session = shared.session(false);
        let outcome = session
            .execute("INSERT INTO t (v) VALUES (?1)", &[Value::Integer(v)])
            .await;
        let grouped = if session.nested() { " in a group" } else { "" };
        yield_now().await;
        log.borrow_mut().push(format!(
            "{v}: {}{grouped}",
            if outcome.is_ok() { "ok" } else { "failed" }
        ));
        let end = session.finish().await;
        assert_eq!(end, SessionEnd::Kept);
    }

    /// A file database with WAL and no busy handler, and a second connection to it holding
    /// the write lock (an open transaction that inserted 1).
    fn locked_file(name: &str) -> (std::path::PathBuf, SqliteDb, SqliteDb) {
        let dir = std::env::temp_dir().join(format!(
            "shared-db-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let _ = std::fs::remove_file(&path);
        let ours = SqliteDb::open(&path).unwrap();
        ours.run("PRAGMA journal_mode = WAL", &[]).unwrap();
        ours.run("PRAGMA busy_timeout = 0", &[]).unwrap();
        ours.run("CREATE TABLE t (v INTEGER)", &[]).unwrap();
        let other = SqliteDb::open(&path).unwrap();
        other.run("BEGIN IMMEDIATE", &[]).unwrap();
        other.run("INSERT INTO t VALUES (1)", &[]).unwrap();
        (dir, ours, other)
    }

    /// Our connection, which lets the other one commit when it has been tried `release_at`
    /// times, and counts the tries; `remote`: it says it is a libSQL server's.
    struct ReleasedOnTry {
        ours: SqliteDb,
        other: SqliteDb,
        tries: Cell<u32>,
        release_at: u32,
        remote: bool,
    }

    impl Database for ReleasedOnTry {
        fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
            self.tries.set(self.tries.get() + 1);
            if self.tries.get() == self.release_at {
                self.other.run("COMMIT", &[]).unwrap();
            }
            self.ours.execute(sql, params)
        }

        fn remote(&self) -> bool {
            self.remote
        }
    }

    /// A write request that inserts 2, run to its end.
    fn write_two<D: Database>(shared: &SharedDatabase<D>) {
        let session = shared.session(false);
        session
            .execute("INSERT INTO t VALUES (2)", &[])
            .now()
            .unwrap();
        session.finish().now();
    }

    /// Counts the pauses it is asked for, and waits for none of them.
    #[derive(Default)]
    struct CountedPauses(Rc<Cell<u32>>);

    impl Pause for CountedPauses {
        fn pause(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + '_>> {
            self.0.set(self.0.get() + 1);
            Box::pin(std::future::ready(()))
        }
    }

    /// A lock held for one commit is met again at once: the statement takes it on the retry
    /// right after its release, without waiting out a pause (the runtime's shortest is a
    /// millisecond). Only a lock held past the immediate retries is waited for. Over a libSQL
    /// server every retry waits.
    #[test]
    fn a_locked_statement_is_retried_at_once_before_any_pause() {
        // Tries: the first, then one per retry.
        for (release_at, remote, paused) in [
            (2, false, 0),
            (IMMEDIATE_RETRIES + 1, false, 0),
            (IMMEDIATE_RETRIES + 2, false, 1),
            (IMMEDIATE_RETRIES + 4, false, 3),
            (2, true, 1),
            (4, true, 3),
        ] {
            let (dir, ours, other) = locked_file("at-once");
            let pauses = CountedPauses::default();
            let counted = pauses.0.clone();
            let connection = ReleasedOnTry {
                ours,
                other,
                tries: Cell::new(0),
                release_at,
                remote,
            };
            let shared = SharedDatabase::with_retries(connection, Some(Box::new(pauses)));
            write_two(&shared);
            assert_eq!(shared.connection().tries.get(), release_at);
            let rows = shared
                .connection()
                .ours
                .run("SELECT v FROM t ORDER BY v", &[])
                .unwrap();
            assert_eq!(rows, [[Value::Integer(1)], [Value::Integer(2)]]);
            assert_eq!(
                counted.get(),
                paused,
                "released on try {release_at}, remote: {remote}"
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Past the immediate retries the pauses are 1 ms, doubling to 4.
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(busy_pause(IMMEDIATE_RETRIES - 1, IMMEDIATE_RETRIES), None);
        let pauses: Vec<_> = (IMMEDIATE_RETRIES..IMMEDIATE_RETRIES + 4)
            .map(|retry| busy_pause(retry, IMMEDIATE_RETRIES))
            .collect();
        assert_eq!(pauses, [ms(1), ms(2), ms(4), ms(4)]);
    }

    /// Without retries of its own (natively, where SQLite's busy handler would wait), a
    /// statement that meets the lock fails at once, saying so.
    #[test]
    fn without_retries_a_locked_statement_fails_at_once() {
        let (dir, ours, other) = locked_file("no-retries");
        let plain = SharedDatabase::new(ours);
        let session = plain.session(false);
        let error = session
            .execute("INSERT INTO t VALUES (3)", &[])
            .now()
            .unwrap_err();
        assert!(error.locked(), "{error}");
        other.run("ROLLBACK", &[]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lone_write_autocommits() {
        let shared = shared();
        let session = shared.session(false);
        session
            .execute("INSERT INTO t (v) VALUES (1)", &[])
            .now()
            .unwrap();
        assert!(!session.nested());
        assert_eq!(session.finish().now(), SessionEnd::Kept);
        assert_eq!(values(&shared), [1]);
    }

    #[test]
    fn waiting_writes_commit_together_and_a_failing_one_fails_alone() {
        let shared = shared();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut pool = Instance::default();
        // 3 twice: the second insert of 3 breaks the unique index and must fail alone.
        for v in [1, 2, 3, 3, 4] {
            pool.spawn(write(shared.clone(), v, log.clone()));
        }
        pool.run();
        assert_eq!(values(&shared), [1, 2, 3, 4]);
        let log = log.borrow();
        assert_eq!(log.iter().filter(|l| l.contains("failed")).count(), 1);
        // The first write ran alone: nobody waited when it began. The four that queued
        // behind it committed together.
        assert_eq!(log.iter().filter(|l| l.ends_with("in a group")).count(), 4);
        assert!(shared.group.borrow().is_none(), "the group is committed");
        assert!(!shared.in_transaction.get());
    }

    /// A connection that records every statement run on it.
    struct Recorded {
        db: SqliteDb,
        log: RefCell<Vec<String>>,
    }

    impl Database for Recorded {
        fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
            self.log.borrow_mut().push(sql.to_owned());
            self.db.execute(sql, params)
        }
    }

    /// SQLite's write lock is held from a group's `BEGIN` to its `COMMIT`, while other
    /// instances' writers wait for it: a member runs its own statements there and nothing
    /// else (no savepoint of its own, which would cost two round trips to the runtime each).
    #[test]
    fn a_grouped_write_runs_only_its_own_statements_inside_the_group() {
        let db = SqliteDb::in_memory();
        db.run("CREATE TABLE t (v INTEGER UNIQUE)", &[]).unwrap();
        let shared = Rc::new(SharedDatabase::new(Recorded {
            db,
            log: RefCell::new(Vec::new()),
        }));
        let mut pool = Instance::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        for v in [1, 2, 3, 4] {
            pool.spawn(write(shared.clone(), v, log.clone()));
        }
        pool.run();
        // The first write ran alone; the three waiting behind it share one transaction.
        assert_eq!(
            *log.borrow(),
            [
                "1: ok",
                "2: ok in a group",
                "3: ok in a group",
                "4: ok in a group"
            ]
        );
        let insert = "INSERT INTO t (v) VALUES (?1)";
        assert_eq!(
            *shared.connection().log.borrow(),
            [insert, "BEGIN IMMEDIATE", insert, insert, insert, "COMMIT"]
        );
    }

    /// A connection on which one value's insert fails the way an I/O error or a full disk
    /// can: SQLite ends the open transaction, then answers with the error.
    struct EndsTransactionOn {
        db: SqliteDb,
        value: i64,
    }

    impl Database for EndsTransactionOn {
        fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
            if sql.starts_with("INSERT") && params == [Value::Integer(self.value)] {
                let _ = self.db.run("ROLLBACK", &[]);
                return Box::pin(std::future::ready(Err(DbError::Io(
                    "disk I/O error".into(),
                ))));
            }
            self.db.execute(sql, params)
        }
    }

    /// A write that ends the group's transaction takes the group's writes so far with it, and
    /// every request is told the truth: a write answered as kept is in the database, and one
    /// answered as lost is not (no later member autocommits while told its write was lost).
    #[test]
    fn a_write_that_ends_the_groups_transaction_ends_the_group() {
        for failing in [2, 3, 4, 5] {
            let db = SqliteDb::in_memory();
            db.run("CREATE TABLE t (v INTEGER UNIQUE)", &[]).unwrap();
            let shared = Rc::new(SharedDatabase::new(EndsTransactionOn {
                db,
                value: failing,
            }));
            let mut pool = Instance::default();
            let told = Rc::new(RefCell::new(Vec::new()));
            for v in 1..=6 {
                let (shared, told) = (shared.clone(), told.clone());
                pool.spawn(async move {
                    let session = shared.session(false);
                    let insert = "INSERT INTO t (v) VALUES (?1)";
                    let first = session.execute(insert, &[Value::Integer(v)]).await;
                    yield_now().await;
                    // A second statement of the same request, after the failure.
                    let second = session.execute(insert, &[Value::Integer(v * 10)]).await;
                    let kept = session.finish().await == SessionEnd::Kept;
                    told.borrow_mut()
                        .push((v, kept && first.is_ok() && second.is_ok()));
                });
            }
            pool.run();
            let stored = shared
                .connection()
                .db
                .run("SELECT v FROM t WHERE v < 10 ORDER BY v", &[])
                .unwrap();
            let mut told = told.borrow().clone();
            told.sort();
            let kept: Vec<_> = told
                .iter()
                .filter(|(_, kept)| *kept)
                .map(|(v, _)| vec![Value::Integer(*v)])
                .collect();
            assert_eq!(
                stored, kept,
                "writes told kept, insert of {failing} failing"
            );
            assert!(
                told.iter().any(|&(v, kept)| v == failing && !kept),
                "{told:?}"
            );
            // The first write ran alone, before the failure: kept. Those after the group
            // ended still run, and are kept.
            assert!(told[0].1 && told[5].1, "{told:?}");
            assert!(shared.group.borrow().is_none());
            let tens = shared
                .connection()
                .db
                .run(
                    "SELECT count(*) FROM t WHERE v >= 10 AND v / 10 NOT IN (SELECT v FROM t)",
                    &[],
                )
                .unwrap();
            assert_eq!(
                tens,
                [[Value::Integer(0)]],
                "no half of a lost request stored"
            );
        }
    }

    #[test]
    fn statements_of_concurrent_requests_never_interleave() {
        // A request holds a transaction open across an await; another request's write made
        // meanwhile must not land inside it and be rolled back with it.
        let shared = shared();
        let mut pool = Instance::default();
        let holder = {
            let shared = shared.clone();
            async move {
                let session = shared.session(false);
                session.execute("BEGIN IMMEDIATE", &[]).await.unwrap();
                session
                    .execute("INSERT INTO t (v) VALUES (100)", &[])
                    .await
                    .unwrap();
                yield_now().await;
                session.execute("ROLLBACK", &[]).await.unwrap();
                session.finish().await;
            }
        };
        let writer = {
            let shared = shared.clone();
            async move {
                let session = shared.session(false);
                session
                    .execute("INSERT INTO t (v) VALUES (7)", &[])
                    .await
                    .unwrap();
                assert_eq!(session.finish().await, SessionEnd::Kept);
            }
        };
        pool.spawn(holder);
        pool.spawn(writer);
        pool.run();
        assert_eq!(
            values(&shared),
            [7],
            "the acknowledged write survived the rollback"
        );
    }

    /// A request whose first statement opens its own transaction (it asked `nested()` before
    /// it had the connection: no group then) never runs it inside a group's transaction,
    /// where `BEGIN` fails; it runs alone, writes waiting behind it or not.
    #[test]
    fn a_request_that_begins_with_its_own_transaction_runs_alone() {
        let shared = shared();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut pool = Instance::default();
        pool.spawn(write(shared.clone(), 1, log.clone()));
        {
            let (shared, log) = (shared.clone(), log.clone());
            pool.spawn(async move {
                let session = shared.session(false);
                assert!(!session.nested());
                let begin = session.execute("BEGIN IMMEDIATE", &[]).await;
                let insert = session.execute("INSERT INTO t (v) VALUES (2)", &[]).await;
                let commit = session.execute("COMMIT", &[]).await;
                let end = session.finish().await;
                log.borrow_mut().push(format!(
                    "2: {:?} {:?} {:?} {end:?}",
                    begin.map(|_| ()),
                    insert.map(|_| ()),
                    commit.map(|_| ())
                ));
            });
        }
        for v in [3, 4] {
            pool.spawn(write(shared.clone(), v, log.clone()));
        }
        pool.run();
        assert!(
            log.borrow()
                .contains(&"2: Ok(()) Ok(()) Ok(()) Kept".to_owned()),
            "{log:?}"
        );
        assert_eq!(values(&shared), [1, 2, 3, 4]);
        assert!(!shared.in_transaction.get());
    }

    #[test]
    fn a_transaction_left_open_is_rolled_back_before_the_next_request() {
        let shared = shared();
        {
            let session = shared.session(false);
            session.execute("BEGIN", &[]).now().unwrap();
            session
                .execute("INSERT INTO t (v) VALUES (5)", &[])
                .now()
                .unwrap();
            // Dropped without finishing, as a cancelled request is.
        }
        let session = shared.session(true);
        let rows = session
            .execute("SELECT count(*) FROM t", &[])
            .now()
            .unwrap();
        assert_eq!(rows, vec![vec![Value::Integer(0)]]);
        session.finish().now();
    }

    #[test]
    fn a_read_commits_an_open_group_first_and_never_joins_one() {
        let shared = shared();
        let mut pool = Instance::default();
        let seen = Rc::new(Cell::new(-1));
        let log = Rc::new(RefCell::new(Vec::new()));
        // The second write finds the third waiting and opens a group; the read, queued before
        // the members come back to commit it, commits it.
        for v in [1, 2, 3] {
            pool.spawn(write(shared.clone(), v, log.clone()));
        }
        {
            let (shared, seen) = (shared.clone(), seen.clone());
            pool.spawn(async move {
                let session = shared.session(true);
                let rows = session
                    .execute("SELECT count(*) FROM t", &[])
                    .await
                    .unwrap();
                assert!(!session.nested());
                if let Value::Integer(n) = rows[0][0] {
                    seen.set(n);
                }
                session.finish().await;
            });
        }
        pool.run();
        assert_eq!(
            log.borrow()
                .iter()
                .filter(|l| l.ends_with("in a group"))
                .count(),
            2
        );
        assert_eq!(seen.get(), 3, "the read saw every write, committed");
        assert_eq!(values(&shared), [1, 2, 3]);
    }

    /// Only writes waiting for their first statement make a group worth opening: a write with
    /// only a read behind it autocommits, instead of opening a group of one that the read
    /// would then have to commit.
    #[test]
    fn a_write_with_only_a_read_behind_it_runs_alone() {
        let shared = shared();
        let mut pool = Instance::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        // The first write holds the lock while the second write and then a read queue.
        for v in [1, 2] {
            pool.spawn(write(shared.clone(), v, log.clone()));
        }
        {
            let shared = shared.clone();
            pool.spawn(async move {
                let session = shared.session(true);
                session
                    .execute("SELECT count(*) FROM t", &[])
                    .await
                    .unwrap();
                session.finish().await;
            });
        }
        pool.run();
        assert_eq!(*log.borrow(), ["1: ok", "2: ok"]);
        assert_eq!(values(&shared), [1, 2]);
    }
}
