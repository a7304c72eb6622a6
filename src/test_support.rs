//! What the unit tests share: an in-memory database, a test secret and tokens signed with it.

use crate::db::sqlite::SqliteDb;

pub const SECRET: &str = "unit-test-secret-0123456789abcdef0123";

/// An HS256 token over exactly the given header and payload JSON (signed here, not by the
/// test kit, so that unit tests do not depend on the host and its wasmtime).
pub fn sign_hs256(key: &[u8], header: &str, payload: &str) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    let b64 = |bytes: &[u8]| Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap();
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), key);
    format!("{input}.{}", b64(&tag))
}

/// A valid token for `sub`, issued at `now_secs` and valid for 15 minutes.
pub fn token_for(sub: &str, now_secs: u64) -> String {
    let payload = serde_json::json!({ "sub": sub, "iat": now_secs, "exp": now_secs + 900 });
    sign_hs256(
        SECRET.as_bytes(),
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload.to_string(),
    )
}

/// A fresh in-memory database that records every statement it runs.
pub fn counting_db() -> crate::db::sqlite::StatementLog<SqliteDb> {
    crate::db::sqlite::StatementLog::new(SqliteDb::in_memory())
}
