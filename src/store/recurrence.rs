//! Completing a recurring task: the task and its next occurrence, in one transaction.

use crate::db::Database;
use crate::domain::{Recurrence, TaskId};
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::transaction::in_transaction;
use crate::store::{Account, StoreError};
use crate::time::Timestamp;

/// The next occurrence of a recurring task: when it is due, when it reminds, its rule.
pub struct NextOccurrence<'a> {
    pub due_at: Timestamp,
    pub remind_at: Option<Timestamp>,
    pub recurrence: &'a Recurrence,
}

/// Completes the recurring task `id` (still at `version`, not completed, without a next
/// occurrence) and creates its next occurrence, in one transaction: the insert of the next
/// occurrence decides (it copies the source only while the source is as read), then the source
/// is completed and names it. The unique `(user_id, recurs_from)` index is the second line:
/// whatever a runtime makes of the transaction, a task gets at most one next occurrence.
/// Whether this call created it.
pub async fn complete_recurring(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    version: Timestamp,
    next: &NextOccurrence<'_>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO tasks (user_id, title, description, completed, priority, tags, due_at, \
           remind_at, recurrence, time_zone, recurs_from, created_at, updated_at, \
           derived_stale, search_entry, seq) \
         SELECT src.user_id, src.title, src.description, 0, src.priority, src.tags, ?4, ?5, ?6, \
           src.time_zone, src.id, ?7, ?7, 1, 0, {} \
         FROM tasks src WHERE src.id = ?1 AND src.user_id = ?2 AND src.updated_at = ?3 \
           AND src.completed = 0 AND src.recurrence IS NOT NULL AND src.next_task_id IS NULL \
           AND {} \
         ON CONFLICT (user_id, recurs_from) WHERE recurs_from IS NOT NULL DO NOTHING \
         RETURNING id",
        next_seq(2),
        guard_condition(account.source, 2)
    );
    let created = guarded(db, account, now, Kind::Write, async || {
        in_transaction(db, async || {
            let rows = db
                .execute(
                    &sql,
                    &[
                        id.get().into(),
                        account.id().into(),
                        version.as_micros().into(),
                        next.due_at.as_micros().into(),
                        next.remind_at.map(Timestamp::as_micros).into(),
                        rule_json(next.recurrence).into(),
                        now.as_micros().into(),
                    ],
                )
                .await?;
            // Nothing inserted (the source moved on, or the guard failed): nothing to complete.
            let Some(occurrence) = rows
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next())
            else {
                return Ok(written(None));
            };
            db.execute(
                &format!(
                    "UPDATE tasks SET completed = 1, next_task_id = ?3, \
                     updated_at = max(?4, updated_at + 1), seq = {} \
                     WHERE id = ?1 AND user_id = ?2",
                    next_seq(2)
                ),
                &[
                    id.get().into(),
                    account.id().into(),
                    occurrence,
                    now.as_micros().into(),
                ],
            )
            .await?;
            Ok(written(Some(())))
        })
        .await
    })
    .await?;
    Ok(created.is_some())
}
