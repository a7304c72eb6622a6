//! JSON Web Key Sets (RFC 7517) as Better Auth publishes them at `/api/auth/jwks`, and the
//! typed public key a token's `kid` selects. Parsing a set only checks its shape; a key is
//! decoded (by jwt-simple's strict JWK import) only when a token names it, so a set with many
//! keys costs one decode per request.

use jwt_simple::prelude::*;
use serde_json::{Map, Value};

/// The asymmetric algorithms a set's keys may verify. jwt-simple has no ES512 (Better Auth can
/// sign it): such keys are kept in the set but never match a token.
pub const ASYMMETRIC_ALGORITHMS: [&str; 4] = ["EdDSA", "ES256", "RS256", "PS256"];

/// A parsed key set: each entry still raw JSON, indexed by `kid`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySet {
    keys: Vec<(String, Map<String, Value>)>,
}

/// Why a `kid`'s key cannot verify a token. Shown to nobody: every variant is a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The token's `alg` is not the algorithm the key is bound to.
    AlgorithmMismatch,
    /// The key is bound to no algorithm this verifier supports (or to none at all: an RSA key
    /// without `alg` could verify RS256 or PS256, and RFC 8725 §3.1 wants one).
    Unsupported,
    /// jwt-simple refused the JWK (wrong members for its type, a private key, a short modulus…).
    Invalid,
}

impl KeySet {
    /// Checks the document's shape: an object whose `keys` is an array of objects, each with a
    /// unique string `kid`. Entries without a `kid` can never be selected and are dropped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let document: Value =
            serde_json::from_str(text).map_err(|e| format!("it is not JSON ({e})"))?;
        let Some(Value::Array(entries)) = document.get("keys") else {
            return Err("it has no \"keys\" array".to_owned());
        };
        let mut keys: Vec<(String, Map<String, Value>)> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(entry) = entry else {
                return Err(format!("keys[{index}] is not an object"));
            };
            let kid = match entry.get("kid") {
                None => continue,
                Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
                Some(_) => return Err(format!("keys[{index}].kid is not a non-empty string")),
            };
            if keys.iter().any(|(existing, _)| *existing == kid) {
                return Err(format!("two keys have kid {kid:?}"));
            }
            keys.push((kid, entry.clone()));
        }
        Ok(Self { keys })
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key named `kid`, decoded for a token whose header says `alg`; `None` if no key has
    /// that `kid`.
    pub fn key(&self, kid: &str, alg: &str) -> Option<Result<PublicKey, KeyError>> {
        let (_, entry) = self.keys.iter().find(|(k, _)| k == kid)?;
        Some(PublicKey::from_jwk(entry, alg))
    }
}

/// A public key, typed by the one algorithm it verifies.
pub enum PublicKey {
    EdDsa(Ed25519PublicKey),
    Es256(ES256PublicKey),
    Rs256(RS256PublicKey),
    Ps256(PS256PublicKey),
}

impl PublicKey {
    /// Decodes `jwk` for a token signed with `token_alg`. The key decides the algorithm (its
    /// `alg`, else its type); the token's header only has to agree.
    fn from_jwk(jwk: &Map<String, Value>, token_alg: &str) -> Result<Self, KeyError> {
        let text = |name: &str| match jwk.get(name) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        let bound = match (text("alg"), text("kty")) {
            // RFC 9864's fully-specified name for EdDSA over Ed25519.
            (Some("Ed25519"), _) => "EdDSA",
            (Some(alg), _) => alg,
            (None, Some("OKP")) => "EdDSA",
            (None, Some("EC")) => "ES256",
            _ => return Err(KeyError::Unsupported),
        };
        if !ASYMMETRIC_ALGORITHMS.contains(&bound) {
            return Err(KeyError::Unsupported);
        }
        if bound != token_alg {
            return Err(KeyError::AlgorithmMismatch);
        }
        let json = Value::Object(jwk.clone()).to_string();
        let key = match bound {
            "EdDSA" => Ed25519PublicKey::from_jwk(&json).map(Self::EdDsa),
            "ES256" => ES256PublicKey::from_jwk(&json).map(Self::Es256),
            "RS256" => RS256PublicKey::from_jwk(&json).map(Self::Rs256),
            _ => PS256PublicKey::from_jwk(&json).map(Self::Ps256),
        };
        key.map_err(|_| KeyError::Invalid)
    }

    pub fn verify_token<C: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<C>, jwt_simple::Error> {
        match self {
            Self::EdDsa(key) => key.verify_token(token, Some(options)),
            Self::Es256(key) => key.verify_token(token, Some(options)),
            Self::Rs256(key) => key.verify_token(token, Some(options)),
            Self::Ps256(key) => key.verify_token(token, Some(options)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: &str) -> Result<KeySet, String> {
        KeySet::parse(json)
    }

    fn ed25519_jwk(kid: &str) -> String {
        Ed25519KeyPair::generate()
            .public_key()
            .with_key_id(kid)
            .to_jwk()
    }

    #[test]
    fn parses_better_auths_shape() {
        let keys = set(&format!(
            r#"{{"keys":[{},{}]}}"#,
            ed25519_jwk("a"),
            ed25519_jwk("b")
        ))
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains("a") && keys.contains("b") && !keys.contains("c"));
        assert!(set(r#"{"keys":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn malformed_sets_say_why() {
        for (json, why) in [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "no \"keys\""),
            (r#"{"keys":{}}"#, "no \"keys\""),
            (r#"{"kty":"OKP"}"#, "no \"keys\""),
            (r#"{"keys":[1]}"#, "keys[0] is not an object"),
            (r#"{"keys":[{"kid":7}]}"#, "keys[0].kid"),
            (r#"{"keys":[{"kid":""}]}"#, "keys[0].kid"),
            (r#"{"keys":[{"kid":"a"},{"kid":"a"}]}"#, "two keys"),
        ] {
            let error = set(json).unwrap_err();
            assert!(error.contains(why), "{json}: {error}");
        }
    }

    #[test]
    fn keys_without_kid_are_unreachable_not_errors() {
        let keys = set(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#).unwrap();
        assert!(keys.is_empty());
    }

    #[test]
    fn the_key_decides_the_algorithm() {
        let jwk = ed25519_jwk("k");
        let keys = set(&format!(r#"{{"keys":[{jwk}]}}"#)).unwrap();
        assert!(matches!(
            keys.key("k", "EdDSA"),
            Some(Ok(PublicKey::EdDsa(_)))
        ));
        for alg in ["HS256", "ES256", "RS256", "none", "eddsa"] {
            assert!(
                matches!(keys.key("k", alg), Some(Err(KeyError::AlgorithmMismatch))),
                "{alg}"
            );
        }
        assert!(keys.key("other", "EdDSA").is_none());
    }

    #[test]
    fn keys_without_alg_are_typed_by_kty_except_rsa() {
        let strip_alg = |jwk: String| {
            let mut value: Value = serde_json::from_str(&jwk).unwrap();
            value.as_object_mut().unwrap().remove("alg");
            value.to_string()
        };
        let ed = strip_alg(ed25519_jwk("ed"));
        let ec = strip_alg(
            ES256KeyPair::generate()
                .public_key()
                .with_key_id("ec")
                .to_jwk(),
        );
        let rsa = strip_alg(
            RS256KeyPair::generate(2048)
                .unwrap()
                .public_key()
                .with_key_id("rsa")
                .to_jwk(),
        );
        let keys = set(&format!(r#"{{"keys":[{ed},{ec},{rsa}]}}"#)).unwrap();
        assert!(matches!(keys.key("ed", "EdDSA"), Some(Ok(_))));
        assert!(matches!(keys.key("ec", "ES256"), Some(Ok(_))));
        assert!(matches!(
            keys.key("rsa", "RS256"),
            Some(Err(KeyError::Unsupported))
        ));
    }

    #[test]
    fn unsupported_and_invalid_keys_are_refused() {
        let keys = set(concat!(
            r#"{"keys":[{"kid":"es512","kty":"EC","crv":"P-521","alg":"ES512","x":"AA","y":"AA"},"#,
            r#"{"kid":"hmac","kty":"oct","alg":"HS256","k":"c2VjcmV0"},"#,
            r#"{"kid":"short","kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"AAAA"},"#,
            r#"{"kid":"lying","kty":"EC","crv":"P-256","alg":"EdDSA","x":"AA","y":"AA"}]}"#
        ))
        .unwrap();
        assert!(matches!(
            keys.key("es512", "ES512"),
            Some(Err(KeyError::Unsupported))
        ));
        assert!(matches!(
            keys.key("hmac", "HS256"),
            Some(Err(KeyError::Unsupported))
        ));
        assert!(matches!(
            keys.key("short", "EdDSA"),
            Some(Err(KeyError::Invalid))
        ));
        assert!(matches!(
            keys.key("lying", "EdDSA"),
            Some(Err(KeyError::Invalid))
        ));
    }

    #[test]
    fn a_private_jwk_is_not_taken_as_a_public_key() {
        let private = Ed25519KeyPair::generate().with_key_id("p").to_jwk();
        let keys = set(&format!(r#"{{"keys":[{private}]}}"#)).unwrap();
        assert!(matches!(
            keys.key("p", "EdDSA"),
            Some(Err(KeyError::Invalid))
        ));
    }
}
