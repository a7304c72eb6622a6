//! The verifier against tokens signed with every supported key type, and forged ones.

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";
const NOW: u64 = 1_800_000_000;

fn now() -> Timestamp {
    Timestamp::from_micros(NOW as i64 * 1_000_000)
}

fn verifier() -> Verifier {
    Verifier::new(VerifierSettings {
        hs256_secret: Some(SECRET.into()),
        ..Default::default()
    })
    .unwrap()
}

/// A token signed with `key` over the given JSON payload, built by hand so that every claim
/// (or its absence) is under the test's control.
fn sign(key: &[u8], header: &str, payload: &str) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let tag = hmac_sha256::HMAC::mac(signing_input.as_bytes(), key);
    format!("{signing_input}.{}", b64(&tag))
}

fn b64(bytes: &[u8]) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

fn token(payload: &str) -> String {
    sign(SECRET.as_bytes(), r#"{"alg":"HS256","typ":"JWT"}"#, payload)
}

fn claims(extra: &str) -> String {
    format!(
        r#"{{"sub":"user-1","iat":{NOW},"exp":{}{extra}}}"#,
        NOW + 900
    )
}

#[test]
fn accepts_a_valid_token() {
    let identity = verifier()
        .verify(&token(&claims(r#","email":"a@b.c","name":"Ann""#)), now())
        .unwrap();
    assert_eq!(identity.subject(), "user-1");
    assert_eq!(identity.email.as_deref(), Some("a@b.c"));
    assert_eq!(identity.name.as_deref(), Some("Ann"));
}

#[test]
fn profile_claims_of_the_wrong_type_are_ignored() {
    let identity = verifier()
        .verify(&token(&claims(r#","email":42,"name":null"#)), now())
        .unwrap();
    assert_eq!(identity.email, None);
    assert_eq!(identity.name, None);
}

#[test]
fn rejects_a_wrong_secret() {
    let forged = sign(
        b"another-secret-of-at-least-32-bytes!!",
        r#"{"alg":"HS256"}"#,
        &claims(""),
    );
    assert_eq!(
        verifier().verify(&forged, now()),
        Err(AuthError::InvalidToken)
    );
}

#[test]
fn rejects_alg_none_and_other_algs() {
    for alg in ["none", "None", "NONE", "nOnE", "HS512", "RS256", "EdDSA"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(claims("").as_bytes()));
        assert_eq!(
            verifier().verify(&unsigned, now()),
            Err(AuthError::InvalidToken),
            "{alg}"
        );
        let signed = sign(SECRET.as_bytes(), &header, &claims(""));
        assert_eq!(
            verifier().verify(&signed, now()),
            Err(AuthError::InvalidToken),
            "{alg}"
        );
    }
}

#[test]
fn exp_is_required_and_checked_with_60s_tolerance() {
    let no_exp = token(&format!(r#"{{"sub":"user-1","iat":{NOW}}}"#));
    assert_eq!(
        verifier().verify(&no_exp, now()),
        Err(AuthError::InvalidToken)
    );
    let just_expired = token(&format!(r#"{{"sub":"user-1","exp":{}}}"#, NOW - 30));
    assert!(
        verifier().verify(&just_expired, now()).is_ok(),
        "within tolerance"
    );
    let expired = token(&format!(r#"{{"sub":"user-1","exp":{}}}"#, NOW - 61));
    assert_eq!(
        verifier().verify(&expired, now()),
        Err(AuthError::InvalidToken)
    );
}

#[test]
fn nbf_and_iat_in_the_future_are_rejected() {
    let exp = NOW + 900;
    let nbf = token(&format!(
        r#"{{"sub":"user-1","exp":{exp},"nbf":{}}}"#,
        NOW + 120
    ));
    assert_eq!(verifier().verify(&nbf, now()), Err(AuthError::InvalidToken));
    let iat = token(&format!(
        r#"{{"sub":"user-1","exp":{exp},"iat":{}}}"#,
        NOW + 120
    ));
    assert_eq!(verifier().verify(&iat, now()), Err(AuthError::InvalidToken));
    let slight = token(&format!(
        r#"{{"sub":"user-1","exp":{exp},"nbf":{}}}"#,
        NOW + 30
    ));
    assert!(verifier().verify(&slight, now()).is_ok());
}

#[test]
fn subject_must_be_a_non_empty_string() {
    let exp = NOW + 900;
    for payload in [
        format!(r#"{{"exp":{exp}}}"#),
        format!(r#"{{"sub":"","exp":{exp}}}"#),
        format!(r#"{{"sub":42,"exp":{exp}}}"#),
        format!(r#"{{"sub":null,"exp":{exp}}}"#),
        format!(r#"{{"sub":["a"],"exp":{exp}}}"#),
    ] {
        assert_eq!(
            verifier().verify(&token(&payload), now()),
            Err(AuthError::InvalidToken),
            "{payload}"
        );
    }
}

#[test]
fn issuer_and_audience_are_enforced_when_configured() {
    let strict = Verifier::new(VerifierSettings {
        hs256_secret: Some(SECRET.into()),
        issuer: Some("https://auth.example".into()),
        audience: Some("https://auth.example".into()),
        ..Default::default()
    })
    .unwrap();
    let good = token(&claims(
        r#","iss":"https://auth.example","aud":"https://auth.example""#,
    ));
    assert!(strict.verify(&good, now()).is_ok());
    for extra in [
        r#","iss":"https://evil.example","aud":"https://auth.example""#,
        r#","iss":"https://auth.example","aud":"https://evil.example""#,
        r#","aud":"https://auth.example""#,
        r#","iss":"https://auth.example""#,
    ] {
        assert_eq!(
            strict.verify(&token(&claims(extra)), now()),
            Err(AuthError::InvalidToken),
            "{extra}"
        );
    }
    // Unconfigured, iss/aud are not checked.
    assert!(
        verifier()
            .verify(&token(&claims(r#","iss":"x","aud":"y""#)), now())
            .is_ok()
    );
}

#[test]
fn oversized_tokens_are_rejected() {
    let padding = "x".repeat(MAX_TOKEN_BYTES);
    let big = token(&claims(&format!(r#","pad":"{padding}""#)));
    assert_eq!(verifier().verify(&big, now()), Err(AuthError::InvalidToken));
}

#[test]
fn garbage_is_rejected_not_panicked_on() {
    for garbage in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "!!!.***.###",
        "eyJ9.eyJ9.eyJ9",
    ] {
        assert_eq!(
            verifier().verify(garbage, now()),
            Err(AuthError::InvalidToken),
            "{garbage}"
        );
    }
}

#[test]
fn misconfiguration_is_explained() {
    let missing = Verifier::new(VerifierSettings::default()).err().unwrap();
    for name in ["better_auth_secret", "jwt_jwks", "better_auth_url"] {
        assert!(missing.contains(name), "{missing}");
    }
    let short = Verifier::new(VerifierSettings {
        hs256_secret: Some("short".into()),
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(short.contains("at least 32"), "{short}");
}

/// EdDSA, ES256, RS256 and PS256 tokens signed by jwt-simple key pairs, verified against a
/// JWKS built from their public halves as Better Auth publishes them.
mod asymmetric {
    use super::*;
    use crate::auth::jwks::KeySet;
    use std::cell::Cell;
    use std::sync::OnceLock;

    fn claims(sub: &str, exp: u64) -> JWTClaims<Value> {
        let mut claims = Claims::with_custom_claims(
            serde_json::json!({"email": format!("{sub}@example.com"), "name": sub}),
            Duration::from_secs(900),
        )
        .with_subject(sub)
        .with_issuer("https://app.example")
        .with_audience("https://app.example");
        claims.issued_at = Some(Duration::from_secs(NOW));
        claims.expires_at = Some(Duration::from_secs(exp));
        claims
    }

    fn valid() -> JWTClaims<Value> {
        claims("user-1", NOW + 900)
    }

    fn ed25519(kid: &str) -> Ed25519KeyPair {
        Ed25519KeyPair::generate().with_key_id(kid)
    }

    /// RSA generation is slow: one modulus serves every RSA test.
    fn rsa() -> &'static RS256KeyPair {
        static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
        KEY.get_or_init(|| RS256KeyPair::generate(2048).unwrap())
    }

    fn rsa_public(alg: &str, kid: &str) -> String {
        let components = rsa().public_key().to_components();
        match alg {
            "RS256" => RS256PublicKey::from_components(&components.n, &components.e)
                .unwrap()
                .with_key_id(kid)
                .to_jwk(),
            _ => PS256PublicKey::from_components(&components.n, &components.e)
                .unwrap()
                .with_key_id(kid)
                .to_jwk(),
        }
    }

    fn jwks(jwks: &[String]) -> String {
        format!(r#"{{"keys":[{}]}}"#, jwks.join(","))
    }

    fn verifier_for(jwks_json: &str) -> Verifier {
        Verifier::new(VerifierSettings {
            jwks: Some(jwks_json.to_owned()),
            issuer: Some("https://app.example".into()),
            audience: Some("https://app.example".into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn each_algorithm_verifies_with_its_jwk() {
        let ed = ed25519("ed");
        let es = ES256KeyPair::generate().with_key_id("es");
        let ps = PS256KeyPair::from_der(&rsa().to_der().unwrap())
            .unwrap()
            .with_key_id("ps");
        let rs = rsa().clone().with_key_id("rs");
        let set = jwks(&[
            ed.public_key().to_jwk(),
            es.public_key().to_jwk(),
            rsa_public("RS256", "rs"),
            rsa_public("PS256", "ps"),
        ]);
        let verifier = verifier_for(&set);
        let tokens = [
            ("EdDSA", ed.sign(valid()).unwrap()),
            ("ES256", es.sign(valid()).unwrap()),
            ("RS256", rs.sign(valid()).unwrap()),
            ("PS256", ps.sign(valid()).unwrap()),
        ];
        for (alg, token) in tokens {
            let identity = verifier
                .verify(&token, now())
                .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
            assert_eq!(identity.subject(), "user-1", "{alg}");
            assert_eq!(identity.email.as_deref(), Some("user-1@example.com"));
        }
    }

    #[test]
    fn rotation_accepts_either_key() {
        let (old, new) = (ed25519("2026-10"), ed25519("2026-11"));
        let verifier = verifier_for(&jwks(&[
            old.public_key().to_jwk(),
            new.public_key().to_jwk(),
        ]));
        assert!(verifier.verify(&old.sign(valid()).unwrap(), now()).is_ok());
        assert!(verifier.verify(&new.sign(valid()).unwrap(), now()).is_ok());
    }

    #[test]
    fn unknown_kid_missing_kid_and_foreign_keys_are_rejected() {
        let known = ed25519("known");
        let verifier = verifier_for(&jwks(&[known.public_key().to_jwk()]));
        let stranger = ed25519("stranger");
        assert_eq!(
            verifier.verify(&stranger.sign(valid()).unwrap(), now()),
            Err(AuthError::InvalidToken)
        );
        // Another key pair claiming the known kid: the signature does not verify.
        let impostor = ed25519("known");
        assert_eq!(
            verifier.verify(&impostor.sign(valid()).unwrap(), now()),
            Err(AuthError::InvalidToken)
        );
        let no_kid = Ed25519KeyPair::from_bytes(&known.to_bytes()).unwrap();
        assert_eq!(
            verifier.verify(&no_kid.sign(valid()).unwrap(), now()),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn alg_must_match_the_key() {
        let ed = ed25519("ed");
        let ed_jwk = ed.public_key().to_jwk();
        let verifier = verifier_for(&jwks(&[ed_jwk.clone(), rsa_public("PS256", "ps")]));
        // HS256 keyed with the Ed25519 public key's bytes, naming its kid: the classic
        // algorithm confusion. No HS256 secret is configured, and with one it would not match.
        let header = r#"{"alg":"HS256","typ":"JWT","kid":"ed"}"#;
        let forged = sign(&ed.public_key().to_bytes(), header, &claims_json());
        assert_eq!(
            verifier.verify(&forged, now()),
            Err(AuthError::InvalidToken)
        );
        let with_secret = Verifier::new(VerifierSettings {
            hs256_secret: Some(SECRET.into()),
            jwks: Some(jwks(&[ed_jwk])),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            with_secret.verify(&forged, now()),
            Err(AuthError::InvalidToken)
        );
        // An RS256 token against the PS256-bound JWK of the very same RSA key.
        let rs = rsa().clone().with_key_id("ps");
        let token = rs.sign(valid()).unwrap();
        assert_eq!(verifier.verify(&token, now()), Err(AuthError::InvalidToken));
        // The same token is good against the key bound to RS256: the binding made the difference.
        let rs_bound = verifier_for(&jwks(&[rsa_public("RS256", "ps")]));
        assert!(rs_bound.verify(&token, now()).is_ok());
        // An EdDSA header on an ES256 key's kid.
        let es = ES256KeyPair::generate().with_key_id("es");
        let es_verifier = verifier_for(&jwks(&[es.public_key().to_jwk()]));
        let relabelled = ed25519("es").sign(valid()).unwrap();
        assert_eq!(
            es_verifier.verify(&relabelled, now()),
            Err(AuthError::InvalidToken)
        );
    }

    fn claims_json() -> String {
        format!(
            r#"{{"sub":"user-1","iat":{NOW},"exp":{},"iss":"https://app.example","aud":"https://app.example"}}"#,
            NOW + 900
        )
    }

    #[test]
    fn claim_rules_hold_for_asymmetric_tokens() {
        let key = ed25519("k");
        let verifier = verifier_for(&jwks(&[key.public_key().to_jwk()]));
        let check = |claims: JWTClaims<Value>| verifier.verify(&key.sign(claims).unwrap(), now());
        assert!(check(claims("user-1", NOW - 30)).is_ok(), "60 s tolerance");
        assert_eq!(
            check(claims("user-1", NOW - 61)),
            Err(AuthError::InvalidToken)
        );
        let mut no_exp = valid();
        no_exp.expires_at = None;
        assert_eq!(check(no_exp), Err(AuthError::InvalidToken));
        assert_eq!(check(claims("", NOW + 900)), Err(AuthError::InvalidToken));
        let mut wrong_iss = valid();
        wrong_iss.issuer = Some("https://evil.example".into());
        assert_eq!(check(wrong_iss), Err(AuthError::InvalidToken));
        let wrong_aud = valid().with_audience("https://evil.example");
        assert_eq!(check(wrong_aud), Err(AuthError::InvalidToken));
        let padded = Claims::with_custom_claims(
            serde_json::json!({"pad": "x".repeat(MAX_TOKEN_BYTES)}),
            Duration::from_secs(900),
        );
        let mut padded = padded.with_subject("user-1");
        padded.expires_at = Some(Duration::from_secs(NOW + 900));
        assert_eq!(check(padded), Err(AuthError::InvalidToken));
    }

    #[test]
    fn hs256_keeps_working_beside_a_jwks() {
        let key = ed25519("k");
        let both = Verifier::new(VerifierSettings {
            hs256_secret: Some(SECRET.into()),
            jwks: Some(jwks(&[key.public_key().to_jwk()])),
            ..Default::default()
        })
        .unwrap();
        assert!(both.verify(&token(&claims_json()), now()).is_ok());
        assert!(both.verify(&key.sign(valid()).unwrap(), now()).is_ok());
        // With only a JWKS, HS256 tokens have no key.
        let jwks_only = verifier_for(&jwks(&[key.public_key().to_jwk()]));
        assert_eq!(
            jwks_only.verify(&token(&claims_json()), now()),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn malformed_or_short_settings_are_503_material() {
        for bad in ["", "{", "[]", r#"{"keys":7}"#, r#"{"keys":[{"kid":1}]}"#] {
            let result = Verifier::new(VerifierSettings {
                hs256_secret: Some(SECRET.into()),
                jwks: Some(format!("{bad} ")),
                ..Default::default()
            });
            match (bad, result) {
                // Blank counts as unset.
                ("", Ok(_)) => {}
                (_, Err(why)) => assert!(why.contains("jwt_jwks"), "{bad}: {why}"),
                (_, Ok(_)) => panic!("{bad} was accepted"),
            }
        }
        let short = Verifier::new(VerifierSettings {
            hs256_secret: Some("short".into()),
            jwks: Some(r#"{"keys":[]}"#.into()),
            ..Default::default()
        });
        assert!(short.err().unwrap().contains("better_auth_secret"));
        // A live JWKS alone is a configuration.
        assert!(
            Verifier::new(VerifierSettings {
                live_jwks: true,
                ..Default::default()
            })
            .is_ok()
        );
    }

    /// A live JWKS that counts its lookups and serves a fixed set.
    struct Remote {
        set: Option<String>,
        calls: Cell<usize>,
    }

    impl RemoteKeys for Remote {
        fn key_set_with(&self, _kid: &str) -> Result<Option<KeySet>, ApiError> {
            self.calls.set(self.calls.get() + 1);
            Ok(self.set.as_deref().map(|s| KeySet::parse(s).unwrap()))
        }
    }

    #[test]
    fn the_remote_set_is_asked_only_for_kids_the_configured_set_lacks() {
        let (local, live) = (ed25519("local"), ed25519("live"));
        let verifier = verifier_for(&jwks(&[local.public_key().to_jwk()]));
        let remote = Remote {
            set: Some(jwks(&[live.public_key().to_jwk()])),
            calls: Cell::new(0),
        };
        let check = |token: &str| {
            verifier
                .verify_with(token, now(), Some(&remote))
                .map(|i| i.subject().to_owned())
        };
        assert_eq!(check(&local.sign(valid()).unwrap()).unwrap(), "user-1");
        assert_eq!(remote.calls.get(), 0);
        assert_eq!(check(&live.sign(valid()).unwrap()).unwrap(), "user-1");
        assert_eq!(remote.calls.get(), 1);
        // Not even a lookup for tokens that cannot use a JWKS key.
        assert!(check("garbage").is_err());
        assert!(check(&token(&claims_json())).is_err());
        let unsupported = sign(
            SECRET.as_bytes(),
            r#"{"alg":"ES512","kid":"x"}"#,
            &claims_json(),
        );
        assert!(check(&unsupported).is_err());
        assert_eq!(remote.calls.get(), 1);
        let stranger = ed25519("stranger").sign(valid()).unwrap();
        assert_eq!(check(&stranger).unwrap_err().status(), 401);
        let empty = Remote {
            set: None,
            calls: Cell::new(0),
        };
        let result = verifier.verify_with(&stranger, now(), Some(&empty));
        assert_eq!(result.unwrap_err().status(), 401);
    }
}
