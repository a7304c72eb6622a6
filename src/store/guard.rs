//! The guard every task statement carries: the checks a request needs (is the schema
//! current? does a Better Auth user exist?) ride on the statement that does the work, as extra
//! result columns of a read or conditions of a write, and only an empty answer costs a second
//! statement ([`crate::store::ensure_user`]). Also the `seq` every write stamps.

use crate::db::migrations;
use crate::db::{Database, Row, Value};
use crate::domain::{Task, TaskId, UserSource};
use crate::store::fields::*;
use crate::store::{Account, StoreError};
use crate::store::{UserStatus, ensure_user};
use crate::time::Timestamp;

/// The guard as extra result columns, after a statement's own: the schema version and, with
/// `better-auth`, whether the user exists. `?{user}` is the user id's parameter.
pub(super) fn guard_columns(source: UserSource, user: u8) -> String {
    match source {
        UserSource::Auto => "(SELECT max(version) FROM schema_migrations)".to_owned(),
        UserSource::BetterAuth => format!(
            "(SELECT max(version) FROM schema_migrations), \
             EXISTS (SELECT 1 FROM \"user\" WHERE id = ?{user})"
        ),
    }
}

/// The guard as a condition, for writes: nothing is written on a schema older than this
/// build's, or for a Better Auth user that does not exist.
pub(super) fn guard_condition(source: UserSource, user: u8) -> String {
    let current = format!(
        "(SELECT max(version) FROM schema_migrations) >= {}",
        migrations::LATEST
    );
    match source {
        UserSource::Auto => current,
        UserSource::BetterAuth => {
            format!("{current} AND EXISTS (SELECT 1 FROM \"user\" WHERE id = ?{user})")
        }
    }
}

/// Splits the guard columns off rows of a guarded read; `Some` when they show a current
/// schema and a known user (every row carries the same values).
pub(super) fn strip_guard(rows: &mut [Row], source: UserSource) -> Option<bool> {
    let width = match source {
        UserSource::Auto => 1,
        UserSource::BetterAuth => 2,
    };
    let mut passed = None;
    for row in rows.iter_mut() {
        if row.len() < width {
            return None;
        }
        let guard = row.split_off(row.len() - width);
        let current = integer_or_zero(&guard[0]) >= migrations::LATEST;
        let known = guard.get(1).is_none_or(|known| integer_or_zero(known) != 0);
        passed = Some(current && known);
    }
    passed
}

/// What one guarded statement answered.
pub(super) enum Answer<T> {
    /// The guard held: this is the answer.
    Sure(T),
    /// Nothing came back: the answer, unless the schema is behind or the user unknown.
    Unsure(T),
}

impl<T> Answer<T> {
    /// A guarded read's answer: sure when its guard columns held ([`strip_guard`]).
    pub(super) fn read(sure: bool, value: T) -> Self {
        if sure {
            Self::Sure(value)
        } else {
            Self::Unsure(value)
        }
    }
}

/// Whether a guarded statement reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Read,
    Write,
}

/// Runs a guarded statement; when its answer is [`Answer::Unsure`] (or the tables are missing),
/// asks [`ensure_user`], which migrates a database that is behind, and runs it once more if it
/// did. A write that missed runs once more in any case: another request may have finished
/// migrating between the write and the check, and a write left undone would be lost. A Better
/// Auth user that does not exist is [`StoreError::UnknownUser`].
pub(super) async fn guarded<T>(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    kind: Kind,
    attempt: impl AsyncFn() -> Result<Answer<T>, StoreError>,
) -> Result<T, StoreError> {
    let first = match attempt().await {
        Ok(Answer::Sure(value)) => return Ok(value),
        Ok(Answer::Unsure(value)) => Some(value),
        Err(StoreError::Db(error)) if error.schema_behind() => None,
        Err(error) => return Err(error),
    };
    let checked = ensure_user(db, account.source, account.identity, now).await?;
    if checked.status == UserStatus::Unknown {
        return Err(StoreError::UnknownUser);
    }
    match first {
        Some(value) if !checked.migrated && kind == Kind::Read => Ok(value),
        _ => match attempt().await? {
            Answer::Sure(value) | Answer::Unsure(value) => Ok(value),
        },
    }
}

/// The `seq` a write stamps on the task it writes: one more than the user's highest, live or
/// deleted (under the trash id, see [`trash_of`]; migration 0011). Part of the write's own statement, so under SQLite's write lock:
/// two writes never get the same number and a later commit never gets a smaller one, on any
/// number of replicas. `?{user}` is the user id's parameter.
pub(super) fn next_seq(user: u8) -> String {
    format!(
        "(SELECT coalesce(max(s), 0) + 1 FROM (\
           SELECT max(seq) AS s FROM tasks WHERE user_id = ?{user} \
           UNION ALL SELECT max(seq) FROM tasks WHERE user_id = {}))",
        trash_of(user)
    )
}

/// Whether a verified user exists (and, in the same statement, which schema version the
/// database has, so that checking for pending migrations costs no extra round trip).
pub(super) fn user_check_sql(source: UserSource) -> &'static str {
    match source {
        UserSource::Auto => {
            "SELECT (SELECT max(version) FROM schema_migrations), \
             EXISTS (SELECT 1 FROM users WHERE id = ?1)"
        }
        UserSource::BetterAuth => {
            "SELECT (SELECT max(version) FROM schema_migrations), \
             EXISTS (SELECT 1 FROM \"user\" WHERE id = ?1)"
        }
    }
}

/// A guarded write's answer: rows mean the guard held.
pub(super) fn written<T>(value: Option<T>) -> Answer<Option<T>> {
    match value {
        Some(value) => Answer::Sure(Some(value)),
        None => Answer::Unsure(None),
    }
}

/// The owner id a deleted task is kept under (migration 0011): a control character no user id
/// can hold, then the owner's id. `?{user}` is the owner's parameter.
pub(super) fn trash_of(user: u8) -> String {
    format!("(char(1) || ?{user})")
}

/// A guarded read's rows, the guard columns taken off (see [`guarded`]).
pub(super) async fn read_rows(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    guarded(db, account, now, Kind::Read, async || {
        let mut rows = db.execute(sql, params).await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        Ok(Answer::read(sure, rows))
    })
    .await
}

/// A guarded write that returns the task it wrote (`RETURNING` the task columns); `None` when
/// it matched no row.
pub(super) async fn write_task(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    sql: &str,
    params: &[Value],
) -> Result<Option<Task>, StoreError> {
    guarded(db, account, now, Kind::Write, async || {
        let rows = db.execute(sql, params).await?;
        Ok(written(single(rows)?))
    })
    .await
}

/// An `UPDATE` of the caller's task `id` (bound as `?1`, its owner as `?2`) that also stamps
/// the next `seq` and returns the task: `set` and `condition` are the statement's own, with
/// `params` from `?3` on; the guard is added.
pub(super) async fn update_one(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    now: Timestamp,
    set: &str,
    condition: &str,
    params: impl IntoIterator<Item = Value>,
) -> Result<Option<Task>, StoreError> {
    let params: Vec<Value> = [id.get().into(), account.id().into()]
        .into_iter()
        .chain(params)
        .collect();
    let sql = format!(
        "UPDATE tasks SET {set}, seq = {} \
         WHERE id = ?1 AND user_id = ?2 AND {condition} AND {} \
         RETURNING {TASK_COLUMNS}",
        next_seq(2),
        guard_condition(account.source, 2)
    );
    write_task(db, account, now, &sql, &params).await
}
