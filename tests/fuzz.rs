//! Property fuzzers for the parsers that face untrusted input: token extraction and
//! verification, request bodies, the router and list queries. Stable Rust, no nightly:
//! structure-aware mutation of valid seeds with a seeded PRNG, checking invariants (never a
//! panic; anything accepted is valid by the domain's rules).
//!
//! `cargo test -p task-api-tests --test fuzz` runs each target for a couple of seconds. For a
//! real campaign: `TASK_API_FUZZ_SECONDS=600 cargo test --release -p task-api-tests --test fuzz
//! -- --nocapture --test-threads 1`
//! (`TASK_API_FUZZ_SEED` picks the seed; each target prints its executions).

use http::{HeaderMap, HeaderValue, Method, header};
use std::time::{Duration, Instant};
use task_api::auth::{Verifier, VerifierSettings, extract_token};
use task_api::domain::{ListQuery, NewTask, TaskPatch};
use task_api::http::router::{Route, route};
use task_api::time::Timestamp;

use task_api_testkit::rng::Rng;
use task_api_testkit::tokens::b64;

/// Byte-level mutations: flips, inserts of interesting bytes, deletions, duplicated spans.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\0\xff\x7f\"\\{}[],:.-_=+/%~ \t\r\nAaZz09eE";
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, *rng.pick(INTERESTING)),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at..end);
            }
            3 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                let span = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, span);
            }
            _ => out.insert(at, rng.next_u64() as u8),
        }
    }
    out
}

fn budget() -> Duration {
    let seconds = std::env::var("TASK_API_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(seconds)
}

/// Runs `one` until the budget is spent; returns the number of executions.
fn campaign(name: &str, mut one: impl FnMut(&mut Rng)) -> u64 {
    let (mut rng, seed) = Rng::from_env("TASK_API_FUZZ_SEED");
    let deadline = Instant::now() + budget();
    let mut executions = 0u64;
    while Instant::now() < deadline {
        for _ in 0..256 {
            one(&mut rng);
            executions += 1;
        }
    }
    println!(
        "fuzz {name}: {executions} executions in {:?} (seed {})",
        budget(),
        seed
    );
    executions
}

const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789";
/// The methods the router answers (and the ones it must refuse sensibly).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::HEAD,
];
const NOW: u64 = 1_800_000_000;

fn sign(header: &str, payload: &str) -> String {
    task_api_testkit::tokens::sign_raw(SECRET.as_bytes(), header, payload)
}

#[test]
fn fuzz_token_extraction_and_verification() {
    let verifier = Verifier::new(VerifierSettings {
        hs256_secret: Some(SECRET.into()),
        ..Default::default()
    })
    .unwrap();
    let now = Timestamp::from_micros(NOW as i64 * 1_000_000);
    let valid = sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &format!(r#"{{"sub":"fuzz-user","exp":{}}}"#, NOW + 900),
    );
    let seeds = [
        valid.clone(),
        sign(r#"{"alg":"none"}"#, r#"{"sub":"x"}"#),
        sign(
            r#"{"alg":"HS256","crit":["b64"]}"#,
            &format!(r#"{{"sub":"fuzz-user","exp":{}}}"#, NOW + 900),
        ),
        format!(
            "{}.{}.",
            b64(br#"{"alg":"HS256"}"#),
            b64(br#"{"sub":"fuzz-user"}"#)
        ),
    ];
    let mut accepted_mutants = 0u64;
    campaign("token", |rng| {
        let seed = rng.pick(&seeds).clone();
        let mutated = mutate(rng, seed.as_bytes());
        let token = String::from_utf8_lossy(&mutated).into_owned();
        // Verification: never panics; whatever it accepts carries the signed subject.
        if let Ok(identity) = verifier.verify(&token, now) {
            assert_eq!(identity.subject(), "fuzz-user", "accepted {token:?}");
            if token != valid {
                accepted_mutants += 1;
            }
        }
        // Extraction from headers built around the same bytes.
        let mut headers = HeaderMap::new();
        let value = match rng.below(4) {
            0 => [b"Bearer ".as_slice(), &mutated].concat(),
            1 => [b"bEaReR  ".as_slice(), &mutated].concat(),
            2 => mutated.clone(),
            _ => [b"Basic ".as_slice(), &mutated].concat(),
        };
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let name = if rng.below(2) == 0 {
                header::AUTHORIZATION
            } else {
                header::COOKIE
            };
            headers.append(name, value);
            if let Ok(extracted) = extract_token(&headers) {
                assert!(!extracted.is_empty());
                let _ = verifier.verify(extracted, now);
            }
        }
    });
    println!(
        "fuzz token: {accepted_mutants} mutated tokens verified (each carried the signed subject)"
    );
}

#[test]
fn fuzz_request_bodies() {
    let seeds: &[&[u8]] = &[
        br#"{"title":"Buy milk","description":"2 l","completed":false}"#,
        br#"{"title":"  x  ","description":null}"#,
        br#"{"completed":true,"title":"\u00e9\ud83e\udd80"}"#,
        br#"{"title":"a","extra":{"nested":[1,2,{"x":null}]},"n":1e308}"#,
        b"{}",
        b"[]",
    ];
    campaign("body", |rng| {
        let seed: &[u8] = rng.pick::<&[u8]>(seeds);
        let body = mutate(rng, seed);
        if let Ok(task) = NewTask::from_json(&body) {
            let title = task.title.as_str();
            assert!(!title.is_empty() && title.chars().count() <= 200 && !title.contains('\0'));
            assert_eq!(title, title.trim_matches(|c: char| c.is_ascii_whitespace()));
            if let Some(d) = &task.description {
                assert!(d.as_str().chars().count() <= 1000 && !d.as_str().contains('\0'));
            }
        }
        if let Ok(patch) = TaskPatch::from_json(&body)
            && let Some(title) = &patch.title
        {
            assert!(!title.as_str().is_empty() && title.as_str().chars().count() <= 200);
        }
    });
}

#[test]
fn fuzz_router_and_list_queries() {
    let paths: &[&[u8]] = &[
        b"/api/user-1/tasks",
        b"/api/user-1/tasks/42",
        b"/api/user-1/tasks/42/complete",
        b"/api/a%2Fb%7C/tasks/9223372036854775807",
        b"/health",
        b"/openapi.json",
    ];
    let queries: &[&[u8]] = &[
        b"status=pending&sort=title&order=desc&limit=100&offset=5",
        b"limit=1",
        b"x=%zz&status=all",
    ];
    campaign("router", |rng| {
        let seed: &[u8] = rng.pick::<&[u8]>(paths);
        let path = String::from_utf8_lossy(&mutate(rng, seed)).into_owned();
        if let Ok(Route::Tasks { owner, .. }) = route(rng.pick(&METHODS), &path) {
            assert!(!owner.as_str().is_empty());
            assert!(!owner.as_str().chars().any(char::is_control));
        }
        let seed: &[u8] = rng.pick::<&[u8]>(queries);
        let query = String::from_utf8_lossy(&mutate(rng, seed)).into_owned();
        if let Ok(q) = ListQuery::parse(&query) {
            assert!((1..=100).contains(&q.limit));
            assert!(i64::try_from(q.offset).is_ok());
        }
    });
}

/// The whole request path, as a runtime drives it: mutated methods, paths, queries, headers
/// and bodies, with and without a valid token for the path's user, through `app::handle` on one
/// database that keeps what earlier requests wrote (as an instance keeps its connection). A
/// panic would trap a Spin instance and fail every request in flight on it; no request may
/// cause one, nor a 500.
#[test]
fn fuzz_the_whole_request_path() {
    use task_api::config::{ConfigCache, VariableList};
    use task_api::db::Now;
    use task_api::db::sqlite::SqliteDb;
    use task_api::env::Env;
    use task_api::http::message::{Body, Request};

    let db = SqliteDb::in_memory();
    let vars = VariableList(&[
        ("better_auth_secret", SECRET),
        ("rate_limit_per_minute", "0"),
    ]);
    let config = ConfigCache::default();
    let now = Timestamp::from_micros(NOW as i64 * 1_000_000);
    let token = sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &format!(r#"{{"sub":"fuzz-user","exp":{}}}"#, NOW + 900),
    );
    let paths: &[&[u8]] = &[
        b"/api/fuzz-user/tasks",
        b"/api/fuzz-user/tasks/1",
        b"/api/fuzz-user/tasks/2/complete",
        b"/api/fuzz-user/tasks/1/restore",
        b"/api/fuzz-user/tasks/batch",
        b"/api/fuzz-user/tasks/changes",
        b"/api/fuzz-user/trash",
        b"/api/fuzz-user/tags",
        b"/api/fuzz-user/export",
        b"/api/other/tasks",
        b"/health",
    ];
    let queries: &[&[u8]] = &[
        b"",
        b"status=pending&sort=due&order=asc&limit=3",
        b"q=milk&tag=home&count=true",
        b"since=s1&limit=2",
        b"cursor=abc&sort=title",
    ];
    let bodies: &[&[u8]] = &[
        br#"{"title":"Buy milk","tags":["Home"],"due_at":"2026-03-28T08:00:00Z","recurrence":"daily"}"#,
        br#"{"title":"x","priority":"high","remind_at":null}"#,
        br#"{"completed":true}"#,
        br#"{"operations":[{"op":"create","task":{"title":"b"}},{"op":"complete","id":1},{"op":"delete","id":2}]}"#,
        b"",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    campaign("request path", |rng| {
        let method = rng.pick(&METHODS).clone();
        // Mostly valid routes and queries, so that the mutated bodies and headers reach the
        // handlers and the store.
        let seed: &[u8] = rng.pick::<&[u8]>(paths);
        let path = if rng.below(4) == 0 {
            String::from_utf8_lossy(&mutate(rng, seed)).into_owned()
        } else {
            String::from_utf8_lossy(seed).into_owned()
        };
        let seed: &[u8] = rng.pick::<&[u8]>(queries);
        let query = if rng.below(2) == 0 {
            String::from_utf8_lossy(&mutate(rng, seed)).into_owned()
        } else {
            String::from_utf8_lossy(seed).into_owned()
        };
        let seed: &[u8] = rng.pick::<&[u8]>(bodies);
        let body = if rng.below(3) == 0 {
            seed.to_vec()
        } else {
            mutate(rng, seed)
        };
        let mut headers = HeaderMap::new();
        if rng.below(5) != 0 {
            let value = format!("Bearer {token}");
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if rng.below(4) == 0 {
            let tag = String::from_utf8_lossy(&mutate(rng, b"\"1-abc\"")).into_owned();
            if let Ok(value) = HeaderValue::from_str(&tag) {
                headers.insert(header::IF_MATCH, value);
            }
        }
        let target = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let request = Request::new(method, &target, headers, Body::Complete(body));
        let env = Env {
            db: &db,
            vars: &vars,
            http: &task_api::http::fetch::NoNetwork,
            config: &config,
            now,
            clock: &task_api::time::SteppingClock::starting_at(now),
        };
        let response = task_api::app::handle(&request, &env).now();
        let status = response.status().as_u16();
        assert!(status < 500, "{} {target}: {status}", request.method);
        *statuses.entry(status).or_insert(0u64) += 1;
    });
    println!("fuzz request path: statuses {statuses:?}");
    assert!(
        statuses.keys().any(|s| (200..300).contains(s)),
        "some requests succeed, so the fuzzer reaches the handlers"
    );
}
