//! Tags and search: the derived rows (`task_tags`, the `task_search` FTS5 index), refreshed
//! lazily by the reads that need them, and the tag counts.

use crate::db::{Database, Value};
use crate::store::guard::*;
use crate::store::transaction::in_transaction;
use crate::store::{Account, StoreError};
use crate::time::Timestamp;
use anyhow::anyhow;

/// Brings the caller's derived rows (search entries, tag rows) up to date with the tasks a
/// write marked `derived_stale`, before a read that needs them (`q=`, `tag=`, `GET /tags`).
///
/// The schema has no triggers (each would be parsed by every request's new connection, see
/// migration 0009), and writing the derived rows with each task would make every write a
/// multi-statement transaction holding the write lock across round trips. So a write only
/// marks the task, in its own statement, and the few reads that need derived rows pay for
/// them, once per batch of changes: one indexed probe when nothing is stale.
///
/// `INDEXED BY`: without statistics SQLite may pick `tasks_by_user_seq` (also led by
/// `user_id`) over the partial index, and read every task of the user to find the stale ones.
pub(super) async fn refresh_derived(db: &dyn Database, user_id: &str) -> Result<(), StoreError> {
    let stale = db.execute(
        "SELECT 1 FROM tasks INDEXED BY tasks_stale WHERE user_id = ?1 AND derived_stale = 1 LIMIT 1",
        &[user_id.into()],
    ).await?;
    if stale.is_empty() {
        return Ok(());
    }
    let user = [Value::from(user_id)];
    in_transaction(db, async || {
        db.execute(
            "DELETE FROM task_tags WHERE task_id IN \
             (SELECT id FROM tasks INDEXED BY tasks_stale WHERE user_id = ?1 AND derived_stale = 1)",
            &user,
        ).await?;
        db.execute(
            "INSERT OR IGNORE INTO task_tags (user_id, tag, task_id, name) \
             SELECT t.user_id, j.key, t.id, j.value FROM tasks t INDEXED BY tasks_stale, json_each(t.tags) j \
             WHERE t.user_id = ?1 AND t.derived_stale = 1",
            &user,
        ).await?;
        // `owner` is the user id in hex: one token, which every search requires.
        db.execute(
            "INSERT OR REPLACE INTO task_search (rowid, owner, title, description) \
             SELECT id, hex(user_id), title, description FROM tasks INDEXED BY tasks_stale \
             WHERE user_id = ?1 AND derived_stale = 1",
            &user,
        ).await?;
        // Only the marks: `updated_at` (the ETag) stays, nothing the client sees changed. In
        // the transaction that wrote the entries, so a task with an entry is always marked as
        // having one (a delete trusts the mark, see `delete_task`).
        db.execute(
            "UPDATE tasks INDEXED BY tasks_stale SET derived_stale = 0, search_entry = 1 \
             WHERE user_id = ?1 AND derived_stale = 1",
            &user,
        ).await?;
        Ok(())
    }).await
}

/// One of the user's tags and how many of the user's tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// The user's tags, A→Z by their case-folded form, each spelled as on the most recently
/// tagged task.
pub async fn list_tags(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
) -> Result<Vec<TagCount>, StoreError> {
    let sql = format!(
        "SELECT name, count, {} FROM ( \
           SELECT tag, (SELECT name FROM task_tags n WHERE n.user_id = ?1 AND n.tag = g.tag \
                          AND EXISTS (SELECT 1 FROM tasks WHERE id = n.task_id AND user_id = ?1) \
                        ORDER BY n.task_id DESC LIMIT 1) AS name, count(*) AS count \
           FROM task_tags g WHERE user_id = ?1 \
             AND EXISTS (SELECT 1 FROM tasks WHERE id = g.task_id AND user_id = ?1) \
           GROUP BY tag ORDER BY tag)",
        guard_columns(account.source, 1)
    );
    guarded(db, account, now, Kind::Read, async || {
        refresh_derived(db, account.id()).await?;
        let mut rows = db.execute(&sql, &[account.id().into()]).await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        let tags = rows
            .into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(tag), Value::Integer(count)] => Ok(TagCount {
                    tag: tag.clone(),
                    count: *count,
                }),
                other => Err(StoreError::Corrupt(anyhow!("tag row {other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Answer::read(sure, tags))
    })
    .await
}
