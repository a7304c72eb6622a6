//! What web clients rely on: OpenAPI and docs, CORS, ETags and conditional requests,
//! idempotent creates, request logs.

use super::client::Request;
use super::support::Server;
use super::tokens::token;
use serde_json::json;
use std::collections::BTreeSet;
use std::thread;

#[test]
fn openapi_and_docs_are_served_without_auth() {
    let server = Server::start();
    let doc = server.send(Request::new("GET", "/openapi.json"));
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.1.0");
    let docs = server.send(Request::new("GET", "/docs"));
    assert_eq!(docs.status, 200);
    assert!(
        docs.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(docs.text().contains("/openapi.json"));
}

#[test]
fn cors_for_the_allowed_origin_only() {
    let server = Server::builder()
        .variable(
            "cors_allowed_origins",
            "https://app.example.com, http://localhost:3000",
        )
        .start();
    let t = token("alice");
    let allowed = server.send(
        Request::new("GET", "/api/alice/tasks")
            .bearer(&t)
            .header("Origin", "https://app.example.com"),
    );
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    let exposed = allowed.header("access-control-expose-headers").unwrap();
    assert!(
        exposed.contains("ETag") && exposed.contains("Location"),
        "{exposed}"
    );
    assert_eq!(
        allowed.header("vary"),
        Some("Origin, Authorization, Cookie")
    );

    // Errors carry CORS too, so the browser app can read the 401.
    let unauthenticated = server
        .send(Request::new("GET", "/api/alice/tasks").header("Origin", "http://localhost:3000"));
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        unauthenticated.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    let refused = server.send(
        Request::new("GET", "/api/alice/tasks")
            .bearer(&t)
            .header("Origin", "https://evil.example"),
    );
    assert_eq!(
        refused.status, 200,
        "CORS is the browser's business; the request itself is authorised"
    );
    assert_eq!(refused.header("access-control-allow-origin"), None);
    assert_eq!(refused.header("access-control-allow-credentials"), None);
}

#[test]
fn preflight_needs_no_token() {
    let server = Server::start(); // default: http://localhost:3000
    let preflight = |origin: &str| {
        server.send(
            Request::new("OPTIONS", "/api/alice/tasks/1")
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "PATCH")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization, content-type, if-match",
                ),
        )
    };
    let granted = preflight("http://localhost:3000");
    assert_eq!(granted.status, 204);
    assert_eq!(
        granted.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        granted.header("access-control-allow-methods"),
        Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
    let headers = granted
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for needed in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
        // An `EventSource` that reconnects by itself sends it.
        "last-event-id",
    ] {
        assert!(headers.contains(needed), "{needed} in {headers}");
    }
    assert_eq!(
        granted.header("access-control-allow-credentials"),
        Some("true")
    );
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status, 204);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    assert_eq!(refused.header("access-control-allow-methods"), None);
    let unknown =
        server.send(Request::new("OPTIONS", "/nope").header("Origin", "http://localhost:3000"));
    unknown.assert_json_error(404);
}

#[test]
fn etags_and_conditional_requests() {
    let server = Server::start();
    let t = token("alice");
    let created = server.post("/api/alice/tasks", &t, json!({"title": "edit me"}));
    let id = created.json()["id"].as_i64().unwrap();
    let item = format!("/api/alice/tasks/{id}");
    let etag = created.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let fetched = server.get(&item, &t);
    assert_eq!(fetched.header("etag"), Some(etag.as_str()));
    let not_modified = server.send(
        Request::new("GET", &item)
            .bearer(&t)
            .header("If-None-Match", &etag),
    );
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(
        server
            .send(
                Request::new("GET", &item)
                    .bearer(&t)
                    .header("If-None-Match", "\"1-1\"")
            )
            .status,
        200
    );

    // Tab 1 updates with the current ETag: fine, and the ETag moves.
    let first = server.send(
        Request::new("PATCH", &item)
            .bearer(&t)
            .header("If-Match", &etag)
            .json(&json!({"title": "tab 1"})),
    );
    assert_eq!(first.status, 200);
    let newer = first.header("etag").unwrap().to_owned();
    assert_ne!(newer, etag);
    // Tab 2 still holds the old ETag: every write refuses with 412 and changes nothing.
    for request in [
        Request::new("PUT", &item).json(&json!({"title": "tab 2"})),
        Request::new("PATCH", &item).json(&json!({"title": "tab 2"})),
        Request::new("PATCH", &format!("{item}/complete")),
        Request::new("DELETE", &item),
    ] {
        let response = server.send(request.bearer(&t).header("If-Match", &etag));
        response.assert_json_error(412);
    }
    let current = server.get(&item, &t);
    assert_eq!(current.json()["title"], "tab 1");
    assert_eq!(current.header("etag"), Some(newer.as_str()));
    // A stale If-Match on someone else's (or a missing) task is still a 404: nothing to compare.
    let missing = server.send(
        Request::new("DELETE", "/api/alice/tasks/999999")
            .bearer(&t)
            .header("If-Match", &etag),
    );
    missing.assert_json_error(404);
    // The current ETag works for toggle and delete.
    let toggled = server.send(
        Request::new("PATCH", &format!("{item}/complete"))
            .bearer(&t)
            .header("If-Match", &newer),
    );
    assert_eq!(toggled.status, 200);
    let latest = toggled.header("etag").unwrap().to_owned();
    assert_eq!(
        server
            .send(
                Request::new("DELETE", &item)
                    .bearer(&t)
                    .header("If-Match", &latest)
            )
            .status,
        204
    );
}

#[test]
fn idempotent_creates() {
    let server = Server::start();
    let t = token("alice");
    let keyed = |key: &str, body: serde_json::Value| {
        server.send(
            Request::new("POST", "/api/alice/tasks")
                .bearer(&t)
                .header("Idempotency-Key", key)
                .json(&body),
        )
    };
    let first = keyed("order-42", json!({"title": "pay", "description": "once"}));
    assert_eq!(first.status, 201);
    // A retry, with the JSON spelled differently, answers the first result.
    let retry = server.send(
        Request::new("POST", "/api/alice/tasks")
            .bearer(&t)
            .header("Idempotency-Key", "order-42")
            .raw_body(
                "application/json",
                br#"{ "description" : "once", "title":"pay" }"#.to_vec(),
            ),
    );
    assert_eq!(retry.status, 201);
    assert_eq!(retry.json(), first.json());
    assert_eq!(retry.header("location"), first.header("location"));
    // Same key, another body: 422.
    let error = keyed("order-42", json!({"title": "pay twice"})).assert_json_error(422);
    assert_eq!(error["errors"][0]["field"], "Idempotency-Key");
    // Keys are per user.
    let bob = server.send(
        Request::new("POST", "/api/bob/tasks")
            .bearer(&token("bob"))
            .header("Idempotency-Key", "order-42")
            .json(&json!({"title": "pay"})),
    );
    assert_eq!(bob.status, 201);
    assert_ne!(bob.json()["id"], first.json()["id"]);
    // Bad keys are 422.
    for bad in ["", &"k".repeat(256)] {
        keyed(bad, json!({"title": "x"})).assert_json_error(422);
    }
    assert_eq!(
        server
            .get("/api/alice/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn concurrent_retries_of_one_create_make_one_task() {
    let server = Server::start();
    let t = token("alice");
    let server = &server;
    let ids: BTreeSet<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let t = t.clone();
                scope.spawn(move || {
                    let response = server.send(
                        Request::new("POST", "/api/alice/tasks")
                            .bearer(&t)
                            .header("Idempotency-Key", "retry-storm")
                            .json(&json!({"title": "once"})),
                    );
                    assert_eq!(response.status, 201, "{}", response.text());
                    response.json()["id"].as_i64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 1, "every retry got the same task");
    assert_eq!(
        server
            .get("/api/alice/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn one_json_log_line_per_request_without_secrets() {
    let server = Server::start();
    let t = token("log-user");
    server.create("log-user", "logged");
    server.get("/api/log-user/tasks", &t);
    server.send(
        Request::new("GET", "/api/log-user/tasks").header("Cookie", &format!("access_token={t}")),
    );
    server.send(Request::new("GET", "/nope"));
    let state = server.stop();
    let stdout = std::fs::read_to_string(state.path().join("logs/task-api_stdout.txt")).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["route"], "/api/{user_id}/tasks");
    assert_eq!(lines[0]["status"], 201);
    assert!(lines[0]["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[0]["user"], lines[1]["user"]);
    assert_eq!(lines[3]["route"], serde_json::Value::Null);
    assert_eq!(lines[3]["status"], 404);
    assert!(!stdout.contains("log-user"), "no user id in logs");
    assert!(
        !stdout.contains(&t) && !stdout.contains(t.split('.').nth(2).unwrap()),
        "no token in logs"
    );
}
