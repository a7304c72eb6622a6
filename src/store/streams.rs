//! Open event streams, as leases in the database: the per-user limit holds across instances and
//! replicas (the database is the only state they share), and a stream whose instance died
//! without closing it stops counting when its lease runs out.

use crate::db::{Database, Value};
use crate::store::{StoreError, execute_migrating};
use crate::time::Timestamp;

/// Takes a lease on one of `user`'s at most `limit` streams, until `until`; `None` when the
/// user already has `limit` streams whose leases run. One statement, so two streams opening at
/// once cannot both take the last one. Leases that ran out are cleared first.
pub async fn open_stream(
    db: &dyn Database,
    user: &str,
    limit: u32,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<i64>, StoreError> {
    execute_migrating(
        db,
        "DELETE FROM event_streams WHERE user_id = ?1 AND lease_until <= ?2",
        &[user.into(), now.as_micros().into()],
    )
    .await?;
    let rows = db
        .execute(
            "INSERT INTO event_streams (user_id, lease_until) \
             SELECT ?1, ?2 WHERE (SELECT count(*) FROM event_streams \
               WHERE user_id = ?1 AND lease_until > ?3) < ?4 \
             RETURNING id",
            &[
                user.into(),
                until.as_micros().into(),
                now.as_micros().into(),
                i64::from(limit).into(),
            ],
        )
        .await?;
    Ok(match rows.first().map(Vec::as_slice) {
        Some([Value::Integer(id)]) => Some(*id),
        _ => None,
    })
}

/// Extends a stream's lease.
pub async fn renew_stream(db: &dyn Database, id: i64, until: Timestamp) -> Result<(), StoreError> {
    db.execute(
        "UPDATE event_streams SET lease_until = ?2 WHERE id = ?1",
        &[id.into(), until.as_micros().into()],
    )
    .await?;
    Ok(())
}

/// Gives a stream's lease back.
pub async fn close_stream(db: &dyn Database, id: i64) -> Result<(), StoreError> {
    db.execute("DELETE FROM event_streams WHERE id = ?1", &[id.into()])
        .await?;
    Ok(())
}
