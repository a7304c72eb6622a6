//! Tokens as a frontend would mint them: HS256 over the secret's UTF-8 bytes.

use std::time::{SystemTime, UNIX_EPOCH};

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(bytes: &[u8]) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

pub fn sign(key: &[u8], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), key);
    format!("{input}.{}", b64(&tag))
}

pub fn with_claims(claims: serde_json::Value) -> String {
    sign(
        SECRET.as_bytes(),
        &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
    )
}

/// A valid 15-minute token for `user`, like Better Auth's.
pub fn token(user: &str) -> String {
    let now = now();
    with_claims(serde_json::json!({
        "sub": user, "iat": now, "exp": now + 900,
        "email": format!("{user}@example.com"), "name": user,
    }))
}
