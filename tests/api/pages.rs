//! Keyset pages (`cursor=`, `Link: <…>; rel="next"`, `X-Next-Cursor`) and counts
//! (`count=true`, `X-Total-Count`), through the running component.

use super::client::Request;
use super::support::{Server, ids};
use super::tokens::token;
use serde_json::{Value, json};
use task_api_testkit::rng::Rng;

/// The `rel="next"` target of a `Link` header, if any.
fn next_link(response: &task_api_testkit::client::Response) -> Option<String> {
    let link = response.header("link")?;
    let target = link.strip_prefix('<')?.split_once(">; rel=\"next\"")?.0;
    Some(target.to_owned())
}

/// Follows `Link` from `first` to the end; every page's `X-Next-Cursor` is the cursor of its
/// link, and only a full page has one.
fn follow(server: &Server, token: &str, first: &str, limit: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut url = Some(first.to_owned());
    let mut pages = 0;
    while let Some(current) = url {
        pages += 1;
        assert!(pages < 500, "no end to the pages of {first}");
        let response = server.get(&current, token);
        let page = ids(&response);
        assert!(page.len() <= limit, "{current}: {} rows", page.len());
        url = next_link(&response);
        match (&url, response.header("x-next-cursor")) {
            (Some(link), Some(cursor)) => {
                assert!(
                    link.ends_with(&format!("cursor={cursor}")),
                    "{link} vs {cursor}"
                );
                assert_eq!(page.len(), limit, "a page with a next link must be full");
            }
            (None, None) => assert!(page.len() < limit, "a full page must link on"),
            other => panic!("Link and X-Next-Cursor disagree: {other:?}"),
        }
        seen.extend(page);
    }
    seen
}

/// Random tasks with many ties (titles equal but for case, shared priorities and due dates,
/// missing due dates), some completed, some tagged, a few matching `q=milk`. The first two are
/// not left to chance (the RNG is drawn the same either way, so a seed replays): the first is
/// pending, tagged, `high` and matches `q=milk`, the second is completed, so that every filter
/// the tests list has rows whatever the seed (one seed in ~150 left `tag=errands&priority=
/// high,low` empty).
fn populate(server: &Server, user: &str, token: &str, random: &mut Rng, count: usize) {
    let titles = ["Milk", "milk", "Bread", "apples", "Zebra milk", "eggs"];
    let priorities = ["none", "low", "medium", "high"];
    let dues = [
        Value::Null,
        json!("2031-05-01T09:00:00Z"),
        json!("2031-05-01T09:00:00Z"),
        json!("2030-01-01T00:00:00+02:00"),
    ];
    for i in 0..count {
        let mut body = json!({
            "title": random.pick(&titles),
            "priority": random.pick(&priorities),
            "due_at": random.pick(&dues),
        });
        if i == 0 {
            body["priority"] = json!("high");
        }
        if random.chance(30) || i == 0 {
            body["tags"] = json!(["errands"]);
        }
        if random.chance(30) || i == 0 {
            body["description"] = json!("buy milk on the way");
        }
        let created = server.post(&format!("/api/{user}/tasks"), token, body);
        assert_eq!(created.status, 201, "{}", created.text());
        if (random.chance(40) && i != 0) || i == 1 {
            let id = created.json()["id"].as_i64().unwrap();
            assert_eq!(server.toggle(user, id, token).status, 200);
        }
    }
}

#[test]
fn cursor_pages_visit_every_task_once_in_every_sort_order_and_filter() {
    let (mut random, _seed) = Rng::from_env("PAGES_SEED");
    let server = Server::start();
    let t = token("paula");
    populate(&server, "paula", &t, &mut random, 31);
    server.create("other-pager", "not paula's");
    let mut lists = Vec::new();
    for sort in ["created", "updated", "title", "priority", "due"] {
        for order in ["asc", "desc"] {
            lists.push(format!("sort={sort}&order={order}"));
        }
    }
    lists.extend([
        "q=milk".to_owned(),
        "q=milk&order=asc".to_owned(),
        "q=milk&sort=title".to_owned(),
        "status=pending&sort=due&order=desc".to_owned(),
        "tag=errands&priority=high,low".to_owned(),
        "status=completed&sort=title&order=desc".to_owned(),
    ]);
    for list in lists {
        let everything = ids(&server.get(&format!("/api/paula/tasks?{list}&limit=100"), &t));
        assert!(!everything.is_empty(), "{list}");
        let limit = 1 + random.below(7);
        let first = format!("/api/paula/tasks?{list}&limit={limit}");
        assert_eq!(
            follow(&server, &t, &first, limit),
            everything,
            "{list}, limit {limit}"
        );
    }
}

#[test]
fn a_page_by_cursor_neither_repeats_nor_skips_when_tasks_arrive_or_leave() {
    let server = Server::start();
    let t = token("petra");
    for i in 0..6 {
        server.create("petra", &format!("task {i}"));
    }
    let first = server.get("/api/petra/tasks?limit=3", &t);
    let first_ids = ids(&first);
    let next = next_link(&first).expect("a next page");
    // Newer tasks sort before the page already read; an older one of the next page is gone.
    server.create("petra", "newer");
    let all = ids(&server.get("/api/petra/tasks?limit=100", &t));
    let removed = all[all.len() - 1];
    assert_eq!(
        server
            .delete(&format!("/api/petra/tasks/{removed}"), &t)
            .status,
        204
    );
    let second = ids(&server.get(&next, &t));
    let expected: Vec<i64> = all
        .iter()
        .copied()
        .filter(|id| !first_ids.contains(id) && *id != removed && *id != all[0])
        .collect();
    assert_eq!(second, expected);
}

#[test]
fn a_cursor_of_another_user_list_or_edit_is_a_400_and_garbage_a_422() {
    let server = Server::start();
    let (alice, bob) = (token("cur-alice"), token("cur-bob"));
    for i in 0..4 {
        server.create("cur-alice", &format!("a{i}"));
        server.create("cur-bob", &format!("b{i}"));
    }
    let page = server.get("/api/cur-alice/tasks?limit=2&status=all", &alice);
    let cursor = page.header("x-next-cursor").expect("a cursor").to_owned();
    assert!(
        ids(&server.get(
            &format!("/api/cur-alice/tasks?limit=2&cursor={cursor}"),
            &alice
        ))
        .len()
            == 2
    );

    // 400: a cursor in the documented form that this API did not issue for this list; 422:
    // text not in that form, or a cursor with an offset.
    let refused_with = |status: u16, path: String, token: &str| {
        let response = server.get(&path, token);
        let body = response.assert_json_error(status);
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&"cursor") || fields.contains(&"offset"),
            "{path}: {body}"
        );
    };
    let unknown = |path: String, token: &str| refused_with(400, path, token);
    let refused = |path: String, token: &str| refused_with(422, path, token);
    // Bob, with Alice's cursor, on his own list: never a page of hers, and not one of his.
    unknown(format!("/api/cur-bob/tasks?limit=2&cursor={cursor}"), &bob);
    // Alice's cursor on a list with other filters, sort or order.
    for other in [
        "status=pending",
        "sort=title",
        "order=asc",
        "q=a0",
        "tag=x",
        "priority=low",
    ] {
        unknown(
            format!("/api/cur-alice/tasks?{other}&cursor={cursor}"),
            &alice,
        );
    }
    // Edited: every character replaced by another of the alphabet, one at a time.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..cursor.len() {
        let original = cursor.as_bytes()[i] as char;
        let replacement = alphabet.chars().find(|c| *c != original).unwrap();
        let mut edited = cursor.clone();
        edited.replace_range(i..=i, &replacement.to_string());
        let response = server.get(&format!("/api/cur-alice/tasks?cursor={edited}"), &alice);
        // Out of the documented form (the version, or the last character's unused bits): 422;
        // in it but not sealed by this API: 400. Never a page.
        assert!(
            [400, 422].contains(&response.status),
            "edited at {i}: {}",
            response.status
        );
        response.assert_json_error(response.status);
    }
    for garbage in [
        "",
        "x",
        "%00",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        refused(format!("/api/cur-alice/tasks?cursor={garbage}"), &alice);
    }
    refused(
        format!("/api/cur-alice/tasks?cursor={}", "A".repeat(3000)),
        &alice,
    );
    refused(
        format!("/api/cur-alice/tasks?cursor={cursor}&offset=2"),
        &alice,
    );
    refused(
        format!("/api/cur-alice/tasks?cursor={cursor}&cursor={cursor}"),
        &alice,
    );
}

#[test]
fn cursors_survive_a_restart_and_the_last_page_has_no_link() {
    let server = Server::start();
    let t = token("rita");
    for i in 0..5 {
        server.create("rita", &format!("r{i}"));
    }
    let page = server.get("/api/rita/tasks?limit=4", &t);
    let next = next_link(&page).expect("a next page");
    let state = server.stop();
    let server = Server::builder().state(state).start();
    let last = server.get(&next, &t);
    assert_eq!(ids(&last).len(), 1);
    assert_eq!(last.header("link"), None);
    assert_eq!(last.header("x-next-cursor"), None);
    // A page of exactly `limit` rows links to an empty last page.
    let exact = server.get("/api/rita/tasks?limit=5", &t);
    let after = server.get(&next_link(&exact).expect("a full page links on"), &t);
    assert_eq!(ids(&after), Vec::<i64>::new());
    assert_eq!(after.header("link"), None);
}

#[test]
fn counts_are_exact_per_user_and_filter_and_only_when_asked() {
    let (mut random, _seed) = Rng::from_env("COUNT_SEED");
    let server = Server::start();
    let t = token("carla");
    populate(&server, "carla", &t, &mut random, 17);
    populate(&server, "carlos", &token("carlos"), &mut random, 9);
    let plain = server.get("/api/carla/tasks", &t);
    assert_eq!(plain.header("x-total-count"), None);
    for list in [
        "",
        "status=pending",
        "status=completed",
        "priority=high",
        "tag=errands",
        "q=milk",
        "q=milk&sort=title",
        "due_before=2031-01-01T00:00:00Z",
        "overdue=false",
        "sort=due&order=desc&priority=none,low",
    ] {
        let all = ids(&server.get(&format!("/api/carla/tasks?{list}&limit=100"), &t));
        let counted = server.get(&format!("/api/carla/tasks?{list}&limit=2&count=true"), &t);
        assert_eq!(counted.status, 200);
        assert_eq!(
            counted.header("x-total-count"),
            Some(all.len().to_string().as_str()),
            "{list}"
        );
        // A later page counts the whole list too.
        if let Some(next) = next_link(&counted) {
            let later = server.get(&next, &t);
            assert_eq!(
                later.header("x-total-count"),
                Some(all.len().to_string().as_str()),
                "{list}: the next link keeps count=true"
            );
        }
    }
    let nobody = server.get("/api/nobody-here/tasks?count=true", &token("nobody-here"));
    assert_eq!(nobody.header("x-total-count"), Some("0"));
    let bad = server.get("/api/carla/tasks?count=yes", &t);
    assert_eq!(bad.assert_json_error(422)["errors"][0]["field"], "count");
    // A browser on an allowed origin may read the headers.
    let response = server.send(
        Request::new("GET", "/api/carla/tasks?count=true&limit=1")
            .bearer(&t)
            .header("Origin", "http://localhost:3000"),
    );
    let exposed = response
        .header("access-control-expose-headers")
        .unwrap_or_default();
    for header in ["Link", "X-Next-Cursor", "X-Total-Count"] {
        assert!(exposed.contains(header), "{exposed}");
    }
}
