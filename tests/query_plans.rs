//! Every task statement the store runs is an index search bound to the user, never a scan of
//! the table, and every list page comes out of its index already in order (no sorter). A list
//! that sorted or scanned would cost time in proportion to the user's tasks, or to everyone's;
//! `benches/scale.rs` measures the consequence, this test pins the cause. The plans are taken on
//! the real migrated schema, for the exact SQL text the store executes.

use task_api::db::Now;
use task_api::db::sqlite::{SqliteDb as Sqlite, StatementLog};
use task_api::domain::cursor;
use task_api::domain::{AuthenticatedUser, Cursor, CursorKey, Identity, Position};
use task_api::domain::{ChangesQuery, SortValue, SyncToken, TrashRetention, UserSource};
use task_api::domain::{
    ListQuery, NewTask, PriorityFilter, SearchQuery, SortKey, SortOrder, StatusFilter, Tag, TagSet,
    TaskPatch, TaskPriority, TaskTitle,
};
use task_api::store::{self, Account, IdempotencyKey};
use task_api::time::Timestamp;

/// The migrated schema, plus a Better Auth `user` table as `user_source = better-auth` reads.
fn migrated() -> Sqlite {
    let db = Sqlite::in_memory();
    task_api::db::migrations::apply(&db, 0).now().unwrap();
    db.connection()
        .execute_batch(
            "CREATE TABLE \"user\" (id TEXT PRIMARY KEY, name TEXT NOT NULL); \
             INSERT INTO \"user\" VALUES ('u', 'U');",
        )
        .unwrap();
    db
}

/// The store's caller for user `u`, whose rows the plans are taken for.
fn user_u(source: UserSource) -> Account<'static> {
    // Leaked: a few bytes per test, so the account can outlive the helper.
    Account {
        user: Box::leak(Box::new(AuthenticatedUser::for_tests("u"))),
        identity: Box::leak(Box::new(Identity::for_tests("u"))),
        source,
    }
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
    // A write's `seq` probe (the user's highest, see `store::next_seq`) is checked by
    // `seq_probes_read_one_users_index`; the statement's own access is the rest.
    let on_tasks: Vec<&String> = plan
        .iter()
        .filter(|d| d.contains(" tasks ") || d.ends_with(" tasks"))
        .filter(|d| !(sql.contains("max(seq)") && d.contains("tasks_by_user_seq (user_id=?)")))
        // A delete's probe of the owner's expired trash (checked in the same test).
        .filter(|d| !d.contains("INDEX tasks_trash (user_id=?"))
        .collect();
    assert!(
        on_tasks.len() == 1
            && on_tasks[0].starts_with("SEARCH tasks USING ")
            && on_tasks[0].contains(access),
        "expected one `SEARCH tasks USING … {access}`\n{sql}\n{plan:#?}"
    );
    for detail in &plan {
        // (`SCAN task_search VIRTUAL TABLE INDEX …` is an FTS index query, not a scan.)
        assert!(
            detail != "SCAN tasks" && !detail.starts_with("SCAN tasks "),
            "full scan of tasks\n{sql}\n{plan:#?}"
        );
        assert!(
            !detail.contains("TEMP B-TREE"),
            "sorts (or groups) instead of reading its index in order\n{sql}\n{plan:#?}"
        );
    }
    plan
}

/// A list statement's rows come back packed (`store::packed`): the page's own statement runs
/// as a co-routine that the aggregate scans, so the rows reach the JSON array in the page's
/// order, and nothing sorts them again.
fn assert_packed(plan: &[String], sql: &str) {
    assert!(
        plan.iter().any(|d| d.starts_with("CO-ROUTINE "))
            && plan.iter().any(|d| d.starts_with("SCAN (subquery-")),
        "the page is not a co-routine that the aggregate scans\n{sql}\n{plan:#?}"
    );
    assert!(
        !plan.iter().any(|d| d.contains("TEMP B-TREE")),
        "sorts\n{sql}\n{plan:#?}"
    );
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
    let mut cursors = 0;
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
        for (priority, extra) in priority_filters
            .into_iter()
            .flat_map(|p| (0..EXTRA_FILTERS).map(move |extra| (p, extra)))
        {
            for sort in [
                SortKey::Created,
                SortKey::Updated,
                SortKey::Title,
                SortKey::Priority,
                SortKey::Due,
            ] {
                for (order, source) in [SortOrder::Asc, SortOrder::Desc].into_iter().zip(SOURCES) {
                    let query = with_extra_filter(
                        ListQuery {
                            status,
                            priority,
                            sort,
                            order,
                            ..ListQuery::default()
                        },
                        extra,
                    );
                    let sql = store::list_sql(&query, source);
                    // sort=due checks the status on its own index's rows.
                    let bound = match status {
                        _ if sort == SortKey::Due => "(user_id=?)",
                        StatusFilter::All => "(user_id=?)",
                        StatusFilter::Pending | StatusFilter::Completed => {
                            "(user_id=? AND completed=?)"
                        }
                    };
                    let plan = assert_plan(&db, &sql, bound);
                    assert_packed(&plan, &sql);
                    let detail = plan.iter().find(|d| d.starts_with("SEARCH tasks")).unwrap();
                    // The index continues with exactly the sort key (then the rowid, which is
                    // the id that breaks ties), so its order is the ORDER BY.
                    let key = match sort {
                        SortKey::Created => "created_at",
                        SortKey::Updated => "updated_at",
                        SortKey::Title => "title COLLATE NOCASE",
                        SortKey::Priority => "priority",
                        SortKey::Due | SortKey::Relevance => "",
                    };
                    let expected: Vec<&str> = match (sort, order, status) {
                        (SortKey::Due, SortOrder::Asc, _) => {
                            vec!["user_id", "due_at IS NULL", "due_at", "id"]
                        }
                        (SortKey::Due, SortOrder::Desc, _) => {
                            vec!["user_id", "due_at IS NULL DESC", "due_at", "id"]
                        }
                        (_, _, StatusFilter::All) => vec!["user_id", key],
                        _ => vec!["user_id", "completed", key],
                    };
                    assert_eq!(
                        index_columns(&db, index_of(detail)),
                        expected,
                        "{sql}\n{plan:#?}"
                    );
                    // The same list from a cursor: the same index, in order, entered at the
                    // position (a range on the index), so any depth costs one page. sort=due
                    // from a due date is two ranges: the dated rows after it, then the
                    // undated ones (a second statement when the page is not full).
                    let due_index = |columns: &[String]| {
                        columns.len() == 4 && columns[0] == "user_id" && columns[2] == "due_at"
                    };
                    let mut statements: Vec<String> = cursor_values(sort)
                        .into_iter()
                        .map(|value| store::list_sql(&after_cursor(&query, value), source))
                        .collect();
                    if sort == SortKey::Due {
                        statements.push(store::undated_sql(&query, source));
                    }
                    for sql in statements {
                        let plan = assert_plan(&db, &sql, bound.trim_end_matches(')'));
                        assert_packed(&plan, &sql);
                        let detail = plan.iter().find(|d| d.starts_with("SEARCH tasks")).unwrap();
                        let columns = index_columns(&db, index_of(detail));
                        if sort == SortKey::Due {
                            assert!(due_index(&columns), "{sql}\n{plan:#?}");
                        } else {
                            assert_eq!(columns, expected, "{sql}\n{plan:#?}");
                        }
                        let seeks = detail.contains(">?")
                            || detail.contains("<?")
                            || (sql.contains("IS NULL) = 1") && detail.contains("<expr>=?"));
                        assert!(seeks, "no seek to the cursor\n{sql}\n{plan:#?}");
                        cursors += 1;
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * EXTRA_FILTERS * 5 * 2);
    assert_eq!(cursors, 3 * 3 * EXTRA_FILTERS * 7 * 2);
}

/// Sort values a cursor of `sort` can hold: sort=due's may be a missing due date.
fn cursor_values(sort: SortKey) -> Vec<SortValue> {
    match sort {
        SortKey::Title => vec![SortValue::Text("m".into())],
        SortKey::Due => vec![SortValue::Integer(5), SortValue::Null],
        _ => vec![SortValue::Integer(5)],
    }
}

/// `query` continued after a task with sort value `value`, by a cursor sealed for it.
fn after_cursor(query: &ListQuery, value: SortValue) -> ListQuery {
    let key = CursorKey::from_bytes(&[7; 32]).unwrap();
    let position = Position { value, id: 9 };
    let text = cursor::seal(&position, &query.binding("u"), &key);
    ListQuery {
        cursor: Some(Cursor::parse(&text).unwrap()),
        ..query.clone()
    }
}

/// `count=true` counts from the user's index (covering where the filters allow), never the
/// table, and never sorts.
#[test]
fn counts_read_one_users_index() {
    let db = migrated();
    for status in [StatusFilter::All, StatusFilter::Completed] {
        for extra in 0..EXTRA_FILTERS {
            let query = with_extra_filter(
                ListQuery {
                    status,
                    count: true,
                    ..ListQuery::default()
                },
                extra,
            );
            let sql = store::count_sql(&query);
            assert_plan(&db, &sql, "(user_id=?");
        }
    }
}

/// The filters beside status and priority, one at a time and all together: none, two tags,
/// a due-date window, overdue and not, a keyword search (in a non-relevance sort).
const EXTRA_FILTERS: usize = 7;

fn with_extra_filter(mut query: ListQuery, which: usize) -> ListQuery {
    let tags = || vec![Tag::parse("work").unwrap(), Tag::parse("Home").unwrap()];
    let at = |micros| Some(Timestamp::from_micros(micros));
    match which {
        0 => {}
        1 => query.tags = tags(),
        2 => (query.due_after, query.due_before) = (at(1), at(2)),
        3 => query.overdue = Some(true),
        4 => query.overdue = Some(false),
        5 => query.search = Some(SearchQuery::parse("milk eggs").unwrap()),
        _ => {
            query.tags = tags();
            (query.due_after, query.due_before) = (at(1), at(2));
            query.overdue = Some(true);
            query.search = Some(SearchQuery::parse("milk").unwrap());
        }
    }
    query
}

/// A tag filter is a primary-key search of `task_tags` per tag, and a keyword filter one
/// FTS5 index query, beside the user's index scan (checked above).
#[test]
fn tag_and_search_filters_use_their_indexes() {
    let db = migrated();
    let query = with_extra_filter(ListQuery::default(), 6);
    let plan = plan(&db, &store::list_sql(&query, UserSource::Auto));
    let text = plan.join("\n");
    assert!(
        text.contains("SEARCH task_tags USING PRIMARY KEY (user_id=? AND tag=? AND task_id=?)")
            || text.contains("SEARCH task_tags USING PRIMARY KEY (user_id=? AND tag=?)"),
        "{text}"
    );
    assert!(
        text.contains("SCAN task_search VIRTUAL TABLE INDEX"),
        "{text}"
    );
    assert!(!text.contains("SCAN task_tags"), "{text}");
}

/// Ranked search: the FTS index finds the matches, each is read by id and checked for its
/// owner, and only the matched rows of one user are sorted by score (relevance has no index
/// order; `benches/scale.rs` measures it).
#[test]
fn ranked_search_reads_matches_by_id() {
    let db = migrated();
    for status in [StatusFilter::All, StatusFilter::Pending] {
        let query = ListQuery {
            status,
            search: Some(SearchQuery::parse("buy milk").unwrap()),
            sort: SortKey::Relevance,
            ..ListQuery::default()
        };
        for source in SOURCES {
            let sql = store::list_sql(&query, source);
            let plan = plan(&db, &sql);
            let text = plan.join("\n");
            assert!(
                plan.iter().any(|d| d.starts_with("CO-ROUTINE "))
                    && plan.iter().any(|d| d.starts_with("SCAN (subquery-")),
                "{text}"
            );
            assert!(
                text.contains("SCAN task_search VIRTUAL TABLE INDEX"),
                "{text}"
            );
            assert!(
                text.contains("SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"),
                "{text}"
            );
            assert!(
                !text.contains("SCAN t\n") && !text.ends_with("SCAN t"),
                "{text}"
            );
            assert!(sql.contains("t.user_id = ?1"), "{sql}");
        }
    }
}

/// `GET /tags` reads one user's rows of `task_tags` in key order.
#[test]
fn the_tag_list_reads_one_users_tags_in_order() {
    let db = migrated();
    let recording = StatementLog::new(&db);
    let account = user_u(UserSource::Auto);
    store::list_tags(&recording, &account, Timestamp::from_micros(1))
        .now()
        .unwrap();
    // (Besides the probe for stale tasks, checked in `single_task_statements`.)
    let sql = recording
        .take()
        .into_iter()
        .find(|sql| sql.contains("FROM task_tags g"))
        .unwrap();
    let text = plan(&db, &sql).join("\n");
    assert!(
        text.contains("SEARCH g USING PRIMARY KEY (user_id=?)"),
        "{text}"
    );
    assert!(!text.contains("TEMP B-TREE"), "{text}");
    // Each tag row's task is checked by rowid (a deleted task's rows never count).
    assert!(
        text.contains("SEARCH tasks EXISTS USING INTEGER PRIMARY KEY (rowid=?)"),
        "{text}"
    );
    // The only SCAN is of the grouped subquery's own output.
    for detail in text.lines().filter(|d| d.starts_with("SCAN")) {
        assert!(detail.starts_with("SCAN (subquery"), "{text}");
    }
}

#[test]
fn single_task_statements_find_the_row_by_id_and_check_its_owner() {
    let db = migrated();
    let recording = StatementLog::new(&db);
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let task = NewTask {
        title: TaskTitle::parse("t").unwrap(),
        description: None,
        completed: false,
        priority: TaskPriority::None,
        tags: Default::default(),
        schedule: Default::default(),
    };
    let key = IdempotencyKey {
        key: "k",
        request_hash: "h",
    };
    for source in SOURCES {
        single_task_statements(&db, &recording, &user_u(source), &task, &key, now);
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
    let store::Created::New(created) = store::create_task(recording, user, task, Some(key), now)
        .now()
        .unwrap()
    else {
        panic!("the first keyed create makes a task")
    };
    let id = created.id;
    // The same key again: the create answers from the keyed lookup.
    store::create_task(recording, user, task, Some(key), now)
        .now()
        .unwrap();
    let keyed_lookup = recording.take().pop().unwrap();
    assert_plan(
        db,
        &keyed_lookup,
        "INDEX tasks_by_user_idempotency_key (user_id=? AND idempotency_key=?)",
    );

    // A task that exists, so each statement's guard answers for itself (no fallback check).
    store::get_task(recording, user, id, now)
        .now()
        .unwrap()
        .unwrap();
    let patch = TaskPatch::default();
    let updated = store::update_task(recording, user, id, &patch, None, now)
        .now()
        .unwrap()
        .unwrap();
    let versions = [
        updated.updated_at.as_micros(),
        created.updated_at.as_micros(),
    ];
    let toggled = store::toggle_task(recording, user, id, Some(&versions), now)
        .now()
        .unwrap()
        .unwrap();
    let tagged = TaskPatch {
        title: Some(TaskTitle::parse("retitled").unwrap()),
        tags: Some(TagSet::from_names(["a", "b"]).unwrap()),
        ..TaskPatch::default()
    };
    let after_toggle = [toggled.updated_at.as_micros()];
    let retagged = store::update_task(recording, user, id, &tagged, Some(&after_toggle), now)
        .now()
        .unwrap()
        .unwrap();
    let mut statements = recording.take();
    // A tag filter brings the task's tag rows into being (its statements are checked below),
    // so that the delete has tag rows to remove.
    let by_tag = ListQuery {
        tags: vec![Tag::parse("a").unwrap()],
        ..ListQuery::default()
    };
    assert_eq!(
        store::list_tasks(recording, user, &by_tag, now)
            .now()
            .unwrap()
            .tasks
            .len(),
        1
    );
    recording.take();
    let current = [retagged.updated_at.as_micros()];
    let retention = TrashRetention::days(30).unwrap();
    assert!(
        store::delete_task(recording, user, id, Some(&current), retention, now)
            .now()
            .unwrap()
    );
    statements.extend(recording.take());
    // get, update, toggle, retag, delete (each one statement); then the task's search entry
    // and tag rows.
    assert_eq!(statements.len(), 7, "{statements:#?}");
    for sql in &statements {
        if sql.starts_with("DELETE FROM task_search") {
            // By rowid: `DELETE … WHERE rowid = ?1`.
            continue;
        }
        // The delete learns whether the task has a search entry from its own row's mark:
        // no statement but the entry's own removal opens the FTS5 table.
        assert!(!sql.contains("task_search"), "{sql}");
        if sql.starts_with("DELETE FROM task_tags") {
            let plan = plan(db, sql);
            assert!(
                plan.iter()
                    .all(|d| d.contains("INDEX task_tags_by_task (task_id=?)")),
                "{sql}\n{plan:#?}"
            );
            continue;
        }
        // The id is the rowid: one row is found by key, and the owner is checked on it. An
        // index on (user_id, …) could not do better than that.
        assert_plan(db, sql, "INTEGER PRIMARY KEY (rowid=?)");
        assert!(sql.contains("user_id = ?"), "not bound to its owner: {sql}");
    }

    // A read that needs derived rows first brings the user's stale tasks up to date: each of
    // those statements finds them through the partial index of stale tasks, never by scanning
    // the user's tasks.
    let store::Created::New(_) = store::create_task(recording, user, task, None, now)
        .now()
        .unwrap()
    else {
        panic!("not created")
    };
    recording.take();
    let query = ListQuery {
        tags: vec![Tag::parse("a").unwrap()],
        ..ListQuery::default()
    };
    store::list_tasks(recording, user, &query, now)
        .now()
        .unwrap();
    let refresh: Vec<String> = recording
        .take()
        .into_iter()
        .filter(|sql| sql.contains("derived_stale = 1"))
        .collect();
    assert_eq!(refresh.len(), 5, "{refresh:#?}");
    for sql in &refresh {
        let plan = plan(db, sql);
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX tasks_stale (user_id=?)")
                    || d.contains("USING COVERING INDEX tasks_stale (user_id=?)")),
            "{sql}\n{plan:#?}"
        );
        for detail in &plan {
            assert!(
                !detail.starts_with("SCAN tasks") && !detail.starts_with("SCAN t "),
                "{sql}\n{plan:#?}"
            );
        }
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

/// Every write stamps the task with the user's next `seq`: two probes for the user's highest,
/// the owner's and the trash id's, each the last entry of one range of `(user_id, seq)`. The
/// feed merges the same two ranges; the trash list and the purge read the `tasks_trash`
/// partial index; delete and restore find the task by id.
#[test]
fn seq_probes_feed_trash_and_restore_read_one_users_indexes() {
    let db = migrated();
    let recording = StatementLog::new(&db);
    let user = user_u(UserSource::Auto);
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let retention = TrashRetention::days(30).unwrap();
    let task = NewTask {
        title: TaskTitle::parse("t").unwrap(),
        description: None,
        completed: false,
        priority: TaskPriority::None,
        tags: Default::default(),
        schedule: Default::default(),
    };
    let store::Created::New(created) = store::create_task(&db, &user, &task, None, now)
        .now()
        .unwrap()
    else {
        panic!("not created")
    };
    store::toggle_task(&recording, &user, created.id, None, now)
        .now()
        .unwrap()
        .unwrap();
    assert!(
        store::delete_task(&recording, &user, created.id, None, retention, now)
            .now()
            .unwrap()
    );
    store::list_trash(&recording, &user, retention, now)
        .now()
        .unwrap();
    store::restore_task(&recording, &user, created.id, retention, now)
        .now()
        .unwrap()
        .unwrap();
    // A delete 31 days after another purges the older one (one more statement).
    let store::Created::New(other) = store::create_task(&db, &user, &task, None, now)
        .now()
        .unwrap()
    else {
        panic!("not created")
    };
    assert!(
        store::delete_task(&db, &user, other.id, None, retention, now)
            .now()
            .unwrap()
    );
    let later = Timestamp::from_micros(now.as_micros() + 31 * 86_400_000_000);
    assert!(
        store::delete_task(&recording, &user, created.id, None, retention, later)
            .now()
            .unwrap()
    );
    let feed = ChangesQuery {
        since: SyncToken::from_seq(3),
        limit: 10,
        wait: 0,
    };
    store::changes(&recording, &user, feed, now).now().unwrap();
    let statements = recording.take();
    let mut probes = 0;
    for sql in &statements {
        let plan = plan(&db, sql);
        let text = plan.join("\n");
        for detail in &plan {
            assert!(
                detail != "SCAN tasks" && !detail.starts_with("SCAN tasks "),
                "a scan\n{sql}\n{text}"
            );
            assert!(!detail.contains("TEMP B-TREE"), "a sort\n{sql}\n{text}");
        }
        probes += plan
            .iter()
            .filter(|d| d.contains("COVERING INDEX tasks_by_user_seq (user_id=?)"))
            .count();
        if sql.contains("seq > ?2") {
            // The feed: the owner's and the trash's range of one index, merged in order.
            let ranges = plan
                .iter()
                .filter(|d| d.contains("INDEX tasks_by_user_seq (user_id=? AND seq>?)"))
                .count();
            assert_eq!(ranges, 2, "{sql}\n{text}");
            assert!(text.contains("MERGE (UNION ALL)"), "{sql}\n{text}");
            assert_packed(&plan, sql);
        }
        if sql.contains("ORDER BY deleted_at DESC") {
            assert!(
                text.contains("INDEX tasks_trash (user_id=? AND deleted_at>?)"),
                "{text}"
            );
        }
        if sql.starts_with("UPDATE") && !sql.contains("INDEXED BY tasks_trash SET") {
            // Toggle, delete, restore: the task by id, its owner (or trash id) checked on it.
            assert!(
                text.contains("SEARCH tasks USING INTEGER PRIMARY KEY (rowid=?)"),
                "{sql}\n{text}"
            );
        }
    }
    let purge = statements
        .iter()
        .find(|sql| sql.contains("INDEXED BY tasks_trash SET"))
        .expect("the later delete purges");
    let purge_plan = plan(&db, purge);
    assert!(
        purge_plan
            .iter()
            .all(|d| d.contains("INDEX tasks_trash (user_id=? AND deleted_at>? AND deleted_at<?)")),
        "{purge}\n{purge_plan:#?}"
    );
    // toggle, the two deletes' tombstones, restore: two probes each.
    assert_eq!(probes, 8, "{statements:#?}");
}

/// A list or feed statement runs with the plan it was prepared with. SQLite re-prepares a
/// statement whose plan read a bound value (a bound `LIMIT` does that) when that value is
/// bound, and under Spin every request prepares its statements afresh on its own connection and
/// runs each once: a re-prepare doubles the cost of the request's main statement. Each
/// statement here runs once through the store's own connection, as under Spin, and SQLite's
/// count of re-prepares (`SQLITE_STMTSTATUS_REPREPARE`) of it must be 0. (Run a second time
/// through rusqlite's statement cache, which clears the bindings between uses, these statements
/// are re-prepared once per reuse even without a bound `LIMIT`; not pinned down, and not
/// something Spin does.)
#[test]
fn list_and_feed_statements_are_prepared_once() {
    use task_api::db::Database;
    let db = migrated();
    let reprepares = |sql: &str| {
        db.connection()
            .prepare_cached(sql)
            .unwrap()
            .get_status(rusqlite::StatementStatus::RePrepare)
    };
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    for text in [
        "",
        "limit=7&offset=3",
        "sort=title&order=asc&status=pending",
        "sort=updated&status=completed&priority=high,low",
        "sort=priority&tag=work",
        "sort=due&order=asc&due_before=2030-01-01T00:00:00Z&overdue=true",
        "q=report",
        "q=report&sort=relevance&limit=5",
    ] {
        let query = ListQuery::parse(text).unwrap();
        for source in SOURCES {
            let listed = store::list_statement(&query, source, "u", now);
            db.execute(&listed.sql, &listed.params)
                .now()
                .unwrap_or_else(|e| panic!("{text}: {e:?}\n{}", listed.sql));
            assert_eq!(
                reprepares(&listed.sql),
                0,
                "re-prepared: {text}\n{}",
                listed.sql
            );
        }
    }

    let recording = StatementLog::new(&db);
    let user = user_u(UserSource::Auto);
    let feed = ChangesQuery {
        since: SyncToken::START,
        limit: 10,
        wait: 0,
    };
    store::changes(&recording, &user, feed, now).now().unwrap();
    let statements = recording.take();
    let feed = statements.first().unwrap();
    assert!(feed.contains("UNION ALL"), "not the feed: {statements:#?}");
    assert_eq!(reprepares(feed), 0, "re-prepared: {feed}");
}
