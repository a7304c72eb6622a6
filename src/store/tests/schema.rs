//! The schema on a fresh or older database, and the users a store knows.

use super::*;

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
