//! Every route and its success and failure statuses.

use super::client::Request;
use super::support::Server;
use super::tokens::token;
use serde_json::json;

#[test]
fn health_answers_without_a_token() {
    let server = Server::start();
    let response = server.send(Request::new("GET", "/health"));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json(), json!({"status": "ok"}));
}

#[test]
fn task_lifecycle() {
    let server = Server::start();
    let t = token("alice");

    let created = server.post(
        "/api/alice/tasks",
        &t,
        json!({"title": "  Buy milk ", "description": "2 litres"}),
    );
    assert_eq!(created.status, 201);
    let task = created.json();
    let id = task["id"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(
        created.header("location"),
        Some(format!("/api/alice/tasks/{id}").as_str())
    );
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["completed"], false);
    assert_eq!(task["created_at"], task["updated_at"]);
    let created_at = task["created_at"].as_str().unwrap().to_owned();
    assert!(
        created_at.ends_with('Z') && created_at.contains('T'),
        "{created_at}"
    );

    let item = format!("/api/alice/tasks/{id}");
    let fetched = server.get(&item, &t);
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), task);

    let listed = server.get("/api/alice/tasks", &t);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json(), json!([task]));

    let put = server.put(&item, &t, json!({"title": "Buy oat milk"}));
    assert_eq!(put.status, 200);
    let put = put.json();
    assert_eq!(put["title"], "Buy oat milk");
    assert_eq!(put["description"], "2 litres", "fields not sent are kept");
    assert_eq!(
        put["created_at"],
        created_at.as_str(),
        "created_at never changes"
    );
    assert!(
        put["updated_at"].as_str().unwrap() > created_at.as_str(),
        "updated_at moves"
    );

    let patched = server
        .patch(&item, &t, json!({"description": null, "completed": true}))
        .json();
    assert_eq!(patched["description"], serde_json::Value::Null);
    assert_eq!(patched["completed"], true);
    assert_eq!(patched["title"], "Buy oat milk");
    assert!(patched["updated_at"].as_str() > put["updated_at"].as_str());

    let toggled = server.toggle("alice", id, &t);
    assert_eq!(toggled.status, 200);
    assert_eq!(toggled.json()["completed"], false);
    assert_eq!(server.toggle("alice", id, &t).json()["completed"], true);

    let deleted = server.delete(&item, &t);
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    // Use after free: every route on a deleted task is a 404.
    server.get(&item, &t).assert_json_error(404);
    server
        .put(&item, &t, json!({"title": "x"}))
        .assert_json_error(404);
    server.toggle("alice", id, &t).assert_json_error(404);
    server.delete(&item, &t).assert_json_error(404);
    assert_eq!(server.get("/api/alice/tasks", &t).json(), json!([]));
}

#[test]
fn list_filters_sorts_and_pages() {
    let server = Server::start();
    let t = token("bob");
    for title in ["banana", "Apple", "cherry", "date"] {
        server.create("bob", title);
    }
    let ids: Vec<i64> = server
        .get("/api/bob/tasks?order=asc", &t)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["id"].as_i64().unwrap())
        .collect();
    server.toggle("bob", ids[2], &t); // cherry done

    let titles =
        |query: &str| super::support::titles(&server.get(&format!("/api/bob/tasks?{query}"), &t));
    assert_eq!(
        titles(""),
        ["date", "cherry", "Apple", "banana"],
        "newest first by default"
    );
    assert_eq!(
        titles("sort=created&order=asc"),
        ["banana", "Apple", "cherry", "date"]
    );
    assert_eq!(
        titles("sort=title"),
        ["Apple", "banana", "cherry", "date"],
        "A to Z, case-insensitive"
    );
    assert_eq!(
        titles("sort=title&order=desc"),
        ["date", "cherry", "banana", "Apple"]
    );
    assert_eq!(
        titles("sort=updated"),
        ["cherry", "date", "Apple", "banana"]
    );
    assert_eq!(titles("status=completed"), ["cherry"]);
    assert_eq!(titles("status=pending"), ["date", "Apple", "banana"]);
    assert_eq!(titles("status=all&limit=2"), ["date", "cherry"]);
    assert_eq!(titles("limit=2&offset=2"), ["Apple", "banana"]);
    assert_eq!(titles("offset=10"), Vec::<String>::new());
    assert_eq!(
        titles("unknown=1&utm_source=x"),
        ["date", "cherry", "Apple", "banana"]
    );
}

#[test]
fn unknown_routes_are_json_404s() {
    let server = Server::start();
    for path in [
        "/",
        "/api",
        "/api/alice/tasks/1/complete/now",
        "/api/alice/export/now",
        "/tasks",
        "/api/alice/notes",
    ] {
        let response = server.send(Request::new("GET", path).bearer(&token("alice")));
        response.assert_json_error(404);
    }
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let server = Server::start();
    let t = token("alice");
    for (method, path, allow) in [
        ("DELETE", "/api/alice/tasks", "GET, HEAD, POST"),
        ("PUT", "/api/alice/tasks", "GET, HEAD, POST"),
        (
            "POST",
            "/api/alice/tasks/1",
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        ("GET", "/api/alice/tasks/1/complete", "PATCH"),
        ("POST", "/health", "GET, HEAD"),
        ("GET", "/api/alice", "DELETE"),
        ("POST", "/api/alice/export", "GET, HEAD"),
    ] {
        let response = server.send(Request::new(method, path).bearer(&t));
        response.assert_json_error(405);
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn impossible_task_ids_are_404_never_500() {
    let server = Server::start();
    let t = token("alice");
    for id in [
        "abc",
        "0",
        "-1",
        "1.5",
        "9223372036854775808",
        "99999999999999999999999",
        "%00",
        "1%20",
    ] {
        let path = format!("/api/alice/tasks/{id}");
        server.get(&path, &t).assert_json_error(404);
        server
            .put(&path, &t, json!({"title": "x"}))
            .assert_json_error(404);
        server.delete(&path, &t).assert_json_error(404);
        server
            .send(Request::new("PATCH", &format!("{path}/complete")).bearer(&t))
            .assert_json_error(404);
    }
}

#[test]
fn unicode_and_sql_looking_text_round_trips() {
    let server = Server::start();
    let t = token("carol");
    for title in [
        "'); DROP TABLE tasks; --",
        "Robert\"); DELETE FROM users;--",
        "Ünïcödé 🦀 漢字 עברית",
        "% _ \\ \u{200b}",
    ] {
        let description = format!("{title} / ' OR '1'='1");
        let created = server.post(
            "/api/carol/tasks",
            &t,
            json!({"title": title, "description": description}),
        );
        assert_eq!(created.status, 201, "{title}: {}", created.text());
        let id = created.json()["id"].as_i64().unwrap();
        let fetched = server.get(&format!("/api/carol/tasks/{id}"), &t).json();
        assert_eq!(fetched["title"], title.trim());
        assert_eq!(fetched["description"], description);
    }
    assert_eq!(
        server
            .get("/api/carol/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
