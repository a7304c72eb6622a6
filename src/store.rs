//! Every SQL statement of the API. Task statements take an [`AuthenticatedUser`] and bind its
//! id as a parameter; nothing user-supplied is ever formatted into SQL text. Every write is a
//! single statement (`… RETURNING`), because Spin shares one connection between concurrent
//! requests and `BEGIN`/`COMMIT` across calls would not be a transaction.

use crate::auth::{AuthenticatedUser, Identity};
use crate::config::UserSource;
use crate::db::{Database, DbError, Row, Value};
use crate::domain::{
    ListQuery, NewTask, SortKey, SortOrder, StatusFilter, Task, TaskId, TaskPatch,
};
use crate::migrations;
use crate::time::Timestamp;
use anyhow::{Context, anyhow};

const TASK_COLUMNS: &str = "id, user_id, title, description, completed, created_at, updated_at";

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

/// Brings the schema up to date if needed and makes sure the user exists: recorded on first
/// sight in `auto` mode, looked up in Better Auth's table otherwise. One statement on the hot
/// path, two on a user's first request.
pub fn ensure_user(
    db: &dyn Database,
    source: UserSource,
    identity: &Identity,
    now: Timestamp,
) -> Result<UserStatus, StoreError> {
    let check =
        |db: &dyn Database| db.execute(user_check_sql(source), &[identity.subject().into()]);
    let is_user_table = |table: &str| matches!(table, "user" | "main.user");
    let rows = match check(db) {
        // A database no request has seen yet: create the schema and ask again.
        Err(error) if error.missing_table().is_some_and(|t| !is_user_table(t)) => {
            migrations::apply(db, 0)?;
            check(db)
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
        migrations::apply(db, version)?;
    }
    match (exists, source) {
        (true, _) => Ok(UserStatus::Known),
        (false, UserSource::BetterAuth) => Ok(UserStatus::Unknown),
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
            )?;
            Ok(UserStatus::Known)
        }
    }
}

/// The schema version, migrating first if the database is new or behind. Used by `/health`.
pub fn ensure_schema(db: &dyn Database) -> Result<i64, StoreError> {
    let version = match db.execute("SELECT max(version) FROM schema_migrations", &[]) {
        Ok(rows) => rows
            .first()
            .and_then(|row| row.first())
            .map_or(0, integer_or_zero),
        Err(error) if error.missing_table().is_some() => 0,
        Err(error) => return Err(error.into()),
    };
    if version < migrations::LATEST {
        migrations::apply(db, version)?;
    }
    Ok(migrations::LATEST.max(version))
}

pub fn list_tasks(
    db: &dyn Database,
    user: &AuthenticatedUser,
    query: &ListQuery,
) -> Result<Vec<Task>, StoreError> {
    let rows = db.execute(
        &list_sql(query),
        &[
            user.id().into(),
            i64::from(query.limit).into(),
            i64::try_from(query.offset).unwrap_or(i64::MAX).into(),
        ],
    )?;
    rows.iter().map(task_from_row).collect()
}

/// The list statement for one combination of filter, sort and order. Built only from fixed
/// fragments; the same query shape always produces the same text, so the runtime's
/// prepared-statement cache is hit.
pub fn list_sql(query: &ListQuery) -> String {
    let filter = match query.status {
        StatusFilter::All => "",
        StatusFilter::Pending => " AND completed = 0",
        StatusFilter::Completed => " AND completed = 1",
    };
    let key = match query.sort {
        SortKey::Created => "created_at",
        SortKey::Updated => "updated_at",
        SortKey::Title => "title COLLATE NOCASE",
    };
    let direction = match query.order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1{filter} \
         ORDER BY {key} {direction}, id {direction} LIMIT ?2 OFFSET ?3"
    )
}

pub fn get_task(
    db: &dyn Database,
    user: &AuthenticatedUser,
    id: TaskId,
) -> Result<Option<Task>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2"),
        &[id.get().into(), user.id().into()],
    )?;
    single(rows)
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
pub fn create_task(
    db: &dyn Database,
    user: &AuthenticatedUser,
    task: &NewTask,
    idempotency: Option<&IdempotencyKey>,
    now: Timestamp,
) -> Result<Created, StoreError> {
    let insert = || {
        db.execute(
            &format!(
                "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at, \
                 idempotency_key, request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) \
                 ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
                 RETURNING {TASK_COLUMNS}"
            ),
            &[
                user.id().into(),
                task.title.as_str().into(),
                task.description.as_ref().map(|d| d.as_str()).into(),
                task.completed.into(),
                now.as_micros().into(),
                idempotency.map(|i| i.key).into(),
                idempotency.map(|i| i.request_hash).into(),
            ],
        )
    };
    if let Some(created) = single(insert()?)? {
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
        &[user.id().into(), idempotency.key.into()],
    )?;
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
        None => single(insert()?)?
            .map(Created::New)
            .ok_or_else(|| StoreError::Corrupt(anyhow!("keyed insert returned no row twice"))),
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

/// Applies a patch in one statement. `updated_at` moves forward on every update, by at least a
/// microsecond even when the clock has not (or has gone back).
pub fn update_task(
    db: &dyn Database,
    user: &AuthenticatedUser,
    id: TaskId,
    patch: &TaskPatch,
    expected: Expected,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let (set_description, description) = match &patch.description {
        None => (false, None),
        Some(description) => (true, description.as_ref().map(|d| d.as_str())),
    };
    let rows = db.execute(
        &format!(
            "UPDATE tasks SET \
               title = coalesce(?3, title), \
               description = CASE WHEN ?4 THEN ?5 ELSE description END, \
               completed = coalesce(?6, completed), \
               updated_at = max(?7, updated_at + 1) \
             WHERE id = ?1 AND user_id = ?2 \
               AND (?8 IS NULL OR updated_at IN (SELECT value FROM json_each(?8))) \
             RETURNING {TASK_COLUMNS}"
        ),
        &[
            id.get().into(),
            user.id().into(),
            patch.title.as_ref().map(|t| t.as_str()).into(),
            set_description.into(),
            description.into(),
            patch.completed.into(),
            now.as_micros().into(),
            expected_param(expected),
        ],
    )?;
    single(rows)
}

/// Flips `completed` atomically: concurrent toggles each flip once.
pub fn toggle_task(
    db: &dyn Database,
    user: &AuthenticatedUser,
    id: TaskId,
    expected: Expected,
    now: Timestamp,
) -> Result<Option<Task>, StoreError> {
    let rows = db.execute(
        &format!(
            "UPDATE tasks SET completed = 1 - completed, updated_at = max(?3, updated_at + 1) \
             WHERE id = ?1 AND user_id = ?2 \
               AND (?4 IS NULL OR updated_at IN (SELECT value FROM json_each(?4))) \
             RETURNING {TASK_COLUMNS}"
        ),
        &[
            id.get().into(),
            user.id().into(),
            now.as_micros().into(),
            expected_param(expected),
        ],
    )?;
    single(rows)
}

/// Whether a task was deleted.
pub fn delete_task(
    db: &dyn Database,
    user: &AuthenticatedUser,
    id: TaskId,
    expected: Expected,
) -> Result<bool, StoreError> {
    let rows = db.execute(
        "DELETE FROM tasks WHERE id = ?1 AND user_id = ?2 \
           AND (?3 IS NULL OR updated_at IN (SELECT value FROM json_each(?3))) RETURNING id",
        &[id.get().into(), user.id().into(), expected_param(expected)],
    )?;
    Ok(!rows.is_empty())
}

/// Counts one request of `user` in the one-minute window containing `now` and returns the
/// window's count so far. One upsert: concurrent requests, on any replica, each count once. A
/// replica whose clock is behind never moves a window back.
pub fn count_request(
    db: &dyn Database,
    user: &AuthenticatedUser,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let window = now.as_micros().div_euclid(60_000_000);
    let rows = db.execute(
        "INSERT INTO rate_limits (user_id, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (user_id) DO UPDATE SET \
           count = CASE WHEN excluded.window_start > rate_limits.window_start THEN 1 \
                        ELSE rate_limits.count + 1 END, \
           window_start = max(rate_limits.window_start, excluded.window_start) \
         RETURNING count",
        &[user.id().into(), window.into()],
    )?;
    match rows.first().map(Vec::as_slice) {
        Some([Value::Integer(count)]) => Ok(*count),
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
            created_at,
            updated_at,
        ] = row.as_slice()
        else {
            return Err(anyhow!("expected 7 columns, got {}", row.len()));
        };
        let integer = |value: &Value, name: &str| match value {
            Value::Integer(n) => Ok(*n),
            other => Err(anyhow!("{name} is {other:?}")),
        };
        let text = |value: &Value, name: &str| match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(anyhow!("{name} is {other:?}")),
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
            created_at: Timestamp::from_micros(integer(created_at, "created_at")?),
            updated_at: Timestamp::from_micros(integer(updated_at, "updated_at")?),
        })
    };
    parse()
        .context("reading a task row")
        .map_err(StoreError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TaskDescription, TaskTitle};
    use crate::test_support::MemoryDb;

    fn identity(id: &str) -> Identity {
        Identity::for_tests(id)
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    fn setup(users: &[&str]) -> MemoryDb {
        let db = MemoryDb::new();
        for user in users {
            ensure_user(&db, UserSource::Auto, &identity(user), at(1)).unwrap();
        }
        db
    }

    fn new_task(title: &str) -> NewTask {
        NewTask {
            title: TaskTitle::parse(title).unwrap(),
            description: None,
            completed: false,
        }
    }

    fn create_plain(
        db: &MemoryDb,
        user: &AuthenticatedUser,
        task: &NewTask,
        now: Timestamp,
    ) -> Result<Task, StoreError> {
        match create_task(db, user, task, None, now)? {
            Created::New(task) => Ok(task),
            other => panic!("an unkeyed create made {other:?}"),
        }
    }

    fn user(id: &str) -> AuthenticatedUser {
        AuthenticatedUser::for_tests(id)
    }

    #[test]
    fn a_fresh_database_is_migrated_by_the_first_request() {
        let db = MemoryDb::new();
        assert_eq!(
            ensure_user(&db, UserSource::Auto, &identity("a"), at(5)).unwrap(),
            UserStatus::Known
        );
        let rows = db.execute("SELECT id, created_at FROM users", &[]).unwrap();
        assert_eq!(rows, vec![vec![Value::Text("a".into()), Value::Integer(5)]]);
        assert_eq!(ensure_schema(&db).unwrap(), migrations::LATEST);
    }

    #[test]
    fn migrations_rerun_on_an_existing_database_keep_data() {
        let db = setup(&["a"]);
        create_plain(&db, &user("a"), &new_task("keep me"), at(10)).unwrap();
        migrations::apply(&db, 0).unwrap();
        assert_eq!(
            list_tasks(&db, &user("a"), &ListQuery::default())
                .unwrap()
                .len(),
            1
        );
        let versions = db
            .execute("SELECT version FROM schema_migrations", &[])
            .unwrap();
        assert_eq!(versions.len(), migrations::MIGRATIONS.len());
    }

    #[test]
    fn better_auth_mode_needs_the_user_table_and_the_user() {
        let db = setup(&[]);
        let missing = ensure_user(&db, UserSource::BetterAuth, &identity("a"), at(1));
        assert!(
            matches!(missing, Err(StoreError::NoBetterAuthTable)),
            "{missing:?}"
        );
        db.execute(
            "CREATE TABLE \"user\" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, \
             emailVerified INTEGER NOT NULL, image TEXT, createdAt DATE NOT NULL, updatedAt DATE NOT NULL)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO \"user\" VALUES ('a', 'Ann', 'a@x', 0, NULL, '2026-01-01', '2026-01-01')",
            &[],
        )
        .unwrap();
        assert_eq!(
            ensure_user(&db, UserSource::BetterAuth, &identity("a"), at(1)).unwrap(),
            UserStatus::Known
        );
        assert_eq!(
            ensure_user(&db, UserSource::BetterAuth, &identity("b"), at(1)).unwrap(),
            UserStatus::Unknown
        );
        // Better Auth mode never writes our users table.
        assert!(db.execute("SELECT * FROM users", &[]).unwrap().is_empty());
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
            },
            at(100),
        )
        .unwrap();
        assert_eq!((task.created_at, task.updated_at), (at(100), at(100)));
        assert_eq!(get_task(&db, &a, task.id).unwrap(), Some(task.clone()));

        let patch = TaskPatch {
            description: Some(None),
            ..TaskPatch::default()
        };
        let updated = update_task(&db, &a, task.id, &patch, None, at(200))
            .unwrap()
            .unwrap();
        assert_eq!(updated.description, None);
        assert_eq!(updated.title, "t");
        assert_eq!(updated.created_at, at(100));
        assert_eq!(updated.updated_at, at(200));

        let toggled = toggle_task(&db, &a, task.id, None, at(300))
            .unwrap()
            .unwrap();
        assert!(toggled.completed);
        assert!(
            !toggle_task(&db, &a, task.id, None, at(400))
                .unwrap()
                .unwrap()
                .completed
        );

        assert!(delete_task(&db, &a, task.id, None).unwrap());
        assert!(!delete_task(&db, &a, task.id, None).unwrap());
        assert_eq!(get_task(&db, &a, task.id).unwrap(), None);
    }

    #[test]
    fn updated_at_moves_even_when_the_clock_does_not() {
        let db = setup(&["a"]);
        let a = user("a");
        let task = create_plain(&db, &a, &new_task("t"), at(1000)).unwrap();
        let same_tick = toggle_task(&db, &a, task.id, None, at(1000))
            .unwrap()
            .unwrap();
        assert!(same_tick.updated_at > task.updated_at);
        let clock_went_back = update_task(&db, &a, task.id, &TaskPatch::default(), None, at(10))
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
        assert_eq!(get_task(&db, &b, task.id).unwrap(), None);
        assert_eq!(toggle_task(&db, &b, task.id, None, at(2)).unwrap(), None);
        let patch = TaskPatch {
            title: Some(TaskTitle::parse("mine").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            update_task(&db, &b, task.id, &patch, None, at(2)).unwrap(),
            None
        );
        assert!(!delete_task(&db, &b, task.id, None).unwrap());
        assert!(
            list_tasks(&db, &b, &ListQuery::default())
                .unwrap()
                .is_empty()
        );
        assert_eq!(get_task(&db, &a, task.id).unwrap(), Some(task));
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
            assert_eq!(get_task(&db, &a, task.id).unwrap().unwrap().title, title);
        }
        assert_eq!(list_tasks(&db, &a, &ListQuery::default()).unwrap().len(), 3);
    }

    fn titles(db: &MemoryDb, query: &str) -> Vec<String> {
        let query = ListQuery::parse(query).unwrap();
        list_tasks(db, &user("a"), &query)
            .unwrap()
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
        let d = list_tasks(&db, &a, &ListQuery::default()).unwrap()[0].id;
        toggle_task(&db, &a, d, None, at(40)).unwrap();

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
                seen.extend(list_tasks(&db, &a, &q).unwrap().into_iter().map(|t| t.id));
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
                    let plan = db
                        .execute(
                            &format!("EXPLAIN QUERY PLAN {}", list_sql(&query)),
                            &["a".into(), 50.into(), 0.into()],
                        )
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
        let Created::New(first) = create_task(&db, &a, &new_task("t"), Some(&key), at(1)).unwrap()
        else {
            panic!("first create")
        };
        assert_eq!(
            create_task(&db, &a, &new_task("t"), Some(&key), at(2)).unwrap(),
            Created::Replayed(first.clone())
        );
        let other_body = IdempotencyKey {
            key: "k1",
            request_hash: "h2",
        };
        assert_eq!(
            create_task(&db, &a, &new_task("u"), Some(&other_body), at(3)).unwrap(),
            Created::KeyReused
        );
        // Keys are per user.
        assert!(matches!(
            create_task(&db, &user("b"), &new_task("t"), Some(&key), at(4)).unwrap(),
            Created::New(_)
        ));
        assert_eq!(
            list_tasks(&db, &a, &ListQuery::default()).unwrap(),
            vec![first.clone()]
        );
        // A deleted task takes its key with it.
        assert!(delete_task(&db, &a, first.id, None).unwrap());
        assert!(matches!(
            create_task(&db, &a, &new_task("t"), Some(&key), at(5)).unwrap(),
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
            toggle_task(&db, &a, task.id, Some(&stale), at(20)).unwrap(),
            None
        );
        assert_eq!(
            toggle_task(&db, &a, task.id, Some(&[]), at(20)).unwrap(),
            None
        );
        let toggled = toggle_task(&db, &a, task.id, Some(&[1, current[0]]), at(20))
            .unwrap()
            .unwrap();
        assert!(toggled.completed);
        let patch = TaskPatch::default();
        assert_eq!(
            update_task(&db, &a, task.id, &patch, Some(&current), at(30)).unwrap(),
            None,
            "now stale"
        );
        assert!(!delete_task(&db, &a, task.id, Some(&current)).unwrap());
        assert!(delete_task(&db, &a, task.id, Some(&[toggled.updated_at.as_micros()])).unwrap());
    }

    #[test]
    fn request_counts_reset_each_minute_and_never_go_back() {
        let db = setup(&["a", "b"]);
        let minute = 60_000_000;
        let count = |user: &str, at_micros: i64| {
            count_request(&db, &user_for(user), at(at_micros)).unwrap()
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
}

#[cfg(test)]
mod statement_count_tests {
    use super::*;
    use crate::test_support::CountingDb;

    /// Migrations cost nothing on the hot path: after a user's first request, reading their
    /// tasks is exactly two statements (the user check, which also reads the schema version,
    /// and the list), and a write is two as well.
    #[test]
    fn the_hot_path_runs_no_migration_statements() {
        let db = CountingDb::new();
        let identity = Identity::for_tests("hot");
        let user = AuthenticatedUser::for_tests("hot");
        let now = Timestamp::from_micros(1);
        ensure_user(&db, UserSource::Auto, &identity, now).unwrap();
        let first = db.take();
        assert!(
            first.len() > migrations::MIGRATIONS.len(),
            "the first request migrates: {first:?}"
        );

        ensure_user(&db, UserSource::Auto, &identity, now).unwrap();
        list_tasks(&db, &user, &ListQuery::default()).unwrap();
        let hot = db.take();
        assert_eq!(hot.len(), 2, "{hot:?}");
        assert!(hot[0].contains("schema_migrations") && hot[0].contains("FROM users"));

        ensure_user(&db, UserSource::Auto, &identity, now).unwrap();
        let task = NewTask {
            title: crate::domain::TaskTitle::parse("t").unwrap(),
            description: None,
            completed: false,
        };
        create_task(&db, &user, &task, None, now).unwrap();
        assert_eq!(db.take().len(), 2);
    }
}
