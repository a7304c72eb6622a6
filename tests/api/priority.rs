//! Task priorities: the field, its filter and its sort, and a database of the release before
//! them upgraded in place.

use super::client::Request;
use super::support::{Server, builder_at_schema, stored_integer, titles};
use super::tokens::token;
use serde_json::{Value, json};

#[test]
fn priority_defaults_to_none_is_strict_and_can_change() {
    let server = Server::start();
    let t = token("pia");
    let plain = server.post("/api/pia/tasks", &t, json!({"title": "plain"}));
    assert_eq!(plain.status, 201);
    assert_eq!(plain.json()["priority"], "none");
    let urgent = server.post(
        "/api/pia/tasks",
        &t,
        json!({"title": "urgent", "priority": "high"}),
    );
    assert_eq!(urgent.json()["priority"], "high");
    let id = urgent.json()["id"].as_i64().unwrap();

    for bad in [
        json!("HIGH"),
        json!(3),
        Value::Null,
        json!(["high"]),
        json!("urgent"),
    ] {
        let response = server.post(
            "/api/pia/tasks",
            &t,
            json!({"title": "x", "priority": bad.clone()}),
        );
        assert_eq!(response.status, 422, "{bad}");
        assert_eq!(response.json()["errors"][0]["field"], "priority", "{bad}");
        let response = server.patch(
            &format!("/api/pia/tasks/{id}"),
            &t,
            json!({"priority": bad}),
        );
        assert_eq!(response.status, 422);
    }
    let item = format!("/api/pia/tasks/{id}");
    let lowered = server.patch(&item, &t, json!({"priority": "low"}));
    assert_eq!(lowered.json()["priority"], "low");
    let retitled = server.put(&item, &t, json!({"title": "still low"}));
    assert_eq!(
        retitled.json()["priority"],
        "low",
        "a field not sent is kept"
    );
    assert_eq!(server.get(&item, &t).json()["priority"], "low");
}

#[test]
fn lists_filter_by_priorities_and_sort_by_importance() {
    let server = Server::start();
    let t = token("pete");
    for (title, priority) in [
        ("a-none", "none"),
        ("b-high", "high"),
        ("c-low", "low"),
        ("d-high", "high"),
        ("e-medium", "medium"),
    ] {
        let created = server.post(
            "/api/pete/tasks",
            &t,
            json!({"title": title, "priority": priority}),
        );
        assert_eq!(created.status, 201);
    }
    // Most important first; ties by id in the same direction (newer first).
    assert_eq!(
        titles(&server.get("/api/pete/tasks?sort=priority", &t)),
        ["d-high", "b-high", "e-medium", "c-low", "a-none"]
    );
    assert_eq!(
        titles(&server.get("/api/pete/tasks?sort=priority&order=asc", &t)),
        ["a-none", "c-low", "e-medium", "b-high", "d-high"]
    );
    assert_eq!(
        titles(&server.get("/api/pete/tasks?priority=high&sort=title", &t)),
        ["b-high", "d-high"]
    );
    assert_eq!(
        titles(&server.get("/api/pete/tasks?priority=low,none&sort=title", &t)),
        ["a-none", "c-low"]
    );
    // Combined with the status filter and paging.
    let id = server.get("/api/pete/tasks?priority=medium", &t).json()[0]["id"]
        .as_i64()
        .unwrap();
    server.toggle("pete", id, &t);
    assert_eq!(
        titles(&server.get("/api/pete/tasks?status=completed&priority=medium,high", &t)),
        ["e-medium"]
    );
    assert_eq!(
        titles(&server.get("/api/pete/tasks?sort=priority&limit=2&offset=1", &t)),
        ["b-high", "e-medium"]
    );
    for bad in [
        "priority=",
        "priority=HIGH",
        "priority=high,",
        "priority=a&priority=b",
    ] {
        let response = server.get(&format!("/api/pete/tasks?{bad}"), &t);
        assert_eq!(response.status, 422, "{bad}");
        assert_eq!(response.json()["errors"][0]["field"], "priority");
    }
    // Another user's tasks are never in the filtered list.
    let other = token("olga");
    assert_eq!(
        titles(&server.get("/api/olga/tasks?priority=high", &other)),
        Vec::<String>::new()
    );
}

#[test]
fn an_idempotent_retry_with_a_priority_is_the_same_request_only_with_the_same_priority() {
    let server = Server::start();
    let t = token("ida");
    let send = |priority: &str| {
        server.send(
            Request::new("POST", "/api/ida/tasks")
                .bearer(&t)
                .header("Idempotency-Key", "k-1")
                .json(&json!({"title": "once", "priority": priority})),
        )
    };
    let first = send("high");
    assert_eq!(first.status, 201);
    let again = send("high");
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (201, first.json()["id"].clone())
    );
    assert_eq!(send("low").status, 422);
}

/// A database written by the release before priorities (schema version 6: tasks, a keyed
/// create, a rate-limit row), served by this build: it migrates in place, loses nothing, the
/// old tasks read back with priority `none`, and a retry of the old keyed create still
/// answers the old task.
#[test]
fn a_database_from_before_priorities_upgrades_in_place() {
    let builder = builder_at_schema(6);
    // What release 6 stored for a keyed create of {"title":"old keyed"}: the hash of its
    // canonical [title, description, completed].
    let old_hash: String = hmac_sha256::Hash::hash(br#"["old keyed",null,false]"#)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // One statement per --sqlite: Spin runs only the first of a raw argument.
    let server = builder
        .sqlite("INSERT INTO users (id, created_at) VALUES ('uma', 1764000000000000)")
        .sqlite(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) \
             VALUES ('uma', 'old plain', 'kept', 1, 1764000000000000, 1764000000000001)",
        )
        .sqlite(&format!(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at, \
             idempotency_key, request_hash) VALUES ('uma', 'old keyed', 0, 1764000000000002, \
             1764000000000002, 'old-key', '{old_hash}')"
        ))
        .sqlite(
            "INSERT INTO rate_limits (user_id, window_start, count) VALUES ('uma', 29400000, 7)",
        )
        .start();
    let t = token("uma");
    let listed = server.get("/api/uma/tasks?sort=created&order=asc", &t);
    assert_eq!(listed.status, 200);
    let tasks = listed.json();
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    assert_eq!(tasks[0]["title"], "old plain");
    assert_eq!(tasks[0]["description"], "kept");
    assert_eq!(tasks[0]["completed"], true);
    assert_eq!(tasks[0]["created_at"], "2025-11-24T16:00:00.000000Z");
    assert_eq!(tasks[0]["updated_at"], "2025-11-24T16:00:00.000001Z");
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["priority"] == "none")
    );

    let retry = server.send(
        Request::new("POST", "/api/uma/tasks")
            .bearer(&t)
            .header("Idempotency-Key", "old-key")
            .json(&json!({"title": "old keyed"})),
    );
    assert_eq!(retry.status, 201);
    assert_eq!(
        retry.json()["id"],
        tasks[1]["id"],
        "the old key still answers its task"
    );

    let database = server.database();
    let dir = server.stop();
    let version = stored_integer(&database, "SELECT max(version) FROM schema_migrations");
    assert_eq!(version, task_api::db::migrations::LATEST);
    let rate = (
        stored_integer(
            &database,
            "SELECT window_start FROM rate_limits WHERE user_id = 'uma'",
        ),
        stored_integer(
            &database,
            "SELECT count FROM rate_limits WHERE user_id = 'uma'",
        ),
    );
    assert_eq!(rate, (29400000, 7));
    let count = stored_integer(&database, "SELECT count(*) FROM tasks");
    assert_eq!(count, 2);
    drop(dir);
}
