//! Keyword search (`q=`): ranked, combined with the other filters, never across users, and
//! never a 500 whatever the query says.

use super::client::Request;
use super::support::{Server, titles};
use super::tokens::token;
use serde_json::json;

/// Percent-encodes everything but ASCII letters and digits.
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn search_finds_words_in_titles_and_descriptions_ranked_titles_first() {
    let server = Server::start();
    let t = token("sam");
    for (title, description) in [
        ("Buy milk", Some("and bread")),
        ("Call mom", Some("ask about milk delivery")),
        ("Milk the cow, then more milk", None),
        ("Write report", Some("quarterly")),
        ("Café visit", Some("Crème brûlée")),
    ] {
        let r = server.post(
            "/api/sam/tasks",
            &t,
            json!({"title": title, "description": description}),
        );
        assert_eq!(r.status, 201);
    }
    let search = |query: &str| titles(&server.get(&format!("/api/sam/tasks?{query}"), &t));
    // Two title hits, then one, then a description hit.
    assert_eq!(
        search("q=milk"),
        ["Milk the cow, then more milk", "Buy milk", "Call mom"]
    );
    assert_eq!(
        search("q=MILK&sort=title"),
        ["Buy milk", "Call mom", "Milk the cow, then more milk"]
    );
    assert_eq!(
        search("q=milk%20bread"),
        ["Buy milk"],
        "every word must occur"
    );
    assert_eq!(
        search("q=quart"),
        ["Write report"],
        "the last word is a prefix"
    );
    assert_eq!(search("q=cafe"), ["Café visit"], "accents do not matter");
    assert_eq!(search("q=creme%20brulee"), ["Café visit"]);
    assert_eq!(search("q=nothing"), Vec::<String>::new());
    assert_eq!(search("q=milk&order=asc").len(), 3);

    // Combined with status, priority and tag filters, and with paging.
    let buy = server.get("/api/sam/tasks?q=buy", &t).json()[0]["id"]
        .as_i64()
        .unwrap();
    server.toggle("sam", buy, &t);
    assert_eq!(
        search("q=milk&status=pending&sort=title"),
        ["Call mom", "Milk the cow, then more milk"]
    );
    assert_eq!(search("q=milk&status=completed"), ["Buy milk"]);
    assert_eq!(search("q=milk&limit=1&offset=1"), ["Buy milk"]);
    server.patch(
        &format!("/api/sam/tasks/{buy}"),
        &t,
        json!({"tags": ["shop"], "title": "Buy oat milk"}),
    );
    assert_eq!(search("q=milk&tag=shop"), ["Buy oat milk"]);
    assert_eq!(
        search("q=oat"),
        ["Buy oat milk"],
        "an edited title is searchable"
    );
    assert_eq!(search("q=buy&priority=high"), Vec::<String>::new());
    // A deleted task is gone from the index.
    assert_eq!(
        server.delete(&format!("/api/sam/tasks/{buy}"), &t).status,
        204
    );
    assert_eq!(search("q=oat"), Vec::<String>::new());
}

#[test]
fn search_never_returns_or_ranks_by_another_users_tasks() {
    let server = Server::start();
    let (a, b) = (token("sue"), token("syd"));
    server.post("/api/sue/tasks", &a, json!({"title": "shared word alpha"}));
    for i in 0..30 {
        server.post(
            "/api/syd/tasks",
            &b,
            json!({"title": format!("alpha secret {i}"), "description": "alpha alpha"}),
        );
    }
    let mine = server.get("/api/sue/tasks?q=alpha", &a);
    assert_eq!(titles(&mine), ["shared word alpha"]);
    assert!(!mine.text().contains("syd"));
    assert_eq!(
        titles(&server.get("/api/sue/tasks?q=secret", &a)),
        Vec::<String>::new()
    );
    // A user id that is a prefix of another's, or a word that is someone's owner token,
    // matches nothing more.
    let owner_token: String = "syd".bytes().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        titles(&server.get(&format!("/api/sue/tasks?q={owner_token}"), &a)),
        Vec::<String>::new()
    );
    assert_eq!(server.get("/api/syd/tasks?q=alpha", &a).status, 403);
}

#[test]
fn search_syntax_quotes_and_empty_queries_are_200_or_422_never_500() {
    let server = Server::start();
    let t = token("sid");
    server.post(
        "/api/sid/tasks",
        &t,
        json!({"title": "a \"quoted\" title: NEAR(x) OR y*"}),
    );
    for q in [
        "\"",
        "\"\"",
        "'",
        "*",
        "milk*",
        "\"milk",
        "NEAR(milk eggs)",
        "milk OR eggs",
        "milk AND",
        "-milk",
        "title:milk",
        "{title}:x",
        "^milk",
        "milk + eggs",
        "(",
        ")",
        "a:b:c",
        "\\",
        "\u{0}",
        "😀",
        "the",
        "a",
        "x y z w v u",
        "\"quoted\"",
        "%",
        "&",
        "#",
        "=",
    ] {
        let r = server.get(&format!("/api/sid/tasks?q={}", encode(q)), &t);
        assert!(
            r.status == 200 || r.status == 422,
            "q={q}: {} {}",
            r.status,
            r.text()
        );
        let body = r.json();
        if r.status == 422 {
            assert_eq!(body["errors"][0]["field"], "q", "q={q}");
        } else {
            assert!(body.is_array(), "q={q}");
        }
    }
    assert_eq!(
        titles(&server.get("/api/sid/tasks?q=near%20quoted", &t)).len(),
        1
    );
    assert_eq!(
        titles(&server.get("/api/sid/tasks?q=%22quoted%22%20OR", &t)).len(),
        1
    );
    for q in ["", "%20", "***", "%22%22"] {
        let r = server.send(Request::new("GET", &format!("/api/sid/tasks?q={q}")).bearer(&t));
        assert_eq!(r.status, 422, "q={q:?}");
    }
    let long = "a".repeat(201);
    assert_eq!(
        server.get(&format!("/api/sid/tasks?q={long}"), &t).status,
        422
    );
}

/// A database of the first release with search (schema 8 as released: triggers kept the tag
/// rows and an FTS index over a view) is upgraded in place by migration 0009: the triggers,
/// the view and the old index go, and the tasks it held are found, tagged, edited and deleted
/// through the derived rows the store keeps itself.
#[test]
fn a_database_of_the_first_search_release_upgrades_without_triggers() {
    use super::support::{builder_at_schema, stored_integer};
    let released = super::support::root().join("tests/fixtures/0008_released_extras.sql");
    let server = builder_at_schema(8)
        .sqlite(&format!("@{}", released.display()))
        // Written as release 8 wrote them: its triggers filled task_tags and tasks_fts.
        .sqlite(
            "INSERT INTO tasks (user_id, title, description, tags, created_at, updated_at) VALUES \
             ('vera', 'water the ferns', 'and the cactus', '{\"home\":\"Home\"}', 1, 1)",
        )
        .sqlite(
            "INSERT INTO tasks (user_id, title, tags, created_at, updated_at) VALUES \
             ('vera', 'file taxes', '{\"home\":\"Home\",\"money\":\"Money\"}', 2, 2)",
        )
        .sqlite(
            "INSERT INTO tasks (user_id, title, tags, created_at, updated_at) VALUES \
             ('wim', 'water the lawn', '{\"home\":\"home\"}', 3, 3)",
        )
        .start();
    let t = token("vera");
    assert_eq!(
        titles(&server.get("/api/vera/tasks?q=water", &t)),
        ["water the ferns"]
    );
    assert_eq!(
        titles(&server.get("/api/vera/tasks?q=cactus", &t)),
        ["water the ferns"]
    );
    assert_eq!(
        server.get("/api/vera/tags", &t).json(),
        json!([{"tag": "Home", "count": 2}, {"tag": "Money", "count": 1}])
    );
    let listed = server.get("/api/vera/tasks?tag=money", &t);
    assert_eq!(titles(&listed), ["file taxes"]);
    let taxes = listed.json()[0]["id"].as_i64().unwrap();
    let ferns = server.get("/api/vera/tasks?q=ferns", &t).json()[0]["id"]
        .as_i64()
        .unwrap();

    // Edits and deletes keep search and tags in step without any trigger.
    let edited = server.patch(
        &format!("/api/vera/tasks/{taxes}"),
        &t,
        json!({"title": "pay invoices", "tags": ["Money", "Work"]}),
    );
    assert_eq!(edited.status, 200, "{}", edited.text());
    assert!(titles(&server.get("/api/vera/tasks?q=taxes", &t)).is_empty());
    assert_eq!(
        titles(&server.get("/api/vera/tasks?q=invoices", &t)),
        ["pay invoices"]
    );
    assert_eq!(
        server
            .delete(&format!("/api/vera/tasks/{ferns}"), &t)
            .status,
        204
    );
    assert!(titles(&server.get("/api/vera/tasks?q=water", &t)).is_empty());
    assert_eq!(
        server.get("/api/vera/tags", &t).json(),
        json!([{"tag": "Money", "count": 1}, {"tag": "Work", "count": 1}])
    );
    // The other user's rows came through the upgrade too, and stay theirs.
    let w = token("wim");
    assert_eq!(
        titles(&server.get("/api/wim/tasks?q=water", &w)),
        ["water the lawn"]
    );
    assert_eq!(
        server.get("/api/wim/tags", &w).json(),
        json!([{"tag": "home", "count": 1}])
    );

    let database = server.database();
    let dir = server.stop();
    let left = stored_integer(
        &database,
        "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view') \
         OR name = 'tasks_fts'",
    );
    assert_eq!(
        left, 0,
        "0009 leaves no trigger, view or old search index behind"
    );
    // Three tasks came through; one was deleted since (into the trash).
    assert_eq!(
        stored_integer(
            &database,
            "SELECT count(*) FROM tasks WHERE deleted_at IS NULL"
        ),
        2
    );
    assert_eq!(
        stored_integer(
            &database,
            "SELECT count(*) FROM tasks WHERE deleted_at IS NOT NULL"
        ),
        1
    );
    drop(dir);
}

/// A database of release 13 (schema 11), whose searches indexed some tasks, is upgraded in
/// place by migration 0012: its tasks keep their search entries and count as indexed, so a
/// delete still removes the entry; lists, pages and sorts read them as before.
#[test]
fn a_database_of_release_13_upgrades_with_its_search_entries() {
    use super::support::{builder_at_schema, stored_integer};
    let server = builder_at_schema(11)
        // As release 13 left them: three tasks, two of them indexed by a search (its refresh
        // wrote the entries and set `derived_stale` to 0), one completed.
        .sqlite(
            "INSERT INTO tasks (id, user_id, title, description, completed, priority, tags, \
             created_at, updated_at, derived_stale, seq) VALUES \
             (1, 'uma', 'banana bread', 'bake it', 0, 1, '{}', 1, 1, 0, 1), \
             (2, 'uma', 'Apple pie', NULL, 1, 3, '{}', 2, 2, 0, 2), \
             (3, 'uma', 'cherry jam', NULL, 0, 2, '{}', 3, 3, 1, 3)",
        )
        .sqlite(
            "INSERT INTO task_search (rowid, owner, title, description) VALUES \
             (1, hex('uma'), 'banana bread', 'bake it'), (2, hex('uma'), 'Apple pie', NULL)",
        )
        .sqlite("INSERT INTO rate_limits (user_id, window_start, count) VALUES ('uma', 1, 5)")
        .start();
    let t = token("uma");
    assert_eq!(
        titles(&server.get("/api/uma/tasks?sort=title&order=asc", &t)),
        ["Apple pie", "banana bread", "cherry jam"]
    );
    assert_eq!(
        titles(&server.get("/api/uma/tasks?sort=priority", &t)),
        ["Apple pie", "cherry jam", "banana bread"]
    );
    // Page by page: the cursor continues to the completed task.
    let first = server.get("/api/uma/tasks?sort=title&order=desc&limit=2", &t);
    assert_eq!(titles(&first), ["cherry jam", "banana bread"]);
    let cursor = first
        .header("x-next-cursor")
        .expect("a next cursor")
        .to_owned();
    let rest = server.get(
        &format!("/api/uma/tasks?sort=title&order=desc&limit=2&cursor={cursor}"),
        &t,
    );
    assert_eq!(titles(&rest), ["Apple pie"], "{}", rest.text());
    assert_eq!(
        titles(&server.get("/api/uma/tasks?q=bake", &t)),
        ["banana bread"]
    );
    assert_eq!(server.delete("/api/uma/tasks/1", &t).status, 204);
    assert!(titles(&server.get("/api/uma/tasks?q=bake", &t)).is_empty());
    let database = server.database();
    let _state = server.stop();
    let version = stored_integer(&database, "SELECT max(version) FROM schema_migrations");
    assert_eq!(version, task_api::db::migrations::LATEST);
    let entry = stored_integer(
        &database,
        "SELECT count(*) FROM task_search WHERE rowid = 1",
    );
    assert_eq!(entry, 0, "the deleted task's search entry outlived it");
    let live = stored_integer(
        &database,
        "SELECT count(*) FROM tasks WHERE user_id = 'uma'",
    );
    assert_eq!(live, 2);
    let rate = stored_integer(
        &database,
        "SELECT count(*) FROM rate_limits WHERE user_id = 'uma'",
    );
    assert_eq!(rate, 1, "the rate-limit row came through");
}
