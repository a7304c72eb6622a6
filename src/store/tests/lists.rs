//! Lists: filters, sorts, pages and their query plans.

use super::*;

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
                let query = ListQuery::parse(&format!("status={status}&sort={sort}&order={order}"))
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
