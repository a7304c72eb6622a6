//! The one definition of a task's columns, and the row decoding that goes with it.
//!
//! Every statement that has to name all of them is derived from [`COLUMNS`]: the lists the
//! reads select ([`task_columns`]), what the trash purge blanks ([`wiped`]) and what a
//! recurring task's next occurrence copies (`store::recurrence`). What cannot be derived is
//! checked against it by tests that read the table's real columns from SQLite
//! (`PRAGMA table_info`): `task_from_row`, the export, the OpenAPI `Task` schema and the
//! idempotency hash of a create. A migration that adds a column this table does not list
//! fails those tests; so does a listed column that a purge leaves filled or a next occurrence
//! drops.
//!
//! Adding a field to a task: a migration, an entry here, the `Task` field and its line in
//! `task_from_row`, and (if clients may set it) the parser in `domain::input`, the create
//! statement and the request hash in `api::tasks`, then `src/api/openapi.json`. The tests say
//! which of those is missing.

use crate::db::{Row, Value};
use crate::domain::{
    Frequency, Interval, Recurrence, Series, TagSet, Task, TaskId, TaskPriority, TaskTimeZone,
};
use crate::store::StoreError;
use crate::time::Timestamp;
use anyhow::{Context, anyhow};

/// One column of `tasks`.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// A field of every task the API answers with (`Task`: single reads, lists, the feed, the
    /// export, the OpenAPI `Task` schema), in this table's order.
    pub shown: bool,
    /// Content: what the user wrote or chose. `Some(blank)` is what a purged tombstone keeps
    /// instead (an SQL literal the column's constraints accept); `None` for what a tombstone
    /// needs (its id, owner, position in the feed, times) and for bookkeeping.
    pub blank: Option<&'static str>,
    /// What a recurring task's next occurrence gets.
    pub next: Next,
    /// A value unlike the column's default that a row may hold (an SQL literal): the tests
    /// write it into a row to see it copied, blanked and shown. Every content column and
    /// every copied one has one.
    pub example: Option<&'static str>,
}

/// How a recurring task's next occurrence fills a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The completed task's value.
    Copied,
    /// The occurrence's own: its schedule, times, feed position (`store::recurrence` says).
    Own,
    /// The column's default (a new id, no key, not deleted, no next occurrence yet).
    Default,
}

const fn column(name: &'static str, shown: bool, next: Next) -> Column {
    Column {
        name,
        shown,
        blank: None,
        next,
        example: None,
    }
}

const fn content(
    name: &'static str,
    blank: &'static str,
    next: Next,
    example: &'static str,
) -> Column {
    Column {
        name,
        shown: true,
        blank: Some(blank),
        next,
        example: Some(example),
    }
}

/// Every column of `tasks`: the shown ones first, in [`Task`]'s order.
pub const COLUMNS: &[Column] = &[
    column("id", true, Next::Own),
    Column {
        example: Some("'example-user'"),
        ..column("user_id", true, Next::Copied)
    },
    content("title", "'-'", Next::Copied, "'An example title'"),
    content(
        "description",
        "NULL",
        Next::Copied,
        "'An example description'",
    ),
    content("completed", "0", Next::Own, "1"),
    content("priority", "0", Next::Copied, "3"),
    content("tags", "'{}'", Next::Copied, r#"'{"example":"Example"}'"#),
    content("due_at", "NULL", Next::Own, "1798761600000000"),
    content("remind_at", "NULL", Next::Own, "1798758000000000"),
    content(
        "recurrence",
        "NULL",
        Next::Own,
        r#"'{"frequency":"weekly","interval":2,"until":null,"anchor":"2027-01-01T00:00:00","index":0}'"#,
    ),
    content("time_zone", "'UTC'", Next::Copied, "'Europe/Paris'"),
    content("next_task_id", "NULL", Next::Default, "424242"),
    column("created_at", true, Next::Own),
    column("updated_at", true, Next::Own),
    // What a create's Idempotency-Key was bound to: gone with the task when it is deleted.
    column("idempotency_key", false, Next::Default),
    column("request_hash", false, Next::Default),
    // The task whose completion created this one: unique per user, so a task gets one.
    column("recurs_from", false, Next::Own),
    column("derived_stale", false, Next::Own),
    column("seq", false, Next::Own),
    column("deleted_at", false, Next::Default),
    column("purged", false, Next::Default),
    column("search_entry", false, Next::Own),
];

/// Properties of a task's JSON that are parts of one column rather than columns of their own.
pub const PARTS: &[(&str, &str)] = &[("interval", "recurrence"), ("until", "recurrence")];

/// The column a property of a task's JSON comes from.
pub fn shown_in(property: &str) -> Option<&'static Column> {
    let name = PARTS
        .iter()
        .find(|(part, _)| *part == property)
        .map_or(property, |(_, column)| *column);
    COLUMNS.iter().find(|column| column.name == name)
}

/// The shown columns as a select list, each prefixed with `prefix` (`""`, or `"t."` in a join).
pub fn task_columns(prefix: &str) -> String {
    COLUMNS
        .iter()
        .filter(|column| column.shown)
        .map(|column| format!("{prefix}{}", column.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SET` assignments that blank every content column and mark the row purged: what a task's
/// tombstone keeps past the retention is its id, owner, feed position and times.
pub fn wiped() -> String {
    let mut sets: Vec<String> = COLUMNS
        .iter()
        .filter_map(|column| {
            column
                .blank
                .map(|blank| format!("{} = {blank}", column.name))
        })
        .collect();
    sets.push("purged = 1".to_owned());
    sets.join(", ")
}

// The three lists statements splice in, as literals so that statement texts stay constant
// and readable; `tests::the_literals_are_the_definition` holds them to [`COLUMNS`].

/// `task_columns("")`.
pub const TASK_COLUMNS: &str = "id, user_id, title, description, completed, priority, tags, \
     due_at, remind_at, recurrence, time_zone, next_task_id, created_at, updated_at";
/// `task_columns("t.")`, for statements that join another table with like-named columns.
pub const TASK_COLUMNS_OF_T: &str = "t.id, t.user_id, t.title, t.description, t.completed, \
     t.priority, t.tags, t.due_at, t.remind_at, t.recurrence, t.time_zone, t.next_task_id, \
     t.created_at, t.updated_at";
/// `wiped()`.
pub const WIPED: &str = "title = '-', description = NULL, completed = 0, priority = 0, \
     tags = '{}', due_at = NULL, remind_at = NULL, recurrence = NULL, time_zone = 'UTC', \
     next_task_id = NULL, purged = 1";

pub(super) fn single(rows: Vec<Row>) -> Result<Option<Task>, StoreError> {
    rows.first().map(task_from_row).transpose()
}

pub(super) fn integer_or_zero(value: &Value) -> i64 {
    match value {
        Value::Integer(n) => *n,
        _ => 0,
    }
}

/// A task from the shown columns, in [`COLUMNS`]' order.
pub(super) fn task_from_row(row: &Row) -> Result<Task, StoreError> {
    let parse = || -> anyhow::Result<Task> {
        let [
            id,
            user_id,
            title,
            description,
            completed,
            priority,
            tags,
            due_at,
            remind_at,
            recurrence,
            time_zone,
            next_task_id,
            created_at,
            updated_at,
        ] = row.as_slice()
        else {
            return Err(anyhow!("expected 14 columns, got {}", row.len()));
        };
        let integer = |value: &Value, name: &str| match value {
            Value::Integer(n) => Ok(*n),
            other => Err(anyhow!("{name} is {other:?}")),
        };
        let text = |value: &Value, name: &str| match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(anyhow!("{name} is {other:?}")),
        };
        let optional_time = |value: &Value, name: &str| match value {
            Value::Null => Ok(None),
            other => integer(other, name).map(|n| Some(Timestamp::from_micros(n))),
        };
        Ok(Task {
            id: TaskId::from_db(integer(id, "id")?),
            user_id: text(user_id, "user_id")?,
            title: text(title, "title")?,
            description: match description {
                Value::Null => None,
                other => Some(text(other, "description")?),
            },
            completed: integer(completed, "completed")? != 0,
            priority: {
                let rank = integer(priority, "priority")?;
                TaskPriority::from_rank(rank).ok_or_else(|| anyhow!("priority is {rank}"))?
            },
            tags: TagSet::from_json(&text(tags, "tags")?)
                .ok_or_else(|| anyhow!("tags are not a JSON object of strings"))?,
            due_at: optional_time(due_at, "due_at")?,
            remind_at: optional_time(remind_at, "remind_at")?,
            recurrence: match recurrence {
                Value::Null => None,
                other => Some(rule_from_json(&text(other, "recurrence")?)?),
            },
            time_zone: TaskTimeZone::from_db(text(time_zone, "time_zone")?),
            next_task_id: match next_task_id {
                Value::Null => None,
                other => Some(TaskId::from_db(integer(other, "next_task_id")?)),
            },
            created_at: Timestamp::from_micros(integer(created_at, "created_at")?),
            updated_at: Timestamp::from_micros(integer(updated_at, "updated_at")?),
        })
    };
    parse()
        .context("reading a task row")
        .map_err(StoreError::Corrupt)
}

/// How a recurrence rule is stored: its fields and its series position, as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRule {
    frequency: String,
    interval: u16,
    until: Option<i64>,
    #[serde(flatten)]
    series: Series,
}

pub(super) fn rule_json(rule: &Recurrence) -> String {
    let stored = StoredRule {
        frequency: rule.frequency.as_str().to_owned(),
        interval: rule.interval.get(),
        until: rule.until.map(Timestamp::as_micros),
        series: rule.series.clone(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

fn rule_from_json(stored: &str) -> anyhow::Result<Recurrence> {
    let stored: StoredRule = serde_json::from_str(stored)?;
    Ok(Recurrence {
        frequency: Frequency::parse(&stored.frequency).map_err(|e| anyhow!(e))?,
        interval: Interval::new(i64::from(stored.interval)).map_err(|e| anyhow!(e))?,
        until: stored.until.map(Timestamp::from_micros),
        series: stored.series,
    })
}
