//! Tokens as a frontend mints them: HS256 over the secret's UTF-8 bytes, as Better Auth's
//! `BETTER_AUTH_SECRET` with `jose` does.

use std::time::{SystemTime, UNIX_EPOCH};

/// The secret [`crate::Server`] configures unless told otherwise.
pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

pub fn b64(bytes: &[u8]) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    Base64UrlSafeNoPadding::encode_to_string(bytes).expect("base64url")
}

/// A JWT over exactly these header and claims, HMAC-SHA256 with `key`.
pub fn sign(key: &[u8], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    sign_raw(key, &header.to_string(), &claims.to_string())
}

/// A JWT over exactly this header and payload text, HMAC-SHA256 with `key`.
pub fn sign_raw(key: &[u8], header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), key);
    format!("{input}.{}", b64(&tag))
}

/// An HS256 token with these claims under `secret`.
pub fn signed_with(secret: &str, claims: serde_json::Value) -> String {
    sign(
        secret.as_bytes(),
        &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
    )
}

/// An HS256 token with these claims under [`SECRET`].
pub fn with_claims(claims: serde_json::Value) -> String {
    signed_with(SECRET, claims)
}

/// A valid 15-minute token for `user` under `secret`, shaped like Better Auth's.
pub fn token_with(secret: &str, user: &str) -> String {
    let now = now();
    signed_with(
        secret,
        serde_json::json!({
            "sub": user, "iat": now, "exp": now + 900,
            "email": format!("{user}@example.com"), "name": user,
        }),
    )
}

/// A valid 15-minute token for `user` under [`SECRET`].
pub fn token(user: &str) -> String {
    token_with(SECRET, user)
}
