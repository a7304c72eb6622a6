//! Token verification, natively, through the verifier the component builds from its variables.
//!
//! - `verify/<alg>`: [`Verifier::verify`] of a valid token, the verifier built once: the
//!   signature, the claims, and for the asymmetric algorithms the JWK decode of the key the
//!   `kid` names (done per token by design, see `auth::jwks`).
//! - `per_request/<alg>`: what a task request pays for its token in the component, where an
//!   instance lives for one request: `Config::load` from the variables (which parses the
//!   `jwt_jwks` document), the segment check, then verification.
//! - `reject/<alg>`: a token with a bad signature (HS256 signed with another secret; EdDSA signed
//!   by another key pair under the known `kid`).
//!
//! The JWKS holds one key per asymmetric algorithm, as Better Auth publishes one per `kid`; the
//! issuer and audience are checked, as they are with `better_auth_url`.
//!
//! Run: `cargo bench -p task-api-bench --bench auth`.

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_simple::prelude::*;
use std::hint::black_box;
use task_api::auth::{Verifier, VerifierSettings, has_object_segments};
use task_api::config::{Config, VariableList};
use task_api::time::Timestamp;

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";
const ORIGIN: &str = "https://app.example.com";
const NOW_SECS: u64 = 1_800_000_000;

fn now() -> Timestamp {
    Timestamp::from_micros(NOW_SECS as i64 * 1_000_000)
}

/// Claims shaped like Better Auth's: profile fields beside the registered ones.
fn claims() -> JWTClaims<serde_json::Value> {
    let mut claims = Claims::with_custom_claims(
        serde_json::json!({"email": "ada@example.com", "name": "Ada Lovelace"}),
        Duration::from_secs(900),
    )
    .with_subject("user_2x9Kq7mZ")
    .with_issuer(ORIGIN)
    .with_audience(ORIGIN);
    claims.issued_at = Some(Duration::from_secs(NOW_SECS));
    claims.expires_at = Some(Duration::from_secs(NOW_SECS + 900));
    claims
}

struct Fixture {
    jwks: String,
    /// (algorithm, valid token)
    valid: Vec<(&'static str, String)>,
    /// (algorithm, token whose signature does not verify)
    forged: Vec<(&'static str, String)>,
}

fn fixture() -> Fixture {
    let hs = HS256Key::from_bytes(SECRET.as_bytes());
    let ed = Ed25519KeyPair::generate().with_key_id("ed");
    let es = ES256KeyPair::generate().with_key_id("es");
    let rsa = RS256KeyPair::generate(2048).expect("RSA key");
    let der = rsa.to_der().unwrap();
    let rs = RS256KeyPair::from_der(&der).unwrap().with_key_id("rs");
    let ps = PS256KeyPair::from_der(&der).unwrap().with_key_id("ps");
    let parts = rsa.public_key().to_components();
    let rs_public = RS256PublicKey::from_components(&parts.n, &parts.e)
        .unwrap()
        .with_key_id("rs");
    let ps_public = PS256PublicKey::from_components(&parts.n, &parts.e)
        .unwrap()
        .with_key_id("ps");
    let jwks = format!(
        r#"{{"keys":[{},{},{},{}]}}"#,
        ed.public_key().to_jwk(),
        es.public_key().to_jwk(),
        rs_public.to_jwk(),
        ps_public.to_jwk()
    );
    let valid = vec![
        ("HS256", hs.authenticate(claims()).unwrap()),
        ("EdDSA", ed.sign(claims()).unwrap()),
        ("ES256", es.sign(claims()).unwrap()),
        ("RS256", rs.sign(claims()).unwrap()),
        ("PS256", ps.sign(claims()).unwrap()),
    ];
    let other_secret = HS256Key::from_bytes(b"another-secret-0123456789abcdef012345");
    let impostor = Ed25519KeyPair::generate().with_key_id("ed");
    let forged = vec![
        ("HS256", other_secret.authenticate(claims()).unwrap()),
        ("EdDSA", impostor.sign(claims()).unwrap()),
    ];
    Fixture {
        jwks,
        valid,
        forged,
    }
}

fn benches(c: &mut Criterion) {
    let fixture = fixture();
    let verifier = Verifier::new(VerifierSettings {
        hs256_secret: Some(SECRET.into()),
        jwks: Some(fixture.jwks.clone()),
        live_jwks: false,
        issuer: Some(ORIGIN.into()),
        audience: Some(ORIGIN.into()),
    })
    .unwrap();
    for (alg, token) in &fixture.valid {
        assert!(verifier.verify(token, now()).is_ok(), "{alg} must verify");
    }
    for (alg, token) in &fixture.forged {
        assert!(verifier.verify(token, now()).is_err(), "{alg} must fail");
    }

    let mut group = c.benchmark_group("verify");
    for (alg, token) in &fixture.valid {
        group.bench_function(*alg, |b| {
            b.iter(|| verifier.verify(black_box(token), black_box(now())).unwrap())
        });
    }
    group.finish();

    let variables = [
        ("better_auth_secret", SECRET),
        ("jwt_jwks", fixture.jwks.as_str()),
        ("jwt_issuer", ORIGIN),
        ("jwt_audience", ORIGIN),
    ];
    let mut group = c.benchmark_group("per_request");
    for (alg, token) in &fixture.valid {
        group.bench_function(*alg, |b| {
            b.iter(|| {
                let config = Config::load(&VariableList(black_box(&variables))).unwrap();
                let token = black_box(token.as_str());
                assert!(has_object_segments(token));
                config.verifier.verify(token, now()).unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("reject");
    for (alg, token) in &fixture.forged {
        group.bench_function(*alg, |b| {
            b.iter(|| {
                verifier
                    .verify(black_box(token), black_box(now()))
                    .unwrap_err()
            })
        });
    }
    group.finish();
}

criterion_group!(auth, benches);
criterion_main!(auth);
