//! The list statements: filters, sort and position as SQL over `tasks`' indexes (or the
//! search index), built from fixed fragments with every client value a parameter.

use crate::db::Value;
use crate::domain::{
    Cursor, ListQuery, Position, SortKey, SortOrder, SortValue, StatusFilter, UserSource,
};
use crate::store::fields::*;
use crate::store::guard::*;
use crate::store::packed::packed_select;
use crate::time::Timestamp;

/// The key that seals cursors, read by every page statement.
pub(super) const CURSOR_KEY: &str = "SELECT value FROM api_keys WHERE name = 'cursor'";

/// Parameters numbered as they are added, so a statement binds exactly the ones it uses.
pub(super) struct Params(Vec<Value>);

impl Params {
    fn push(&mut self, value: Value) -> String {
        self.0.push(value);
        format!("?{}", self.0.len())
    }
}

/// A list statement and its parameters. It answers one row ([`packed`](super::packed)): the
/// page as a JSON array of rows (each the task's columns, then the relevance score when
/// `scored`), then the guard columns and the cursor key.
pub struct ListStatement {
    pub sql: String,
    pub params: Vec<Value>,
    pub(super) scored: bool,
}

/// The filters of a list as `AND …` conditions, columns qualified with `t.` when `qualified`.
/// Built only from fixed fragments; every value the client chose is a parameter.
pub(super) fn filter_conditions(
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
pub(super) fn after_position(
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

/// [`after_position`]'s condition added to `filter`, and the `ORDER BY` that goes with it:
/// from the first row, the sort's own.
fn seek(query: &ListQuery, start: Start, params: &mut Params, filter: &mut String) -> String {
    match after_position(query, start, params) {
        Some((condition, order)) => {
            filter.push_str(&condition);
            order
        }
        None => sort_clause(query.sort, direction(query.order)),
    }
}

pub(super) fn direction(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

pub(super) fn comparison(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => ">",
        SortOrder::Desc => "<",
    }
}

pub(super) fn sort_value(value: &SortValue) -> Value {
    match value {
        SortValue::Integer(n) => Value::Integer(*n),
        SortValue::Text(text) => Value::Text(text.clone()),
        SortValue::Null => Value::Null,
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Start<'a> {
    /// At the first row (or `offset` rows later).
    First,
    /// After this row.
    After(&'a Position),
    /// sort=due only: at the first task without a due date.
    Undated,
}

impl<'a> Start<'a> {
    /// After the cursor's (claimed) position, or at the first row.
    pub(super) fn of(query: &'a ListQuery) -> Self {
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

pub(super) fn list_statement_from(
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
        let order = seek(query, start, &mut params, &mut filter);
        let inner = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1{filter} ORDER BY {order} {page}"
        );
        return ListStatement {
            sql: packed_select(TASK_COLUMNS, &tail, &inner),
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
        let inner = format!(
            "SELECT {TASK_COLUMNS_OF_T}, {score} AS score FROM task_search \
             JOIN tasks t ON t.id = task_search.rowid \
             WHERE task_search MATCH {matching} AND t.user_id = ?1{filter} \
             ORDER BY {score} {direction}, t.id {direction} {page}"
        );
        ListStatement {
            sql: packed_select(&format!("{TASK_COLUMNS}, score"), &tail, &inner),
            params: params.0,
            scored: true,
        }
    } else {
        let order = seek(query, start, &mut params, &mut filter);
        let inner = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1{filter} \
             AND id IN (SELECT rowid FROM task_search WHERE task_search MATCH {matching}) \
             ORDER BY {order} {page}"
        );
        ListStatement {
            sql: packed_select(TASK_COLUMNS, &tail, &inner),
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
pub(super) fn sort_clause(sort: SortKey, direction: &str) -> String {
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
