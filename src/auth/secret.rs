//! The HS256 shared secret (`better_auth_secret`), parsed: a [`SharedSecret`] that exists is one
//! this API will key HMAC with. Anyone holding it can mint a token for any user, so a value that
//! is short, a placeholder someone forgot to replace, or plainly not random is refused.

use jwt_simple::prelude::{Duration, HS256Key, MACLike};
use serde::Serialize;

/// Shorter secrets are refused: HMAC-SHA256 wants a key at least as long as its output, and
/// Better Auth's own secrets are 32 bytes or more.
pub const MIN_SECRET_BYTES: usize = 32;
/// Fewer distinct bytes than this in a 32+ byte value is not a random secret (`aaaa…`,
/// `0123456789abcdef0123…` repeated).
const MIN_DISTINCT_BYTES: usize = 16;
/// Words of the placeholders people ship ("REPLACE-WITH-…", "change-me", "example…"):
/// a secret containing one, in any case, is refused.
const PLACEHOLDER_WORDS: &[&str] = &[
    "replace",
    "change",
    "example",
    "placeholder",
    "your-secret",
    "secret-here",
];

/// Why a secret was refused. The value itself never appears in the reason (it goes to logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeakSecret {
    TooShort { bytes: usize },
    Placeholder { word: &'static str },
    LowEntropy { distinct: usize },
}

impl std::fmt::Display for WeakSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort { bytes } => write!(
                f,
                "better_auth_secret is {bytes} bytes; at least {MIN_SECRET_BYTES} are required"
            ),
            Self::Placeholder { word } => write!(
                f,
                "better_auth_secret contains {word:?}: a placeholder, not a secret (generate one, \
                 e.g. openssl rand -base64 32)"
            ),
            Self::LowEntropy { distinct } => write!(
                f,
                "better_auth_secret has only {distinct} distinct bytes; at least \
                 {MIN_DISTINCT_BYTES} are required of a random secret (e.g. openssl rand -base64 32)"
            ),
        }
    }
}

/// A usable HS256 secret.
#[derive(Clone)]
pub struct SharedSecret(String);

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(…)")
    }
}

impl SharedSecret {
    pub fn parse(value: &str) -> Result<Self, WeakSecret> {
        if value.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret::TooShort { bytes: value.len() });
        }
        let lower = value.to_ascii_lowercase();
        if let Some(word) = PLACEHOLDER_WORDS.iter().find(|w| lower.contains(*w)) {
            return Err(WeakSecret::Placeholder { word });
        }
        let mut seen = [false; 256];
        for byte in value.bytes() {
            seen[usize::from(byte)] = true;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if distinct < MIN_DISTINCT_BYTES {
            return Err(WeakSecret::LowEntropy { distinct });
        }
        Ok(Self(value.to_owned()))
    }

    /// The HMAC key: the secret's UTF-8 bytes, as Better Auth and `jose` key it.
    pub fn key(&self) -> HS256Key {
        HS256Key::from_bytes(self.0.as_bytes())
    }
}

#[derive(Serialize, serde::Deserialize)]
struct DevClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// A development token for `subject`, valid for `ttl`: what `cargo token` prints. Carries the
/// issuer and audience the API is configured to require, so it is accepted as it is.
pub fn development_token(
    secret: &SharedSecret,
    subject: &str,
    issuer: Option<&str>,
    audience: Option<&str>,
    ttl: std::time::Duration,
) -> Result<String, String> {
    let mut claims = jwt_simple::prelude::Claims::with_custom_claims(
        DevClaims { email: None },
        Duration::from_secs(ttl.as_secs().max(1)),
    )
    .with_subject(subject);
    if let Some(issuer) = issuer {
        claims = claims.with_issuer(issuer);
    }
    if let Some(audience) = audience {
        claims = claims.with_audience(audience);
    }
    secret
        .key()
        .authenticate(claims)
        .map_err(|e| format!("cannot sign the token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_random_secrets() {
        assert!(SharedSecret::parse("k9Vq2xRz7Lm4Tn8Wb1Yc6Hd3Jf5Gs0Pa").is_ok());
        assert!(SharedSecret::parse("3Rk0y8W9bNQm4f1vJHcT5a2XzGd7LpEuSoIi6hYx2s0=").is_ok());
    }

    #[test]
    fn refuses_short_placeholder_and_low_entropy_secrets() {
        assert_eq!(
            SharedSecret::parse("short").unwrap_err(),
            WeakSecret::TooShort { bytes: 5 }
        );
        for placeholder in [
            "REPLACE-WITH-AT-LEAST-32-RANDOM-BYTES",
            "please-change-me-before-deploying-0123",
            "an-EXAMPLE-secret-for-the-docs-4f9a2c",
        ] {
            assert!(
                matches!(
                    SharedSecret::parse(placeholder),
                    Err(WeakSecret::Placeholder { .. })
                ),
                "{placeholder}"
            );
        }
        assert_eq!(
            SharedSecret::parse(&"a".repeat(40)).unwrap_err(),
            WeakSecret::LowEntropy { distinct: 1 }
        );
        assert!(matches!(
            SharedSecret::parse("0123456789abcd0123456789abcd0123456789"),
            Err(WeakSecret::LowEntropy { distinct: 14 })
        ));
    }

    #[test]
    fn the_reason_never_holds_the_value() {
        let value = "REPLACE-WITH-AT-LEAST-32-RANDOM-BYTES";
        let why = SharedSecret::parse(value).unwrap_err().to_string();
        assert!(!why.contains(value), "{why}");
        assert!(
            format!(
                "{:?}",
                SharedSecret::parse("k9Vq2xRz7Lm4Tn8Wb1Yc6Hd3Jf5Gs0Pa").unwrap()
            ) == "SharedSecret(…)"
        );
    }
}
