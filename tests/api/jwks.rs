//! Better Auth's native tokens through the host: EdDSA (and friends) against a JWKS given in
//! `jwt_jwks`, and the live JWKS fetched from `better_auth_url` by the component's outbound
//! HTTP, from a small JWKS server in this test (std TcpListener on loopback).

use super::client::Response;
use super::support::Server;
use super::tokens::{self, now};
use jwt_simple::prelude::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Claims as Better Auth's JWT plugin writes them: the user object, `sub`, 15 minutes, and its
/// base URL as `iss` and `aud`.
fn claims(user: &str, issuer: &str) -> JWTClaims<serde_json::Value> {
    let mut claims = Claims::with_custom_claims(
        json!({"id": user, "name": user, "email": format!("{user}@example.com"),
               "emailVerified": false, "image": null}),
        Duration::from_secs(900),
    )
    .with_subject(user)
    .with_issuer(issuer)
    .with_audience(issuer);
    claims.issued_at = Some(Duration::from_secs(now()));
    claims.expires_at = Some(Duration::from_secs(now() + 900));
    claims
}

fn eddsa(key: &Ed25519KeyPair, user: &str) -> String {
    key.sign(claims(user, "http://localhost:3000")).unwrap()
}

fn jwks(keys: &[String]) -> String {
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

fn assert_invalid(response: &Response, case: &str) {
    assert_eq!(response.status, 401, "{case}: {}", response.text());
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#),
        "{case}"
    );
}

#[test]
fn a_configured_jwks_accepts_its_keys_and_rejects_foreign_ones() {
    let (current, previous) = (
        Ed25519KeyPair::generate().with_key_id("k-2026-11"),
        Ed25519KeyPair::generate().with_key_id("k-2026-10"),
    );
    let es256 = ES256KeyPair::generate().with_key_id("k-es");
    let set = jwks(&[
        current.public_key().to_jwk(),
        previous.public_key().to_jwk(),
        es256.public_key().to_jwk(),
    ]);
    let server = Server::builder().variable("jwt_jwks", &set).start();

    let token = eddsa(&current, "alice");
    let created = server.post(
        "/api/alice/tasks",
        &token,
        json!({"title": "from Better Auth"}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let path = format!("/api/alice/tasks/{id}");
    assert_eq!(
        server.get(&path, &token).json()["title"],
        "from Better Auth"
    );
    // Rotation: a token signed with the previous key still works.
    assert_eq!(server.get(&path, &eddsa(&previous, "alice")).status, 200);
    let es_token = es256
        .sign(claims("alice", "http://localhost:3000"))
        .unwrap();
    assert_eq!(server.get(&path, &es_token).status, 200);
    // The HS256 secret keeps working beside the JWKS.
    assert_eq!(server.get(&path, &tokens::token("alice")).status, 200);
    // Another user's valid token on this URL.
    assert_eq!(server.get(&path, &eddsa(&current, "bob")).status, 403);

    let foreign = Ed25519KeyPair::generate().with_key_id("k-2026-11");
    assert_invalid(
        &server.get(&path, &eddsa(&foreign, "alice")),
        "foreign key, known kid",
    );
    let unknown = Ed25519KeyPair::generate().with_key_id("k-unknown");
    assert_invalid(&server.get(&path, &eddsa(&unknown, "alice")), "unknown kid");
    // An ES256 key's kid on an EdDSA token signed by a key of ours.
    let relabelled = Ed25519KeyPair::from_bytes(&current.to_bytes())
        .unwrap()
        .with_key_id("k-es");
    assert_invalid(
        &server.get(&path, &eddsa(&relabelled, "alice")),
        "alg/key mismatch",
    );
    // HS256 keyed with the Ed25519 public key, naming its kid.
    let confused = tokens::sign(
        &current.public_key().to_bytes(),
        &json!({"alg": "HS256", "typ": "JWT", "kid": "k-2026-11"}),
        &json!({"sub": "alice", "exp": now() + 900}),
    );
    assert_invalid(&server.get(&path, &confused), "HS256 with the public key");
    let mut expired = claims("alice", "http://localhost:3000");
    expired.expires_at = Some(Duration::from_secs(now() - 120));
    assert_invalid(
        &server.get(&path, &current.sign(expired).unwrap()),
        "expired",
    );
}

#[test]
fn a_jwks_alone_is_a_configuration_and_a_malformed_one_is_503() {
    let key = Ed25519KeyPair::generate().with_key_id("only");
    let server = Server::builder()
        .variable("better_auth_secret", "")
        .variable("jwt_jwks", &jwks(&[key.public_key().to_jwk()]))
        .start();
    assert_eq!(server.get("/api/u/tasks", &eddsa(&key, "u")).status, 200);
    assert_invalid(
        &server.get("/api/u/tasks", &tokens::token("u")),
        "HS256 without a secret",
    );

    let broken = Server::builder()
        .variable("jwt_jwks", r#"{"keys": "not a list"}"#)
        .start();
    let response = broken.get("/api/u/tasks", &tokens::token("u"));
    broken.assert_misconfigured(&response, "jwt_jwks");
}

/// What the test's JWKS server answers.
#[derive(Clone)]
enum Answer {
    Jwks(String),
    Status(u16, String),
    Junk,
    Huge,
    /// Accept the connection and say nothing.
    Hang,
}

/// A JWKS endpoint on 127.0.0.1 that counts requests and answers as told.
struct JwksServer {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl JwksServer {
    fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(answer));
        let requests = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (a, r, p) = (answer.clone(), requests.clone(), paths.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (a, r, p) = (a.clone(), r.clone(), p.clone());
                std::thread::spawn(move || serve(stream, &a, &r, &p));
            }
        });
        Self {
            addr,
            answer,
            requests,
            paths,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// An API server whose live JWKS is this server.
    fn api(&self) -> Server {
        Server::builder()
            .variable("better_auth_url", &self.url())
            .variable("better_auth_origin", &self.url())
            .start()
    }
}

fn serve(
    mut stream: TcpStream,
    answer: &Mutex<Answer>,
    requests: &AtomicUsize,
    paths: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    paths.lock().unwrap().push(path);
    let answer = answer.lock().unwrap().clone();
    let (status, body) = match answer {
        Answer::Jwks(body) => (200, body),
        Answer::Status(status, body) => (status, body),
        Answer::Junk => (200, "<!doctype html><p>Sign in</p>".to_owned()),
        Answer::Huge => (
            200,
            format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(200_000)),
        ),
        Answer::Hang => {
            std::thread::sleep(std::time::Duration::from_secs(40));
            return;
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn the_live_jwks_is_fetched_once_and_cached_in_the_database() {
    let key = Ed25519KeyPair::generate().with_key_id("live-1");
    let jwks_server = JwksServer::start(Answer::Jwks(jwks(&[key.public_key().to_jwk()])));
    let api = jwks_server.api();
    let issuer = jwks_server.url();
    let token = key.sign(claims("carol", &issuer)).unwrap();
    let created = api.post("/api/carol/tasks", &token, json!({"title": "live"}));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(jwks_server.requests(), 1);
    assert_eq!(*jwks_server.paths.lock().unwrap(), ["/api/auth/jwks"]);
    // Later requests (fresh component instances) use the cached set.
    for _ in 0..3 {
        assert_eq!(api.get("/api/carol/tasks", &token).status, 200);
    }
    assert_eq!(jwks_server.requests(), 1);
    // iss and aud default to better_auth_url.
    let other_issuer = key.sign(claims("carol", "http://localhost:3000")).unwrap();
    assert_invalid(
        &api.get("/api/carol/tasks", &other_issuer),
        "iss/aud not better_auth_url",
    );

    // Unknown kids: no refetch within a minute of the last fetch, however many tokens (the
    // minute-by-minute behaviour is unit-tested in jwks_cache with a controlled clock).
    let stranger = Ed25519KeyPair::generate().with_key_id("live-2");
    for _ in 0..4 {
        let response = api.get(
            "/api/carol/tasks",
            &stranger.sign(claims("carol", &issuer)).unwrap(),
        );
        assert_invalid(&response, "unknown kid");
    }
    assert_eq!(jwks_server.requests(), 1);
    // The cache survives a restart of the host: it is in the database.
    let state = api.stop();
    let api = Server::builder()
        .variable("better_auth_url", &jwks_server.url())
        .variable("better_auth_origin", &jwks_server.url())
        .state(state)
        .start();
    jwks_server.set(Answer::Status(500, "down".into()));
    assert_eq!(api.get("/api/carol/tasks", &token).status, 200);
    assert_eq!(jwks_server.requests(), 1);
}

#[test]
fn failing_fetches_never_accept() {
    let key = Ed25519KeyPair::generate().with_key_id("k");
    let good = jwks(&[key.public_key().to_jwk()]);
    for (answer, case) in [
        (Answer::Status(500, good.clone()), "500 with a valid body"),
        (Answer::Status(404, good.clone()), "404"),
        (Answer::Junk, "HTML"),
        (Answer::Jwks(r#"{"keys":{"k":1}}"#.into()), "not a JWKS"),
        (Answer::Huge, "oversized"),
    ] {
        let jwks_server = JwksServer::start(answer);
        let api = jwks_server.api();
        let token = key.sign(claims("dave", &jwks_server.url())).unwrap();
        assert_invalid(&api.get("/api/dave/tasks", &token), case);
        // Rate-limited: the good document appearing now does not help within the minute.
        jwks_server.set(Answer::Jwks(good.clone()));
        assert_invalid(&api.get("/api/dave/tasks", &token), case);
        assert_eq!(jwks_server.requests(), 1, "{case}");
    }
}

#[test]
fn a_hanging_jwks_server_costs_a_bounded_wait_and_a_401() {
    let key = Ed25519KeyPair::generate().with_key_id("k");
    let jwks_server = JwksServer::start(Answer::Hang);
    let api = jwks_server.api();
    let token = key.sign(claims("erin", &jwks_server.url())).unwrap();
    let started = Instant::now();
    assert_invalid(&api.get("/api/erin/tasks", &token), "hanging server");
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(15), "{waited:?}");
    assert_eq!(jwks_server.requests(), 1);
}

#[test]
fn outbound_http_is_limited_to_the_granted_origin() {
    let jwks_server = JwksServer::start(Answer::Junk);
    let token = tokens::token("frank");
    // better_auth_origin left at its default: a clear 503, and no request leaves.
    let api = Server::builder()
        .variable("better_auth_url", &jwks_server.url())
        .start();
    let response = api.get("/api/frank/tasks", &token);
    api.assert_misconfigured(&response, "set better_auth_origin to");
    assert_eq!(jwks_server.requests(), 0);
    // An empty origin renders allowed_outbound_hosts to an invalid entry. Spin 4.0.2 still
    // starts (it resolves the grant per instance, and then denies every outbound request); the
    // host does the same. The component refuses the mismatch before trying to fetch.
    let empty = Server::builder()
        .variable("better_auth_url", &jwks_server.url())
        .variable("better_auth_origin", "")
        .start();
    let response = empty.get("/api/frank/tasks", &token);
    empty.assert_misconfigured(&response, "better_auth_origin");
    assert_eq!(jwks_server.requests(), 0);
}
