//! The changes feed: every write and deletion of a user's tasks in `seq` order.

use crate::db::{Database, Value};
use crate::domain::{Change, ChangesQuery, SyncToken, TaskId};
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::packed::read_packed;
use crate::store::{Account, StoreError};
use crate::time::Timestamp;
use anyhow::anyhow;

/// One page of the changes feed, as the route answers it.
#[derive(Debug, serde::Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
    /// Where the next call starts: after the last change here, or where this one started.
    #[serde(serialize_with = "serialize_display")]
    pub next: SyncToken,
    /// Whether more changes follow right away (the page was full).
    pub more: bool,
    /// Each change's own position in the feed (an event stream's `id`s).
    #[serde(skip)]
    pub positions: Vec<SyncToken>,
}

/// Every task of the user written after `since` (as it is now) and every deletion after it
/// (a tombstone), in the order they happened: the owner's and the owner's trash rows, each
/// range read by `(user_id, seq)` and merged.
pub async fn changes(
    db: &dyn Database,
    account: &Account<'_>,
    query: ChangesQuery,
    now: Timestamp,
) -> Result<Changes, StoreError> {
    let inner = format!(
        "SELECT seq, 0 AS gone, {TASK_COLUMNS}, NULL AS deleted_at FROM tasks \
           WHERE user_id = ?1 AND seq > ?2 \
         UNION ALL \
         SELECT seq, 1, {TASK_COLUMNS}, deleted_at FROM tasks \
           WHERE user_id = {trash} AND seq > ?2 \
         ORDER BY 1 LIMIT {limit}",
        trash = trash_of(1),
        // A literal, as in the list: a bound LIMIT re-prepares the statement on every run.
        limit = query.limit
    );
    let params = [account.id().into(), query.since.seq().into()];
    let columns = format!("seq, gone, {TASK_COLUMNS}, deleted_at");
    let rows = read_packed(db, account, now, &columns, &inner, &params).await?;
    let mut next = query.since;
    let mut out = Vec::with_capacity(rows.len());
    let mut positions = Vec::with_capacity(rows.len());
    for mut row in rows {
        // seq, gone, the task's columns, deleted_at (task_from_row checks the middle).
        if row.len() < 3 {
            return Err(StoreError::Corrupt(anyhow!("change row {row:?}")));
        }
        let deleted_at = row.pop().unwrap_or(Value::Null);
        let task = row.split_off(2);
        next = SyncToken::from_seq(integer_or_zero(&row[0]));
        positions.push(next);
        out.push(if integer_or_zero(&row[1]) == 1 {
            Change::Deleted {
                id: TaskId::from_db(integer_or_zero(&task[0])),
                deleted_at: Timestamp::from_micros(integer_or_zero(&deleted_at)),
            }
        } else {
            Change::Task(Box::new(task_from_row(&task)?))
        });
    }
    Ok(Changes {
        more: out.len() == query.limit as usize,
        changes: out,
        next,
        positions,
    })
}

pub(super) fn serialize_display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}
