//! Creates and updates: ownership, preconditions, idempotency keys, odd input.

use super::*;

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
