//! What the unit tests share: an in-memory database, a test secret and tokens signed with it.

use crate::sqlite::SqliteDb;

pub const SECRET: &str = "unit-test-secret-0123456789abcdef0123";

/// An HS256 token over exactly the given header and payload JSON.
pub fn sign_hs256(key: &[u8], header: &str, payload: &str) -> String {
    task_api_testkit::tokens::sign_raw(key, header, payload)
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
pub fn counting_db() -> crate::sqlite::StatementLog<SqliteDb> {
    crate::sqlite::StatementLog::new(SqliteDb::in_memory())
}
