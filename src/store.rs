//! Every SQL statement of the API. Task statements take an [`Account`] and bind its user id as
//! a parameter; nothing user-supplied is ever formatted into SQL text. Every write is a single
//! statement (`… RETURNING`), atomic on any runtime and any connection.
//!
//! One statement per request on the hot path. Every statement is a round trip through the
//! runtime (and, on a libSQL server, the network), so the checks a request
//! needs (is the schema current? does a Better Auth user exist?) ride on the statement that
//! does the work: reads return them as extra columns, writes carry them in their `WHERE`.
//! Only when that statement comes back empty, which can also mean "schema behind" or "user
//! unknown", does a second statement ([`ensure_user`]) tell which, migrating if needed.

use crate::db::{Database, DbError, Nested, Row, Value};
use crate::domain::{
    AuthenticatedUser, Change, ChangesQuery, Cursor, CursorKey, Frequency, Identity, Interval,
    ListQuery, NewTask, Position, Recurrence, Series, SortKey, SortOrder, SortValue, StatusFilter,
    SyncToken, TagSet, Task, TaskId, TaskPatch, TaskPriority, TaskTimeZone, TrashRetention,
    TrashedTask, UserSource,
};
use crate::migrations;
use crate::time::Timestamp;
use anyhow::{Context, anyhow};

const TASK_COLUMNS: &str = "id, user_id, title, description, completed, priority, tags, due_at, \
     remind_at, recurrence, time_zone, next_task_id, created_at, updated_at";
/// The same, qualified, for statements that join another table with like-named columns.
const TASK_COLUMNS_OF_T: &str = "t.id, t.user_id, t.title, t.description, t.completed, \
     t.priority, t.tags, t.due_at, t.remind_at, t.recurrence, t.time_zone, t.next_task_id, \
     t.created_at, t.updated_at";

/// Whom the statements run for: the verified user, where users are known from, and the
/// token's identity (recorded on a user's first sight in `auto` mode).
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub user: &'a AuthenticatedUser,
    pub identity: &'a Identity,
    pub source: UserSource,
}

impl Account<'_> {
    fn id(&self) -> &str {
        self.user.id()
    }
}

/// The guard as extra result columns, after a statement's own: the schema version and, with
/// `better-auth`, whether the user exists. `?{user}` is the user id's parameter.
fn guard_columns(source: UserSource, user: u8) -> String {
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
fn guard_condition(source: UserSource, user: u8) -> String {
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
fn strip_guard(rows: &mut [Row], source: UserSource) -> Option<bool> {
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
enum Answer<T> {
    /// The guard held: this is the answer.
    Sure(T),
    /// Nothing came back: the answer, unless the schema is behind or the user unknown.
    Unsure(T),
}

impl<T> Answer<T> {
    /// A guarded read's answer: sure when its guard columns held ([`strip_guard`]).
    fn read(sure: bool, value: T) -> Self {
        if sure {
            Self::Sure(value)
        } else {
            Self::Unsure(value)
        }
    }
}

/// Runs a guarded statement; when its answer is [`Answer::Unsure`] (or the tables are missing),
/// asks [`ensure_user`], which migrates a database that is behind, and runs it once more if it
/// did. A write that missed runs once more in any case: another request may have finished
/// migrating between the write and the check, and a write left undone would be lost. A Better
/// Auth user that does not exist is [`StoreError::UnknownUser`].
async fn guarded<T>(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    attempt: impl AsyncFn() -> Result<Answer<T>, StoreError>,
) -> Result<T, StoreError> {
    guarded_as(db, account, now, false, attempt).await
}

async fn guarded_write<T>(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    attempt: impl AsyncFn() -> Result<Answer<T>, StoreError>,
) -> Result<T, StoreError> {
    guarded_as(db, account, now, true, attempt).await
}

async fn guarded_as<T>(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    write: bool,
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
        Some(value) if !checked.migrated && !write => Ok(value),
        _ => match attempt().await? {
            Answer::Sure(value) | Answer::Unsure(value) => Ok(value),
        },
    }
}

/// The `seq` a write stamps on the task it writes: one more than the user's highest, live or
/// deleted (under the trash id, see [`trash_of`]; migration 0011). Part of the write's own statement, so under SQLite's write lock:
/// two writes never get the same number and a later commit never gets a smaller one, on any
/// number of replicas. `?{user}` is the user id's parameter.
fn next_seq(user: u8) -> String {
    format!(
        "(SELECT coalesce(max(s), 0) + 1 FROM (\
           SELECT max(seq) AS s FROM tasks WHERE user_id = ?{user} \
           UNION ALL SELECT max(seq) FROM tasks WHERE user_id = {}))",
        trash_of(user)
    )
}

/// Whether a verified user exists (and, in the same statement, which schema version the
/// database has, so that checking for pending migrations costs no extra round trip).
fn user_check_sql(source: UserSource) -> &'static str {
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

/// What the store knows about the caller after [`ensure_user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Known,
    /// Only possible with `better-auth`: the user is not in Better Auth's table.
    Unknown,
}

#[derive(Debug)]
pub enum StoreError {
    Db(DbError),
    /// `user_source = better-auth`, and the user is not in Better Auth's table.
    UnknownUser,
    /// `user_source = better-auth`, but the database has no Better Auth `user` table.
    NoBetterAuthTable,
    /// The database answered something our schema cannot produce.
    Corrupt(anyhow::Error),
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        Self::Db(error)
    }
}

/// What [`ensure_user`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCheck {
    pub status: UserStatus,
    /// Whether it brought the schema up to date (a statement that found nothing before may
    /// find something now).
    pub migrated: bool,
}

/// Brings the schema up to date if needed and makes sure the user exists: recorded on first
/// sight in `auto` mode, looked up in Better Auth's table otherwise. The hot path needs it only
/// when a guarded statement comes back empty; it is two statements on a user's first request.
pub async fn ensure_user(
    db: &dyn Database,
    source: UserSource,
    identity: &Identity,
    now: Timestamp,
) -> Result<UserCheck, StoreError> {
    let check = async |db: &dyn Database| {
        db.execute(user_check_sql(source), &[identity.subject().into()])
            .await
    };
    let is_user_table = |table: &str| matches!(table, "user" | "main.user");
    let mut migrated = false;
    let rows = match check(db).await {
        // A database no request has seen yet: create the schema and ask again.
        Err(error) if error.missing_table().is_some_and(|t| !is_user_table(t)) => {
            migrations::apply(db, 0).await?;
            migrated = true;
            check(db).await
        }
        other => other,
    }
    .map_err(|error| match error.missing_table() {
        Some(table) if is_user_table(table) => StoreError::NoBetterAuthTable,
        _ => StoreError::Db(error),
    })?;
    let (version, exists) = match rows.first().map(Vec::as_slice) {
        Some([version, Value::Integer(exists)]) => (integer_or_zero(version), *exists != 0),
        _ => return Err(StoreError::Corrupt(anyhow!("unexpected user check result"))),
    };
    if version < migrations::LATEST {
        migrations::apply(db, version).await?;
        migrated = true;
    }
    let status = match (exists, source) {
        (true, _) => UserStatus::Known,
        (false, UserSource::BetterAuth) => UserStatus::Unknown,
        (false, UserSource::Auto) => {
            db.execute(
                "INSERT INTO users (id, email, name, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    identity.subject().into(),
                    identity.email.as_deref().into(),
                    identity.name.as_deref().into(),
                    now.as_micros().into(),
                ],
            )
            .await?;
            UserStatus::Known
        }
    };
    Ok(UserCheck { status, migrated })
}

/// The schema version, migrating first if the database is new or behind. Used by `/health`.
pub async fn ensure_schema(db: &dyn Database) -> Result<i64, StoreError> {
    let version = match db
        .execute("SELECT max(version) FROM schema_migrations", &[])
        .await
    {
        Ok(rows) => rows
            .first()
            .and_then(|row| row.first())
            .map_or(0, integer_or_zero),
        Err(error) if error.missing_table().is_some() => 0,
        Err(error) => return Err(error.into()),
    };
    if version < migrations::LATEST {
        migrations::apply(db, version).await?;
    }
    Ok(migrations::LATEST.max(version))
}

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
    let (tasks, next, cursor_key) = guarded(db, account, now, async || {
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
type PageRows = (Vec<Row>, Vec<Option<Value>>, Option<CursorKey>, bool);

async fn page_rows(
    db: &dyn Database,
    statement: &ListStatement,
    source: UserSource,
) -> Result<PageRows, StoreError> {
    let mut rows = db.execute(&statement.sql, &statement.params).await?;
    let cursor_key = rows
        .iter_mut()
        .filter_map(|row| row.pop())
        .last()
        .and_then(|key| match key {
            Value::Blob(bytes) => CursorKey::from_bytes(&bytes),
            _ => None,
        });
    let sure = strip_guard(&mut rows, source) == Some(true);
    let scores = rows
        .iter_mut()
        .map(|row| statement.scored.then(|| row.pop()).flatten())
        .collect();
    Ok((rows, scores, cursor_key, sure))
}

async fn read_cursor_key(db: &dyn Database) -> Result<Option<CursorKey>, StoreError> {
    let rows = db.execute(CURSOR_KEY, &[]).await?;
    Ok(rows
        .first()
        .and_then(|row| row.first())
        .and_then(|key| match key {
            Value::Blob(bytes) => CursorKey::from_bytes(bytes),
            _ => None,
        }))
}

const CURSOR_KEY: &str = "SELECT value FROM api_keys WHERE name = 'cursor'";

/// Where a page ended: its last task's value of the sort key (or the relevance score the
/// statement added), and its id.
fn position_of(task: &Task, score: Option<&Value>, sort: SortKey) -> Position {
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

/// Parameters numbered as they are added, so a statement binds exactly the ones it uses.
struct Params(Vec<Value>);

impl Params {
    fn push(&mut self, value: Value) -> String {
        self.0.push(value);
        format!("?{}", self.0.len())
    }
}

/// A list statement and its parameters. Its rows are the task's columns, then the relevance
/// score (when `scored`), the guard columns and the cursor key.
pub struct ListStatement {
    pub sql: String,
    pub params: Vec<Value>,
    scored: bool,
}

/// The filters of a list as `AND …` conditions, columns qualified with `t.` when `qualified`.
/// Built only from fixed fragments; every value the client chose is a parameter.
fn filter_conditions(
    query: &ListQuery,
    qualified: bool,
    params: &mut Params,
    now: Timestamp,
) -> String {
    let col = |name: &str| {
        if qualified {
            format!("t.{name}")
        } else {
            name.to_owned()
        }
    };
    let mut filter = String::new();
    // With sort=due the status is checked on the due index's rows (`+`), instead of SQLite
    // seeking a status index and sorting.
    let plus = if query.sort == SortKey::Due { "+" } else { "" };
    match query.status {
        StatusFilter::All => {}
        StatusFilter::Pending => filter += &format!(" AND {plus}{} = 0", col("completed")),
        StatusFilter::Completed => filter += &format!(" AND {plus}{} = 1", col("completed")),
    }
    // A filter on priorities reads the sort's own index and skips the rows of other
    // priorities (`+` keeps SQLite from seeking an index by priority and then sorting): one
    // index per sort order instead of one per combination, and a page costs in proportion to
    // the rows passed over to fill it. The ranks are the enum's, never the client's text.
    if let Some(ranks) = query.priority.ranks() {
        let ranks: Vec<String> = ranks.iter().map(i64::to_string).collect();
        filter += &format!(" AND +{} IN ({})", col("priority"), ranks.join(", "));
    }
    // Checked per row the sort's index yields (a primary-key probe), so a page costs the rows
    // passed over to fill it, not the number of tasks carrying the tag.
    for tag in &query.tags {
        let key = params.push(tag.key().into());
        filter += &format!(
            " AND EXISTS (SELECT 1 FROM task_tags WHERE user_id = ?1 AND tag = {key} \
             AND task_id = {})",
            col("id")
        );
    }
    if let Some(before) = query.due_before {
        let p = params.push(before.as_micros().into());
        filter += &format!(" AND {} < {p}", col("due_at"));
    }
    if let Some(after) = query.due_after {
        let p = params.push(after.as_micros().into());
        filter += &format!(" AND {} >= {p}", col("due_at"));
    }
    if let Some(overdue) = query.overdue {
        let p = params.push(now.as_micros().into());
        let (due, completed) = (col("due_at"), col("completed"));
        // `+`: the status is checked on the rows of the sort's index, whatever the sort.
        let condition = format!("{due} < {p} AND +{completed} = 0");
        filter += &if overdue {
            format!(" AND {condition}")
        } else {
            format!(" AND NOT ({due} IS NOT NULL AND {condition})")
        };
    }
    filter
}

/// ` AND …` for the rows from `start` on, and the `ORDER BY` that goes with it; `None` from
/// the first row. A row-value comparison on the sort's index columns, so SQLite seeks to the
/// position instead of stepping over the rows before it: a page by cursor costs the same at
/// any depth (`tests/query_plans.rs` checks each plan seeks).
fn after_position(
    query: &ListQuery,
    start: Start,
    params: &mut Params,
) -> Option<(String, String)> {
    let op = comparison(query.order);
    let direction = direction(query.order);
    let order = sort_clause(query.sort, direction);
    let position = match start {
        Start::First => return None,
        // Tasks without a due date come after every dated one, in id order.
        Start::Undated => {
            return Some((
                " AND (due_at IS NULL) = 1 AND due_at IS NULL".to_owned(),
                format!("id {direction}"),
            ));
        }
        Start::After(position) => position,
    };
    let v = sort_value(&position.value);
    let i = params.push(position.id.into());
    let condition = match (query.sort, &position.value) {
        // The collation on the value, not the column, so that SQLite seeks the NOCASE index.
        (SortKey::Title, _) => {
            let v = params.push(v);
            format!(" AND (title, id) {op} ({v} COLLATE NOCASE, {i})")
        }
        // sort=due's indexes lead with `due_at IS NULL`: fixing it makes the rest a range,
        // and the order within it due_at then id. Past the last dated task, the undated ones
        // by id; before that, the dated ones after the position (then `Start::Undated`).
        (SortKey::Due, SortValue::Null) => {
            return Some((
                format!(" AND (due_at IS NULL) = 1 AND due_at IS NULL AND id {op} {i}"),
                format!("id {direction}"),
            ));
        }
        (SortKey::Due, _) => {
            let v = params.push(v);
            return Some((
                format!(" AND (due_at IS NULL) = 0 AND (due_at, id) {op} ({v}, {i})"),
                format!("due_at {direction}, id {direction}"),
            ));
        }
        // Created, updated, priority: the plain column the index continues with.
        (sort, _) => {
            let v = params.push(v);
            let column = match sort {
                SortKey::Updated => "updated_at",
                SortKey::Priority => "priority",
                _ => "created_at",
            };
            format!(" AND ({column}, id) {op} ({v}, {i})")
        }
    };
    Some((condition, order))
}

fn direction(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

fn comparison(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => ">",
        SortOrder::Desc => "<",
    }
}

fn sort_value(value: &SortValue) -> Value {
    match value {
        SortValue::Integer(n) => Value::Integer(*n),
        SortValue::Text(text) => Value::Text(text.clone()),
        SortValue::Null => Value::Null,
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
enum Start<'a> {
    /// At the first row (or `offset` rows later).
    First,
    /// After this row.
    After(&'a Position),
    /// sort=due only: at the first task without a due date.
    Undated,
}

impl<'a> Start<'a> {
    /// After the cursor's (claimed) position, or at the first row.
    fn of(query: &'a ListQuery) -> Self {
        match query.cursor.as_ref().map(Cursor::claimed_position) {
            None => Self::First,
            Some(position) => Self::After(position),
        }
    }
}

/// The list statement for one combination of filters, sort, order and cursor, guarded for
/// `source` (`?1` is the user; limit and offset are literals).
pub fn list_statement(
    query: &ListQuery,
    source: UserSource,
    user_id: &str,
    now: Timestamp,
) -> ListStatement {
    list_statement_from(query, Start::of(query), source, user_id, now)
}

fn list_statement_from(
    query: &ListQuery,
    start: Start,
    source: UserSource,
    user_id: &str,
    now: Timestamp,
) -> ListStatement {
    let mut params = Params(Vec::new());
    params.push(user_id.into());
    // LIMIT and OFFSET are literals, from typed numbers: SQLite (3.54 here) re-prepares a
    // statement on every run whose LIMIT is a bound parameter (its planner reads the bound
    // value, and a new binding expires the plan), and under Spin every request prepares
    // afresh on its own connection: a parameter there doubled the list's prepare cost.
    let page = format!(
        "LIMIT {} OFFSET {}",
        query.limit,
        query.offset.min(i64::MAX as u64)
    );
    let ranked = query.sort == SortKey::Relevance && query.search.is_some();
    // A ranked search reads the FTS index and joins the user's rows; every other list reads
    // one of `tasks`' indexes in order. Columns are qualified in the join.
    let mut filter = filter_conditions(query, ranked, &mut params, now);
    let direction = direction(query.order);
    let tail = format!("{}, ({CURSOR_KEY})", guard_columns(source, 1));
    let Some(search) = &query.search else {
        let order = match after_position(query, start, &mut params) {
            Some((condition, order)) => {
                filter += &condition;
                order
            }
            None => sort_clause(query.sort, direction),
        };
        return ListStatement {
            sql: format!(
                "SELECT {TASK_COLUMNS}, {tail} FROM tasks WHERE user_id = ?1{filter} \
                 ORDER BY {order} {page}"
            ),
            params: params.0,
            scored: false,
        };
    };
    let matching = params.push(search.match_expression(user_id).into());
    if ranked {
        // Relevance from the caller's rows alone: each word found in the title counts 4, in
        // the description 1 (one FTS query per word and column, each evaluated once). bm25()
        // would weigh words by how common they are across every user's tasks, and so let the
        // order of one user's results depend on other users' text.
        let mut terms = Vec::new();
        for index in 0..search.words().len() {
            for (column, weight) in [("title", 4), ("description", 1)] {
                let p = params.push(search.word_in_column(index, column, user_id).into());
                terms.push(format!(
                    "{weight} * (t.id IN (SELECT rowid FROM task_search WHERE task_search MATCH {p}))"
                ));
            }
        }
        let score = format!("({})", terms.join(" + "));
        // The score is computed per matching row in any case (no index holds this order), so
        // a page by cursor filters on it rather than seeking.
        if let Start::After(position) = start {
            let v = params.push(sort_value(&position.value));
            let i = params.push(position.id.into());
            let op = comparison(query.order);
            filter += &format!(" AND ({score}, t.id) {op} ({v}, {i})");
        }
        ListStatement {
            sql: format!(
                "SELECT {TASK_COLUMNS_OF_T}, {score}, {tail} FROM task_search \
                 JOIN tasks t ON t.id = task_search.rowid \
                 WHERE task_search MATCH {matching} AND t.user_id = ?1{filter} \
                 ORDER BY {score} {direction}, t.id {direction} {page}"
            ),
            params: params.0,
            scored: true,
        }
    } else {
        let order = match after_position(query, start, &mut params) {
            Some((condition, order)) => {
                filter += &condition;
                order
            }
            None => sort_clause(query.sort, direction),
        };
        ListStatement {
            sql: format!(
                "SELECT {TASK_COLUMNS}, {tail} FROM tasks WHERE user_id = ?1{filter} \
                 AND id IN (SELECT rowid FROM task_search WHERE task_search MATCH {matching}) \
                 ORDER BY {order} {page}"
            ),
            params: params.0,
            scored: false,
        }
    }
}

/// `count=true`: how many of the user's tasks pass the list's filters (not its position), read
/// from the index the filters allow.
pub fn count_statement(query: &ListQuery, user_id: &str, now: Timestamp) -> (String, Vec<Value>) {
    let mut params = Params(Vec::new());
    params.push(user_id.into());
    let filter = filter_conditions(query, false, &mut params, now);
    let search = match &query.search {
        Some(search) => {
            let matching = params.push(search.match_expression(user_id).into());
            format!(" AND id IN (SELECT rowid FROM task_search WHERE task_search MATCH {matching})")
        }
        None => String::new(),
    };
    (
        format!("SELECT count(*) FROM tasks WHERE user_id = ?1{filter}{search}"),
        params.0,
    )
}

/// The statement text alone (for query plans): [`list_statement`] for any user.
pub fn list_sql(query: &ListQuery, source: UserSource) -> String {
    list_statement(query, source, "u", Timestamp::from_micros(0)).sql
}

/// The statement for sort=due's undated rows after the dated ones (for query plans).
pub fn undated_sql(query: &ListQuery, source: UserSource) -> String {
    list_statement_from(
        query,
        Start::Undated,
        source,
        "u",
        Timestamp::from_micros(0),
    )
    .sql
}

/// The count statement's text alone (for query plans).
pub fn count_sql(query: &ListQuery) -> String {
    count_statement(query, "u", Timestamp::from_micros(0)).0
}

/// `ORDER BY` for an index-ordered sort; ties break by id in the same direction.
fn sort_clause(sort: SortKey, direction: &str) -> String {
    let key = match sort {
        SortKey::Created => "created_at",
        SortKey::Updated => "updated_at",
        SortKey::Title => "title COLLATE NOCASE",
        SortKey::Priority => "priority",
        // Tasks without a due date last in both directions (migration 0008's two indexes).
        SortKey::Due => "due_at IS NULL, due_at",
        SortKey::Relevance => "id",
    };
    format!("{key} {direction}, id {direction}")
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
    guarded(db, account, now, async || {
        let mut rows = db
            .execute(&sql, &[id.get().into(), account.id().into()])
            .await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        let task = single(rows)?;
        Ok(Answer::read(sure, task))
    })
    .await
}

/// A guarded write's answer: rows mean the guard held.
fn written<T>(value: Option<T>) -> Answer<Option<T>> {
    match value {
        Some(value) => Answer::Sure(Some(value)),
        None => Answer::Unsure(None),
    }
}

/// Runs `body` as one transaction. `BEGIN IMMEDIATE` takes the write lock first, so two
/// writers never deadlock upgrading a read lock. It holds only this request's statements: the
/// component keeps one connection per instance, and no other request of the instance runs
/// while this one is between two statements (`spin_adapter` says why).
async fn in_transaction<T, E: From<StoreError>>(
    db: &dyn Database,
    body: impl AsyncFnOnce() -> Result<T, E>,
) -> Result<T, E> {
    // Inside a batch's transaction, a unit that must be all-or-nothing is a savepoint.
    let (begin, commit, rollback): (&str, &str, &[&str]) = if db.nested() {
        (
            "SAVEPOINT unit",
            "RELEASE unit",
            &["ROLLBACK TO unit", "RELEASE unit"],
        )
    } else {
        ("BEGIN IMMEDIATE", "COMMIT", &["ROLLBACK"])
    };
    db.execute(begin, &[]).await.map_err(StoreError::from)?;
    let outcome = match body().await {
        Ok(value) => match db.execute(commit, &[]).await {
            Ok(_) => Ok(value),
            Err(error) => Err(StoreError::from(error).into()),
        },
        Err(error) => Err(error),
    };
    if outcome.is_err() {
        // Nothing to undo if COMMIT itself went through; SQLite answers an error then.
        for statement in rollback {
            let _ = db.execute(statement, &[]).await;
        }
    }
    outcome
}

/// Runs `body` in one transaction, handing it the database as [`Nested`], and commits only if
/// it succeeds: all of it or none (see [`in_transaction`] for why no other request's statement
/// lands inside it).
pub async fn in_batch<T, E: From<StoreError>>(
    db: &dyn Database,
    body: impl AsyncFnOnce(&dyn Database) -> Result<T, E>,
) -> Result<T, E> {
    ensure_schema(db).await?;
    in_transaction(db, async || body(&Nested(db)).await).await
}

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
async fn refresh_derived(db: &dyn Database, user_id: &str) -> Result<(), StoreError> {
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
    if let Some(created) = guarded_write(db, account, now, insert).await? {
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

/// A write's precondition from `If-Match`: `None` for none, else the `updated_at` values the
/// client's ETags name (an empty list can never match).
pub type Expected<'a> = Option<&'a [i64]>;

/// `?N IS NULL OR updated_at IN (…)`, with the list passed as one JSON array parameter, so one
/// statement text serves conditional and unconditional writes and the check is atomic with
/// the write.
fn expected_param(expected: Expected) -> Value {
    match expected {
        None => Value::Null,
        Some(versions) => {
            Value::Text(serde_json::to_string(versions).unwrap_or_else(|_| "[]".to_owned()))
        }
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
    let sql = format!(
        "UPDATE tasks SET \
           title = coalesce(?3, title), \
           description = CASE WHEN ?4 THEN ?5 ELSE description END, \
           completed = coalesce(?6, completed), \
           priority = coalesce(?9, priority), \
           tags = coalesce(?10, tags), \
           derived_stale = CASE WHEN ?11 THEN 1 ELSE derived_stale END, \
           updated_at = max(?7, updated_at + 1), seq = {} \
         WHERE id = ?1 AND user_id = ?2 \
           AND (?8 IS NULL OR updated_at IN (SELECT value FROM json_each(?8))) \
           AND NOT (coalesce(?6, 0) = 1 AND {RECURRING_COMPLETION}) AND {} \
         RETURNING {TASK_COLUMNS}",
        next_seq(2),
        guard_condition(account.source, 2)
    );
    // A new title, description or tags changes the task's search entry or tag rows.
    let touches_derived =
        patch.title.is_some() || patch.description.is_some() || patch.tags.is_some();
    guarded_write(db, account, now, async || {
        let rows = db
            .execute(
                &sql,
                &[
                    id.get().into(),
                    account.id().into(),
                    patch.title.as_ref().map(|t| t.as_str()).into(),
                    set_description.into(),
                    description.into(),
                    patch.completed.into(),
                    now.as_micros().into(),
                    expected_param(expected),
                    patch.priority.map(TaskPriority::rank).into(),
                    patch.tags.as_ref().map(TagSet::to_json).into(),
                    touches_derived.into(),
                ],
            )
            .await?;
        Ok(written(single(rows)?))
    })
    .await
}

/// A row whose completion would create its next occurrence ([`Task::completion_recurs`]).
const RECURRING_COMPLETION: &str =
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
    let sql = format!(
        "UPDATE tasks SET completed = 1 - completed, updated_at = max(?3, updated_at + 1), \
           seq = {} \
         WHERE id = ?1 AND user_id = ?2 \
           AND (?4 IS NULL OR updated_at IN (SELECT value FROM json_each(?4))) \
           AND NOT {RECURRING_COMPLETION} AND {} \
         RETURNING {TASK_COLUMNS}",
        next_seq(2),
        guard_condition(account.source, 2)
    );
    guarded_write(db, account, now, async || {
        let rows = db
            .execute(
                &sql,
                &[
                    id.get().into(),
                    account.id().into(),
                    now.as_micros().into(),
                    expected_param(expected),
                ],
            )
            .await?;
        Ok(written(single(rows)?))
    })
    .await
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
    let sql = format!(
        "UPDATE tasks SET title = ?4, description = ?5, completed = ?6, priority = ?7, \
           tags = ?8, due_at = ?9, remind_at = ?10, recurrence = ?11, time_zone = ?12, \
           derived_stale = CASE WHEN title IS NOT ?4 OR description IS NOT ?5 \
             OR tags IS NOT ?8 THEN 1 ELSE derived_stale END, \
           updated_at = max(?13, updated_at + 1), seq = {} \
         WHERE id = ?1 AND user_id = ?2 AND updated_at = ?3 AND {} \
         RETURNING {TASK_COLUMNS}",
        next_seq(2),
        guard_condition(account.source, 2)
    );
    guarded_write(db, account, now, async || {
        let rows = db
            .execute(
                &sql,
                &[
                    task.id.get().into(),
                    account.id().into(),
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
            .await?;
        Ok(written(single(rows)?))
    })
    .await
}

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
    let created = guarded_write(db, account, now, async || {
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
    guarded(db, account, now, async || {
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

/// How a recurrence rule is stored: its fields and its series position, as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRule {
    frequency: String,
    interval: u16,
    until: Option<i64>,
    #[serde(flatten)]
    series: Series,
}

fn rule_json(rule: &Recurrence) -> String {
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

/// The owner id a deleted task is kept under (migration 0011): a control character no user id
/// can hold, then the owner's id. `?{user}` is the owner's parameter.
fn trash_of(user: u8) -> String {
    format!("(char(1) || ?{user})")
}

/// The content a purged tombstone keeps: none (the CHECK on `title` wants one character).
const WIPED: &str = "title = '-', description = NULL, tags = '{}', due_at = NULL, \
     remind_at = NULL, recurrence = NULL, next_task_id = NULL, purged = 1";

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
           AND (?4 IS NULL OR updated_at IN (SELECT value FROM json_each(?4))) AND {guard} \
         RETURNING EXISTS (SELECT 1 FROM task_tags WHERE task_id = ?1), \
           EXISTS (SELECT 1 FROM tasks INDEXED BY tasks_trash WHERE user_id = {trash} \
             AND deleted_at IS NOT NULL AND purged = 0 AND deleted_at <= ?5), \
           search_entry",
        trash = trash_of(2),
        seq = next_seq(2),
        guard = guard_condition(account.source, 2)
    );
    let deleted = guarded_write(db, account, now, async || {
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
async fn purge_trash(
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
    guarded_write(db, account, now, async || {
        let rows = db
            .execute(
                &sql,
                &[
                    id.get().into(),
                    account.id().into(),
                    now.as_micros().into(),
                    retention.cutoff(now).as_micros().into(),
                ],
            )
            .await?;
        Ok(written(single(rows)?))
    })
    .await
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
    guarded(db, account, now, async || {
        let mut rows = db
            .execute(
                &sql,
                &[
                    account.id().into(),
                    retention.cutoff(now).as_micros().into(),
                ],
            )
            .await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        let trash = rows
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
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Answer::read(sure, trash))
    })
    .await
}

/// One page of the changes feed, as the route answers it.
#[derive(Debug, serde::Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
    /// Where the next call starts: after the last change here, or where this one started.
    #[serde(serialize_with = "serialize_display")]
    pub next: SyncToken,
    /// Whether more changes follow right away (the page was full).
    pub more: bool,
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
    let sql = format!(
        "SELECT c.*, {guard} FROM ( \
           SELECT seq, 0 AS gone, {TASK_COLUMNS}, NULL AS deleted_at FROM tasks \
             WHERE user_id = ?1 AND seq > ?2 \
           UNION ALL \
           SELECT seq, 1, {TASK_COLUMNS}, deleted_at FROM tasks \
             WHERE user_id = {trash} AND seq > ?2 \
           ORDER BY 1 LIMIT {limit}) c",
        guard = guard_columns(account.source, 1),
        trash = trash_of(1),
        // A literal, as in the list: a bound LIMIT re-prepares the statement on every run.
        limit = query.limit
    );
    let rows = guarded(db, account, now, async || {
        let mut rows = db
            .execute(&sql, &[account.id().into(), query.since.seq().into()])
            .await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        Ok(Answer::read(sure, rows))
    })
    .await?;
    let mut next = query.since;
    let mut out = Vec::with_capacity(rows.len());
    for mut row in rows {
        // seq, gone, the task's columns, deleted_at (task_from_row checks the middle).
        if row.len() < 3 {
            return Err(StoreError::Corrupt(anyhow!("change row {row:?}")));
        }
        let deleted_at = row.pop().unwrap_or(Value::Null);
        let task = row.split_off(2);
        next = SyncToken::from_seq(integer_or_zero(&row[0]));
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
    })
}

fn serialize_display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

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
    let tasks = guarded(db, account, now, async || {
        let mut rows = db.execute(&sql, &[account.id().into()]).await?;
        let sure = strip_guard(&mut rows, account.source) == Some(true);
        let tasks = rows
            .iter()
            .map(task_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Answer::read(sure, tasks))
    })
    .await?;
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
        db.execute(
            "DELETE FROM task_tags WHERE user_id = ?1",
            std::slice::from_ref(&user),
        )
        .await?;
        db.execute(
            "DELETE FROM tasks WHERE user_id = ?1",
            std::slice::from_ref(&user),
        )
        .await?;
        db.execute(
            "DELETE FROM rate_limits WHERE user_id = ?1",
            std::slice::from_ref(&user),
        )
        .await?;
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

/// The live JWKS cache row of `url`: the last document that parsed (if any), when it was
/// fetched, and when a fetch was last attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedJwks {
    pub jwks: Option<String>,
    pub fetched_at: Option<i64>,
    pub attempted_at: Option<i64>,
}

pub async fn cached_jwks(db: &dyn Database, url: &str) -> Result<Option<CachedJwks>, StoreError> {
    let select = async || {
        db.execute(
            "SELECT jwks, fetched_at, attempted_at FROM jwks_cache WHERE url = ?1",
            &[url.into()],
        )
        .await
    };
    let rows = match select().await {
        // A database no request has migrated yet.
        Err(error) if error.schema_behind() => {
            ensure_schema(db).await?;
            select().await?
        }
        other => other?,
    };
    Ok(rows.into_iter().next().map(|row| {
        let mut values = row.into_iter();
        let jwks = match values.next() {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        };
        let mut integer = || match values.next() {
            Some(Value::Integer(at)) => Some(at),
            _ => None,
        };
        let fetched_at = integer();
        let attempted_at = integer();
        CachedJwks {
            jwks,
            fetched_at,
            attempted_at,
        }
    }))
}

/// Takes the next fetch of `url` if no attempt happened since `not_since` (µs): one atomic
/// statement, so concurrent requests cannot both win.
pub async fn claim_jwks_fetch(
    db: &dyn Database,
    url: &str,
    now: Timestamp,
    not_since: i64,
) -> Result<bool, StoreError> {
    let rows = db
        .execute(
            "INSERT INTO jwks_cache (url, attempted_at) VALUES (?1, ?2) \
         ON CONFLICT (url) DO UPDATE SET attempted_at = excluded.attempted_at \
         WHERE jwks_cache.attempted_at <= ?3 \
         RETURNING 1",
            &[url.into(), now.as_micros().into(), not_since.into()],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Stores a document that parsed as a JWKS.
pub async fn save_jwks(
    db: &dyn Database,
    url: &str,
    jwks: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE jwks_cache SET jwks = ?2, fetched_at = ?3 WHERE url = ?1",
        &[url.into(), jwks.into(), now.as_micros().into()],
    )
    .await?;
    Ok(())
}

/// Counts one request of `user` in the one-minute window containing `now` and returns the
/// window's count so far. One upsert: concurrent requests, on any replica, each count once. A
/// replica whose clock is behind never moves a window back.
pub async fn count_request(
    db: &dyn Database,
    user: &AuthenticatedUser,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let window = now.as_micros().div_euclid(60_000_000);
    let upsert = async || {
        db.execute(
            "INSERT INTO rate_limits (user_id, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (user_id) DO UPDATE SET \
           count = CASE WHEN excluded.window_start > rate_limits.window_start THEN 1 \
                        ELSE rate_limits.count + 1 END, \
           window_start = max(rate_limits.window_start, excluded.window_start) \
         RETURNING count",
            &[user.id().into(), window.into()],
        )
        .await
    };
    // The limiter runs before any guarded statement: on a database no request has seen yet
    // it is the first to find the tables missing.
    let rows = match upsert().await {
        Err(error) if error.schema_behind() => {
            ensure_schema(db).await?;
            upsert().await?
        }
        other => other?,
    };
    match rows.first().map(Vec::as_slice) {
        Some(&[Value::Integer(count)]) => Ok(count),
        _ => Err(StoreError::Corrupt(anyhow!(
            "rate limit upsert returned no count"
        ))),
    }
}

fn single(rows: Vec<Row>) -> Result<Option<Task>, StoreError> {
    rows.first().map(task_from_row).transpose()
}

fn integer_or_zero(value: &Value) -> i64 {
    match value {
        Value::Integer(n) => *n,
        _ => 0,
    }
}

fn task_from_row(row: &Row) -> Result<Task, StoreError> {
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

#[cfg(test)]
fn tests_support_account(id: &str) -> Account<'static> {
    Account {
        user: Box::leak(Box::new(AuthenticatedUser::for_tests(id))),
        identity: Box::leak(Box::new(Identity::for_tests(id))),
        source: UserSource::Auto,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;
    use crate::domain::{TaskDescription, TaskTitle};
    use crate::sqlite::SqliteDb;

    fn identity(id: &str) -> Identity {
        Identity::for_tests(id)
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    fn setup(users: &[&str]) -> SqliteDb {
        let db = SqliteDb::in_memory();
        for user in users {
            ensure_user(&db, UserSource::Auto, &identity(user), at(1))
                .now()
                .unwrap();
        }
        db
    }

    fn new_task(title: &str) -> NewTask {
        NewTask {
            title: TaskTitle::parse(title).unwrap(),
            description: None,
            completed: false,
            priority: TaskPriority::None,
            tags: Default::default(),
            schedule: Default::default(),
        }
    }

    fn create_plain(
        db: &SqliteDb,
        user: &Account,
        task: &NewTask,
        now: Timestamp,
    ) -> Result<Task, StoreError> {
        match create_task(db, user, task, None, now).now()? {
            Created::New(task) => Ok(task),
            other => panic!("an unkeyed create made {other:?}"),
        }
    }

    /// An `auto`-mode account for `id` (leaked: tests are short-lived).
    /// The default trash retention (30 days).
    fn keep() -> TrashRetention {
        TrashRetention::days(30).unwrap()
    }

    fn user(id: &str) -> Account<'static> {
        account(id, UserSource::Auto)
    }

    fn account(id: &str, source: UserSource) -> Account<'static> {
        Account {
            user: Box::leak(Box::new(AuthenticatedUser::for_tests(id))),
            identity: Box::leak(Box::new(Identity::for_tests(id))),
            source,
        }
    }

    #[test]
    fn a_fresh_database_is_migrated_by_the_first_request() {
        let db = SqliteDb::in_memory();
        assert_eq!(
            ensure_user(&db, UserSource::Auto, &identity("a"), at(5))
                .now()
                .unwrap()
                .status,
            UserStatus::Known
        );
        let rows = db
            .execute("SELECT id, created_at FROM users", &[])
            .now()
            .unwrap();
        assert_eq!(rows, vec![vec![Value::Text("a".into()), Value::Integer(5)]]);
        assert_eq!(ensure_schema(&db).now().unwrap(), migrations::LATEST);
    }

    #[test]
    fn migrations_rerun_on_an_existing_database_keep_data() {
        let db = setup(&["a"]);
        create_plain(&db, &user("a"), &new_task("keep me"), at(10)).unwrap();
        migrations::apply(&db, 0).now().unwrap();
        assert_eq!(
            list_tasks(&db, &user("a"), &ListQuery::default(), at(0))
                .now()
                .unwrap()
                .tasks
                .len(),
            1
        );
        let versions = db
            .execute("SELECT version FROM schema_migrations", &[])
            .now()
            .unwrap();
        assert_eq!(versions.len(), migrations::MIGRATIONS.len());
    }

    #[test]
    fn better_auth_mode_needs_the_user_table_and_the_user() {
        let db = setup(&[]);
        let missing = ensure_user(&db, UserSource::BetterAuth, &identity("a"), at(1)).now();
        assert!(
            matches!(missing, Err(StoreError::NoBetterAuthTable)),
            "{missing:?}"
        );
        db.execute(
            "CREATE TABLE \"user\" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, \
             emailVerified INTEGER NOT NULL, image TEXT, createdAt DATE NOT NULL, updatedAt DATE NOT NULL)",
            &[],
        ).now()
        .unwrap();
        db.execute(
            "INSERT INTO \"user\" VALUES ('a', 'Ann', 'a@x', 0, NULL, '2026-01-01', '2026-01-01')",
            &[],
        )
        .now()
        .unwrap();
        assert_eq!(
            ensure_user(&db, UserSource::BetterAuth, &identity("a"), at(1))
                .now()
                .unwrap()
                .status,
            UserStatus::Known
        );
        assert_eq!(
            ensure_user(&db, UserSource::BetterAuth, &identity("b"), at(1))
                .now()
                .unwrap()
                .status,
            UserStatus::Unknown
        );
        // Better Auth mode never writes our users table.
        assert!(
            db.execute("SELECT * FROM users", &[])
                .now()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn create_get_update_toggle_delete() {
        let db = setup(&["a"]);
        let a = user("a");
        let task = create_plain(
            &db,
            &a,
            &NewTask {
                title: TaskTitle::parse("t").unwrap(),
                description: Some(TaskDescription::parse("d").unwrap()),
                completed: false,
                priority: TaskPriority::None,
                tags: Default::default(),
                schedule: Default::default(),
            },
            at(100),
        )
        .unwrap();
        assert_eq!((task.created_at, task.updated_at), (at(100), at(100)));
        assert_eq!(
            get_task(&db, &a, task.id, at(0)).now().unwrap(),
            Some(task.clone())
        );

        let patch = TaskPatch {
            description: Some(None),
            ..TaskPatch::default()
        };
        let updated = update_task(&db, &a, task.id, &patch, None, at(200))
            .now()
            .unwrap()
            .unwrap();
        assert_eq!(updated.description, None);
        assert_eq!(updated.title, "t");
        assert_eq!(updated.created_at, at(100));
        assert_eq!(updated.updated_at, at(200));

        let toggled = toggle_task(&db, &a, task.id, None, at(300))
            .now()
            .unwrap()
            .unwrap();
        assert!(toggled.completed);
        assert!(
            !toggle_task(&db, &a, task.id, None, at(400))
                .now()
                .unwrap()
                .unwrap()
                .completed
        );

        assert!(
            delete_task(&db, &a, task.id, None, keep(), at(0))
                .now()
                .unwrap()
        );
        assert!(
            !delete_task(&db, &a, task.id, None, keep(), at(0))
                .now()
                .unwrap()
        );
        assert_eq!(get_task(&db, &a, task.id, at(0)).now().unwrap(), None);
    }

    #[test]
    fn updated_at_moves_even_when_the_clock_does_not() {
        let db = setup(&["a"]);
        let a = user("a");
        let task = create_plain(&db, &a, &new_task("t"), at(1000)).unwrap();
        let same_tick = toggle_task(&db, &a, task.id, None, at(1000))
            .now()
            .unwrap()
            .unwrap();
        assert!(same_tick.updated_at > task.updated_at);
        let clock_went_back = update_task(&db, &a, task.id, &TaskPatch::default(), None, at(10))
            .now()
            .unwrap()
            .unwrap();
        assert!(clock_went_back.updated_at > same_tick.updated_at);
        assert_eq!(clock_went_back.created_at, at(1000));
    }

    #[test]
    fn other_users_tasks_are_invisible_and_untouchable() {
        let db = setup(&["a", "b"]);
        let (a, b) = (user("a"), user("b"));
        let task = create_plain(&db, &a, &new_task("a's"), at(1)).unwrap();
        assert_eq!(get_task(&db, &b, task.id, at(0)).now().unwrap(), None);
        assert_eq!(
            toggle_task(&db, &b, task.id, None, at(2)).now().unwrap(),
            None
        );
        let patch = TaskPatch {
            title: Some(TaskTitle::parse("mine").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            update_task(&db, &b, task.id, &patch, None, at(2))
                .now()
                .unwrap(),
            None
        );
        assert!(
            !delete_task(&db, &b, task.id, None, keep(), at(0))
                .now()
                .unwrap()
        );
        assert!(
            list_tasks(&db, &b, &ListQuery::default(), at(0))
                .now()
                .unwrap()
                .tasks
                .is_empty()
        );
        assert_eq!(get_task(&db, &a, task.id, at(0)).now().unwrap(), Some(task));
    }

    #[test]
    fn sql_looking_and_unicode_titles_round_trip() {
        let db = setup(&["a"]);
        let a = user("a");
        for title in [
            "'); DROP TABLE tasks; --",
            "Ünïcödé 🦀 漢字",
            "\"quoted\" % _ \\",
        ] {
            let task = create_plain(&db, &a, &new_task(title), at(1)).unwrap();
            assert_eq!(
                get_task(&db, &a, task.id, at(0))
                    .now()
                    .unwrap()
                    .unwrap()
                    .title,
                title
            );
        }
        assert_eq!(
            list_tasks(&db, &a, &ListQuery::default(), at(0))
                .now()
                .unwrap()
                .tasks
                .len(),
            3
        );
    }

    fn titles(db: &SqliteDb, query: &str) -> Vec<String> {
        let query = ListQuery::parse(query).unwrap();
        list_tasks(db, &user("a"), &query, at(0))
            .now()
            .unwrap()
            .tasks
            .into_iter()
            .map(|t| t.title)
            .collect()
    }

    #[test]
    fn list_filters_sorts_and_pages() {
        let db = setup(&["a", "b"]);
        let a = user("a");
        // Created in this order, with a tie on created_at between "b" and "C".
        for (title, time) in [("b", 10), ("C", 10), ("a", 20), ("d", 30)] {
            create_plain(&db, &a, &new_task(title), at(time)).unwrap();
        }
        create_plain(&db, &user("b"), &new_task("not a's"), at(15)).unwrap();
        let d = list_tasks(&db, &a, &ListQuery::default(), at(0))
            .now()
            .unwrap()
            .tasks[0]
            .id;
        toggle_task(&db, &a, d, None, at(40)).now().unwrap();

        assert_eq!(titles(&db, ""), ["d", "a", "C", "b"]);
        assert_eq!(titles(&db, "order=asc"), ["b", "C", "a", "d"]);
        assert_eq!(titles(&db, "sort=title"), ["a", "b", "C", "d"]);
        assert_eq!(titles(&db, "sort=title&order=desc"), ["d", "C", "b", "a"]);
        assert_eq!(titles(&db, "sort=updated"), ["d", "a", "C", "b"]);
        assert_eq!(titles(&db, "status=completed"), ["d"]);
        assert_eq!(titles(&db, "status=pending"), ["a", "C", "b"]);
        assert_eq!(titles(&db, "limit=2"), ["d", "a"]);
        assert_eq!(titles(&db, "limit=2&offset=2"), ["C", "b"]);
        assert!(titles(&db, "offset=9223372036854775807").is_empty());
    }

    #[test]
    fn pages_never_repeat_or_skip_with_ties() {
        let db = setup(&["a"]);
        let a = user("a");
        for i in 0..25 {
            create_plain(
                &db,
                &a,
                &new_task(if i % 2 == 0 { "same" } else { "SAME" }),
                at(7),
            )
            .unwrap();
        }
        for query in [
            "sort=created",
            "sort=updated",
            "sort=title",
            "sort=title&order=desc",
            "order=asc",
        ] {
            let mut seen = Vec::new();
            for page in 0..5 {
                let q = ListQuery::parse(&format!("{query}&limit=6&offset={}", page * 6)).unwrap();
                seen.extend(
                    list_tasks(&db, &a, &q, at(0))
                        .now()
                        .unwrap()
                        .tasks
                        .into_iter()
                        .map(|t| t.id),
                );
            }
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (25, 25), "{query}");
        }
    }

    #[test]
    fn every_list_query_is_served_by_an_index_in_order() {
        let db = setup(&["a"]);
        for status in ["all", "pending", "completed"] {
            for sort in ["created", "updated", "title"] {
                for order in ["asc", "desc"] {
                    let query =
                        ListQuery::parse(&format!("status={status}&sort={sort}&order={order}"))
                            .unwrap();
                    let listed =
                        list_statement(&query, UserSource::Auto, "a", Timestamp::from_micros(1));
                    let plan = db
                        .execute(
                            &format!("EXPLAIN QUERY PLAN {}", listed.sql),
                            &listed.params,
                        )
                        .now()
                        .unwrap();
                    let details: Vec<String> = plan
                        .iter()
                        .filter_map(|row| match row.last() {
                            Some(Value::Text(detail)) => Some(detail.clone()),
                            _ => None,
                        })
                        .collect();
                    let text = details.join(" | ");
                    assert!(
                        text.contains("USING INDEX tasks_by_user_"),
                        "{status}/{sort}/{order}: {text}"
                    );
                    assert!(
                        !text.contains("TEMP B-TREE"),
                        "{status}/{sort}/{order} sorts: {text}"
                    );
                    let expected = match (status, sort) {
                        ("all", s) => format!("tasks_by_user_{s} "),
                        (_, s) => format!("tasks_by_user_status_{s} "),
                    };
                    assert!(text.contains(&expected), "{status}/{sort}: {text}");
                }
            }
        }
    }

    #[test]
    fn keyed_creates_replay_and_refuse_other_bodies() {
        let db = setup(&["a", "b"]);
        let a = user("a");
        let key = IdempotencyKey {
            key: "k1",
            request_hash: "h1",
        };
        let Created::New(first) = create_task(&db, &a, &new_task("t"), Some(&key), at(1))
            .now()
            .unwrap()
        else {
            panic!("first create")
        };
        assert_eq!(
            create_task(&db, &a, &new_task("t"), Some(&key), at(2))
                .now()
                .unwrap(),
            Created::Replayed(first.clone())
        );
        let other_body = IdempotencyKey {
            key: "k1",
            request_hash: "h2",
        };
        assert_eq!(
            create_task(&db, &a, &new_task("u"), Some(&other_body), at(3))
                .now()
                .unwrap(),
            Created::KeyReused
        );
        // Keys are per user.
        assert!(matches!(
            create_task(&db, &user("b"), &new_task("t"), Some(&key), at(4))
                .now()
                .unwrap(),
            Created::New(_)
        ));
        assert_eq!(
            list_tasks(&db, &a, &ListQuery::default(), at(0))
                .now()
                .unwrap()
                .tasks,
            vec![first.clone()]
        );
        // A deleted task takes its key with it.
        assert!(
            delete_task(&db, &a, first.id, None, keep(), at(0))
                .now()
                .unwrap()
        );
        assert!(matches!(
            create_task(&db, &a, &new_task("t"), Some(&key), at(5))
                .now()
                .unwrap(),
            Created::New(_)
        ));
    }

    #[test]
    fn writes_honour_expected_versions() {
        let db = setup(&["a"]);
        let a = user("a");
        let task = create_plain(&db, &a, &new_task("t"), at(10)).unwrap();
        let stale = [task.updated_at.as_micros() - 1];
        let current = [task.updated_at.as_micros()];
        assert_eq!(
            toggle_task(&db, &a, task.id, Some(&stale), at(20))
                .now()
                .unwrap(),
            None
        );
        assert_eq!(
            toggle_task(&db, &a, task.id, Some(&[]), at(20))
                .now()
                .unwrap(),
            None
        );
        let toggled = toggle_task(&db, &a, task.id, Some(&[1, current[0]]), at(20))
            .now()
            .unwrap()
            .unwrap();
        assert!(toggled.completed);
        let patch = TaskPatch::default();
        assert_eq!(
            update_task(&db, &a, task.id, &patch, Some(&current), at(30))
                .now()
                .unwrap(),
            None,
            "now stale"
        );
        assert!(
            !delete_task(&db, &a, task.id, Some(&current), keep(), at(0))
                .now()
                .unwrap()
        );
        assert!(
            delete_task(
                &db,
                &a,
                task.id,
                Some(&[toggled.updated_at.as_micros()]),
                keep(),
                at(0)
            )
            .now()
            .unwrap()
        );
    }

    #[test]
    fn request_counts_reset_each_minute_and_never_go_back() {
        let db = setup(&["a", "b"]);
        let minute = 60_000_000;
        let count = |user: &str, at_micros: i64| {
            count_request(&db, &user_for(user), at(at_micros))
                .now()
                .unwrap()
        };
        assert_eq!(
            (
                count("a", 5 * minute),
                count("a", 5 * minute + 1),
                count("a", 6 * minute - 1)
            ),
            (1, 2, 3)
        );
        assert_eq!(count("b", 5 * minute), 1, "per user");
        assert_eq!(count("a", 6 * minute), 1, "a new window");
        assert_eq!(
            count("a", 5 * minute + 30),
            2,
            "a lagging clock counts in the current window"
        );
    }

    fn user_for(id: &str) -> AuthenticatedUser {
        AuthenticatedUser::for_tests(id)
    }

    #[test]
    fn the_trash_keeps_a_task_for_the_retention_then_only_its_tombstone() {
        let db = setup(&["a", "b"]);
        let (a, b) = (user("a"), user("b"));
        let day = 86_400_000_000;
        let two_days = TrashRetention::days(2).unwrap();
        let task = create_plain(&db, &a, &new_task("kept a while"), at(day)).unwrap();
        let other = create_plain(&db, &a, &new_task("deleted later"), at(day)).unwrap();
        assert!(
            delete_task(&db, &a, task.id, None, two_days, at(2 * day))
                .now()
                .unwrap()
        );
        // Another user can neither see nor restore it.
        assert!(
            list_trash(&db, &b, two_days, at(2 * day))
                .now()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            restore_task(&db, &b, task.id, two_days, at(2 * day))
                .now()
                .unwrap(),
            None
        );
        let trash = list_trash(&db, &a, two_days, at(3 * day)).now().unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].task, task);
        assert_eq!(trash[0].deleted_at, at(2 * day));
        // Past the retention: not listed, not restorable, even before a purge ran.
        assert!(
            list_trash(&db, &a, two_days, at(5 * day))
                .now()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            restore_task(&db, &a, task.id, two_days, at(5 * day))
                .now()
                .unwrap(),
            None
        );
        let stored = |id: TaskId| -> Vec<Value> {
            db.execute(
                "SELECT purged, title, user_id FROM tasks WHERE id = ?1",
                &[id.get().into()],
            )
            .now()
            .unwrap()
            .remove(0)
        };
        assert_eq!(
            stored(task.id),
            [Value::Integer(0), "kept a while".into(), "\u{1}a".into()]
        );
        // The next delete purges it: the content goes, the tombstone stays in the feed.
        assert!(
            delete_task(&db, &a, other.id, None, two_days, at(5 * day))
                .now()
                .unwrap()
        );
        assert_eq!(
            stored(task.id),
            [Value::Integer(1), "-".into(), "\u{1}a".into()]
        );
        let feed = changes(
            &db,
            &a,
            ChangesQuery {
                since: SyncToken::START,
                limit: 10,
            },
            at(5 * day),
        )
        .now()
        .unwrap();
        assert_eq!(
            feed.changes,
            vec![
                Change::Deleted {
                    id: task.id,
                    deleted_at: at(2 * day)
                },
                Change::Deleted {
                    id: other.id,
                    deleted_at: at(5 * day)
                },
            ]
        );
        assert!(
            changes(
                &db,
                &b,
                ChangesQuery {
                    since: SyncToken::START,
                    limit: 10
                },
                at(5 * day)
            )
            .now()
            .unwrap()
            .changes
            .is_empty()
        );
        // The one deleted in time comes back, as it was but for a later updated_at.
        let back = restore_task(&db, &a, other.id, two_days, at(6 * day))
            .now()
            .unwrap()
            .unwrap();
        assert_eq!(back.title, other.title);
        assert_eq!(back.updated_at, at(6 * day));
        assert_eq!(
            get_task(&db, &a, other.id, at(6 * day)).now().unwrap(),
            Some(back)
        );
    }

    #[test]
    fn every_write_moves_the_task_to_the_end_of_the_feed() {
        let db = setup(&["a"]);
        let a = user("a");
        let feed_ids = |since: SyncToken| -> (Vec<i64>, SyncToken) {
            let page = changes(&db, &a, ChangesQuery { since, limit: 100 }, at(0))
                .now()
                .unwrap();
            let ids = page
                .changes
                .iter()
                .map(|change| match change {
                    Change::Task(task) => task.id.get(),
                    Change::Deleted { id, .. } => -id.get(),
                })
                .collect();
            (ids, page.next)
        };
        let one = create_plain(&db, &a, &new_task("one"), at(1)).unwrap();
        let two = create_plain(&db, &a, &new_task("two"), at(2)).unwrap();
        let (ids, token) = feed_ids(SyncToken::START);
        assert_eq!(ids, [one.id.get(), two.id.get()]);
        toggle_task(&db, &a, one.id, None, at(3))
            .now()
            .unwrap()
            .unwrap();
        assert_eq!(feed_ids(token).0, [one.id.get()]);
        assert_eq!(feed_ids(SyncToken::START).0, [two.id.get(), one.id.get()]);
        assert!(
            delete_task(&db, &a, two.id, None, keep(), at(4))
                .now()
                .unwrap()
        );
        assert_eq!(feed_ids(token).0, [one.id.get(), -two.id.get()]);
        restore_task(&db, &a, two.id, keep(), at(5))
            .now()
            .unwrap()
            .unwrap();
        assert_eq!(feed_ids(token).0, [one.id.get(), two.id.get()]);
        let (_, end) = feed_ids(SyncToken::START);
        assert_eq!(feed_ids(end).0, Vec::<i64>::new());
    }
    /// A task from before migration 0012 has no mark saying whether a search indexed it, and
    /// counts as indexed: its delete removes its entry.
    #[test]
    fn a_task_indexed_before_the_search_mark_loses_its_entry_on_delete() {
        let db = setup(&["a"]);
        let account = user("a");
        // As releases before 0012 wrote them: no `search_entry` named, the entry beside.
        db.execute(
            "INSERT INTO tasks (id, user_id, title, created_at, updated_at, seq) \
             VALUES (7, 'a', 'old milk', 1, 1, 7)",
            &[],
        )
        .now()
        .unwrap();
        db.execute(
            "INSERT INTO task_search (rowid, owner, title, description) \
             VALUES (7, hex('a'), 'old milk', NULL)",
            &[],
        )
        .now()
        .unwrap();
        let entries = || {
            db.execute("SELECT count(*) FROM task_search WHERE rowid = 7", &[])
                .now()
                .unwrap()[0][0]
                .clone()
        };
        assert_eq!(entries(), Value::Integer(1));
        let deleted = delete_task(&db, &account, TaskId::from_db(7), None, keep(), at(2)).now();
        assert!(deleted.unwrap());
        assert_eq!(entries(), Value::Integer(0), "the entry outlived its task");
    }
}

#[cfg(test)]
mod statement_count_tests {
    use super::*;
    use crate::db::Now;
    use crate::domain::TaskPatch;

    /// Under Spin every statement is a round trip, so the hot path is one statement per
    /// request: the checks ride on the statement that does the work. Only an empty answer
    /// (nothing listed, no such task) costs the extra check, a user's first create records
    /// the user, a delete removes the task's search entry after it when a search had indexed
    /// it, and a new database migrates once.
    #[test]
    fn the_hot_path_is_one_statement_per_request() {
        let db = crate::test_support::counting_db();
        let account = super::tests_support_account("hot");
        let now = Timestamp::from_micros(1);
        let task = NewTask {
            title: crate::domain::TaskTitle::parse("t").unwrap(),
            description: None,
            completed: false,
            priority: TaskPriority::None,
            tags: Default::default(),
            schedule: Default::default(),
        };
        // A fresh database: the first create fails on the missing table, migrates, retries.
        let Created::New(created) = create_task(&db, &account, &task, None, now).now().unwrap()
        else {
            panic!("not created")
        };
        let first = db.take();
        assert!(
            first.len() > migrations::MIGRATIONS.len(),
            "the first request migrates: {first:?}"
        );

        let one = |what: &str, statements: Vec<String>| {
            assert_eq!(statements.len(), 1, "{what}: {statements:#?}");
            assert!(
                statements[0].contains("schema_migrations"),
                "{what} is unguarded"
            );
        };
        create_task(&db, &account, &task, None, now).now().unwrap();
        one("create", db.take());
        list_tasks(&db, &account, &ListQuery::default(), now)
            .now()
            .unwrap();
        one("list", db.take());
        get_task(&db, &account, created.id, now)
            .now()
            .unwrap()
            .unwrap();
        one("get", db.take());
        update_task(&db, &account, created.id, &TaskPatch::default(), None, now)
            .now()
            .unwrap()
            .unwrap();
        one("update", db.take());
        toggle_task(&db, &account, created.id, None, now)
            .now()
            .unwrap()
            .unwrap();
        one("toggle", db.take());
        assert!(
            delete_task(
                &db,
                &account,
                created.id,
                None,
                TrashRetention::days(30).unwrap(),
                now
            )
            .now()
            .unwrap()
        );
        // One statement moves the task to the trash: it has no search entry or tag rows (no
        // `q=` or `tag=` read refreshed it) and nothing has expired. It does not ask the FTS5
        // table (connecting it costs more than the rest of the delete's statement).
        let delete = db.take();
        assert!(
            !delete.iter().any(|sql| sql.contains("task_search")),
            "{delete:#?}"
        );
        one("delete", delete);

        // A task a search has indexed: its entry goes in a second statement, and is gone.
        let Created::New(searched) = create_task(&db, &account, &task, None, now).now().unwrap()
        else {
            panic!("not created")
        };
        let search = ListQuery::parse("q=t").unwrap();
        let found = list_tasks(&db, &account, &search, now).now().unwrap();
        assert!(found.tasks.iter().any(|t| t.id == searched.id));
        db.take();
        assert!(
            delete_task(
                &db,
                &account,
                searched.id,
                None,
                TrashRetention::days(30).unwrap(),
                now
            )
            .now()
            .unwrap()
        );
        let deleted = db.take();
        assert_eq!(deleted.len(), 2, "{deleted:#?}");
        one("delete of an indexed task", deleted[..1].to_vec());
        assert!(deleted[1].starts_with("DELETE FROM task_search"));
        let left = db
            .execute(
                "SELECT count(*) FROM task_search WHERE rowid = ?1",
                &[searched.id.get().into()],
            )
            .now()
            .unwrap();
        assert_eq!(
            left[0][0],
            Value::Integer(0),
            "the search entry outlived its task"
        );
        db.take();

        // Nothing found: one more statement says the schema is current, and no retry.
        assert!(
            get_task(&db, &account, created.id, now)
                .now()
                .unwrap()
                .is_none()
        );
        assert_eq!(db.take().len(), 2);
    }

    /// The user a create records, with one more statement on the user's first create only.
    #[test]
    fn a_first_create_records_the_user() {
        let db = crate::test_support::counting_db();
        ensure_schema(&db).now().unwrap();
        let account = super::tests_support_account("newcomer");
        let task = NewTask {
            title: crate::domain::TaskTitle::parse("t").unwrap(),
            description: None,
            completed: false,
            priority: TaskPriority::None,
            tags: Default::default(),
            schedule: Default::default(),
        };
        create_task(&db, &account, &task, None, Timestamp::from_micros(7))
            .now()
            .unwrap();
        let rows = db
            .execute("SELECT id, created_at FROM users", &[])
            .now()
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![Value::Text("newcomer".into()), Value::Integer(7)]]
        );
    }
}
