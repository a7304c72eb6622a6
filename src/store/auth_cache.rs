//! What authentication keeps in the database, shared by every instance and replica: the live
//! JWKS cache and the per-user request counter of the rate limit.

use crate::db::{Database, Value};
use crate::domain::AuthenticatedUser;
use crate::store::StoreError;
use crate::store::execute_migrating;
use crate::time::Timestamp;
use anyhow::anyhow;

/// The live JWKS cache row of `url`: the last document that parsed (if any), when it was
/// fetched, and when a fetch was last attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedJwks {
    pub jwks: Option<String>,
    pub fetched_at: Option<i64>,
    pub attempted_at: Option<i64>,
}

pub async fn cached_jwks(db: &dyn Database, url: &str) -> Result<Option<CachedJwks>, StoreError> {
    let rows = execute_migrating(
        db,
        "SELECT jwks, fetched_at, attempted_at FROM jwks_cache WHERE url = ?1",
        &[url.into()],
    )
    .await?;
    Ok(rows.into_iter().next().map(|row| {
        let mut values = row.into_iter();
        let jwks = match values.next() {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        };
        let mut integer = || match values.next() {
            Some(Value::Integer(at)) => Some(at),
            _ => None,
        };
        let fetched_at = integer();
        let attempted_at = integer();
        CachedJwks {
            jwks,
            fetched_at,
            attempted_at,
        }
    }))
}

/// Takes the next fetch of `url` if no attempt happened since `not_since` (µs): one atomic
/// statement, so concurrent requests cannot both win.
pub async fn claim_jwks_fetch(
    db: &dyn Database,
    url: &str,
    now: Timestamp,
    not_since: i64,
) -> Result<bool, StoreError> {
    let rows = db
        .execute(
            "INSERT INTO jwks_cache (url, attempted_at) VALUES (?1, ?2) \
         ON CONFLICT (url) DO UPDATE SET attempted_at = excluded.attempted_at \
         WHERE jwks_cache.attempted_at <= ?3 \
         RETURNING 1",
            &[url.into(), now.as_micros().into(), not_since.into()],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Stores a document that parsed as a JWKS.
pub async fn save_jwks(
    db: &dyn Database,
    url: &str,
    jwks: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE jwks_cache SET jwks = ?2, fetched_at = ?3 WHERE url = ?1",
        &[url.into(), jwks.into(), now.as_micros().into()],
    )
    .await?;
    Ok(())
}

/// Counts one request of `user` in the one-minute window containing `now` and returns the
/// window's count so far. One upsert: concurrent requests, on any replica, each count once. A
/// replica whose clock is behind never moves a window back.
pub async fn count_request(
    db: &dyn Database,
    user: &AuthenticatedUser,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let window = now.as_micros().div_euclid(60_000_000);
    let rows = execute_migrating(
        db,
        "INSERT INTO rate_limits (user_id, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (user_id) DO UPDATE SET \
           count = CASE WHEN excluded.window_start > rate_limits.window_start THEN 1 \
                        ELSE rate_limits.count + 1 END, \
           window_start = max(rate_limits.window_start, excluded.window_start) \
         RETURNING count",
        &[user.id().into(), window.into()],
    )
    .await?;
    match rows.first().map(Vec::as_slice) {
        Some(&[Value::Integer(count)]) => Ok(count),
        _ => Err(StoreError::Corrupt(anyhow!(
            "rate limit upsert returned no count"
        ))),
    }
}
