//! A rusqlite-backed [`Database`] for native unit tests, opened with SQLite's defaults like
//! Spin's own connection.

use crate::db::{Database, DbError, Row, Value};
use rusqlite::types::ValueRef;
use std::sync::Mutex;

pub struct MemoryDb(Mutex<rusqlite::Connection>);

impl MemoryDb {
    pub fn new() -> Self {
        Self(Mutex::new(rusqlite::Connection::open_in_memory().unwrap()))
    }
}

impl Database for MemoryDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let connection = self.0.lock().unwrap();
        let io = |e: rusqlite::Error| DbError::Io(e.to_string());
        let mut statement = connection.prepare_cached(sql).map_err(io)?;
        let params: Vec<rusqlite::types::Value> = params
            .iter()
            .map(|value| match value {
                Value::Integer(n) => rusqlite::types::Value::Integer(*n),
                Value::Real(x) => rusqlite::types::Value::Real(*x),
                Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
                Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
                Value::Null => rusqlite::types::Value::Null,
            })
            .collect();
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(io)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(io)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(io)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

pub const SECRET: &str = "unit-test-secret-0123456789abcdef0123";

fn b64(bytes: &[u8]) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// An HS256 token over exactly the given header and payload JSON.
pub fn sign_hs256(key: &[u8], header: &str, payload: &str) -> String {
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

/// A [`MemoryDb`] that records every statement it runs.
pub struct CountingDb {
    pub inner: MemoryDb,
    pub statements: Mutex<Vec<String>>,
}

impl CountingDb {
    pub fn new() -> Self {
        Self {
            inner: MemoryDb::new(),
            statements: Mutex::new(Vec::new()),
        }
    }

    /// The statements run since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.statements.lock().unwrap())
    }
}

impl Database for CountingDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.statements.lock().unwrap().push(sql.to_owned());
        self.inner.execute(sql, params)
    }
}
