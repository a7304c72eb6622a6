//! The trash and its purge, the changes feed, the rate-limit counter.

use super::*;

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
    let out_of_reach = |who: &Account<'_>, when: Timestamp| {
        assert!(
            list_trash(&db, who, two_days, when)
                .now()
                .unwrap()
                .is_empty()
        );
        let restored = restore_task(&db, who, task.id, two_days, when)
            .now()
            .unwrap();
        assert_eq!(restored, None);
    };
    // Another user can neither see nor restore it.
    out_of_reach(&b, at(2 * day));
    let trash = list_trash(&db, &a, two_days, at(3 * day)).now().unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].task, task);
    assert_eq!(trash[0].deleted_at, at(2 * day));
    // Past the retention: not listed, not restorable, even before a purge ran.
    out_of_reach(&a, at(5 * day));
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
            wait: 0,
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
                limit: 10,
                wait: 0
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
        let page = changes(
            &db,
            &a,
            ChangesQuery {
                since,
                limit: 100,
                wait: 0,
            },
            at(0),
        )
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
