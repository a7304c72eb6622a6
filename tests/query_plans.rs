//! Every task statement the store runs is an index search bound to the user, never a scan of
//! the table, and every list page comes out of its index already in order (no sorter). A list
//! that sorted or scanned would cost time in proportion to the user's tasks, or to everyone's;
//! `benches/scale.rs` measures the consequence, this test pins the cause. The plans are taken on
//! the real migrated schema, for the exact SQL text the store executes.

use task_api::domain::{AuthenticatedUser, Identity, UserSource};
use task_api::domain::{
    ListQuery, NewTask, PriorityFilter, SortKey, SortOrder, StatusFilter, TaskPatch, TaskPriority,
    TaskTitle,
};
use task_api::sqlite::{SqliteDb as Sqlite, StatementLog};
use task_api::store::{self, Account, IdempotencyKey};
use task_api::time::Timestamp;

/// The migrated schema, plus a Better Auth `user` table as `user_source = better-auth` reads.
fn migrated() -> Sqlite {
    let db = Sqlite::in_memory();
    task_api::migrations::apply(&db, 0).unwrap();
    db.connection()
        .execute_batch(
            "CREATE TABLE \"user\" (id TEXT PRIMARY KEY, name TEXT NOT NULL); \
             INSERT INTO \"user\" VALUES ('u', 'U');",
        )
        .unwrap();
    db
}

const SOURCES: [UserSource; 2] = [UserSource::Auto, UserSource::BetterAuth];

/// The `detail` column of `EXPLAIN QUERY PLAN`, one entry per plan node.
fn plan(db: &Sqlite, sql: &str) -> Vec<String> {
    let connection = db.connection();
    let mut statement = connection
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    // Parameters left unbound would be refused; NULL does not change the plan (no ANALYZE
    // statistics exist that could make it depend on values).
    let nulls = vec![rusqlite::types::Value::Null; statement.parameter_count()];
    statement
        .query_map(rusqlite::params_from_iter(nulls), |row| {
            row.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The plan must search `tasks` through `access` (an index on the user's columns, or the
/// primary key), and neither scan `tasks` nor sort.
fn assert_plan(db: &Sqlite, sql: &str, access: &str) -> Vec<String> {
    let plan = plan(db, sql);
    let on_tasks: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains(" tasks ") || d.ends_with(" tasks"))
        .collect();
    assert!(
        on_tasks.len() == 1
            && on_tasks[0].starts_with("SEARCH tasks USING ")
            && on_tasks[0].contains(access),
        "expected one `SEARCH tasks USING … {access}`\n{sql}\n{plan:#?}"
    );
    for detail in &plan {
        assert!(
            !detail.starts_with("SCAN tasks"),
            "full scan of tasks\n{sql}\n{plan:#?}"
        );
        assert!(
            !detail.contains("TEMP B-TREE"),
            "sorts (or groups) instead of reading its index in order\n{sql}\n{plan:#?}"
        );
    }
    plan
}

/// The name of the index a `SEARCH tasks USING [COVERING] INDEX name (…)` detail uses.
fn index_of(detail: &str) -> &str {
    detail
        .split(" INDEX ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no index in {detail:?}"))
}

/// The indexed expressions of `index`, in order (`rowid` is implied last).
fn index_columns(db: &Sqlite, index: &str) -> Vec<String> {
    let connection = db.connection();
    let sql: String = connection
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [index],
            |row| row.get(0),
        )
        .unwrap();
    let inside = &sql[sql.find('(').unwrap() + 1..sql.rfind(')').unwrap()];
    inside.split(',').map(|c| c.trim().to_owned()).collect()
}

/// Every filter (status, priorities) with every sort and order: the list reads the index of
/// its status and sort key, in order. A priority filter does not pick another index; it skips
/// rows of the sort's index (`+priority`), so no combination sorts.
#[test]
fn every_list_query_reads_one_user_index_in_order() {
    let db = migrated();
    let mut checked = 0;
    let priority_filters = [
        PriorityFilter::any(),
        PriorityFilter::only(&[TaskPriority::High]),
        PriorityFilter::only(&[TaskPriority::None, TaskPriority::Medium]),
    ];
    for status in [
        StatusFilter::All,
        StatusFilter::Pending,
        StatusFilter::Completed,
    ] {
        for priority in priority_filters {
            for sort in [
                SortKey::Created,
                SortKey::Updated,
                SortKey::Title,
                SortKey::Priority,
            ] {
                for (order, source) in [SortOrder::Asc, SortOrder::Desc].into_iter().zip(SOURCES) {
                    let query = ListQuery {
                        status,
                        priority,
                        sort,
                        order,
                        ..ListQuery::default()
                    };
                    let sql = store::list_sql(&query, source);
                    let bound = match status {
                        StatusFilter::All => "(user_id=?)",
                        StatusFilter::Pending | StatusFilter::Completed => {
                            "(user_id=? AND completed=?)"
                        }
                    };
                    let plan = assert_plan(&db, &sql, bound);
                    let detail = plan.iter().find(|d| d.starts_with("SEARCH tasks")).unwrap();
                    // The index continues with exactly the sort key (then the rowid, which is
                    // the id that breaks ties), so its order is the ORDER BY.
                    let key = match sort {
                        SortKey::Created => "created_at",
                        SortKey::Updated => "updated_at",
                        SortKey::Title => "title COLLATE NOCASE",
                        SortKey::Priority => "priority",
                    };
                    let expected: Vec<&str> = match status {
                        StatusFilter::All => vec!["user_id", key],
                        _ => vec!["user_id", "completed", key],
                    };
                    assert_eq!(
                        index_columns(&db, index_of(detail)),
                        expected,
                        "{sql}\n{plan:#?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 4 * 2);
}

#[test]
fn single_task_statements_find_the_row_by_id_and_check_its_owner() {
    let db = migrated();
    let recording = StatementLog::new(&db);
    let owner = AuthenticatedUser::for_tests("u");
    let identity = Identity::for_tests("u");
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let task = NewTask {
        title: TaskTitle::parse("t").unwrap(),
        description: None,
        completed: false,
        priority: TaskPriority::None,
    };
    let key = IdempotencyKey {
        key: "k",
        request_hash: "h",
    };
    for source in SOURCES {
        let user = Account {
            user: &owner,
            identity: &identity,
            source,
        };
        single_task_statements(&db, &recording, &user, &task, &key, now);
    }
}

fn single_task_statements(
    db: &Sqlite,
    recording: &StatementLog<&Sqlite>,
    user: &Account,
    task: &NewTask,
    key: &IdempotencyKey,
    now: Timestamp,
) {
    let store::Created::New(created) =
        store::create_task(recording, user, task, Some(key), now).unwrap()
    else {
        panic!("the first keyed create makes a task")
    };
    let id = created.id;
    // The same key again: the create answers from the keyed lookup.
    store::create_task(recording, user, task, Some(key), now).unwrap();
    let keyed_lookup = recording.take().pop().unwrap();
    assert_plan(
        db,
        &keyed_lookup,
        "INDEX tasks_by_user_idempotency_key (user_id=? AND idempotency_key=?)",
    );

    // A task that exists, so each statement's guard answers for itself (no fallback check).
    store::get_task(recording, user, id, now).unwrap().unwrap();
    let patch = TaskPatch::default();
    let updated = store::update_task(recording, user, id, &patch, None, now)
        .unwrap()
        .unwrap();
    let versions = [
        updated.updated_at.as_micros(),
        created.updated_at.as_micros(),
    ];
    let toggled = store::toggle_task(recording, user, id, Some(&versions), now)
        .unwrap()
        .unwrap();
    let current = [toggled.updated_at.as_micros()];
    assert!(store::delete_task(recording, user, id, Some(&current), now).unwrap());
    let statements = recording.take();
    assert_eq!(statements.len(), 4, "{statements:#?}");
    for sql in &statements {
        // The id is the rowid: one row is found by key, and the owner is checked on it. An
        // index on (user_id, …) could not do better than that.
        assert_plan(db, sql, "INTEGER PRIMARY KEY (rowid=?)");
        assert!(sql.contains("user_id = ?"), "not bound to its owner: {sql}");
    }
}

/// The check is not vacuous: without the index for one combination, SQLite sorts.
#[test]
#[should_panic(expected = "sorts (or groups) instead of reading its index in order")]
fn a_missing_index_is_caught() {
    let db = migrated();
    db.connection()
        .execute_batch("DROP INDEX tasks_by_user_title")
        .unwrap();
    let query = ListQuery {
        sort: SortKey::Title,
        order: SortOrder::Asc,
        ..ListQuery::default()
    };
    assert_plan(
        &db,
        &store::list_sql(&query, UserSource::Auto),
        "(user_id=?)",
    );
}
