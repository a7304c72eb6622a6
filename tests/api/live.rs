//! Live updates through the running component: the event stream (`GET /api/{user}/events`)
//! and the long-poll of the changes feed (`…/tasks/changes?wait=N`).

use super::client::Request;
use super::support::Server;
use super::tokens::{now, token, with_claims};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use task_api_testkit::events::{Event, EventStream};

fn open(server: &Server, user: &str, token: &str, last_event_id: Option<&str>) -> EventStream {
    open_path(server, &format!("/api/{user}/events"), token, last_event_id)
}

/// [`open`] with a query (or any path): a refusal comes back as the stream's status.
fn open_path(server: &Server, path: &str, token: &str, last_event_id: Option<&str>) -> EventStream {
    let mut request = Request::new("GET", path)
        .bearer(token)
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    EventStream::open(server.addr(), &request).expect("the stream opens")
}

/// The change events that come within `within`, stopping after `count` of them.
fn changes(stream: &mut EventStream, count: usize, within: Duration) -> Vec<Event> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match stream.next_event(left) {
            Some(event) if event.event == "change" => out.push(event),
            Some(other) => panic!("unexpected event {other:?}"),
            None => break,
        }
    }
    out
}

fn position(event: &Event) -> i64 {
    let id = event.id.as_deref().expect("every change has an id");
    id.strip_prefix('s').unwrap().parse().unwrap()
}

#[test]
fn a_stream_sends_each_change_once_and_resumes_from_last_event_id_without_loss() {
    let server = Server::start();
    let t = token("liv");
    let mut stream = open(&server, "liv", &t, None);
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let first = server.create("liv", "first");
    let second = server.create("liv", "second");
    let got = changes(&mut stream, 2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "both changes arrive while the stream is open");
    assert_eq!(got[0].json()["id"], first["id"]);
    assert_eq!(got[1].json()["title"], "second");
    assert!(position(&got[0]) < position(&got[1]));
    let last_seen = got[1].id.clone().unwrap();
    drop(stream);

    // While nobody listens: an update, a delete, a create.
    let first_id = first["id"].as_i64().unwrap();
    let second_id = second["id"].as_i64().unwrap();
    let updated = server.patch(
        &format!("/api/liv/tasks/{first_id}"),
        &t,
        json!({"title": "first, renamed"}),
    );
    assert_eq!(updated.status, 200);
    assert_eq!(
        server
            .delete(&format!("/api/liv/tasks/{second_id}"), &t)
            .status,
        204
    );
    let third = server.create("liv", "third");

    let mut resumed = open(&server, "liv", &t, Some(&last_seen));
    let got = changes(&mut resumed, 3, Duration::from_secs(10));
    let summary: Vec<Value> = got.iter().map(Event::json).collect();
    assert_eq!(got.len(), 3, "{summary:?}");
    assert_eq!(summary[0]["title"], "first, renamed");
    assert_eq!(
        summary[1],
        json!({"id": second_id, "deleted_at": summary[1]["deleted_at"]})
    );
    assert_eq!(summary[2]["id"], third["id"]);
    // Nothing more: no change is repeated.
    assert!(changes(&mut resumed, 1, Duration::from_millis(1200)).is_empty());
    let positions: Vec<i64> = got.iter().map(position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(positions[0] > last_seen[1..].parse::<i64>().unwrap());

    // The same stream from the start replays the feed as it is now.
    let mut replay = open(&server, "liv", &t, None);
    let all = changes(&mut replay, 10, Duration::from_millis(1500));
    let ids: BTreeSet<i64> = all
        .iter()
        .map(|e| e.json()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([first_id, second_id, third["id"].as_i64().unwrap()])
    );
}

#[test]
fn a_stream_never_carries_another_users_changes() {
    let server = Server::start();
    let mut bobs = open(&server, "bob", &token("bob"), None);
    assert_eq!(bobs.status, 200);
    for title in ["alice 1", "alice 2", "alice 3"] {
        server.create("alice", title);
    }
    assert!(
        changes(&mut bobs, 1, Duration::from_millis(1500)).is_empty(),
        "bob saw alice's change"
    );
    let own = server.create("bob", "bob's own");
    let got = changes(&mut bobs, 1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["id"], own["id"]);
    assert_eq!(got[0].json()["user_id"], "bob");
    // Nor can bob open alice's stream.
    let theirs = open(&server, "alice", &token("bob"), None);
    assert_eq!(theirs.status, 403);
    assert!(theirs.body_text().contains("detail"));
}

#[test]
fn an_expired_token_ends_the_stream_and_cannot_open_another() {
    let server = Server::start();
    let issued = now();
    let short = with_claims(json!({"sub": "exp", "iat": issued, "exp": issued + 3}));
    let mut stream = open(&server, "exp", &short, None);
    assert_eq!(stream.status, 200);
    let started = Instant::now();
    let mut last = None;
    while let Some(event) = stream.next_event(Duration::from_secs(10)) {
        last = Some(event);
    }
    let end = last.expect("an end event");
    assert_eq!(end.event, "end");
    assert_eq!(end.json()["reason"], "token_expired");
    assert!(stream.ended(), "the server closed the stream");
    assert!(started.elapsed() < Duration::from_secs(8));
    // The verifier tolerates 60 s of clock skew on `exp`; a token past that is refused.
    let expired = with_claims(json!({"sub": "exp", "iat": issued - 300, "exp": issued - 120}));
    let refused = open(&server, "exp", &expired, None);
    assert_eq!(refused.status, 401);
}

#[test]
fn streams_per_user_are_limited_with_a_429() {
    let server = Server::start();
    let t = token("many");
    let streams: Vec<EventStream> = (0..8).map(|_| open(&server, "many", &t, None)).collect();
    assert!(streams.iter().all(|s| s.status == 200));
    let ninth = open(&server, "many", &t, None);
    assert_eq!(ninth.status, 429);
    assert_eq!(ninth.header("retry-after"), Some("15"));
    assert!(ninth.body_text().contains("event streams"));
    // Another user is not affected.
    assert_eq!(open(&server, "other", &token("other"), None).status, 200);
    // HEAD would take a lease for nothing: not a method of the stream.
    let head = server.send(Request::new("HEAD", "/api/many/events").bearer(&t));
    assert_eq!(head.status, 405);
}

#[test]
fn long_poll_answers_as_soon_as_a_change_is_committed() {
    let server = Server::start();
    let t = token("lp");
    let created = server.create("lp", "before");
    let feed = server.get("/api/lp/tasks/changes", &t).json();
    let next = feed["next"].as_str().unwrap().to_owned();
    assert_eq!(feed["changes"][0]["id"], created["id"]);

    let addr = server.addr();
    let waiting = {
        let (t, next) = (t.clone(), next.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let response = Request::new(
                "GET",
                &format!("/api/lp/tasks/changes?since={next}&wait=20"),
            )
            .bearer(&t)
            .send(addr);
            (response, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    let later = server.create("lp", "after");
    let (response, waited) = waiting.join().unwrap();
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["changes"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["changes"][0]["id"], later["id"]);
    assert!(
        waited >= Duration::from_millis(600),
        "it waited: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "it woke on the commit: {waited:?}"
    );

    // Nothing to report: it answers empty at the deadline, with the same position.
    let started = Instant::now();
    let next = body["next"].as_str().unwrap().to_owned();
    let empty = server.get(&format!("/api/lp/tasks/changes?since={next}&wait=1"), &t);
    assert_eq!(
        empty.json(),
        json!({"changes": [], "next": next, "more": false})
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Out of range.
    server
        .get("/api/lp/tasks/changes?wait=31", &t)
        .assert_json_error(422);
}

#[test]
fn a_client_may_ask_for_a_shorter_stream_and_bad_positions_are_422() {
    let server = Server::start();
    let t = token("short");
    let request = Request::new("GET", "/api/short/events?seconds=1").bearer(&t);
    let mut stream = EventStream::open(server.addr(), &request).unwrap();
    assert_eq!(stream.status, 200);
    let started = Instant::now();
    let end = stream
        .next_event(Duration::from_secs(10))
        .expect("an end event");
    assert_eq!(
        (end.event.as_str(), end.json()["reason"].clone()),
        ("end", json!("time_limit"))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    for bad in [
        "seconds=-1",
        "seconds=301",
        "seconds=1&seconds=2",
        "since=7",
    ] {
        let refused = open_path(&server, &format!("/api/short/events?{bad}"), &t, None);
        assert_eq!(refused.status, 422, "{bad}");
    }
    let unreadable = open_path(&server, "/api/short/events", &t, Some("not-an-id"));
    assert_eq!(unreadable.status, 422);
    // Any id OpenAPI's pattern admits is accepted; one past the end of the feed has nothing
    // after it, so the stream ends with no change.
    server.create("short", "before the end");
    let mut past_end = open_path(
        &server,
        "/api/short/events?seconds=0",
        &t,
        Some("s9925732053768531200"),
    );
    assert_eq!(past_end.status, 200);
    let first = past_end.next_event(Duration::from_secs(10));
    assert_eq!(first.map(|event| event.event), Some("end".to_owned()));
    // A malformed `since` is refused even when a valid Last-Event-ID would win over it.
    let both = open_path(
        &server,
        "/api/short/events?since=&seconds=0",
        &t,
        Some("s1"),
    );
    assert_eq!(both.status, 422);
}
