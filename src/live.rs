//! Live updates: the changes feed, pushed. `GET /api/{user_id}/events` answers
//! `text/event-stream` and then keeps sending each change to the caller's tasks as an event
//! whose `id` is its feed position; `GET …/tasks/changes?wait=N` holds an empty answer up to
//! `N` seconds (long-poll).
//!
//! # How a waiting request is woken
//!
//! By reading the feed again every [`POLL`]: one indexed statement per wait (the user's
//! `(user_id, seq)` range after the position, empty in the common case), on the instance's
//! shared connection, which the waiting request gives back between reads. The database is
//! the only state instances and replicas share, so a commit made through any of them is seen
//! within one poll; nothing in memory has to be told.
//!
//! # What bounds a stream
//!
//! A stream ends at its token's `exp` (checked at every poll: an expired or revoked token
//! stops receiving events within [`POLL`]) or after [`MAX_STREAM`], whichever comes first, or
//! when the client is gone (a write fails; a heartbeat every [`HEARTBEAT`] finds out). A
//! client's `EventSource` reconnects by itself with `Last-Event-ID`, and the token is checked
//! again. Each user has at most [`MAX_STREAMS_PER_USER`] open streams, counted by leases in
//! the database (`store::streams`), so the limit holds across replicas.

use crate::db::Database;
use crate::domain::{AuthenticatedUser, Change, ChangesQuery, Identity, SyncToken, UserSource};
use crate::store::{self, Account};
use crate::time::{Clock, Timestamp};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How often a waiting request reads the feed again.
pub const POLL: Duration = Duration::from_millis(250);
/// How often an idle stream sends a comment line, so that proxies keep it open and a client
/// that went away is noticed.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// The longest a stream stays open; the client reconnects (and is authenticated again).
pub const MAX_STREAM: Duration = Duration::from_secs(300);
/// How long a stream's lease lasts without a renewal: past a missed heartbeat or two.
pub const LEASE: Duration = Duration::from_secs(45);
/// Open streams per user, across every instance and replica.
pub const MAX_STREAMS_PER_USER: u32 = 8;
/// Changes read per poll (and sent when a stream opens); more are read at once, without waiting.
pub const PAGE: u32 = 100;

/// Where the bytes of an event stream go: the response body. `false` once the client is gone.
pub trait Sink {
    fn send<'a>(&'a mut self, bytes: Vec<u8>) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
}

/// A stream the API accepted: what its body needs once the head is sent. The runtime adapter
/// finds it in the response's extensions and runs [`pump`] as the body.
#[derive(Debug, Clone)]
pub struct EventStream {
    pub user: AuthenticatedUser,
    pub identity: Identity,
    pub source: UserSource,
    /// Changes after this position are sent.
    pub since: SyncToken,
    /// The token's expiry or the stream's time limit, whichever comes first.
    pub ends_at: Timestamp,
    /// The stream's lease (`store::streams`).
    pub lease: i64,
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The token expired: reconnecting needs a new one.
    TokenExpired,
    /// The stream's time limit: reconnect to go on.
    TimeLimit,
    /// The client went away.
    Gone,
    /// The database failed; reconnect to go on.
    Unavailable,
}

impl End {
    fn reason(self) -> &'static str {
        match self {
            Self::TokenExpired => "token_expired",
            Self::TimeLimit => "time_limit",
            Self::Gone => "gone",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The first bytes of every stream: how long a client waits before reconnecting.
pub const PREAMBLE: &[u8] = b"retry: 1000\n\n";

/// One change as an event: `id` is the feed position after it, `data` the change as the
/// changes feed shows it (a task, or a tombstone `{id, deleted_at}`).
pub fn event(position: SyncToken, change: &Change) -> Vec<u8> {
    let data = serde_json::to_string(change).unwrap_or_default();
    format!("id: {position}\nevent: change\ndata: {data}\n\n").into_bytes()
}

/// The last event of a stream, saying why it ends.
fn end_event(end: End) -> Vec<u8> {
    format!("event: end\ndata: {{\"reason\":\"{}\"}}\n\n", end.reason()).into_bytes()
}

/// The body of an event stream: sends every change after `stream.since` as it is committed,
/// until the stream ends; then gives the lease back. `db` is used one statement at a time and
/// held by nobody in between.
pub async fn pump(
    stream: &EventStream,
    db: &dyn Database,
    clock: &dyn Clock,
    sink: &mut dyn Sink,
) -> End {
    let account = Account {
        user: &stream.user,
        identity: &stream.identity,
        source: stream.source,
    };
    let mut since = stream.since;
    let mut beat = clock.now();
    let end = loop {
        let now = clock.now();
        if now >= stream.ends_at {
            break if stream.identity.expires_at() <= now {
                End::TokenExpired
            } else {
                End::TimeLimit
            };
        }
        let query = ChangesQuery {
            since,
            limit: PAGE,
            wait: 0,
        };
        let page = match store::changes(db, &account, query, now).await {
            Ok(page) => page,
            Err(error) => {
                eprintln!("event stream: reading the feed failed: {error:?}");
                break End::Unavailable;
            }
        };
        let mut gone = false;
        for (change, position) in page.changes.iter().zip(&page.positions) {
            if !sink.send(event(*position, change)).await {
                gone = true;
                break;
            }
        }
        if gone {
            break End::Gone;
        }
        since = page.next;
        if page.more {
            continue;
        }
        if now.since(beat) >= HEARTBEAT {
            if !sink.send(b": keep-alive\n\n".to_vec()).await {
                break End::Gone;
            }
            beat = now;
            let until = now.plus(LEASE);
            if let Err(error) = store::streams::renew_stream(db, stream.lease, until).await {
                eprintln!("event stream: renewing its lease failed: {error:?}");
            }
        }
        clock.pause(POLL).await;
    };
    if end != End::Gone {
        sink.send(end_event(end)).await;
    }
    if let Err(error) = store::streams::close_stream(db, stream.lease).await {
        // The lease runs out by itself.
        eprintln!("event stream: giving its lease back failed: {error:?}");
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sqlite::SqliteDb;
    use crate::db::{Now, Value};
    use crate::domain::{NewTask, TaskTitle};
    use crate::store::{Created, create_task, ensure_user};
    use crate::time::SteppingClock;

    /// Collects what a stream sends; refuses after `capacity` sends (a client that went away).
    struct Collect {
        sent: Vec<String>,
        capacity: usize,
    }

    impl Sink for Collect {
        fn send<'a>(&'a mut self, bytes: Vec<u8>) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
            let open = self.sent.len() < self.capacity;
            if open {
                self.sent.push(String::from_utf8(bytes).unwrap());
            }
            Box::pin(std::future::ready(open))
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    fn setup(user: &str, tasks: &[&str]) -> (SqliteDb, Identity, i64) {
        let db = SqliteDb::in_memory();
        let identity = Identity::for_tests_expiring(user, at(1_000));
        ensure_user(&db, UserSource::Auto, &identity, at(0))
            .now()
            .unwrap();
        let account = Account {
            user: &AuthenticatedUser::for_tests(user),
            identity: &identity,
            source: UserSource::Auto,
        };
        for title in tasks {
            let task = NewTask::new(TaskTitle::parse(title).unwrap());
            let created = create_task(&db, &account, &task, None, at(0))
                .now()
                .unwrap();
            assert!(matches!(created, Created::New(_)));
        }
        let lease = store::streams::open_stream(&db, user, 8, at(0), at(45))
            .now()
            .unwrap()
            .unwrap();
        (db, identity, lease)
    }

    fn stream(user: &str, identity: Identity, lease: i64, ends_at: Timestamp) -> EventStream {
        EventStream {
            user: AuthenticatedUser::for_tests(user),
            identity,
            source: UserSource::Auto,
            since: SyncToken::START,
            ends_at,
            lease,
        }
    }

    fn leases(db: &SqliteDb) -> Vec<Vec<Value>> {
        db.execute("SELECT count(*) FROM event_streams", &[])
            .now()
            .unwrap()
    }

    #[test]
    fn a_stream_sends_each_change_with_its_position_then_ends_and_gives_its_lease_back() {
        let (db, identity, lease) = setup("ann", &["one", "two"]);
        let stream = stream("ann", identity, lease, at(60));
        let clock = SteppingClock::starting_at(at(1));
        let mut sink = Collect {
            sent: Vec::new(),
            capacity: usize::MAX,
        };
        let end = pump(&stream, &db, &clock, &mut sink).now();
        assert_eq!(end, End::TimeLimit);
        assert!(sink.sent[0].starts_with("id: s1\nevent: change\ndata: {\"id\":1,"));
        assert!(sink.sent[1].starts_with("id: s2\nevent: change\n"));
        // A heartbeat every 15 s of the minute, then the end.
        let beats = sink
            .sent
            .iter()
            .filter(|s| *s == ": keep-alive\n\n")
            .count();
        assert_eq!(beats, 3, "{:?}", sink.sent);
        assert_eq!(
            sink.sent.last().unwrap(),
            "event: end\ndata: {\"reason\":\"time_limit\"}\n\n"
        );
        assert_eq!(leases(&db), vec![vec![Value::Integer(0)]]);
    }

    #[test]
    fn an_expiring_token_ends_its_stream() {
        let (db, _, lease) = setup("bea", &[]);
        let identity = Identity::for_tests_expiring("bea", at(5));
        let stream = stream("bea", identity, lease, at(5));
        let clock = SteppingClock::starting_at(at(1));
        let mut sink = Collect {
            sent: Vec::new(),
            capacity: usize::MAX,
        };
        assert_eq!(
            pump(&stream, &db, &clock, &mut sink).now(),
            End::TokenExpired
        );
        assert!(clock.now() >= at(5) && clock.now() < at(6));
        assert_eq!(
            sink.sent,
            vec!["event: end\ndata: {\"reason\":\"token_expired\"}\n\n"]
        );
    }

    #[test]
    fn a_client_that_went_away_ends_the_stream_at_the_next_write() {
        let (db, identity, lease) = setup("cal", &["one", "two", "three"]);
        let stream = stream("cal", identity, lease, at(600));
        let clock = SteppingClock::starting_at(at(1));
        let mut sink = Collect {
            sent: Vec::new(),
            capacity: 1,
        };
        assert_eq!(pump(&stream, &db, &clock, &mut sink).now(), End::Gone);
        assert_eq!(sink.sent.len(), 1);
        assert_eq!(leases(&db), vec![vec![Value::Integer(0)]]);
    }

    #[test]
    fn leases_limit_open_streams_per_user_and_run_out() {
        let db = SqliteDb::in_memory();
        let open = |user: &str, now: i64| {
            store::streams::open_stream(&db, user, 2, at(now), at(now + 45))
                .now()
                .unwrap()
        };
        assert!(open("dan", 0).is_some());
        assert!(open("dan", 0).is_some());
        assert_eq!(open("dan", 1), None, "a third stream");
        assert!(
            open("eve", 1).is_some(),
            "another user's count is their own"
        );
        // Leases that ran out (their instance died) stop counting.
        assert!(open("dan", 46).is_some());
    }
}
