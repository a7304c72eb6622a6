//! The live JWKS: Better Auth's `/api/auth/jwks`, fetched when a token names a `kid` the cache
//! does not have, kept in the database (shared by every instance and replica), trusted
//! for [`TTL`] after a successful fetch, and fetched at most once per [`MIN_REFETCH_INTERVAL`]
//! whatever the outcome. A failed, slow, oversized or junk fetch never adds a key: the token
//! is then refused, and a cache older than the TTL is not used at all.

use super::KeySet;
#[cfg(doc)]
use super::RemoteKeys;
use crate::db::Database;
use crate::error::ApiError;
use crate::http::fetch::{FetchError, HttpClient, Limits};
use crate::store;
use crate::time::Timestamp;
use std::time::Duration;

/// How long a fetched JWKS is trusted. Keys Better Auth drops stop working after this.
pub const TTL: Duration = Duration::from_secs(300);
/// The least time between two fetches (successful or not), so a stream of tokens with made-up
/// `kid`s costs Better Auth one request a minute.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Bounds on one fetch: a JWKS is a few KiB.
pub const FETCH_LIMITS: Limits = Limits {
    deadline: Duration::from_secs(5),
    max_bytes: 64 * 1024,
};

pub struct LiveJwks<'a> {
    pub url: &'a str,
    pub db: &'a dyn Database,
    pub http: &'a dyn HttpClient,
    pub now: Timestamp,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl LiveJwks<'_> {
    async fn fetch(&self) -> Result<(String, KeySet), String> {
        let response = self
            .http
            .get(self.url, FETCH_LIMITS)
            .await
            .map_err(|e: FetchError| e.to_string())?;
        if response.status != 200 {
            return Err(format!("status {}", response.status));
        }
        let text = String::from_utf8(response.body).map_err(|_| "the body is not UTF-8")?;
        let set = KeySet::parse(&text).map_err(|why| format!("not a JWKS: {why}"))?;
        Ok((text, set))
    }
}

impl LiveJwks<'_> {
    /// A key set that should hold `kid` (the cached one, or a fresh one when `kid` is not in
    /// it), or `None` when none can be had right now; see [`RemoteKeys`].
    pub async fn key_set_with(&self, kid: &str) -> Result<Option<KeySet>, ApiError> {
        let cached = store::cached_jwks(self.db, self.url).await?;
        // A fetch was attempted less than a minute ago: no claim, so a stream of forged
        // tokens with made-up `kid`s costs reads only, never a write before authentication.
        let recent = cached
            .as_ref()
            .and_then(|c| c.attempted_at)
            .is_some_and(|at| {
                self.now.as_micros() < at.saturating_add(micros(MIN_REFETCH_INTERVAL))
            });
        let cached = cached.and_then(|cached| {
            let fresh = cached
                .fetched_at
                .is_some_and(|at| self.now.as_micros() < at.saturating_add(micros(TTL)));
            // Only valid documents are stored, so this parse fails only if someone else wrote.
            cached
                .jwks
                .filter(|_| fresh)
                .and_then(|text| KeySet::parse(&text).ok())
        });
        if let Some(set) = &cached
            && set.contains(kid)
        {
            return Ok(cached);
        }
        if recent {
            return Ok(cached);
        }
        let claimed = store::claim_jwks_fetch(
            self.db,
            self.url,
            self.now,
            self.now
                .as_micros()
                .saturating_sub(micros(MIN_REFETCH_INTERVAL)),
        )
        .await?;
        if !claimed {
            return Ok(cached);
        }
        match self.fetch().await {
            Ok((text, set)) => {
                store::save_jwks(self.db, self.url, &text, self.now).await?;
                Ok(Some(set))
            }
            Err(why) => {
                eprintln!("live JWKS: fetching {} failed: {why}", self.url);
                Ok(cached)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;
    use crate::db::sqlite::SqliteDb;
    use crate::http::fetch::Fetched;
    use std::cell::RefCell;

    const URL: &str = "http://auth.test/api/auth/jwks";
    const START: i64 = 1_800_000_000_000_000;

    /// Serves one canned answer per call and records the calls.
    #[derive(Default)]
    struct Server {
        answers: RefCell<Vec<Result<Fetched, FetchError>>>,
        calls: RefCell<Vec<(String, Limits)>>,
    }

    impl Server {
        fn answer(&self, answer: Result<Fetched, FetchError>) {
            self.answers.borrow_mut().push(answer);
        }

        fn ok(&self, body: &str) {
            self.answer(Ok(Fetched {
                status: 200,
                body: body.as_bytes().to_vec(),
            }));
        }

        fn calls(&self) -> usize {
            self.calls.borrow().len()
        }
    }

    impl HttpClient for Server {
        fn get<'a>(&'a self, url: &'a str, limits: Limits) -> crate::http::fetch::Fetching<'a> {
            self.calls.borrow_mut().push((url.to_owned(), limits));
            let mut answers = self.answers.borrow_mut();
            assert!(!answers.is_empty(), "an unexpected fetch");
            Box::pin(std::future::ready(answers.remove(0)))
        }
    }

    fn set(kids: &[&str]) -> String {
        let keys: Vec<String> = kids
            .iter()
            .map(|kid| format!(r#"{{"kid":"{kid}","kty":"OKP","crv":"Ed25519","x":"AA"}}"#))
            .collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn lookup(db: &SqliteDb, server: &Server, secs: i64, kid: &str) -> Option<Vec<bool>> {
        let live = LiveJwks {
            url: URL,
            db,
            http: server,
            now: Timestamp::from_micros(START + secs * 1_000_000),
        };
        live.key_set_with(kid)
            .now()
            .unwrap()
            .map(|set| ["a", "b", "c"].iter().map(|k| set.contains(k)).collect())
    }

    #[test]
    fn fetches_once_then_serves_from_the_database() {
        let (db, server) = (SqliteDb::in_memory(), Server::default());
        server.ok(&set(&["a"]));
        assert_eq!(lookup(&db, &server, 0, "a"), Some(vec![true, false, false]));
        assert_eq!(server.calls.borrow()[0], (URL.to_owned(), FETCH_LIMITS));
        for secs in [1, 100, 299] {
            assert!(lookup(&db, &server, secs, "a").is_some());
        }
        assert_eq!(server.calls(), 1);
    }

    /// Forged tokens naming `kid`s that do not exist must not turn into a write load before
    /// anyone is authenticated: within a minute of a fetch, an unknown `kid` only reads.
    #[test]
    fn an_unknown_kid_within_the_minute_writes_nothing() {
        let db = crate::test_support::counting_db();
        let server = Server::default();
        server.ok(&set(&["a"]));
        let live = |secs: i64| LiveJwks {
            url: URL,
            db: &db,
            http: &server,
            now: Timestamp::from_micros(START + secs * 1_000_000),
        };
        live(0).key_set_with("a").now().unwrap().unwrap();
        db.take();
        for (secs, kid) in [(1, "x"), (5, "y"), (59, "z")] {
            live(secs).key_set_with(kid).now().unwrap();
            let statements = db.take();
            assert!(
                statements
                    .iter()
                    .all(|s| s.trim_start().starts_with("SELECT")),
                "unknown kid {kid} at {secs} s wrote: {statements:#?}"
            );
        }
        assert_eq!(server.calls(), 1);
        // A minute on, the claim (a write) and the fetch happen again.
        server.ok(&set(&["a", "b"]));
        assert!(
            live(61)
                .key_set_with("b")
                .now()
                .unwrap()
                .unwrap()
                .contains("b")
        );
        assert!(
            db.take()
                .iter()
                .any(|s| s.contains("INSERT INTO jwks_cache"))
        );
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_a_minute() {
        let (db, server) = (SqliteDb::in_memory(), Server::default());
        server.ok(&set(&["a"]));
        lookup(&db, &server, 0, "a");
        // A new key shows up at Better Auth; the first token with it waits for the next minute.
        assert_eq!(
            lookup(&db, &server, 30, "b"),
            Some(vec![true, false, false])
        );
        assert_eq!(server.calls(), 1);
        server.ok(&set(&["a", "b"]));
        assert_eq!(lookup(&db, &server, 60, "b"), Some(vec![true, true, false]));
        // Made-up kids: one fetch per minute, however many tokens.
        server.ok(&set(&["a", "b"]));
        for secs in [61, 62, 90, 119] {
            lookup(&db, &server, secs, "zzz");
        }
        assert_eq!(server.calls(), 2);
        lookup(&db, &server, 121, "zzz");
        assert_eq!(server.calls(), 3);
    }

    #[test]
    fn failures_and_junk_add_no_key_and_keep_the_old_set() {
        let failures = [
            Err(FetchError::Timeout),
            Err(FetchError::TooLarge),
            Err(FetchError::Denied),
            Err(FetchError::Failed("connection refused".into())),
            Ok(Fetched {
                status: 500,
                body: set(&["a", "b"]).into_bytes(),
            }),
            Ok(Fetched {
                status: 200,
                body: b"<html>not json</html>".to_vec(),
            }),
            Ok(Fetched {
                status: 200,
                body: br#"{"keys":"b"}"#.to_vec(),
            }),
            Ok(Fetched {
                status: 200,
                body: vec![0xff, 0xfe],
            }),
        ];
        for (i, failure) in failures.into_iter().enumerate() {
            let (db, server) = (SqliteDb::in_memory(), Server::default());
            server.ok(&set(&["a"]));
            lookup(&db, &server, 0, "a");
            server.answer(failure);
            let found = lookup(&db, &server, 60, "b");
            assert_eq!(found, Some(vec![true, false, false]), "failure {i}");
            assert_eq!(server.calls(), 2, "failure {i}");
            // The old set is still what the database holds.
            assert_eq!(
                lookup(&db, &server, 61, "a"),
                Some(vec![true, false, false])
            );
        }
    }

    #[test]
    fn a_failed_first_fetch_finds_nothing() {
        let (db, server) = (SqliteDb::in_memory(), Server::default());
        server.answer(Err(FetchError::Timeout));
        assert_eq!(lookup(&db, &server, 0, "a"), None);
        // And the failure counts against the minute.
        assert_eq!(lookup(&db, &server, 10, "a"), None);
        assert_eq!(server.calls(), 1);
    }

    #[test]
    fn a_set_older_than_the_ttl_is_not_trusted() {
        let (db, server) = (SqliteDb::in_memory(), Server::default());
        server.ok(&set(&["a"]));
        lookup(&db, &server, 0, "a");
        let expired = TTL.as_secs() as i64;
        // The refetch fails: the stale set is not used, even for a kid it has.
        server.answer(Err(FetchError::Timeout));
        assert_eq!(lookup(&db, &server, expired, "a"), None);
        // Nor while the next fetch is not allowed yet.
        assert_eq!(lookup(&db, &server, expired + 30, "a"), None);
        // A successful refetch replaces the set: keys Better Auth dropped are gone.
        server.ok(&set(&["c"]));
        assert_eq!(
            lookup(&db, &server, expired + 60, "a"),
            Some(vec![false, false, true])
        );
        assert_eq!(server.calls(), 3);
    }

    #[test]
    fn concurrent_requests_claim_one_fetch() {
        let db = SqliteDb::in_memory();
        let claim = |url: &str, secs: i64| {
            let now = START + secs * 1_000_000;
            let not_since = now - micros(MIN_REFETCH_INTERVAL);
            store::claim_jwks_fetch(&db, url, Timestamp::from_micros(now), not_since)
                .now()
                .unwrap()
        };
        store::ensure_schema(&db).now().unwrap();
        assert!(claim(URL, 0));
        assert!(!claim(URL, 0));
        assert!(!claim(URL, 59));
        assert!(claim(URL, 60));
        // Per URL: another Better Auth has its own minute.
        assert!(claim("http://other.test/api/auth/jwks", 60));
    }
}
