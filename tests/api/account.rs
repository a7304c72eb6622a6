//! The user's data as a whole: `GET /api/{user_id}/export` and `DELETE /api/{user_id}`.

use super::client::Request;
use super::support::{Server, stored_integer};
use super::tokens::token;
use serde_json::json;

fn owner_hex(user: &str) -> String {
    user.bytes().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn an_export_holds_every_task_and_tag_of_the_user_and_nothing_else() {
    let server = Server::start();
    let t = token("exa");
    let mut created = Vec::new();
    // More than one page's worth (the list stops at 100).
    for i in 0..105 {
        let mut body = json!({"title": format!("task {i}"), "priority": "low"});
        if i % 10 == 0 {
            body["tags"] = json!(["Ten", "all"]);
        } else if i % 2 == 0 {
            body["tags"] = json!(["all"]);
        }
        let response = server.post("/api/exa/tasks", &t, body);
        assert_eq!(response.status, 201);
        created.push(response.json());
    }
    server.create("exb", "not exa's");
    let response = server.get("/api/exa/export", &t);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        response
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let export = response.json();
    assert_eq!(export["user_id"], "exa");
    assert!(export["exported_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        export["tasks"].as_array().unwrap(),
        &created,
        "every task, oldest first"
    );
    assert_eq!(
        export["tags"],
        json!([{"tag": "all", "count": 53}, {"tag": "Ten", "count": 11}])
    );
    // Someone else's export is theirs to ask for.
    assert_eq!(server.get("/api/exb/export", &t).status, 403);
    let theirs = server.get("/api/exb/export", &token("exb")).json();
    assert_eq!(theirs["tasks"].as_array().unwrap().len(), 1);
    // A user with nothing gets an empty export, not a 404.
    let empty = server.get("/api/exc/export", &token("exc")).json();
    assert_eq!(empty["tasks"], json!([]));
    assert_eq!(empty["tags"], json!([]));
    let head = server.send(Request::new("HEAD", "/api/exa/export").bearer(&t));
    assert_eq!(head.status, 200);
}

#[test]
fn erasing_a_user_removes_everything_of_theirs_and_only_theirs_and_is_idempotent() {
    let server = Server::builder()
        .variable("rate_limit_per_minute", "1000")
        .start();
    let (t, other) = (token("eve-erased"), token("eve-kept"));
    for (user, token) in [("eve-erased", &t), ("eve-kept", &other)] {
        for i in 0..3 {
            let response = server.send(
                Request::new("POST", &format!("/api/{user}/tasks"))
                    .bearer(token)
                    .header("Idempotency-Key", &format!("key-{i}"))
                    .json(&json!({"title": format!("buy milk {i}"), "tags": ["errands"]})),
            );
            assert_eq!(response.status, 201);
        }
        // Search entries and tag rows exist before the erase.
        assert_eq!(
            server
                .get(&format!("/api/{user}/tasks?q=milk"), token)
                .json()
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(server.get(&format!("/api/{user}/tags"), token).status, 200);
    }
    assert_eq!(server.delete("/api/eve-erased", &other).status, 403);
    for _ in 0..2 {
        let erased = server.delete("/api/eve-erased", &t);
        assert_eq!(erased.status, 204, "{}", erased.text());
    }
    assert_eq!(server.get("/api/eve-erased/tasks", &t).json(), json!([]));
    assert_eq!(
        server.get("/api/eve-erased/tasks?q=milk", &t).json(),
        json!([])
    );
    assert_eq!(server.get("/api/eve-erased/tags", &t).json(), json!([]));
    assert_eq!(
        server.get("/api/eve-erased/export", &t).json()["tasks"],
        json!([])
    );
    // The idempotency keys went with the tasks: the same key makes a new task.
    let again = server.send(
        Request::new("POST", "/api/eve-erased/tasks")
            .bearer(&t)
            .header("Idempotency-Key", "key-0")
            .json(&json!({"title": "after the erase"})),
    );
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["title"], "after the erase");
    assert_eq!(server.delete("/api/eve-erased", &t).status, 204);
    // The other user is untouched.
    assert_eq!(
        server
            .get("/api/eve-kept/tasks?q=milk", &other)
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        server.get("/api/eve-kept/tags", &other).json(),
        json!([{"tag": "errands", "count": 3}])
    );
    assert_eq!(server.delete("/api/eve-erased", "not a token").status, 401);
    assert_eq!(
        server
            .send(Request::new("GET", "/api/eve-erased").bearer(&t))
            .status,
        405
    );

    let database = server.database();
    let state = server.stop();
    let count = |sql: &str| stored_integer(&database, sql);
    for (table, column) in [
        ("tasks", "user_id"),
        ("task_tags", "user_id"),
        ("users", "id"),
    ] {
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = 'eve-erased'"
            )),
            0,
            "{table}"
        );
        assert!(
            count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = 'eve-kept'"
            )) > 0,
            "{table}"
        );
    }
    // Each erase request is counted by the rate limiter before it runs, and removes the row.
    assert_eq!(
        count("SELECT count(*) FROM rate_limits WHERE user_id = 'eve-erased'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM rate_limits WHERE user_id = 'eve-kept'"),
        1
    );
    let entries = |user: &str| {
        count(&format!(
            "SELECT count(*) FROM task_search WHERE task_search MATCH 'owner:\"{}\"'",
            owner_hex(user)
        ))
    };
    assert_eq!(entries("eve-erased"), 0);
    assert_eq!(entries("eve-kept"), 3);
    drop(state);
}
