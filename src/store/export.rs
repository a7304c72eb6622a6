//! Everything stored for one user: the export, and the erasure.

use crate::db::{Database, Value};
use crate::domain::{Task, TrashRetention, TrashedTask, UserSource};
use crate::store::derived::{TagCount, list_tags};
use crate::store::ensure_schema;
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::transaction::in_transaction;
use crate::store::trash::list_trash;
use crate::store::{Account, StoreError};
use crate::time::Timestamp;

/// Everything the API holds about one user: every task (oldest first) and the tag counts.
#[derive(Debug, serde::Serialize)]
pub struct Export {
    pub user_id: String,
    pub exported_at: Timestamp,
    pub tasks: Vec<Task>,
    /// The tasks in the trash, still restorable.
    pub trash: Vec<TrashedTask>,
    pub tags: Vec<TagCount>,
}

pub async fn export(
    db: &dyn Database,
    account: &Account<'_>,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<Export, StoreError> {
    let sql = format!(
        "SELECT {TASK_COLUMNS}, {} FROM tasks WHERE user_id = ?1 ORDER BY id",
        guard_columns(account.source, 1)
    );
    let tasks = read_rows(db, account, now, &sql, &[account.id().into()])
        .await?
        .iter()
        .map(task_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let trash = list_trash(db, account, retention, now).await?;
    let tags = list_tags(db, account, now).await?;
    Ok(Export {
        user_id: account.id().to_owned(),
        exported_at: now,
        tasks,
        trash,
        tags,
    })
}

/// Erases everything stored for the user: search entries, tag rows, tasks (with their
/// idempotency keys), the trash and tombstones, the rate-limit counter and, in `auto` mode, the user row (Better Auth's
/// own `user` table is Better Auth's to delete). One transaction, so a failure erases nothing
/// and a retry erases all; erasing twice is erasing once. The user need not exist any more in
/// `better-auth` mode: cleaning up after Better Auth deleted the user is the point.
pub async fn erase(db: &dyn Database, account: &Account<'_>) -> Result<(), StoreError> {
    ensure_schema(db).await?;
    let user: Value = account.id().into();
    in_transaction(db, async || {
        // The search index holds a copy of the text under the user's owner token; every entry
        // with it goes, also one a failed cleanup left without a task.
        let entries = db
            .execute(
                "SELECT json_group_array(rowid) FROM task_search WHERE task_search MATCH ?1",
                &[crate::domain::search::owner_expression(account.id()).into()],
            )
            .await?;
        if let Some(Value::Text(ids)) = entries
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
        {
            db.execute(
                "DELETE FROM task_search WHERE rowid IN (SELECT value FROM json_each(?1))",
                &[ids.into()],
            )
            .await?;
        }
        // Tasks: the owner's and the owner's trash (deleted tasks and their tombstones).
        let tasks = format!("DELETE FROM tasks WHERE user_id IN (?1, {})", trash_of(1));
        for statement in [
            "DELETE FROM task_tags WHERE user_id = ?1",
            &tasks,
            "DELETE FROM rate_limits WHERE user_id = ?1",
            "DELETE FROM event_streams WHERE user_id = ?1",
        ] {
            db.execute(statement, std::slice::from_ref(&user)).await?;
        }
        if account.source == UserSource::Auto {
            db.execute(
                "DELETE FROM users WHERE id = ?1",
                std::slice::from_ref(&user),
            )
            .await?;
        }
        Ok(())
    })
    .await
}
