//! Creating and changing tasks, each in one guarded statement (`… RETURNING`).

use crate::db::{Database, Value};
use crate::domain::{NewTask, TagSet, Task, TaskId, TaskPatch, TaskPriority};
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::precondition::{Expected, expected_condition, expected_param};
use crate::store::{Account, StoreError};
use crate::time::Timestamp;
use anyhow::anyhow;

/// An `Idempotency-Key` and the hash of the request it came with.
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// What a create did.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    New(Task),
    /// A retry of an earlier create with the same key and body: that create's task.
    Replayed(Task),
    /// The key was used before with a different body.
    KeyReused,
}

/// Inserts a task. With a key, the insert and the uniqueness check are one statement, so
/// concurrent retries of one create make one task.
pub async fn create_task(
    db: &dyn Database,
    account: &Account<'_>,
    task: &NewTask,
    idempotency: Option<&IdempotencyKey<'_>>,
    now: Timestamp,
) -> Result<Created, StoreError> {
    // `INSERT … SELECT … WHERE` so the guard decides whether anything is written; the WHERE
    // also keeps SQLite from reading ON CONFLICT as part of the SELECT.
    let sql = format!(
        "INSERT INTO tasks (user_id, title, description, completed, priority, created_at, \
         updated_at, idempotency_key, request_hash, tags, due_at, remind_at, recurrence, \
         time_zone, derived_stale, search_entry, seq) \
         SELECT ?1, ?2, ?3, ?4, ?8, ?5, ?5, ?6, ?7, ?9, ?10, ?11, ?12, ?13, 1, 0, {} \
         WHERE {} \
         ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING {TASK_COLUMNS}, EXISTS (SELECT 1 FROM users WHERE id = ?1)",
        next_seq(1),
        guard_condition(account.source, 1)
    );
    let schedule = &task.schedule;
    let insert = async || -> Result<Answer<Option<Task>>, StoreError> {
        let rows = db
            .execute(
                &sql,
                &[
                    account.id().into(),
                    task.title.as_str().into(),
                    task.description.as_ref().map(|d| d.as_str()).into(),
                    task.completed.into(),
                    now.as_micros().into(),
                    idempotency.map(|i| i.key).into(),
                    idempotency.map(|i| i.request_hash).into(),
                    task.priority.rank().into(),
                    task.tags.to_json().into(),
                    schedule.due_at.map(Timestamp::as_micros).into(),
                    schedule.remind_at.map(Timestamp::as_micros).into(),
                    schedule.recurrence.as_ref().map(rule_json).into(),
                    schedule.time_zone.as_str().into(),
                ],
            )
            .await?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(Answer::Unsure(None));
        };
        let recorded = row.pop();
        let task = task_from_row(&row)?;
        if recorded != Some(Value::Integer(1)) {
            // Whoever writes is in the API's own user table (a first read is recorded by
            // `ensure_user`, in `auto` mode). One more statement, on a user's first create
            // only; the row is a record, not part of the task, so it needs no transaction.
            db.execute(
                "INSERT INTO users (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                &[account.id().into(), now.as_micros().into()],
            )
            .await?;
        }
        Ok(Answer::Sure(Some(task)))
    };
    if let Some(created) = guarded(db, account, now, Kind::Write, insert).await? {
        return Ok(Created::New(created));
    }
    let Some(idempotency) = idempotency else {
        return Err(StoreError::Corrupt(anyhow!(
            "INSERT … RETURNING returned no row"
        )));
    };
    // The key is taken: by this very request's first attempt, or by another body.
    let rows = db.execute(
        &format!(
            "SELECT {TASK_COLUMNS}, request_hash FROM tasks WHERE user_id = ?1 AND idempotency_key = ?2"
        ),
        &[account.id().into(), idempotency.key.into()],
    ).await?;
    match rows.into_iter().next() {
        Some(mut row) => {
            let hash = row.pop();
            let earlier = task_from_row(&row)?;
            if hash == Some(Value::Text(idempotency.request_hash.to_owned())) {
                Ok(Created::Replayed(earlier))
            } else {
                Ok(Created::KeyReused)
            }
        }
        // The keyed task was deleted in between: its key went with it, so this is a new create.
        None => match insert().await? {
            Answer::Sure(Some(task)) | Answer::Unsure(Some(task)) => Ok(Created::New(task)),
            _ => Err(StoreError::Corrupt(anyhow!(
                "keyed insert returned no row twice"
            ))),
        },
    }
}

/// Applies a patch that leaves the schedule alone, in one statement. `updated_at` moves
/// forward on every update, by at least a microsecond even when the clock has not (or has
/// gone back). A patch that would complete a recurring task is not applied here (nothing
/// comes back, as for a missing task): that completion also creates the next occurrence, and
/// `task_writes` does both.
pub async fn update_task(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    patch: &TaskPatch,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let (set_description, description) = match &patch.description {
        None => (false, None),
        Some(description) => (true, description.as_ref().map(|d| d.as_str())),
    };
    let set = "title = coalesce(?3, title), \
         description = CASE WHEN ?4 THEN ?5 ELSE description END, \
         completed = coalesce(?6, completed), \
         priority = coalesce(?9, priority), \
         tags = coalesce(?10, tags), \
         derived_stale = CASE WHEN ?11 THEN 1 ELSE derived_stale END, \
         updated_at = max(?7, updated_at + 1)";
    let condition = format!(
        "{} AND NOT (coalesce(?6, 0) = 1 AND {RECURRING_COMPLETION})",
        expected_condition(8)
    );
    // A new title, description or tags changes the task's search entry or tag rows.
    let touches_derived =
        patch.title.is_some() || patch.description.is_some() || patch.tags.is_some();
    let params = [
        patch.title.as_ref().map(|t| t.as_str()).into(),
        set_description.into(),
        description.into(),
        patch.completed.into(),
        now.as_micros().into(),
        expected_param(expected),
        patch.priority.map(TaskPriority::rank).into(),
        patch.tags.as_ref().map(TagSet::to_json).into(),
        touches_derived.into(),
    ];
    update_one(db, account, id, now, set, &condition, params).await
}

/// A row whose completion would create its next occurrence ([`Task::completion_recurs`]).
pub(super) const RECURRING_COMPLETION: &str =
    "(completed = 0 AND recurrence IS NOT NULL AND next_task_id IS NULL)";

/// Flips `completed` atomically: concurrent toggles each flip once. Like [`update_task`], it
/// leaves a recurring task that it would complete to `task_writes`.
pub async fn toggle_task(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let set = "completed = 1 - completed, updated_at = max(?3, updated_at + 1)";
    let condition = format!("{} AND NOT {RECURRING_COMPLETION}", expected_condition(4));
    let params = [now.as_micros().into(), expected_param(expected)];
    update_one(db, account, id, now, set, &condition, params).await
}

/// Writes every field of `task` if the row is still at `version` (its `updated_at` when it
/// was read): the second half of a read-modify-write, for changes that must be checked
/// against the whole task (a due date and its reminder). `None` if the row moved on or went.
pub async fn replace_task(
    db: &dyn Database,
    account: &Account<'_>,
    task: &Task,
    version: Timestamp,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let set = "title = ?4, description = ?5, completed = ?6, priority = ?7, tags = ?8, \
         due_at = ?9, remind_at = ?10, recurrence = ?11, time_zone = ?12, \
         derived_stale = CASE WHEN title IS NOT ?4 OR description IS NOT ?5 \
           OR tags IS NOT ?8 THEN 1 ELSE derived_stale END, \
         updated_at = max(?13, updated_at + 1)";
    let condition = "updated_at = ?3";
    update_one(
        db,
        account,
        task.id,
        now,
        set,
        condition,
        [
            version.as_micros().into(),
            task.title.as_str().into(),
            task.description.as_deref().into(),
            task.completed.into(),
            task.priority.rank().into(),
            task.tags.to_json().into(),
            task.due_at.map(Timestamp::as_micros).into(),
            task.remind_at.map(Timestamp::as_micros).into(),
            task.recurrence.as_ref().map(rule_json).into(),
            task.time_zone.as_str().into(),
            now.as_micros().into(),
        ],
    )
    .await
}
