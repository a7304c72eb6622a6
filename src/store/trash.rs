//! The trash: a delete moves a task under its owner's trash id; a restore brings it back; the
//! lazy purge blanks what the retention let go ([`WIPED`]).

use crate::db::{Database, DbError, Value};
use crate::domain::{Task, TaskId, TrashRetention, TrashedTask};
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::precondition::{Expected, expected_condition, expected_param};
use crate::store::{Account, StoreError};
use crate::time::Timestamp;

/// Whether a task was deleted.
pub async fn delete_task(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<bool, StoreError> {
    // One statement: the task moves under its owner's trash id (out of every list, count and
    // get), with a new `seq` for the feed; it takes its idempotency key with it. With no
    // retention its content goes at once. The answer says whether it had tag rows or may have
    // a search entry (a task no `q=` or `tag=` read has refreshed has neither; the entry's
    // mark is the row's own `search_entry`, so the statement does not open the FTS5 table)
    // and whether anything of the owner's trash is past the retention: each cleanup runs only
    // when it has something to do, so a plain delete is one statement and takes the write
    // lock once.
    let wipe = if retention.keeps() {
        String::new()
    } else {
        format!(", {WIPED}")
    };
    let sql = format!(
        "UPDATE tasks SET user_id = {trash}, deleted_at = ?3, seq = {seq}, \
           idempotency_key = NULL, request_hash = NULL, derived_stale = 0{wipe} \
         WHERE id = ?1 AND user_id = ?2 \
           AND {expected} AND {guard} \
         RETURNING EXISTS (SELECT 1 FROM task_tags WHERE task_id = ?1), \
           EXISTS (SELECT 1 FROM tasks INDEXED BY tasks_trash WHERE user_id = {trash} \
             AND deleted_at IS NOT NULL AND purged = 0 AND deleted_at <= ?5), \
           search_entry",
        trash = trash_of(2),
        seq = next_seq(2),
        expected = expected_condition(4),
        guard = guard_condition(account.source, 2)
    );
    let deleted = guarded(db, account, now, Kind::Write, async || {
        let rows = db
            .execute(
                &sql,
                &[
                    id.get().into(),
                    account.id().into(),
                    now.as_micros().into(),
                    expected_param(expected),
                    retention.cutoff(now).as_micros().into(),
                ],
            )
            .await?;
        Ok(written(rows.into_iter().next()))
    })
    .await?;
    let Some(row) = deleted else {
        return Ok(false);
    };
    // The derived rows go right after the task, so no copy of its text outlives it. Not in the
    // delete's statement: every read of derived rows is bound to the owner's rows in `tasks`,
    // so a moment's leftover is never an answer. A failure here leaves rows nothing can reach;
    // it is logged, and the delete, which happened, is answered as such. (A restore marks the
    // task stale, which rebuilds them.)
    let flag = |column: usize| row.get(column) == Some(&Value::Integer(1));
    let (tagged, expired, indexed) = (flag(0), flag(1), flag(2));
    let cleanup = async {
        if indexed {
            db.execute(
                "DELETE FROM task_search WHERE rowid = ?1",
                &[id.get().into()],
            )
            .await?;
        }
        if tagged {
            db.execute(
                "DELETE FROM task_tags WHERE task_id = ?1",
                &[id.get().into()],
            )
            .await?;
        }
        Ok::<(), DbError>(())
    }
    .await;
    if let Err(error) = cleanup {
        eprintln!(
            "task {}: removing its search entry and tag rows failed: {error}",
            id.get()
        );
    }
    if expired && let Err(error) = purge_trash(db, account.id(), retention, now).await {
        // The next delete tries again; meanwhile no read serves or restores an expired task.
        eprintln!("purging the trash failed: {error:?}");
    }
    Ok(true)
}

/// The trash's lazy purge (no scheduler): the user's tasks deleted longer ago than the
/// retention lose their content and stay as tombstones. Run by a delete that finds some;
/// reads check the cutoff themselves, so an unpurged old task is never listed or restorable.
pub(super) async fn purge_trash(
    db: &dyn Database,
    user_id: &str,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<(), StoreError> {
    db.execute(
        &format!(
            "UPDATE tasks INDEXED BY tasks_trash SET {WIPED} \
             WHERE user_id = {} AND deleted_at IS NOT NULL AND purged = 0 AND deleted_at <= ?2",
            trash_of(1)
        ),
        &[user_id.into(), retention.cutoff(now).as_micros().into()],
    )
    .await?;
    Ok(())
}

/// Brings a task back from the trash under its own id, as it was, but for a new `updated_at`
/// (it changed: it came back, so an `ETag` from before the delete no longer matches) and a new
/// `seq`. `None` if it is not in the caller's trash (never was, purged, past the retention).
/// One statement: the owner is set back.
pub async fn restore_task(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    if !retention.keeps() {
        return Ok(None);
    }
    // OR IGNORE: should the row collide with a unique index (a next occurrence made from the
    // same task meanwhile), it stays in the trash and the answer is a 404, not a 500.
    let sql = format!(
        "UPDATE OR IGNORE tasks SET user_id = ?2, deleted_at = NULL, derived_stale = 1, \
           updated_at = max(?3, updated_at + 1), seq = {} \
         WHERE id = ?1 AND user_id = {} AND purged = 0 AND deleted_at > ?4 AND {} \
         RETURNING {TASK_COLUMNS}",
        next_seq(2),
        trash_of(2),
        guard_condition(account.source, 2)
    );
    let params = [
        id.get().into(),
        account.id().into(),
        now.as_micros().into(),
        retention.cutoff(now).as_micros().into(),
    ];
    write_task(db, account, now, &sql, &params).await
}

/// The user's trash: the tasks still restorable, most recently deleted first (at most 1,000).
/// Each is shown under its owner's id, as it will be when restored.
pub async fn list_trash(
    db: &dyn Database,
    account: &Account<'_>,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<Vec<TrashedTask>, StoreError> {
    if !retention.keeps() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {TASK_COLUMNS}, deleted_at, {} FROM tasks INDEXED BY tasks_trash \
         WHERE user_id = {} AND deleted_at IS NOT NULL AND purged = 0 AND deleted_at > ?2 \
         ORDER BY deleted_at DESC, id DESC LIMIT 1000",
        guard_columns(account.source, 1),
        trash_of(1)
    );
    let params = [
        account.id().into(),
        retention.cutoff(now).as_micros().into(),
    ];
    read_rows(db, account, now, &sql, &params)
        .await?
        .iter_mut()
        .map(|row| {
            let deleted_at = row.pop().map_or(0, |v| integer_or_zero(&v));
            let mut task = task_from_row(row)?;
            task.user_id = account.id().to_owned();
            Ok(TrashedTask {
                task,
                deleted_at: Timestamp::from_micros(deleted_at),
            })
        })
        .collect()
}
