//! How many statements each request costs: under Spin each is a round trip.

use super::*;
use crate::domain::TaskPatch;

/// Under Spin every statement is a round trip, so the hot path is one statement per
/// request: the checks ride on the statement that does the work. Only an empty answer
/// (nothing listed, no such task) costs the extra check, a user's first create records
/// the user, a delete removes the task's search entry after it when a search had indexed
/// it, and a new database migrates once.
#[test]
fn the_hot_path_is_one_statement_per_request() {
    let db = crate::test_support::counting_db();
    let account = user("hot");
    let now = Timestamp::from_micros(1);
    let task = new_task("t");
    // A fresh database: the first create fails on the missing table, migrates, retries.
    let Created::New(created) = create_task(&db, &account, &task, None, now).now().unwrap() else {
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
    let move_to_trash = |id| {
        let retention = TrashRetention::days(30).unwrap();
        delete_task(&db, &account, id, None, retention, now)
            .now()
            .unwrap()
    };
    assert!(move_to_trash(created.id));
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
    let Created::New(searched) = create_task(&db, &account, &task, None, now).now().unwrap() else {
        panic!("not created")
    };
    let search = ListQuery::parse("q=t").unwrap();
    let found = list_tasks(&db, &account, &search, now).now().unwrap();
    assert!(found.tasks.iter().any(|t| t.id == searched.id));
    db.take();
    assert!(move_to_trash(searched.id));
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
    let account = user("newcomer");
    let task = new_task("t");
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
