//! Reading tasks: one task, one page of a list (with its cursor key and, on request, a count).

use crate::db::{Database, Row, Value};
use crate::domain::{CursorKey, ListQuery, Position, SortKey, SortValue, Task, TaskId, UserSource};
use crate::store::derived::refresh_derived;
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::list_statement::*;
use crate::store::packed::{Unpacked, take_apart};
use crate::store::{Account, StoreError};
use crate::time::Timestamp;

/// One page of a list: the tasks, where the next page starts (when this one is full), the key
/// that seals cursors (read in the page's own statement) and, with `count=true`, how many
/// tasks match in all.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    pub next: Option<Position>,
    pub cursor_key: Option<CursorKey>,
    pub total: Option<u64>,
}

/// The list page. A `cursor` in the query is used for its claimed position only: the caller
/// checks its binding before and its seal after (with [`Page::cursor_key`]); either way every
/// row is the caller's, as every statement binds the user id.
pub async fn list_tasks(
    db: &dyn Database,
    account: &Account<'_>,
    query: &ListQuery,
    now: Timestamp,
) -> Result<Page, StoreError> {
    let start = Start::of(query);
    let statement = list_statement_from(query, start, account.source, account.id(), now);
    // sort=due from a due date reads the dated rows after the position, then (when the page is
    // not full yet) the undated ones: two index ranges, each a seek (see `after_position`).
    let then_undated = query.sort == SortKey::Due
        && matches!(start, Start::After(position) if position.value != SortValue::Null);
    let derived = query.search.is_some() || !query.tags.is_empty();
    let (tasks, next, cursor_key) = guarded(db, account, now, Kind::Read, async || {
        if derived {
            refresh_derived(db, account.id()).await?;
        }
        let (mut rows, mut scores, mut cursor_key, sure) =
            page_rows(db, &statement, account.source).await?;
        let missing = query.limit as usize - rows.len().min(query.limit as usize);
        if then_undated && missing > 0 {
            let rest = ListQuery {
                limit: missing as u32,
                ..query.clone()
            };
            let statement =
                list_statement_from(&rest, Start::Undated, account.source, account.id(), now);
            let (more, more_scores, key, _) = page_rows(db, &statement, account.source).await?;
            rows.extend(more);
            scores.extend(more_scores);
            cursor_key = cursor_key.or(key);
        }
        let tasks = rows
            .iter()
            .map(task_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match (tasks.last(), scores.last()) {
            (Some(task), Some(score)) if tasks.len() == query.limit as usize => {
                Some(position_of(task, score.as_ref(), query.sort))
            }
            _ => None,
        };
        let page = (tasks, next, cursor_key);
        Ok(Answer::read(sure, page))
    })
    .await?;
    // An empty page carries no key; one is needed only to check the cursor it was asked with.
    let cursor_key = match cursor_key {
        None if query.cursor.is_some() => read_cursor_key(db).await?,
        key => key,
    };
    let total = if query.count {
        let (sql, params) = count_statement(query, account.id(), now);
        let rows = db.execute(&sql, &params).await?;
        Some(
            rows.first()
                .and_then(|row| row.first())
                .map_or(0, |n| u64::try_from(integer_or_zero(n)).unwrap_or(0)),
        )
    } else {
        None
    };
    Ok(Page {
        tasks,
        next,
        cursor_key,
        total,
    })
}

/// A page statement's rows with the extra columns taken off: the task columns, each row's
/// relevance score (when the statement has one), the cursor key, and whether the guard held.
pub(super) type PageRows = (Vec<Row>, Vec<Option<Value>>, Option<CursorKey>, bool);

pub(super) async fn page_rows(
    db: &dyn Database,
    statement: &ListStatement,
    source: UserSource,
) -> Result<PageRows, StoreError> {
    let answer = db.execute(&statement.sql, &statement.params).await?;
    // One row: the packed page, the guard columns, the cursor key.
    let Unpacked {
        mut rows,
        sure,
        after_guard,
    } = take_apart(answer, source, 1)?;
    let cursor_key = after_guard.into_iter().next().and_then(|key| match key {
        Value::Blob(bytes) => CursorKey::from_bytes(&bytes),
        _ => None,
    });
    let scores = rows
        .iter_mut()
        .map(|row| statement.scored.then(|| row.pop()).flatten())
        .collect();
    Ok((rows, scores, cursor_key, sure))
}

pub(super) async fn read_cursor_key(db: &dyn Database) -> Result<Option<CursorKey>, StoreError> {
    let rows = db.execute(CURSOR_KEY, &[]).await?;
    Ok(rows
        .first()
        .and_then(|row| row.first())
        .and_then(|key| match key {
            Value::Blob(bytes) => CursorKey::from_bytes(bytes),
            _ => None,
        }))
}

/// Where a page ended: its last task's value of the sort key (or the relevance score the
/// statement added), and its id.
pub(super) fn position_of(task: &Task, score: Option<&Value>, sort: SortKey) -> Position {
    let value = match sort {
        SortKey::Created => SortValue::Integer(task.created_at.as_micros()),
        SortKey::Updated => SortValue::Integer(task.updated_at.as_micros()),
        SortKey::Title => SortValue::Text(task.title.clone()),
        SortKey::Priority => SortValue::Integer(task.priority.rank()),
        SortKey::Due => task
            .due_at
            .map_or(SortValue::Null, |due| SortValue::Integer(due.as_micros())),
        SortKey::Relevance => SortValue::Integer(score.map_or(0, integer_or_zero)),
    };
    Position {
        value,
        id: task.id.get(),
    }
}

pub async fn get_task(
    db: &dyn Database,
    account: &Account<'_>,
    id: TaskId,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let sql = format!(
        "SELECT {TASK_COLUMNS}, {} FROM tasks WHERE id = ?1 AND user_id = ?2",
        guard_columns(account.source, 2)
    );
    let rows = read_rows(
        db,
        account,
        now,
        &sql,
        &[id.get().into(), account.id().into()],
    )
    .await?;
    single(rows)
}
