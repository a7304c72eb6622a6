//! Token sources, claim rules, ownership (403 before lookup) and id probing (404).

use super::client::Request;
use super::support::Server;
use super::tokens::{SECRET, now, sign, token, with_claims};
use serde_json::json;

fn assert_invalid_token(response: &super::client::Response, case: &str) {
    assert_eq!(response.status, 401, "{case}: {}", response.text());
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#),
        "{case}"
    );
    response.assert_json_error(401);
}

#[test]
fn no_token_is_401_with_a_bearer_challenge() {
    let server = Server::start();
    for (method, path) in [
        ("GET", "/api/alice/tasks"),
        ("POST", "/api/alice/tasks"),
        ("GET", "/api/alice/tasks/1"),
        ("PUT", "/api/alice/tasks/1"),
        ("PATCH", "/api/alice/tasks/1"),
        ("DELETE", "/api/alice/tasks/1"),
        ("PATCH", "/api/alice/tasks/1/complete"),
    ] {
        let response = server.send(Request::new(method, path));
        response.assert_json_error(401);
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer"),
            "{method} {path}"
        );
    }
}

#[test]
fn token_sources() {
    let server = Server::start();
    let good = token("alice");
    let list = |request: Request| server.send(request).status;
    assert_eq!(
        list(Request::new("GET", "/api/alice/tasks").bearer(&good)),
        200
    );
    assert_eq!(
        list(
            Request::new("GET", "/api/alice/tasks")
                .header("Authorization", &format!("bearer {good}"))
        ),
        200
    );
    assert_eq!(
        list(
            Request::new("GET", "/api/alice/tasks")
                .header("Authorization", &format!("BEARER {good}"))
        ),
        200
    );
    assert_eq!(
        list(
            Request::new("GET", "/api/alice/tasks")
                .header("Cookie", &format!("theme=dark; access_token={good}"))
        ),
        200
    );
    // The header wins over the cookie, both ways.
    let header_good = Request::new("GET", "/api/alice/tasks")
        .bearer(&good)
        .header("Cookie", "access_token=garbage");
    assert_eq!(list(header_good), 200);
    let header_bad = Request::new("GET", "/api/alice/tasks")
        .bearer("garbage")
        .header("Cookie", &format!("access_token={good}"));
    assert_invalid_token(&server.send(header_bad), "bad header, good cookie");
    assert_invalid_token(
        &server
            .send(Request::new("GET", "/api/alice/tasks").header("Cookie", "access_token=garbage")),
        "bad cookie",
    );
}

#[test]
fn claim_rules() {
    let server = Server::start();
    let now = now();
    let cases = [
        (
            "expired beyond tolerance",
            json!({"sub": "alice", "exp": now - 120}),
        ),
        ("no exp", json!({"sub": "alice", "iat": now})),
        (
            "nbf in the future",
            json!({"sub": "alice", "exp": now + 900, "nbf": now + 300}),
        ),
        (
            "iat in the future",
            json!({"sub": "alice", "exp": now + 900, "iat": now + 300}),
        ),
        ("no sub", json!({"exp": now + 900})),
        ("empty sub", json!({"sub": "", "exp": now + 900})),
        ("numeric sub", json!({"sub": 7, "exp": now + 900})),
        (
            "exp not a number",
            json!({"sub": "alice", "exp": "tomorrow"}),
        ),
    ];
    for (case, claims) in cases {
        let response = server.get("/api/alice/tasks", &with_claims(claims.clone()));
        assert_invalid_token(&response, case);
        let via_cookie = server.send(
            Request::new("GET", "/api/alice/tasks")
                .header("Cookie", &format!("access_token={}", with_claims(claims))),
        );
        assert_invalid_token(&via_cookie, case);
    }
    // Within the 60 s tolerance is still fine.
    assert_eq!(
        server
            .get(
                "/api/alice/tasks",
                &with_claims(json!({"sub": "alice", "exp": now - 20}))
            )
            .status,
        200
    );
}

#[test]
fn forged_and_malformed_tokens() {
    let server = Server::start();
    let now = now();
    let claims = json!({"sub": "alice", "exp": now + 900});
    let good = with_claims(claims.clone());
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{head}.{payload}.{}", String::from_utf8(flipped).unwrap());
    let bob_payload = super::tokens::b64(
        json!({"sub": "bob", "exp": now + 900})
            .to_string()
            .as_bytes(),
    );
    let cases = [
        (
            "alg none",
            sign(b"", &json!({"alg": "none"}), &claims)
                .rsplit_once('.')
                .unwrap()
                .0
                .to_owned()
                + ".",
        ),
        (
            "wrong secret",
            sign(
                b"another-secret-that-is-long-enough!!",
                &json!({"alg": "HS256"}),
                &claims,
            ),
        ),
        ("empty key", sign(b"", &json!({"alg": "HS256"}), &claims)),
        (
            "HS512 header",
            sign(SECRET.as_bytes(), &json!({"alg": "HS512"}), &claims),
        ),
        ("flipped signature byte", flipped),
        (
            "payload swapped after signing",
            format!("{head}.{bob_payload}.{signature}"),
        ),
        ("no signature", format!("{head}.{payload}.")),
        ("two segments", format!("{head}.{payload}")),
        ("four segments", format!("{good}.x")),
        ("bad base64", format!("{head}.{payload}.!!!")),
        (
            "header not JSON",
            format!("{}.{payload}.{signature}", super::tokens::b64(b"not json")),
        ),
        (
            "typ not JWT",
            sign(
                SECRET.as_bytes(),
                &json!({"alg": "HS256", "typ": "at+jwt-not"}),
                &claims,
            ),
        ),
        (
            "crit extension",
            sign(
                SECRET.as_bytes(),
                &json!({"alg": "HS256", "crit": ["exp"]}),
                &claims,
            ),
        ),
        (
            "over 8 KiB",
            with_claims(json!({"sub": "alice", "exp": now + 900, "pad": "x".repeat(8 * 1024)})),
        ),
    ];
    for (case, forged) in cases {
        assert_invalid_token(&server.get("/api/alice/tasks", &forged), case);
    }
    assert_eq!(
        server.get("/api/alice/tasks", &good).status,
        200,
        "the untampered token works"
    );
}

#[test]
fn issuer_and_audience_when_configured() {
    let server = Server::builder()
        .variable("jwt_issuer", "https://auth.example.com")
        .variable("jwt_audience", "https://app.example.com")
        .start();
    let now = now();
    let with = |iss: &str, aud: &str| {
        with_claims(json!({"sub": "alice", "exp": now + 900, "iss": iss, "aud": aud}))
    };
    assert_eq!(
        server
            .get(
                "/api/alice/tasks",
                &with("https://auth.example.com", "https://app.example.com")
            )
            .status,
        200
    );
    assert_invalid_token(
        &server.get(
            "/api/alice/tasks",
            &with("https://evil.example.com", "https://app.example.com"),
        ),
        "wrong iss",
    );
    assert_invalid_token(
        &server.get(
            "/api/alice/tasks",
            &with("https://auth.example.com", "https://evil.example.com"),
        ),
        "wrong aud",
    );
    assert_invalid_token(
        &server.get("/api/alice/tasks", &token("alice")),
        "missing iss and aud",
    );
}

#[test]
fn another_users_url_is_403_on_every_route_before_any_lookup() {
    let server = Server::start();
    let bobs = server.create("bob", "bob's secret")["id"].as_i64().unwrap();
    let alice = token("alice");
    for (method, path) in [
        ("GET", "/api/bob/tasks".to_owned()),
        ("POST", "/api/bob/tasks".to_owned()),
        ("GET", format!("/api/bob/tasks/{bobs}")),
        ("PUT", format!("/api/bob/tasks/{bobs}")),
        ("PATCH", format!("/api/bob/tasks/{bobs}")),
        ("DELETE", format!("/api/bob/tasks/{bobs}")),
        ("PATCH", format!("/api/bob/tasks/{bobs}/complete")),
        // Same answer whether or not the task exists: nothing is looked up.
        ("GET", "/api/bob/tasks/999999".to_owned()),
        ("DELETE", "/api/bob/tasks/abc".to_owned()),
    ] {
        let response = server.send(
            Request::new(method, &path)
                .bearer(&alice)
                .json(&json!({"title": "mine now"})),
        );
        let body = response.assert_json_error(403);
        assert!(
            !response.text().contains("secret"),
            "{method} {path}: {body}"
        );
    }
    let untouched = server
        .get(&format!("/api/bob/tasks/{bobs}"), &token("bob"))
        .json();
    assert_eq!(untouched["title"], "bob's secret");
    assert_eq!(untouched["completed"], false);
    assert_eq!(
        server
            .get("/api/bob/tasks", &token("bob"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_foreign_task_id_answers_exactly_like_a_missing_one() {
    let server = Server::start();
    let bobs = server.create("bob", "bob's")["id"].as_i64().unwrap();
    let alice = token("alice");
    let missing = 9_999_999;
    for (method, suffix) in [
        ("GET", ""),
        ("PUT", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("PATCH", "/complete"),
    ] {
        let probe = |id: i64| {
            let path = format!("/api/alice/tasks/{id}{suffix}");
            let request = Request::new(method, &path)
                .bearer(&alice)
                .json(&json!({"title": "x"}));
            server.send(request)
        };
        let (foreign, absent) = (probe(bobs), probe(missing));
        foreign.assert_json_error(404);
        assert_eq!(
            (foreign.status, foreign.body.clone()),
            (absent.status, absent.body),
            "{method}{suffix}"
        );
    }
    assert_eq!(
        server
            .get(&format!("/api/bob/tasks/{bobs}"), &token("bob"))
            .json()["title"],
        "bob's"
    );
}

#[test]
fn misconfiguration_is_503_and_never_accepts_tokens() {
    for (case, secret) in [("no secret", ""), ("short secret", "only-20-bytes-long!!")] {
        let server = Server::builder()
            .variable("better_auth_secret", secret)
            .start();
        let forged = sign(
            secret.as_bytes(),
            &json!({"alg": "HS256"}),
            &json!({"sub": "alice", "exp": now() + 900}),
        );
        let response = server.get("/api/alice/tasks", &forged);
        server.assert_misconfigured(&response, "better_auth_secret");
        let _ = case;
        assert_eq!(
            server.send(Request::new("GET", "/health")).status,
            200,
            "health does not depend on auth"
        );
    }
}
