//! The store's tests, natively over rusqlite, one file per room. Helpers live here.

mod fields;
mod lists;
mod schema;
mod statement_counts;
mod trash_and_feed;
mod writes;

pub(super) use crate::db::Now;
pub(super) use crate::db::sqlite::SqliteDb;
pub(super) use crate::db::{Database, Value};
pub(super) use crate::domain::{
    AuthenticatedUser, Change, ChangesQuery, Identity, ListQuery, NewTask, SyncToken, Task, TaskId,
    TaskPatch, TaskPriority, TrashRetention, UserSource,
};
pub(super) use crate::domain::{TaskDescription, TaskTitle};
pub(super) use crate::store::*;
pub(super) use crate::time::Timestamp;

pub(super) fn identity(id: &str) -> Identity {
    Identity::for_tests(id)
}

pub(super) fn at(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
}

pub(super) fn setup(users: &[&str]) -> SqliteDb {
    let db = SqliteDb::in_memory();
    for user in users {
        ensure_user(&db, UserSource::Auto, &identity(user), at(1))
            .now()
            .unwrap();
    }
    db
}

pub(super) fn new_task(title: &str) -> NewTask {
    NewTask {
        title: TaskTitle::parse(title).unwrap(),
        description: None,
        completed: false,
        priority: TaskPriority::None,
        tags: Default::default(),
        schedule: Default::default(),
    }
}

pub(super) fn create_plain(
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
pub(super) fn keep() -> TrashRetention {
    TrashRetention::days(30).unwrap()
}

pub(super) fn user(id: &str) -> Account<'static> {
    account(id, UserSource::Auto)
}

pub(super) fn account(id: &str, source: UserSource) -> Account<'static> {
    Account {
        user: Box::leak(Box::new(AuthenticatedUser::for_tests(id))),
        identity: Box::leak(Box::new(Identity::for_tests(id))),
        source,
    }
}

pub(super) fn titles(db: &SqliteDb, query: &str) -> Vec<String> {
    let query = ListQuery::parse(query).unwrap();
    list_tasks(db, &user("a"), &query, at(0))
        .now()
        .unwrap()
        .tasks
        .into_iter()
        .map(|t| t.title)
        .collect()
}

pub(super) fn user_for(id: &str) -> AuthenticatedUser {
    AuthenticatedUser::for_tests(id)
}
