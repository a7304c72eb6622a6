//! Writes to one existing task, and what each came to ([`Written`]): the one place that
//! decides between done, 404 (no such task for this user) and 412 (`If-Match` named another
//! version), for the single routes and the batch alike.
//!
//! Most updates are one statement ([`store::update_task`], [`store::toggle_task`]). Two kinds
//! are not: a change to the schedule, whose rules tie fields together (a reminder comes at
//! or before the due date, a recurrence needs one), and the completion of a recurring task,
//! which creates the next occurrence from the task's due date and time zone. Those read the
//! task, decide in Rust, and write only if the row is still the one they read; if it moved on,
//! they read again. Whatever races, a recurring task gets one next occurrence: the write that
//! creates it is one transaction, backed by a unique index (see [`store::complete_recurring`]).

use crate::domain::{Invalid, Task, TaskId, TaskPatch, TrashRetention};
use crate::store::{self, Account, Expected, NextOccurrence, StoreError};
use crate::time::Timestamp;

/// What a write to an existing task came to: the updated task, or `()` for a delete.
#[derive(Debug)]
pub enum Written<T = Box<Task>> {
    Done(T),
    /// No such task for this user.
    Missing,
    /// `If-Match` named other versions.
    Stale,
    /// The patch breaks a rule of the whole task.
    Invalid(Invalid),
    /// The row kept changing under us; the client may retry.
    Contended,
}

/// Moves the task to the trash (or deletes it, without retention).
pub async fn delete(
    db: &dyn crate::db::Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    retention: TrashRetention,
    now: Timestamp,
) -> Result<Written<()>, StoreError> {
    if store::delete_task(db, account, id, expected, retention, now).await? {
        return Ok(Written::Done(()));
    }
    missing_or_stale(db, account, id, expected, now).await
}

/// Why a write matched no row. Only asked when the write was conditional; the lookup is bound
/// to the caller like every other, so it cannot reveal another user's task.
async fn missing_or_stale<T>(
    db: &dyn crate::db::Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<Written<T>, StoreError> {
    if expected.is_some() && store::get_task(db, account, id, now).await?.is_some() {
        Ok(Written::Stale)
    } else {
        Ok(Written::Missing)
    }
}

/// Read-modify-write rounds before giving up on a row that others keep changing.
const ROUNDS: usize = 16;

pub async fn update(
    db: &dyn crate::db::Database,
    account: &Account<'_>,
    id: TaskId,
    patch: &TaskPatch,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<Written, StoreError> {
    if patch.schedule.is_empty()
        && let Some(task) = store::update_task(db, account, id, patch, expected, now).await?
    {
        return Ok(Written::Done(Box::new(task)));
    }
    settle(db, account, id, expected, now, |_| patch.clone()).await
}

pub async fn toggle(
    db: &dyn crate::db::Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    now: Timestamp,
) -> Result<Written, StoreError> {
    if let Some(task) = store::toggle_task(db, account, id, expected, now).await? {
        return Ok(Written::Done(Box::new(task)));
    }
    settle(db, account, id, expected, now, |current| TaskPatch {
        completed: Some(!current.completed),
        ..TaskPatch::default()
    })
    .await
}

async fn settle(
    db: &dyn crate::db::Database,
    account: &Account<'_>,
    id: TaskId,
    expected: Expected<'_>,
    now: Timestamp,
    patch_for: impl Fn(&Task) -> TaskPatch,
) -> Result<Written, StoreError> {
    // The version our own first half wrote, which `If-Match` cannot have named.
    let mut ours = None;
    for _ in 0..ROUNDS {
        let Some(current) = store::get_task(db, account, id, now).await? else {
            return Ok(Written::Missing);
        };
        let version = current.updated_at;
        if ours != Some(version)
            && expected.is_some_and(|versions| !versions.contains(&version.as_micros()))
        {
            return Ok(Written::Stale);
        }
        let patch = patch_for(&current);
        let merged = match merge(&current, &patch) {
            Ok(merged) => merged,
            Err(invalid) => return Ok(Written::Invalid(invalid)),
        };
        if merged.completed && current.completion_recurs() {
            // Without a next occurrence (the series has ended) it is an ordinary completion.
            if let Some((due_at, remind_at, recurrence)) = next_occurrence(&merged) {
                // The other changes first (the next occurrence copies them), then the
                // completion with its next occurrence, each on the version just seen.
                let base_version = if patch.changes_more_than_completion() {
                    let uncompleted = Task {
                        completed: false,
                        ..merged.clone()
                    };
                    match store::replace_task(db, account, &uncompleted, version, now).await? {
                        Some(written) => {
                            ours = Some(written.updated_at);
                            written.updated_at
                        }
                        None => continue,
                    }
                } else {
                    version
                };
                let next = NextOccurrence {
                    due_at,
                    remind_at,
                    recurrence: &recurrence,
                };
                if store::complete_recurring(db, account, id, base_version, &next, now).await? {
                    return Ok(match store::get_task(db, account, id, now).await? {
                        Some(task) => Written::Done(Box::new(task)),
                        None => Written::Missing,
                    });
                }
                continue;
            }
        }
        if let Some(task) = store::replace_task(db, account, &merged, version, now).await? {
            return Ok(Written::Done(Box::new(task)));
        }
    }
    Ok(Written::Contended)
}

/// The task as the patch leaves it, checked as a whole.
fn merge(current: &Task, patch: &TaskPatch) -> Result<Task, Invalid> {
    let schedule = if patch.schedule.is_empty() {
        None
    } else {
        Some(patch.schedule.apply(current)?)
    };
    let mut task = current.clone();
    if let Some(title) = &patch.title {
        task.title = title.as_str().to_owned();
    }
    if let Some(description) = &patch.description {
        task.description = description.as_ref().map(|d| d.as_str().to_owned());
    }
    if let Some(completed) = patch.completed {
        task.completed = completed;
    }
    if let Some(priority) = patch.priority {
        task.priority = priority;
    }
    if let Some(tags) = &patch.tags {
        task.tags = tags.clone();
    }
    if let Some(schedule) = schedule {
        task.due_at = schedule.due_at;
        task.remind_at = schedule.remind_at;
        task.recurrence = schedule.recurrence;
        task.time_zone = schedule.time_zone;
    }
    Ok(task)
}

/// The next occurrence's due date, reminder (as long before it as this one's) and rule.
fn next_occurrence(
    task: &Task,
) -> Option<(Timestamp, Option<Timestamp>, crate::domain::Recurrence)> {
    let rule = task.recurrence.as_ref()?;
    let due = task.due_at?;
    let (next_due, index) = rule.next_after(due, &task.time_zone)?;
    let remind_at = task.remind_at.map(|remind| {
        Timestamp::from_micros(next_due.as_micros() - (due.as_micros() - remind.as_micros()))
    });
    let mut next_rule = rule.clone();
    next_rule.series.index = index;
    Some((next_due, remind_at, next_rule))
}
