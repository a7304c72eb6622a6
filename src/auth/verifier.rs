//! Token verification with jwt-simple's typed keys: HS256 with the shared secret, and EdDSA,
//! ES256, RS256 or PS256 with the public keys of a JWKS, picked by the token's `kid`.
//! jwt-simple checks the signature, `alg` against the key type, `kid`, `crit`, `typ`, `nbf`,
//! `iat`, `exp`, `iss` and `aud`; this module chooses the key, sets the options jwt-simple's
//! defaults leave open (tolerance, required `exp`, issuer, audience, size) and checks the subject.

use super::jwks::{ASYMMETRIC_ALGORITHMS, KeySet};
use super::secret::SharedSecret;
use crate::domain::Identity;
use crate::error::{ApiError, AuthError};
use crate::time::Timestamp;
use jwt_simple::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

/// Tokens (and so headers) longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const CLOCK_TOLERANCE_SECS: u64 = 60;

/// What the verifier is configured with, straight from the Spin variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifierSettings {
    pub hs256_secret: Option<String>,
    /// The JSON of a JWKS (`jwt_jwks`).
    pub jwks: Option<String>,
    /// Whether keys can also come from a live JWKS (`better_auth_url`).
    pub live_jwks: bool,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Keys beyond the configured set: the live JWKS, which may need the database and the network.
pub trait RemoteKeys {
    /// A key set that should hold `kid` (the cached one, or a fresh one when `kid` is not in
    /// it), or `None` when none can be had right now. An error is a failure of our own
    /// infrastructure (e.g. a busy database), not of the token.
    fn key_set_with(&self, kid: &str) -> Result<Option<KeySet>, ApiError>;
}

/// A key set fetched in advance for a token's [`Verifier::unknown_kid`] (`None`: none could be
/// had right now).
pub struct FetchedKeys(pub Option<KeySet>);

impl RemoteKeys for FetchedKeys {
    fn key_set_with(&self, _kid: &str) -> Result<Option<KeySet>, ApiError> {
        Ok(self.0.clone())
    }
}

pub struct Verifier {
    hs256: Option<HS256Key>,
    jwks: Option<KeySet>,
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
    /// A verifier, or the reason why none can be built (the API then answers 503). A setting
    /// that is present but unusable is an error even when another one works: an operator who
    /// set it expects it to be in force.
    pub fn new(settings: VerifierSettings) -> Result<Self, String> {
        let non_empty = |value: Option<String>| value.filter(|s| !s.trim().is_empty());
        let secret = non_empty(settings.hs256_secret);
        let jwks = non_empty(settings.jwks);
        if secret.is_none() && jwks.is_none() && !settings.live_jwks {
            return Err(
                "no token key is configured: set better_auth_secret (HS256), jwt_jwks \
                 (Better Auth's JWKS) or better_auth_url (fetch the JWKS from Better Auth)"
                    .to_owned(),
            );
        }
        let hs256 = secret
            .map(|secret| SharedSecret::parse(&secret).map(|s| s.key()))
            .transpose()
            .map_err(|weak| weak.to_string())?;
        let jwks = jwks
            .map(|text| {
                KeySet::parse(&text).map_err(|why| format!("jwt_jwks is not a usable JWKS: {why}"))
            })
            .transpose()?;
        Ok(Self {
            hs256,
            jwks,
            issuer: settings.issuer.filter(|s| !s.is_empty()),
            audience: settings.audience.filter(|s| !s.is_empty()),
        })
    }

    /// The `kid` of a token signed with a key pair whose key the configured set lacks: what a
    /// live JWKS must be asked for (asynchronously, before [`Verifier::verify_with`], which
    /// then gets the answer as [`FetchedKeys`]). `None` for any other token; verification
    /// decides about it.
    pub fn unknown_kid(&self, token: &str) -> Option<String> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let metadata = Token::decode_metadata(token).ok()?;
        let alg = metadata.algorithm();
        if !ASYMMETRIC_ALGORITHMS.contains(&alg) {
            return None;
        }
        let kid = metadata.key_id()?;
        match self.jwks.as_ref().and_then(|set| set.key(kid, alg)) {
            Some(_) => None,
            None => Some(kid.to_owned()),
        }
    }

    /// Verifies with the configured keys only.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, AuthError> {
        self.verify_with(token, now, None)
            .map_err(|error| match error {
                ApiError::Unauthorized(reason) => reason,
                _ => AuthError::InvalidToken,
            })
    }

    /// Verifies with the configured keys, then `remote` for a `kid` they do not have.
    pub fn verify_with(
        &self,
        token: &str,
        now: Timestamp,
        remote: Option<&dyn RemoteKeys>,
    ) -> Result<Identity, ApiError> {
        let invalid = || ApiError::Unauthorized(AuthError::InvalidToken);
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid());
        }
        // The header is unauthenticated: it only selects a key, and that key's type then
        // decides which algorithm can succeed.
        let metadata = Token::decode_metadata(token).map_err(|_| invalid())?;
        let options = self.options(now);
        let claims = match metadata.algorithm() {
            "HS256" => {
                let key = self.hs256.as_ref().ok_or_else(invalid)?;
                key.verify_token::<ProfileClaims>(token, Some(options))
            }
            alg if ASYMMETRIC_ALGORITHMS.contains(&alg) => {
                let kid = metadata.key_id().ok_or_else(invalid)?;
                let key = match self.jwks.as_ref().and_then(|set| set.key(kid, alg)) {
                    Some(key) => key,
                    None => {
                        let Some(remote) = remote else {
                            return Err(invalid());
                        };
                        let set = remote.key_set_with(kid)?.ok_or_else(invalid)?;
                        set.key(kid, alg).ok_or_else(invalid)?
                    }
                };
                let key = key.map_err(|_| invalid())?;
                key.verify_token::<ProfileClaims>(
                    token,
                    VerificationOptions {
                        required_key_id: Some(kid.to_owned()),
                        ..options
                    },
                )
            }
            _ => return Err(invalid()),
        }
        .map_err(|_| invalid())?;
        // jwt-simple accepts a token without `exp`; a token that never expires is not one we take.
        let Some(expires_at) = claims.expires_at else {
            return Err(invalid());
        };
        let expires_at = i64::try_from(expires_at.as_secs())
            .ok()
            .and_then(|secs| secs.checked_mul(1_000_000))
            .map_or(Timestamp::from_micros(i64::MAX), Timestamp::from_micros);
        let subject = claims
            .subject
            .filter(|s| !s.is_empty())
            .ok_or_else(invalid)?;
        let text = |value: Option<Value>| match value {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        Ok(Identity::verified(
            subject,
            text(claims.custom.email),
            text(claims.custom.name),
            expires_at,
        ))
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
mod tests;
