//! Every validation rule of request bodies and list parameters.

use super::client::{Request, raw};
use super::support::Server;
use super::tokens::token;
use serde_json::json;

fn fields(body: &serde_json::Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .expect("422 carries errors")
        .iter()
        .map(|e| {
            assert!(e["message"].is_string());
            e["field"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn create_validation() {
    let server = Server::start();
    let t = token("alice");
    let post = |body: serde_json::Value| server.post("/api/alice/tasks", &t, body);
    let cases: &[(serde_json::Value, &[&str])] = &[
        (json!({}), &["title"]),
        (json!({"title": null}), &["title"]),
        (json!({"title": ""}), &["title"]),
        (json!({"title": "   \t\n"}), &["title"]),
        (json!({"title": "x".repeat(201)}), &["title"]),
        (json!({"title": 42}), &["title"]),
        (json!({"title": true}), &["title"]),
        (json!({"title": ["a"]}), &["title"]),
        (
            json!({"title": "ok", "description": "d".repeat(1001)}),
            &["description"],
        ),
        (json!({"title": "ok", "description": 5}), &["description"]),
        (
            json!({"title": "ok", "description": {"text": "x"}}),
            &["description"],
        ),
        (json!({"title": "ok", "completed": "yes"}), &["completed"]),
        (json!({"title": "ok", "completed": 1}), &["completed"]),
        (json!({"title": "ok", "completed": null}), &["completed"]),
        (
            json!({"title": "", "description": 1, "completed": "no"}),
            &["title", "description", "completed"],
        ),
        (json!([{"title": "x"}]), &["body"]),
        (json!("title"), &["body"]),
        (json!(null), &["body"]),
    ];
    for (body, expected) in cases {
        let response = post(body.clone());
        let error = response.assert_json_error(422);
        assert_eq!(fields(&error), *expected, "{body}");
    }
    // The boundaries themselves are fine.
    assert_eq!(
        post(json!({"title": "é".repeat(200), "description": "d".repeat(1000)})).status,
        201
    );
    assert_eq!(
        post(json!({"title": "t", "description": null, "completed": true, "colour": 3})).status,
        201
    );
    assert_eq!(
        server
            .get("/api/alice/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing invalid was stored"
    );
}

#[test]
fn update_validation() {
    let server = Server::start();
    let t = token("alice");
    let id = server.create("alice", "original")["id"].as_i64().unwrap();
    let item = format!("/api/alice/tasks/{id}");
    for method in ["PUT", "PATCH"] {
        for (body, field) in [
            (json!({"title": ""}), "title"),
            (json!({"title": null}), "title"),
            (json!({"completed": "true"}), "completed"),
            (json!({"description": 1}), "description"),
            (json!(["title"]), "body"),
        ] {
            let response = server.send(Request::new(method, &item).bearer(&t).json(&body));
            assert_eq!(
                fields(&response.assert_json_error(422)),
                [field],
                "{method} {body}"
            );
        }
    }
    let unchanged = server.get(&item, &t).json();
    assert_eq!(unchanged["title"], "original");
    assert_eq!(
        unchanged["created_at"], unchanged["updated_at"],
        "a rejected update changes nothing"
    );
    // An empty object is a valid (empty) patch.
    assert_eq!(server.put(&item, &t, json!({})).status, 200);
}

#[test]
fn malformed_json_and_duplicate_keys_are_422() {
    let server = Server::start();
    let t = token("alice");
    for body in [
        &b"{"[..],
        b"{\"title\": }",
        b"{'title': 'x'}",
        b"",
        b"\xff\xfe{}",
        br#"{"title":"a","title":"b"}"#,
        b"{\"title\":\"x\"} trailing",
    ] {
        let response = server.send(
            Request::new("POST", "/api/alice/tasks")
                .bearer(&t)
                .raw_body("application/json", body.to_vec()),
        );
        let error = response.assert_json_error(422);
        assert_eq!(
            fields(&error),
            ["body"],
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn bodies_must_be_declared_json() {
    let server = Server::start();
    let t = token("alice");
    let body = br#"{"title":"x"}"#.to_vec();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = server.send(
            Request::new("POST", "/api/alice/tasks")
                .bearer(&t)
                .raw_body(content_type, body.clone()),
        );
        response.assert_json_error(415);
    }
    let mut no_type = Request::new("POST", "/api/alice/tasks").bearer(&t);
    no_type.body = Some(body);
    server.send(no_type).assert_json_error(415);
    let charset = Request::new("POST", "/api/alice/tasks")
        .bearer(&t)
        .raw_body(
            "application/json; charset=utf-8",
            br#"{"title":"x"}"#.to_vec(),
        );
    assert_eq!(server.send(charset).status, 201);
}

#[test]
fn bodies_over_64_kib_are_413() {
    let server = Server::start();
    let t = token("alice");
    let big = format!(
        r#"{{"title":"x","description":"{}"}}"#,
        "a".repeat(64 * 1024)
    );
    let response = server.send(
        Request::new("POST", "/api/alice/tasks")
            .bearer(&t)
            .raw_body("application/json", big.into_bytes()),
    );
    response.assert_json_error(413);
    // Streamed without a length (chunked): refused once it passes the limit.
    let chunk = "a".repeat(16 * 1024);
    let mut request = format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..5 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    raw(server.addr(), request.as_bytes()).assert_json_error(413);
    // A body of exactly 64 KiB is still read (and judged on its content).
    let exact = format!(r#"{{"title":"x","pad":"{}"}}"#, "p".repeat(64 * 1024 - 22));
    assert_eq!(exact.len(), 64 * 1024);
    let response = server.send(
        Request::new("POST", "/api/alice/tasks")
            .bearer(&t)
            .raw_body("application/json", exact.into_bytes()),
    );
    assert_eq!(response.status, 201, "{}", response.text());
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
fn list_parameters_are_validated() {
    let server = Server::start();
    let t = token("alice");
    for (query, field) in [
        ("status=done", "status"),
        ("sort=importance", "sort"),
        ("order=random", "order"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("status=all&status=pending", "status"),
    ] {
        let response = server.get(&format!("/api/alice/tasks?{query}"), &t);
        assert_eq!(fields(&response.assert_json_error(422)), [field], "{query}");
    }
    for query in [
        "limit=1",
        "limit=100",
        "offset=0",
        "status=pending&sort=title&order=desc",
    ] {
        assert_eq!(
            server.get(&format!("/api/alice/tasks?{query}"), &t).status,
            200,
            "{query}"
        );
    }
}
