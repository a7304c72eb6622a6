//! What the OpenAPI document and the HTTP specs promise at the edges: caching and sniffing
//! headers, HEAD, a missing body, precondition and idempotency-key syntax, the user segment's
//! shape, and secrets that are no secrets.

use super::client::Request;
use super::support::Server;
use super::tokens::{token, with_claims};
use serde_json::json;

/// Every response that depends on the token says so to every cache between the API and the
/// browser, whether the token came as a header or as the cookie.
#[test]
fn responses_that_depend_on_the_token_are_private_and_vary_by_it() {
    let server = Server::start();
    let t = token("alice");
    let task = server.create("alice", "private");
    let id = task["id"].as_i64().unwrap();
    let cookie = format!("access_token={t}");
    for (what, response) in [
        ("list", server.get("/api/alice/tasks", &t)),
        (
            "list by cookie",
            server.send(Request::new("GET", "/api/alice/tasks").header("Cookie", &cookie)),
        ),
        ("one", server.get(&format!("/api/alice/tasks/{id}"), &t)),
        ("401", server.send(Request::new("GET", "/api/alice/tasks"))),
        ("403", server.get("/api/bob/tasks", &t)),
        ("404", server.get("/api/alice/tasks/999999", &t)),
        ("422", server.get("/api/alice/tasks?limit=0", &t)),
        (
            "201",
            server.post("/api/alice/tasks", &t, json!({"title": "x"})),
        ),
    ] {
        assert_eq!(
            response.header("cache-control"),
            Some("private, no-cache"),
            "{what}"
        );
        let vary: Vec<String> = response
            .header_all("vary")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect();
        for name in ["origin", "authorization", "cookie"] {
            assert!(
                vary.iter().any(|v| v == name),
                "{what}: Vary {vary:?} lacks {name}"
            );
        }
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            response.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{what}"
        );
    }
    // ETag revalidation still works under no-cache.
    let first = server.get(&format!("/api/alice/tasks/{id}"), &t);
    let etag = first.header("etag").unwrap().to_owned();
    let again = server.send(
        Request::new("GET", &format!("/api/alice/tasks/{id}"))
            .bearer(&t)
            .header("If-None-Match", &etag),
    );
    assert_eq!(again.status, 304);
    for path in ["/health", "/openapi.json", "/nope"] {
        let response = server.send(Request::new("GET", path));
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_ne!(
            response.header("cache-control"),
            Some("private, no-cache"),
            "{path} does not depend on a token"
        );
    }
}

/// HEAD on every GET route: the GET's status and headers, no body, the same authentication.
#[test]
fn head_answers_every_get_route_without_a_body() {
    let server = Server::start();
    let t = token("alice");
    let task = server.create("alice", "head");
    let one = format!("/api/alice/tasks/{}", task["id"]);
    for (path, authorized) in [
        ("/health", false),
        ("/openapi.json", false),
        ("/docs", false),
        ("/api/alice/tasks", true),
        (one.as_str(), true),
    ] {
        let request = |method| {
            let request = Request::new(method, path);
            if authorized {
                request.bearer(&t)
            } else {
                request
            }
        };
        let get = server.send(request("GET"));
        let head = server.send(request("HEAD"));
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.body.is_empty(), "{path}: HEAD with a body");
        for name in [
            "content-type",
            "etag",
            "cache-control",
            "vary",
            "content-security-policy",
        ] {
            assert_eq!(head.header(name), get.header(name), "{path}: {name}");
        }
        if authorized {
            let anonymous = server.send(Request::new("HEAD", path));
            assert_eq!(anonymous.status, 401, "{path}");
            assert!(anonymous.body.is_empty());
        }
    }
    let not_get = server.send(Request::new("HEAD", &format!("{one}/complete")).bearer(&t));
    assert_eq!(not_get.status, 405);
    assert!(not_get.header("allow").unwrap().contains("PATCH"));
}

/// No body at all is a missing body (422), not an unsupported media type; a body declared as
/// something else than JSON stays a 415.
#[test]
fn no_body_is_422_and_a_non_json_body_is_415() {
    let server = Server::start();
    let t = token("alice");
    let task = server.create("alice", "body");
    let one = format!("/api/alice/tasks/{}", task["id"]);
    for (method, path) in [
        ("POST", "/api/alice/tasks"),
        ("PUT", one.as_str()),
        ("PATCH", one.as_str()),
    ] {
        let body = server
            .send(Request::new(method, path).bearer(&t))
            .assert_json_error(422);
        assert_eq!(body["errors"][0]["field"], "body", "{method}");
        server
            .send(
                Request::new(method, path)
                    .bearer(&t)
                    .raw_body("text/plain", b"{\"title\":\"x\"}".to_vec()),
            )
            .assert_json_error(415);
        let empty_json = server.send(
            Request::new(method, path)
                .bearer(&t)
                .raw_body("application/json", Vec::new()),
        );
        empty_json.assert_json_error(422);
    }
}

/// If-Match and If-None-Match are `*` or a list of entity tags (RFC 9110 §13.1): a value that
/// is neither, or names nothing, is a 422 and never an unconditional write.
#[test]
fn malformed_preconditions_are_422_and_write_nothing() {
    let server = Server::start();
    let t = token("alice");
    let task = server.create("alice", "guarded");
    let one = format!("/api/alice/tasks/{}", task["id"]);
    for malformed in ["", ",", "garbage", "7-1", "*, \"1-1\"", "\"a\" \"b\""] {
        for (method, path) in [
            ("PUT", one.clone()),
            ("PATCH", one.clone()),
            ("DELETE", one.clone()),
            ("PATCH", format!("{one}/complete")),
        ] {
            let mut request = Request::new(method, &path)
                .bearer(&t)
                .header("If-Match", malformed);
            if method != "DELETE" && !path.ends_with("complete") {
                request = request.json(&json!({"title": "overwritten?"}));
            }
            let body = server.send(request).assert_json_error(422);
            assert_eq!(
                body["errors"][0]["field"], "If-Match",
                "{method} {malformed:?}"
            );
        }
        let body = server
            .send(
                Request::new("GET", &one)
                    .bearer(&t)
                    .header("If-None-Match", malformed),
            )
            .assert_json_error(422);
        assert_eq!(body["errors"][0]["field"], "If-None-Match");
    }
    assert_eq!(server.get(&one, &t).json(), task, "nothing was written");
    // Well-formed tags the API did not issue: 412, as before.
    let stale = server.send(
        Request::new("PATCH", &format!("{one}/complete"))
            .bearer(&t)
            .header("If-Match", "\"not-ours\", W/\"weak\""),
    );
    stale.assert_json_error(412);
}

/// The IETF draft's sf-string form of Idempotency-Key and the bare form name the same key.
#[test]
fn a_quoted_and_a_bare_idempotency_key_are_the_same_key() {
    let server = Server::start();
    let t = token("alice");
    let create = |key: &str, title: &str| {
        server.send(
            Request::new("POST", "/api/alice/tasks")
                .bearer(&t)
                .header("Idempotency-Key", key)
                .json(&json!({"title": title})),
        )
    };
    let first = create("\"order-42\"", "once");
    assert_eq!(first.status, 201);
    let retried = create("order-42", "once");
    assert_eq!(
        (retried.status, retried.json()["id"].clone()),
        (201, first.json()["id"].clone())
    );
    let reused = create("\"order-42\"", "another body").assert_json_error(422);
    assert_eq!(reused["errors"][0]["field"], "Idempotency-Key");
    for bad in ["", "\"tab\there\"", "caf\u{e9}"] {
        create(bad, "x").assert_json_error(422);
    }
}

/// The `{user_id}` segment: what a token could name routes (up to 255 characters, any
/// script); what none could is a JSON 404, before and without authentication.
#[test]
fn the_user_segment_routes_what_a_token_could_name() {
    let server = Server::start();
    let long = "u".repeat(255);
    let t = with_claims(json!({"sub": long, "exp": super::tokens::now() + 600}));
    assert_eq!(server.get(&format!("/api/{long}/tasks"), &t).status, 200);
    let crab = "🦀".repeat(255);
    let encoded: String = crab.bytes().map(|b| format!("%{b:02X}")).collect();
    let t = with_claims(json!({"sub": crab, "exp": super::tokens::now() + 600}));
    assert_eq!(server.get(&format!("/api/{encoded}/tasks"), &t).status, 200);
    for path in [
        "/api/a%01b/tasks",
        "/api/a%7Fb/tasks",
        "/api/a%C2%85b/tasks",
        &format!("/api/{}/tasks", "u".repeat(256)),
    ] {
        server
            .send(Request::new("GET", path).bearer(&token("a")))
            .assert_json_error(404);
    }
}

/// A placeholder or low-entropy secret is refused like a missing one: anyone could mint tokens
/// with it. Including the value `deploy/secrets.yaml` ships.
#[test]
fn placeholder_and_low_entropy_secrets_are_refused() {
    let shipped = deploy_placeholder();
    for (secret, reason) in [
        (shipped.as_str(), "placeholder"),
        ("change-me-change-me-change-me-change-me", "placeholder"),
        (&"x".repeat(48) as &str, "distinct bytes"),
    ] {
        let server = Server::builder()
            .variable("better_auth_secret", secret)
            .start();
        let forged = super::tokens::signed_with(
            secret,
            json!({"sub": "alice", "exp": super::tokens::now() + 600}),
        );
        let response = server.get("/api/alice/tasks", &forged);
        server.assert_misconfigured(&response, reason);
        assert!(
            !server.component_stderr().contains(secret),
            "the log names the secret"
        );
    }
}

fn deploy_placeholder() -> String {
    let text = std::fs::read_to_string(super::support::root().join("deploy/secrets.yaml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("better-auth-secret:"))
        .expect("deploy/secrets.yaml sets better-auth-secret");
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .trim_matches('"')
        .to_owned()
}
