//! Hostile input: every request below gets a 4xx (a JSON error whenever it reaches the
//! component), and the server keeps serving afterwards.

use super::client::{Request, Response, raw};
use super::support::Server;
use super::tokens::token;
use serde_json::json;

fn still_serving(server: &Server) {
    let response = server.send(Request::new("GET", "/health"));
    assert_eq!(response.status, 200, "the server stopped serving");
}

fn assert_4xx_json(response: &Response, case: &str) {
    assert!(
        (400..500).contains(&response.status),
        "{case}: {} {}",
        response.status,
        response.text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    assert!(response.json()["detail"].is_string(), "{case}");
}

#[test]
fn hostile_bodies() {
    let server = Server::start();
    let t = token("mallory");
    let post = |content_type: &str, body: Vec<u8>| {
        server.send(
            Request::new("POST", "/api/mallory/tasks")
                .bearer(&t)
                .raw_body(content_type, body),
        )
    };
    let nested = format!(
        "{{\"title\":\"x\",\"n\":{}{}}}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let cases: Vec<(&str, Response)> = vec![
        ("1 MiB body", post("application/json", vec![b'a'; 1 << 20])),
        (
            "deeply nested",
            post("application/json", nested.clone().into_bytes()),
        ),
        (
            "not UTF-8",
            post("application/json", b"{\"title\":\"\xff\xfe\"}".to_vec()),
        ),
        (
            "number beyond i64",
            post(
                "application/json",
                br#"{"title":"x","completed":99999999999999999999999}"#.to_vec(),
            ),
        ),
        (
            "number beyond f64",
            post(
                "application/json",
                br#"{"title":"x","completed":1e999}"#.to_vec(),
            ),
        ),
        (
            "duplicate keys",
            post(
                "application/json",
                br#"{"title":"x","completed":false,"completed":true}"#.to_vec(),
            ),
        ),
        (
            "wrong content type",
            post("text/plain", br#"{"title":"x"}"#.to_vec()),
        ),
        (
            "no body",
            server.send(
                Request::new("POST", "/api/mallory/tasks")
                    .bearer(&t)
                    .header("Content-Type", "application/json"),
            ),
        ),
        (
            "NUL in title",
            post("application/json", br#"{"title":"a\u0000b"}"#.to_vec()),
        ),
        (
            "lone surrogate",
            post("application/json", br#"{"title":"\ud800"}"#.to_vec()),
        ),
        (
            "JSON with BOM",
            post(
                "application/json",
                b"\xef\xbb\xbf{\"title\":\"x\"}".to_vec(),
            ),
        ),
    ];
    for (case, response) in &cases {
        assert_4xx_json(response, case);
    }
    // A client that declares a body and never sends it: the host times out or the client
    // hangs up; either way the server keeps serving. Here the client hangs up after 10 bytes.
    let partial = format!(
        "POST /api/mallory/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"title\":"
    );
    {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        stream.write_all(partial.as_bytes()).unwrap();
    }
    still_serving(&server);
    assert_eq!(
        server.get("/api/mallory/tasks", &t).json(),
        json!([]),
        "nothing was stored"
    );
}

#[test]
fn hostile_paths() {
    let server = Server::start();
    let t = token("mallory");
    for path in [
        "/api/mallory%2Ftasks",
        "/api/mallory/tasks/1%2F..%2F2",
        "/api/mallory/tasks/%00",
        "/api/mal%00lory/tasks",
        "/api/mallory/tasks/1;DROP%20TABLE%20tasks",
        "/api/mallory/tasks/1'%20OR%20'1'='1",
        "/api/mallory/tasks/../../etc/passwd",
        "/api/%2e%2e/tasks",
        "/api/mallory/tasks/1/complete/../../2",
    ] {
        let response = server.get(path, &t);
        assert_4xx_json(&response, path);
    }
    let long_segment = format!("/api/{}/tasks", "m".repeat(4096));
    assert_4xx_json(&server.get(&long_segment, &t), "overlong user segment");
    let long_id = format!("/api/mallory/tasks/{}", "9".repeat(4096));
    assert_4xx_json(&server.get(&long_id, &t), "overlong id");
    // A raw NUL in the request line is not HTTP: the host's HTTP parser answers 400 before the
    // component runs (Spin's does the same), and keeps serving.
    let nul = raw(
        server.addr(),
        b"GET /api/mallory/tasks\0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!((400..500).contains(&nul.status), "{}", nul.status);
    still_serving(&server);
}

#[test]
fn hostile_query_strings() {
    let server = Server::start();
    let t = token("mallory");
    for query in [
        "status=all&status=pending".to_owned(),
        "limit=1&limit=2".to_owned(),
        format!("status={}", "a".repeat(5000)),
        format!("x={}", "y".repeat(5000)),
        "limit=1%00".to_owned(),
        "sort=title%27%20OR%201%3D1".to_owned(),
        "offset=99999999999999999999999".to_owned(),
        "status=%FF".to_owned(),
    ] {
        let response = server.get(&format!("/api/mallory/tasks?{query}"), &t);
        assert_4xx_json(&response, &query[..query.len().min(40)]);
    }
    still_serving(&server);
}

#[test]
fn rate_limit_per_user_with_retry_after() {
    let server = Server::builder()
        .variable("rate_limit_per_minute", "5")
        .start();
    let (a, b) = (token("rl-a"), token("rl-b"));
    let statuses: Vec<u16> = (0..7)
        .map(|_| server.get("/api/rl-a/tasks", &a).status)
        .collect();
    // Five per minute; a window boundary during the loop can only let more through, once.
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        limited >= 1 && statuses[..5].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    let refused = server.get("/api/rl-a/tasks", &a);
    if refused.status == 429 {
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry));
        refused.assert_json_error(429);
    }
    assert_eq!(
        server.get("/api/rl-b/tasks", &b).status,
        200,
        "other users are not limited"
    );
    assert_eq!(
        server.send(Request::new("GET", "/health")).status,
        200,
        "health is not limited"
    );
}

#[test]
fn a_bad_rate_limit_setting_is_503() {
    let server = Server::builder()
        .variable("rate_limit_per_minute", "lots")
        .start();
    let response = server.get("/api/a/tasks", &token("a"));
    server.assert_misconfigured(&response, "rate_limit_per_minute");
}
