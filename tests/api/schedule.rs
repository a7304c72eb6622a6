//! Due dates, reminders and recurring tasks.

use super::support::{Server, titles};
use super::tokens::token;
use serde_json::{Value, json};
use std::thread;

fn create(server: &Server, user: &str, body: Value) -> Value {
    let r = server.post(&format!("/api/{user}/tasks"), &token(user), body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn due_dates_are_rfc3339_with_an_offset_and_come_back_in_utc() {
    let server = Server::start();
    let t = token("dora");
    let task = create(
        &server,
        "dora",
        json!({"title": "t", "due_at": "2026-03-01T09:00:00+01:00", "remind_at": "2026-03-01T07:30:00Z"}),
    );
    assert_eq!(task["due_at"], "2026-03-01T08:00:00.000000Z");
    assert_eq!(task["remind_at"], "2026-03-01T07:30:00.000000Z");
    assert_eq!(task["recurrence"], Value::Null);
    assert_eq!(task["interval"], Value::Null);
    assert_eq!(task["time_zone"], "UTC");
    assert_eq!(task["next_task_id"], Value::Null);
    let item = format!("/api/dora/tasks/{}", task["id"]);

    for (body, field) in [
        (json!({"due_at": "2026-03-01"}), "due_at"),
        (json!({"due_at": "2026-03-01T09:00:00"}), "due_at"),
        (json!({"due_at": "tomorrow"}), "due_at"),
        (json!({"due_at": 1767225600}), "due_at"),
        (json!({"due_at": "2026-02-30T09:00:00Z"}), "due_at"),
        (json!({"remind_at": "2026-03-01T08:00:01Z"}), "remind_at"),
        (json!({"due_at": null}), "remind_at"),
        (json!({"interval": 2}), "interval"),
        (json!({"until": "2027-01-01T00:00:00Z"}), "until"),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"time_zone": null}), "time_zone"),
        (json!({"recurrence": "hourly"}), "recurrence"),
    ] {
        let r = server.patch(&item, &t, body.clone());
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json()["errors"][0]["field"], field, "{body}");
    }
    // A create is checked the same way.
    let r = server.post(
        "/api/dora/tasks",
        &t,
        json!({"title": "x", "remind_at": "2026-03-01T07:30:00Z"}),
    );
    assert_eq!(r.status, 422);
    let r = server.post(
        "/api/dora/tasks",
        &t,
        json!({"title": "x", "recurrence": "daily"}),
    );
    assert_eq!(r.json()["errors"][0]["field"], "recurrence");

    // Clearing the due date and the reminder together is fine; nothing changed on refusal.
    assert_eq!(
        server.get(&item, &t).json()["due_at"],
        "2026-03-01T08:00:00.000000Z"
    );
    let cleared = server.patch(&item, &t, json!({"due_at": null, "remind_at": null}));
    assert_eq!(cleared.status, 200);
    assert_eq!(
        (
            cleared.json()["due_at"].clone(),
            cleared.json()["remind_at"].clone()
        ),
        (Value::Null, Value::Null)
    );
}

#[test]
fn due_filters_overdue_and_sort_by_due_with_undated_tasks_last() {
    let server = Server::start();
    let t = token("dean");
    for (title, due) in [
        ("past", json!("2020-01-01T00:00:00Z")),
        ("soon", json!("2999-01-01T00:00:00Z")),
        ("undated-1", Value::Null),
        ("later", json!("2999-06-01T00:00:00Z")),
        ("past-done", json!("2021-01-01T00:00:00Z")),
        ("undated-2", Value::Null),
    ] {
        create(&server, "dean", json!({"title": title, "due_at": due}));
    }
    let done = server
        .get("/api/dean/tasks?sort=title&order=asc", &t)
        .json()[2]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(server.toggle("dean", done, &t).json()["title"], "past-done");
    let list = |query: &str| titles(&server.get(&format!("/api/dean/tasks?{query}"), &t));
    assert_eq!(
        list("sort=due"),
        [
            "past",
            "past-done",
            "soon",
            "later",
            "undated-1",
            "undated-2"
        ]
    );
    assert_eq!(
        list("sort=due&order=desc"),
        [
            "later",
            "soon",
            "past-done",
            "past",
            "undated-2",
            "undated-1"
        ]
    );
    assert_eq!(list("overdue=true"), ["past"]);
    assert_eq!(
        list("overdue=false&sort=title"),
        ["later", "past-done", "soon", "undated-1", "undated-2"]
    );
    assert_eq!(
        list("due_before=2999-01-01T00:00:00Z&sort=due"),
        ["past", "past-done"]
    );
    assert_eq!(
        list("due_after=2999-01-01T00:00:00Z&sort=due"),
        ["soon", "later"],
        "due_after is inclusive"
    );
    assert_eq!(
        list(
            "due_after=2000-01-01T00:00:00Z&due_before=2999-03-01T00:00:00%2B00:00&status=pending&sort=due"
        ),
        ["past", "soon"]
    );
    assert_eq!(list("sort=due&limit=2&offset=3"), ["later", "undated-1"]);
    for bad in [
        "due_before=2026",
        "due_after=2026-01-01T00:00:00",
        "overdue=yes",
        "sort=soonest",
    ] {
        assert_eq!(
            server.get(&format!("/api/dean/tasks?{bad}"), &t).status,
            422,
            "{bad}"
        );
    }
}

#[test]
fn completing_a_recurring_task_creates_the_next_occurrence_once() {
    let server = Server::start();
    let t = token("rita");
    let task = create(
        &server,
        "rita",
        json!({"title": "water plants", "description": "all of them", "priority": "high",
               "tags": ["Home"], "due_at": "2026-03-28T09:00:00+01:00",
               "remind_at": "2026-03-28T08:45:00+01:00", "recurrence": "daily",
               "time_zone": "Europe/Berlin"}),
    );
    assert_eq!(task["recurrence"], "daily");
    assert_eq!(task["interval"], 1);
    assert_eq!(task["time_zone"], "Europe/Berlin");
    let id = task["id"].as_i64().unwrap();

    let done = server.toggle("rita", id, &t);
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(done["completed"], true);
    let next_id = done["next_task_id"].as_i64().expect("a next occurrence");
    assert_ne!(next_id, id);
    let next = server.get(&format!("/api/rita/tasks/{next_id}"), &t).json();
    // 09:00 in Berlin the next day, after the switch to summer time: 07:00 UTC, not 08:00.
    assert_eq!(next["due_at"], "2026-03-29T07:00:00.000000Z");
    assert_eq!(next["remind_at"], "2026-03-29T06:45:00.000000Z");
    assert_eq!(next["completed"], false);
    for field in [
        "title",
        "description",
        "priority",
        "tags",
        "recurrence",
        "interval",
        "time_zone",
    ] {
        assert_eq!(next[field], task[field], "{field}");
    }
    assert_eq!(next["next_task_id"], Value::Null);

    // Un-completing and completing again creates no other occurrence.
    let undone = server.toggle("rita", id, &t).json();
    assert_eq!(
        (undone["completed"].clone(), undone["next_task_id"].clone()),
        (json!(false), json!(next_id))
    );
    let again = server.put(
        &format!("/api/rita/tasks/{id}"),
        &t,
        json!({"completed": true}),
    );
    assert_eq!(again.json()["next_task_id"], next_id);
    assert_eq!(
        server
            .get("/api/rita/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Completing the next one by PATCH, with another change in the same request: the change
    // applies to it and carries over to the one after.
    let third = server.patch(
        &format!("/api/rita/tasks/{next_id}"),
        &t,
        json!({"completed": true, "title": "water the plants"}),
    );
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(third.json()["title"], "water the plants");
    let third_id = third.json()["next_task_id"].as_i64().unwrap();
    let after = server
        .get(&format!("/api/rita/tasks/{third_id}"), &t)
        .json();
    assert_eq!(after["title"], "water the plants");
    assert_eq!(after["due_at"], "2026-03-30T07:00:00.000000Z");
}

#[test]
fn intervals_until_and_monthly_on_the_last_days() {
    let server = Server::start();
    let t = token("ron");
    let task = create(
        &server,
        "ron",
        json!({"title": "rent", "due_at": "2026-01-31T12:00:00Z", "recurrence": "monthly",
               "until": "2026-03-31T12:00:00Z"}),
    );
    let mut id = task["id"].as_i64().unwrap();
    let mut dues = Vec::new();
    loop {
        let done = server.toggle("ron", id, &t).json();
        assert_eq!(done["completed"], true);
        match done["next_task_id"].as_i64() {
            Some(next) => {
                id = next;
                dues.push(server.get(&format!("/api/ron/tasks/{id}"), &t).json()["due_at"].clone());
            }
            None => break,
        }
        assert!(dues.len() < 10, "until never ended the series");
    }
    assert_eq!(
        dues,
        [
            json!("2026-02-28T12:00:00.000000Z"),
            json!("2026-03-31T12:00:00.000000Z")
        ]
    );

    let biweekly = create(
        &server,
        "ron",
        json!({"title": "sync", "due_at": "2026-12-01T10:00:00Z", "recurrence": "weekly", "interval": 2}),
    );
    let done = server
        .toggle("ron", biweekly["id"].as_i64().unwrap(), &t)
        .json();
    let next = server
        .get(&format!("/api/ron/tasks/{}", done["next_task_id"]), &t)
        .json();
    assert_eq!(next["due_at"], "2026-12-15T10:00:00.000000Z");
    assert_eq!(next["interval"], 2);
    for bad in [json!(0), json!(366), json!(1.5), json!("2")] {
        let r = server.post(
            "/api/ron/tasks",
            &t,
            json!({"title": "x", "due_at": "2026-12-01T10:00:00Z", "recurrence": "daily", "interval": bad}),
        );
        assert_eq!(r.json()["errors"][0]["field"], "interval", "{bad}");
    }
    // Turning recurrence off clears its fields.
    let off = server.patch(
        &format!("/api/ron/tasks/{}", next["id"]),
        &t,
        json!({"recurrence": null}),
    );
    assert_eq!(
        (
            off.json()["recurrence"].clone(),
            off.json()["interval"].clone(),
            off.json()["until"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );
    let done = server
        .toggle("ron", next["id"].as_i64().unwrap(), &t)
        .json();
    assert_eq!(done["next_task_id"], Value::Null);
}

/// Forty clients complete the same recurring task at once, by toggle and by PUT: exactly one
/// next occurrence exists afterwards, and every answer names that one.
#[test]
fn forty_concurrent_completions_create_exactly_one_next_occurrence() {
    let server = Server::start();
    let t = token("cora");
    let task = create(
        &server,
        "cora",
        json!({"title": "daily", "due_at": "2026-12-01T09:00:00Z", "recurrence": "daily"}),
    );
    let id = task["id"].as_i64().unwrap();
    let server = &server;
    let answers: Vec<Value> = thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let t = t.clone();
                scope.spawn(move || {
                    let r = server.put(
                        &format!("/api/cora/tasks/{id}"),
                        &t,
                        json!({"completed": true}),
                    );
                    assert_eq!(r.status, 200, "{i}: {}", r.text());
                    r.json()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all = server.get("/api/cora/tasks?limit=100", &t).json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "one next occurrence: {all:#?}");
    let next_id = all.iter().find(|t| t["id"] != id).unwrap()["id"].clone();
    for answer in &answers {
        assert_eq!(answer["completed"], true);
        assert_eq!(answer["next_task_id"], next_id);
    }
}

/// A database of the release before tags, due dates and search (schema version 7: tasks with
/// priorities, a keyed create, a rate-limit row), served by this build: it migrates in place,
/// every task reads back with its fields and the new ones at their defaults, the old tasks are
/// found by search and can be tagged and scheduled, and the old key still answers its task.
#[test]
fn a_database_from_before_tags_and_search_upgrades_in_place() {
    use super::client::Request;
    use super::support::{builder_at_schema, stored_integer};
    let builder = builder_at_schema(7);
    // Release 7's hash of a keyed {"title":"old keyed","priority":"high"}.
    let old_hash: String = hmac_sha256::Hash::hash(br#"["old keyed",null,false,"high"]"#)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let server = builder
        .sqlite("INSERT INTO users (id, created_at) VALUES ('ulf', 1764000000000000)")
        .sqlite(
            "INSERT INTO tasks (user_id, title, description, completed, priority, created_at, \
             updated_at) VALUES ('ulf', 'old plain groceries', 'buy turnips', 1, 2, \
             1764000000000000, 1764000000000001)",
        )
        .sqlite(&format!(
            "INSERT INTO tasks (user_id, title, completed, priority, created_at, updated_at, \
             idempotency_key, request_hash) VALUES ('ulf', 'old keyed', 0, 3, 1764000000000002, \
             1764000000000002, 'old-key', '{old_hash}')"
        ))
        .sqlite(
            "INSERT INTO tasks (user_id, title, created_at, updated_at) \
             VALUES ('other', 'turnips of someone else', 1764000000000003, 1764000000000003)",
        )
        .sqlite(
            "INSERT INTO rate_limits (user_id, window_start, count) VALUES ('ulf', 29400000, 7)",
        )
        .start();
    let t = token("ulf");
    let listed = server.get("/api/ulf/tasks?sort=created&order=asc", &t);
    assert_eq!(listed.status, 200, "{}", listed.text());
    let tasks = listed.json();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        (
            tasks[0]["title"].clone(),
            tasks[0]["description"].clone(),
            tasks[0]["completed"].clone(),
            tasks[0]["priority"].clone(),
            tasks[0]["updated_at"].clone()
        ),
        (
            json!("old plain groceries"),
            json!("buy turnips"),
            json!(true),
            json!("medium"),
            json!("2025-11-24T16:00:00.000001Z")
        )
    );
    for task in tasks {
        assert_eq!(task["tags"], json!([]));
        assert_eq!(task["due_at"], Value::Null);
        assert_eq!(task["recurrence"], Value::Null);
        assert_eq!(task["time_zone"], "UTC");
    }
    // The old rows are in the search index, and only the caller's.
    let found = server.get("/api/ulf/tasks?q=turnips", &t);
    assert_eq!(
        found.json().as_array().unwrap().len(),
        1,
        "{}",
        found.text()
    );
    assert_eq!(found.json()[0]["title"], "old plain groceries");
    // They take the new fields.
    let id = tasks[1]["id"].as_i64().unwrap();
    let scheduled = server.patch(
        &format!("/api/ulf/tasks/{id}"),
        &t,
        json!({"tags": ["Legacy"], "due_at": "2026-12-24T18:00:00+01:00", "recurrence": "yearly"}),
    );
    assert_eq!(scheduled.status, 200, "{}", scheduled.text());
    assert_eq!(
        server.get("/api/ulf/tags", &t).json(),
        json!([{"tag": "Legacy", "count": 1}])
    );
    // A retry of the old keyed create still answers the old task.
    let retry = server.send(
        Request::new("POST", "/api/ulf/tasks")
            .bearer(&t)
            .header("Idempotency-Key", "old-key")
            .json(&json!({"title": "old keyed", "priority": "high"})),
    );
    assert_eq!((retry.status, retry.json()["id"].as_i64()), (201, Some(id)));

    let database = server.database();
    let dir = server.stop();
    let version = stored_integer(&database, "SELECT max(version) FROM schema_migrations");
    assert_eq!(version, task_api::db::migrations::LATEST);
    let rate = (
        stored_integer(
            &database,
            "SELECT window_start FROM rate_limits WHERE user_id = 'ulf'",
        ),
        stored_integer(
            &database,
            "SELECT count FROM rate_limits WHERE user_id = 'ulf'",
        ),
    );
    assert_eq!(rate, (29400000, 7));
    let count = stored_integer(&database, "SELECT count(*) FROM tasks");
    assert_eq!(count, 3, "nothing lost, nothing added");
    drop(dir);
}
