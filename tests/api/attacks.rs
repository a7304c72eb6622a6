//! The token attack corpus. One named case a row; every case must get 401 with a
//! `WWW-Authenticate` challenge (never 200, 403 or 500), through the Authorization header and
//! through the `access_token` cookie. A new attack is one more row.

use super::client::{Request, Response};
use super::support::Server;
use super::tokens::{SECRET, b64, now};
use jwt_simple::prelude::*;
use serde_json::{Value, json};

/// How a row's token is signed.
enum Sig {
    /// HMAC-SHA256 with these key bytes.
    Hs(Vec<u8>),
    /// This signature segment, verbatim.
    Raw(String),
}

struct Case {
    name: &'static str,
    token: String,
}

fn forge(header: Value, claims: Value, sig: Sig) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match sig {
        Sig::Hs(key) => b64(&hmac_sha256::HMAC::mac(input.as_bytes(), &key)),
        Sig::Raw(segment) => segment,
    };
    format!("{input}.{signature}")
}

fn corpus() -> Vec<Case> {
    let now = now();
    let good = || json!({"sub": "alice", "iat": now, "exp": now + 900});
    let hs = || json!({"alg": "HS256", "typ": "JWT"});
    let ours = || Sig::Hs(SECRET.as_bytes().to_vec());
    let valid = forge(hs(), good(), ours());
    let (valid_head, valid_rest) = valid.split_once('.').unwrap();
    let (valid_payload, valid_sig) = valid_rest.split_once('.').unwrap();
    let mut flipped = valid_sig.as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let bob = b64(
        json!({"sub": "alice", "iat": now, "exp": now + 86_400 * 365})
            .to_string()
            .as_bytes(),
    );

    // Keys we do not trust, one per asymmetric algorithm.
    let claims = || Claims::create(Duration::from_mins(15)).with_subject("alice");
    let rs = RS256KeyPair::generate(2048)
        .unwrap()
        .with_key_id("attacker");
    let rs_public_pem = rs.public_key().to_pem().unwrap();
    let ps = PS256KeyPair::generate(2048).unwrap();
    let es = ES256KeyPair::generate();
    let ed = Ed25519KeyPair::generate().with_key_id("attacker");
    let attacker_secret = b"attacker-chosen-secret-0123456789abcdef".to_vec();
    let attacker_jwk = json!({"kty": "oct", "k": b64(&attacker_secret), "alg": "HS256"});

    let mut cases = vec![];
    let mut row = |name: &'static str, token: String| cases.push(Case { name, token });
    for (name, alg) in [
        ("alg none", "none"),
        ("alg None", "None"),
        ("alg NONE", "NONE"),
        ("alg nOnE", "nOnE"),
    ] {
        row(
            name,
            forge(
                json!({"alg": alg, "typ": "JWT"}),
                good(),
                Sig::Raw(String::new()),
            ),
        );
    }
    for (name, alg) in [
        ("alg none, signed", "none"),
        ("alg None, signed", "None"),
        ("alg NONE, signed", "NONE"),
        ("alg nOnE, signed", "nOnE"),
    ] {
        row(name, forge(json!({"alg": alg}), good(), ours()));
    }
    row("null signature", format!("{valid_head}.{valid_payload}."));
    row(
        "truncated signature",
        format!("{valid_head}.{valid_payload}.{}", &valid_sig[..20]),
    );
    row(
        "one flipped signature byte",
        format!("{valid_head}.{valid_payload}.{flipped}"),
    );
    row(
        "payload changed after signing",
        format!("{valid_head}.{bob}.{valid_sig}"),
    );
    row(
        "HS256 with an empty key",
        forge(hs(), good(), Sig::Hs(vec![])),
    );
    row(
        "HS256 with a wrong secret",
        forge(
            hs(),
            good(),
            Sig::Hs(b"wrong-secret-wrong-secret-wrong-secret".to_vec()),
        ),
    );
    row(
        "HS256 keyed with a public key's PEM (RS/HS confusion)",
        forge(hs(), good(), Sig::Hs(rs_public_pem.into_bytes())),
    );
    row("RS256 by an untrusted key", rs.sign(claims()).unwrap());
    row("PS256 by an untrusted key", ps.sign(claims()).unwrap());
    row("ES256 by an untrusted key", es.sign(claims()).unwrap());
    row("EdDSA by an untrusted key", ed.sign(claims()).unwrap());
    row(
        "ES256 all-zero signature (psychic signature)",
        forge(json!({"alg": "ES256"}), good(), Sig::Raw(b64(&[0u8; 64]))),
    );
    row(
        "embedded jwk of the attacker's key",
        forge(
            json!({"alg": "HS256", "jwk": attacker_jwk}),
            good(),
            Sig::Hs(attacker_secret.clone()),
        ),
    );
    row(
        "jku pointing at the attacker's JWKS",
        forge(
            json!({"alg": "HS256", "jku": "http://127.0.0.1:1/jwks.json"}),
            good(),
            Sig::Hs(attacker_secret.clone()),
        ),
    );
    row(
        "x5u pointing at the attacker's certificate",
        forge(
            json!({"alg": "HS256", "x5u": "http://127.0.0.1:1/cert.pem"}),
            good(),
            Sig::Hs(attacker_secret.clone()),
        ),
    );
    row(
        "kid path traversal, empty key",
        forge(
            json!({"alg": "HS256", "kid": "../../../../../../dev/null"}),
            good(),
            Sig::Hs(vec![]),
        ),
    );
    row(
        "kid SQL injection",
        forge(
            json!({"alg": "HS256", "kid": "x' UNION SELECT 'attacker' --"}),
            good(),
            Sig::Hs(b"attacker".to_vec()),
        ),
    );
    row(
        "crit with an unknown extension",
        forge(
            json!({"alg": "HS256", "crit": ["x-unknown"], "x-unknown": true}),
            good(),
            ours(),
        ),
    );
    row(
        "typ other than JWT",
        forge(
            json!({"alg": "HS256", "typ": "at+jwt-evil"}),
            good(),
            ours(),
        ),
    );
    row(
        "expired beyond the 60 s tolerance",
        forge(hs(), json!({"sub": "alice", "exp": now - 61}), ours()),
    );
    row(
        "nbf in the future",
        forge(
            hs(),
            json!({"sub": "alice", "exp": now + 900, "nbf": now + 120}),
            ours(),
        ),
    );
    row(
        "iat in the future",
        forge(
            hs(),
            json!({"sub": "alice", "exp": now + 900, "iat": now + 120}),
            ours(),
        ),
    );
    row(
        "missing exp",
        forge(hs(), json!({"sub": "alice", "iat": now}), ours()),
    );
    row(
        "missing sub",
        forge(hs(), json!({"exp": now + 900}), ours()),
    );
    row(
        "empty sub",
        forge(hs(), json!({"sub": "", "exp": now + 900}), ours()),
    );
    row(
        "numeric sub",
        forge(hs(), json!({"sub": 42, "exp": now + 900}), ours()),
    );
    row(
        "object sub",
        forge(
            hs(),
            json!({"sub": {"id": "alice"}, "exp": now + 900}),
            ours(),
        ),
    );
    row(
        "token over 8 KiB",
        forge(
            hs(),
            json!({"sub": "alice", "exp": now + 900, "pad": "x".repeat(8 * 1024)}),
            ours(),
        ),
    );
    row(
        "header over 8 KiB",
        forge(
            json!({"alg": "HS256", "pad": "x".repeat(8 * 1024)}),
            good(),
            ours(),
        ),
    );
    row("two segments", format!("{valid_head}.{valid_payload}"));
    row("four segments", format!("{valid}.{valid_sig}"));
    row("one segment", valid_head.to_owned());
    row(
        "bad base64url",
        format!("{valid_head}.{valid_payload}.{}", "*".repeat(43)),
    );
    row(
        "standard base64 alphabet",
        format!(
            "{valid_head}.{valid_payload}.{}",
            valid_sig.replace('-', "+").replace('_', "/") + "+/"
        ),
    );
    row(
        "header is a JSON array",
        forge(json!(["HS256"]), good(), ours()),
    );
    row(
        "payload is a JSON number",
        forge(hs(), json!(12345), ours()),
    );
    row(
        "payload is not JSON",
        format!("{valid_head}.{}.{valid_sig}", b64(b"not json")),
    );
    row("empty token parts", "..".to_owned());
    cases
}

fn assert_rejected(response: &Response, case: &str, via: &str) {
    assert_eq!(
        response.status,
        401,
        "{case} via {via}: {}",
        response.text()
    );
    let challenge = response
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{case} via {via}: no challenge"));
    assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
    response.assert_json_error(401);
}

#[test]
fn every_forged_or_malformed_token_is_401() {
    let server = Server::start();
    let cases = corpus();
    assert!(cases.len() >= 45, "{} cases", cases.len());
    for case in &cases {
        let header = server.send(Request::new("GET", "/api/alice/tasks").bearer(&case.token));
        assert_rejected(&header, case.name, "Authorization");
        let cookie = server.send(
            Request::new("GET", "/api/alice/tasks")
                .header("Cookie", &format!("access_token={}", case.token)),
        );
        assert_rejected(&cookie, case.name, "cookie");
    }
    // The corpus is not rejecting everything: the real token works on both paths.
    let valid = super::tokens::token("alice");
    assert_eq!(server.get("/api/alice/tasks", &valid).status, 200);
    let cookie = server.send(
        Request::new("GET", "/api/alice/tasks").header("Cookie", &format!("access_token={valid}")),
    );
    assert_eq!(cookie.status, 200);
}

#[test]
fn wrong_issuer_or_audience_is_401_when_configured() {
    let server = Server::builder()
        .variable("jwt_issuer", "https://auth.example")
        .variable("jwt_audience", "https://api.example")
        .start();
    let now = now();
    let ours = || Sig::Hs(SECRET.as_bytes().to_vec());
    for (name, claims) in [
        (
            "wrong iss",
            json!({"sub": "alice", "exp": now + 900, "iss": "https://evil.example", "aud": "https://api.example"}),
        ),
        (
            "wrong aud",
            json!({"sub": "alice", "exp": now + 900, "iss": "https://auth.example", "aud": "https://evil.example"}),
        ),
        (
            "aud list without ours",
            json!({"sub": "alice", "exp": now + 900, "iss": "https://auth.example", "aud": ["a", "b"]}),
        ),
        (
            "no iss",
            json!({"sub": "alice", "exp": now + 900, "aud": "https://api.example"}),
        ),
    ] {
        let token = forge(json!({"alg": "HS256"}), claims, ours());
        assert_rejected(
            &server.get("/api/alice/tasks", &token),
            name,
            "Authorization",
        );
    }
    let good = forge(
        json!({"alg": "HS256"}),
        json!({"sub": "alice", "exp": now + 900, "iss": "https://auth.example", "aud": ["x", "https://api.example"]}),
        ours(),
    );
    assert_eq!(server.get("/api/alice/tasks", &good).status, 200);
}
