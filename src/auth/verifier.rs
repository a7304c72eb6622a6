//! Token verification with jwt-simple's typed keys. jwt-simple checks the signature, `alg`
//! against the key type, `crit`, `typ`, `nbf`, `iat`, `exp`, `iss` and `aud`; this module sets
//! the options its defaults leave open (tolerance, required `exp`, issuer, audience, size) and
//! checks the subject.

use super::Identity;
use crate::error::AuthError;
use crate::time::Timestamp;
use jwt_simple::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

/// Tokens (and so headers) longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// HS256 secrets shorter than this are a configuration error: HMAC-SHA256 wants a key at least
/// as long as its output, and Better Auth's own secrets are 32 bytes or more.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const CLOCK_TOLERANCE_SECS: u64 = 60;

/// What the verifier is configured with, straight from the Spin variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifierSettings {
    pub hs256_secret: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

pub struct Verifier {
    hs256: HS256Key,
    issuer: Option<String>,
    audience: Option<String>,
}

/// Claims Better Auth puts next to the registered ones; used to record the user in `auto`
/// mode. Values of the wrong type are ignored rather than failing an otherwise valid token.
#[derive(Debug, Deserialize, Serialize, Default)]
struct ProfileClaims {
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
}

impl Verifier {
    /// A verifier, or the reason why none can be built (the API then answers 503).
    pub fn new(settings: VerifierSettings) -> Result<Self, String> {
        let secret = settings
            .hs256_secret
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                "no token key is configured: set the better_auth_secret variable \
             (SPIN_VARIABLE_BETTER_AUTH_SECRET)"
                    .to_owned()
            })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "better_auth_secret is {} bytes; at least {MIN_SECRET_BYTES} are required",
                secret.len()
            ));
        }
        Ok(Self {
            // Better Auth and `jose` key HMAC with the secret's UTF-8 bytes.
            hs256: HS256Key::from_bytes(secret.as_bytes()),
            issuer: settings.issuer.filter(|s| !s.is_empty()),
            audience: settings.audience.filter(|s| !s.is_empty()),
        })
    }

    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken);
        }
        let claims = self
            .hs256
            .verify_token::<ProfileClaims>(token, Some(self.options(now)))
            .map_err(|_| AuthError::InvalidToken)?;
        // jwt-simple accepts a token without `exp`; a token that never expires is not one we take.
        if claims.expires_at.is_none() {
            return Err(AuthError::InvalidToken);
        }
        let subject = claims
            .subject
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::InvalidToken)?;
        let text = |value: Option<Value>| match value {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        Ok(Identity {
            subject,
            email: text(claims.custom.email),
            name: text(claims.custom.name),
        })
    }

    fn options(&self, now: Timestamp) -> VerificationOptions {
        VerificationOptions {
            accept_future: false,
            time_tolerance: Some(Duration::from_secs(CLOCK_TOLERANCE_SECS)),
            // The clock is passed in, so verification depends on nothing but its inputs.
            artificial_time: Some(Duration::from_secs(now.as_secs())),
            max_token_length: Some(MAX_TOKEN_BYTES),
            max_header_length: Some(MAX_TOKEN_BYTES),
            allowed_issuers: self.issuer.clone().map(|i| HashSet::from([i])),
            allowed_audiences: self.audience.clone().map(|a| HashSet::from([a])),
            ..VerificationOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert!(missing.contains("better_auth_secret"), "{missing}");
        let short = Verifier::new(VerifierSettings {
            hs256_secret: Some("short".into()),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(short.contains("at least 32"), "{short}");
    }
}
