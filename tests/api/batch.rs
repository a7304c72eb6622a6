//! `POST /api/{user_id}/tasks/batch`: all or nothing, through the running component.

use super::client::Request;
use super::support::Server;
use super::tokens::token;
use serde_json::{Value, json};

fn batch(server: &Server, user: &str, operations: Value) -> task_api_testkit::client::Response {
    server.send(
        Request::new("POST", &format!("/api/{user}/tasks/batch"))
            .bearer(&token(user))
            .json(&json!({ "operations": operations })),
    )
}

/// Everything of the user that a batch could have changed: the tasks and the trash.
fn snapshot(server: &Server, user: &str) -> (Value, Value) {
    let export = server
        .get(&format!("/api/{user}/export"), &token(user))
        .json();
    (export["tasks"].clone(), export["trash"].clone())
}

#[test]
fn a_batch_applies_every_operation_in_order() {
    let server = Server::start();
    let a = server.create("bea", "first")["id"].as_i64().unwrap();
    let b = server.create("bea", "second")["id"].as_i64().unwrap();
    let response = batch(
        &server,
        "bea",
        json!([
            {"op": "create", "task": {"title": "made in a batch", "tags": ["Batch"]}},
            {"op": "update", "id": a, "patch": {"title": "first, renamed", "priority": "high"}},
            {"op": "complete", "id": a},
            {"op": "delete", "id": b},
        ]),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let results = response.json()["results"].clone();
    let statuses: Vec<i64> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 200, 200, 204]);
    assert_eq!(results[1]["task"]["title"], "first, renamed");
    assert_eq!(results[2]["task"]["completed"], true);
    assert_eq!(results[2]["task"]["priority"], "high");
    let t = token("bea");
    let current = server.get(&format!("/api/bea/tasks/{a}"), &t);
    assert_eq!(current.json(), results[2]["task"]);
    assert_eq!(results[2]["etag"].as_str(), current.header("etag"));
    assert_eq!(server.get(&format!("/api/bea/tasks/{b}"), &t).status, 404);
    let made = results[0]["task"]["id"].as_i64().unwrap();
    assert_eq!(
        server.get(&format!("/api/bea/tasks/{made}"), &t).json(),
        results[0]["task"]
    );
    assert_eq!(
        server.get("/api/bea/tags", &t).json(),
        json!([{"tag": "Batch", "count": 1}])
    );
    // The delete went to the trash like any other.
    assert_eq!(server.get("/api/bea/trash", &t).json()[0]["id"], b);
}

#[test]
fn one_failing_operation_applies_none_and_says_which() {
    let server = Server::start();
    let t = token("ben");
    let a = server.create("ben", "kept as is");
    let id = a["id"].as_i64().unwrap();
    let stale_tag = format!("\"{id}-1\"");
    let theirs = server.create("bob-other", "not ben's")["id"]
        .as_i64()
        .unwrap();
    let recurring = server.post(
        "/api/ben/tasks",
        &t,
        json!({"title": "daily", "recurrence": "daily", "due_at": "2031-01-01T09:00:00Z"}),
    );
    let recurring = recurring.json()["id"].as_i64().unwrap();
    let before = snapshot(&server, "ben");
    let cases = [
        // (operations, failing index, status)
        (
            json!([{"op": "create", "task": {"title": "x"}}, {"op": "delete", "id": 999_999}]),
            1,
            404,
        ),
        (
            json!([{"op": "update", "id": id, "patch": {"title": "y"}},
                   {"op": "delete", "id": theirs}]),
            1,
            404,
        ),
        (
            json!([{"op": "complete", "id": recurring},
                   {"op": "update", "id": id, "patch": {"title": "z"}, "if_match": stale_tag}]),
            1,
            412,
        ),
        (
            json!([{"op": "delete", "id": id},
                   {"op": "update", "id": recurring, "patch": {"remind_at": "2032-01-01T00:00:00Z"}}]),
            1,
            422,
        ),
        (
            json!([{"op": "create", "task": {"title": "w"}}, {"op": "delete", "id": id},
                   {"op": "delete", "id": id}]),
            2,
            404,
        ),
    ];
    for (operations, index, status) in cases {
        let response = batch(&server, "ben", operations.clone());
        let body = response.assert_json_error(status);
        assert_eq!(body["operation"], index, "{operations}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Operation {index} failed"))
        );
        assert_eq!(
            snapshot(&server, "ben"),
            before,
            "{operations} left a trace"
        );
    }
    // Bob's task is untouched too.
    assert_eq!(
        server
            .get(
                &format!("/api/bob-other/tasks/{theirs}"),
                &token("bob-other")
            )
            .status,
        200
    );
    // The recurring completion was rolled back with the rest: no next occurrence was made.
    let daily = server
        .get(&format!("/api/ben/tasks/{recurring}"), &t)
        .json();
    assert_eq!(daily["completed"], false);
    assert_eq!(daily["next_task_id"], Value::Null);
    // Completing it in a batch that succeeds makes exactly one.
    let done = batch(&server, "ben", json!([{"op": "complete", "id": recurring}]));
    assert_eq!(done.status, 200);
    let next = done.json()["results"][0]["task"]["next_task_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        server.get(&format!("/api/ben/tasks/{next}"), &t).json()["completed"],
        false
    );
}

#[test]
fn a_malformed_batch_is_a_422_naming_the_operation() {
    let server = Server::start();
    let id = server.create("bill", "t")["id"].as_i64().unwrap();
    let before = snapshot(&server, "bill");
    for (operations, field) in [
        (
            json!([{"op": "create", "task": {"title": ""}}]),
            "operations[0].title",
        ),
        (
            json!([{"op": "create", "task": {"title": "ok"}}, {"op": "update", "id": id}]),
            "operations[1].patch",
        ),
        (
            json!([{"op": "delete", "id": id, "if_match": "not a tag"}]),
            "operations[0].if_match",
        ),
        (json!([{"op": "nope"}]), "operations[0].op"),
        (json!([]), "operations"),
    ] {
        let response = batch(&server, "bill", operations.clone());
        let body = response.assert_json_error(422);
        assert_eq!(body["errors"][0]["field"], field, "{operations}: {body}");
        assert_eq!(snapshot(&server, "bill"), before);
    }
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"op": "create", "task": {"title": "x"}}))
        .collect();
    batch(&server, "bill", Value::Array(many)).assert_json_error(422);
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"op": "create", "task": {"title": format!("n{i}")}}))
        .collect();
    assert_eq!(batch(&server, "bill", Value::Array(hundred)).status, 200);
    let counted = server.get("/api/bill/tasks?count=true&limit=1", &token("bill"));
    assert_eq!(counted.header("x-total-count"), Some("101"));
    // Another user's batch URL is 403 before anything is read.
    let response = server.send(
        Request::new("POST", "/api/bill/tasks/batch")
            .bearer(&token("mallory"))
            .json(&json!({"operations": [{"op": "delete", "id": id}]})),
    );
    assert_eq!(response.status, 403);
}

#[test]
fn concurrent_batches_are_each_all_or_nothing() {
    let server = Server::start();
    let user = "busy-batcher";
    let keep = server.create(user, "kept")["id"].as_i64().unwrap();
    let outcomes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|writer| {
                let server = &server;
                scope.spawn(move || {
                    let mut operations: Vec<Value> = (0..10)
                        .map(|i| json!({"op": "create", "task": {"title": format!("w{writer} {i}")}}))
                        .collect();
                    operations.push(json!({"op": "update", "id": keep, "patch": {"priority": "low"}}));
                    // Every other batch ends with an operation that fails.
                    if writer % 2 == 1 {
                        operations.push(json!({"op": "delete", "id": 999_999_999}));
                    }
                    batch(server, user, Value::Array(operations)).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let succeeded = outcomes.iter().filter(|s| **s == 200).count();
    assert_eq!(
        outcomes.iter().filter(|s| **s == 404).count(),
        4,
        "{outcomes:?}"
    );
    assert_eq!(succeeded, 4, "{outcomes:?}");
    let counted = server.get(
        &format!("/api/{user}/tasks?count=true&limit=1"),
        &token(user),
    );
    assert_eq!(
        counted.header("x-total-count"),
        Some((1 + 10 * succeeded).to_string().as_str())
    );
}
