//! Tags: the field's rules, the `tag=` filter and `GET /api/{user_id}/tags`.

use super::support::{Server, titles};
use super::tokens::token;
use serde_json::{Value, json};

fn tags_of(task: &Value) -> Vec<String> {
    task["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags in {task}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn tags_are_trimmed_deduplicated_without_case_sorted_and_kept_as_typed() {
    let server = Server::start();
    let t = token("tia");
    let plain = server.post("/api/tia/tasks", &t, json!({"title": "plain"}));
    assert_eq!(tags_of(&plain.json()), Vec::<String>::new());
    let created = server.post(
        "/api/tia/tasks",
        &t,
        json!({"title": "t", "tags": ["  Work ", "home", "WORK", "Été", "été", "zeta"]}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(tags_of(&created.json()), ["home", "Work", "zeta", "Été"]);
    let item = format!("/api/tia/tasks/{}", created.json()["id"]);
    assert_eq!(
        tags_of(&server.get(&item, &t).json()),
        ["home", "Work", "zeta", "Été"]
    );

    // An update replaces them; a field not sent keeps them; [] clears.
    let replaced = server.patch(&item, &t, json!({"tags": ["errands"]}));
    assert_eq!(tags_of(&replaced.json()), ["errands"]);
    let kept = server.patch(&item, &t, json!({"title": "renamed"}));
    assert_eq!(tags_of(&kept.json()), ["errands"]);
    let cleared = server.put(&item, &t, json!({"tags": []}));
    assert_eq!(tags_of(&cleared.json()), Vec::<String>::new());
}

#[test]
fn tag_rules_are_enforced_on_create_and_update() {
    let server = Server::start();
    let t = token("tom");
    let id = server.create("tom", "x")["id"].as_i64().unwrap();
    let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    assert_eq!(
        server
            .post("/api/tom/tasks", &t, json!({"title": "x", "tags": twenty}))
            .status,
        201
    );
    let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    for bad in [
        json!(twenty_one),
        json!("work"),
        Value::Null,
        json!([1]),
        json!([""]),
        json!(["   "]),
        json!(["a".repeat(51)]),
        json!(["tab\there"]),
        json!(["nul\u{0}"]),
        json!({"work": true}),
    ] {
        let created = server.post("/api/tom/tasks", &t, json!({"title": "x", "tags": bad}));
        assert_eq!(created.status, 422, "{bad}: {}", created.text());
        assert_eq!(created.json()["errors"][0]["field"], "tags", "{bad}");
        let updated = server.patch(&format!("/api/tom/tasks/{id}"), &t, json!({"tags": bad}));
        assert_eq!(updated.status, 422, "{bad}");
    }
    // 50 characters after trimming is the limit, whatever surrounds them.
    let spaced = format!("  {}  ", "é".repeat(50));
    let ok = server.post(
        "/api/tom/tasks",
        &t,
        json!({"title": "x", "tags": [spaced]}),
    );
    assert_eq!(tags_of(&ok.json()), ["é".repeat(50)]);
}

#[test]
fn the_tag_filter_needs_every_tag_and_ignores_case() {
    let server = Server::start();
    let t = token("tess");
    for (title, tags) in [
        ("a", json!(["Work", "urgent"])),
        ("b", json!(["work"])),
        ("c", json!(["home", "URGENT"])),
        ("d", json!([])),
    ] {
        let r = server.post("/api/tess/tasks", &t, json!({"title": title, "tags": tags}));
        assert_eq!(r.status, 201);
    }
    let list =
        |query: &str| titles(&server.get(&format!("/api/tess/tasks?sort=title&{query}"), &t));
    assert_eq!(list("tag=work"), ["a", "b"]);
    assert_eq!(list("tag=WORK&tag=Urgent"), ["a"]);
    assert_eq!(list("tag=urgent"), ["a", "c"]);
    assert_eq!(list("tag=urgent&tag=home&tag=work"), Vec::<String>::new());
    assert_eq!(list("tag=%20work%20"), ["a", "b"], "trimmed like the field");
    assert_eq!(list("tag=nothing"), Vec::<String>::new());
    // With the other filters and sorts.
    let b = server.get("/api/tess/tasks?tag=work&sort=title", &t).json()[1]["id"]
        .as_i64()
        .unwrap();
    server.toggle("tess", b, &t);
    assert_eq!(list("tag=work&status=pending"), ["a"]);
    assert_eq!(list("tag=work&status=completed"), ["b"]);
    for bad in ["tag=", "tag=%09x"] {
        let r = server.get(&format!("/api/tess/tasks?{bad}"), &t);
        assert_eq!(r.status, 422, "{bad}");
        assert_eq!(r.json()["errors"][0]["field"], "tag");
    }
}

#[test]
fn the_tag_list_counts_only_the_callers_tasks() {
    let server = Server::start();
    let (a, b) = (token("tara"), token("tobi"));
    for tags in [
        json!(["Work", "home"]),
        json!(["work"]),
        json!(["secret-b"]),
    ] {
        server.post("/api/tara/tasks", &a, json!({"title": "x", "tags": tags}));
    }
    for tags in [json!(["WORK"]), json!(["private"]), json!(["private"])] {
        server.post("/api/tobi/tasks", &b, json!({"title": "y", "tags": tags}));
    }
    let listed = server.get("/api/tara/tags", &a);
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(
        listed.json(),
        json!([
            {"tag": "home", "count": 1},
            {"tag": "secret-b", "count": 1},
            {"tag": "work", "count": 2},
        ])
    );
    assert_eq!(
        server.get("/api/tobi/tags", &b).json(),
        json!([{"tag": "private", "count": 2}, {"tag": "WORK", "count": 1}])
    );
    // Deleting and retagging keep the counts exact.
    let first = server.get("/api/tara/tasks?tag=home", &a).json()[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        server
            .delete(&format!("/api/tara/tasks/{first}"), &a)
            .status,
        204
    );
    let second = server.get("/api/tara/tasks?tag=work", &a).json()[0]["id"]
        .as_i64()
        .unwrap();
    server.patch(
        &format!("/api/tara/tasks/{second}"),
        &a,
        json!({"tags": ["Later"]}),
    );
    assert_eq!(
        server.get("/api/tara/tags", &a).json(),
        json!([{"tag": "Later", "count": 1}, {"tag": "secret-b", "count": 1}])
    );
    // Another user's list is theirs to see only.
    assert_eq!(server.get("/api/tobi/tags", &a).status, 403);
    assert_eq!(
        server.get("/api/nobody/tags", &token("nobody")).json(),
        json!([])
    );
}
