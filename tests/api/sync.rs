//! The trash (soft delete, `restore`, `GET /trash`) and the changes feed
//! (`GET /tasks/changes?since=`), through the running component.

use super::client::Request;
use super::support::Server;
use super::tokens::token;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use task_api_testkit::rng::Rng;

#[test]
fn a_deleted_task_waits_in_the_trash_and_comes_back_as_it_was() {
    let server = Server::start();
    let t = token("tess");
    let created = server.post(
        "/api/tess/tasks",
        &t,
        json!({"title": "water plants", "description": "the fern", "tags": ["Home"],
               "priority": "high", "due_at": "2031-01-01T09:00:00Z"}),
    );
    assert_eq!(created.status, 201);
    let before = created.json();
    let id = before["id"].as_i64().unwrap();
    let old_etag = created.header("etag").unwrap().to_owned();
    let item = format!("/api/tess/tasks/{id}");
    assert_eq!(server.delete(&item, &t).status, 204);
    assert_eq!(server.get(&item, &t).status, 404);
    assert_eq!(server.delete(&item, &t).status, 404, "deleted once");
    assert_eq!(server.get("/api/tess/tasks", &t).json(), json!([]));
    let counted = server.get("/api/tess/tasks?count=true", &t);
    assert_eq!(counted.header("x-total-count"), Some("0"));
    assert_eq!(server.get("/api/tess/tags", &t).json(), json!([]));
    assert_eq!(server.get("/api/tess/tasks?q=fern", &t).json(), json!([]));

    let trash = server.get("/api/tess/trash", &t).json();
    assert_eq!(trash.as_array().unwrap().len(), 1);
    assert_eq!(trash[0]["id"], id);
    assert_eq!(trash[0]["title"], "water plants");
    assert!(trash[0]["deleted_at"].as_str().unwrap().ends_with('Z'));
    // Nobody else sees it or brings it back.
    assert_eq!(
        server.get("/api/tara/trash", &token("tara")).json(),
        json!([])
    );
    let restore = format!("/api/tess/tasks/{id}/restore");
    let theirs = server.send(
        Request::new("POST", &format!("/api/tara/tasks/{id}/restore")).bearer(&token("tara")),
    );
    theirs.assert_json_error(404);
    assert_eq!(
        server
            .send(Request::new("POST", &restore).bearer(&token("tara")))
            .status,
        403
    );

    let restored = server.send(Request::new("POST", &restore).bearer(&t));
    assert_eq!(restored.status, 200, "{}", restored.text());
    let after = restored.json();
    for field in [
        "id",
        "title",
        "description",
        "tags",
        "priority",
        "due_at",
        "created_at",
        "completed",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert!(after["updated_at"].as_str() > before["updated_at"].as_str());
    let new_etag = restored.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, old_etag);
    assert_eq!(server.get(&item, &t).json(), after);
    // An ETag from before the delete names a version that is gone.
    let stale = server.send(
        Request::new("PATCH", &item)
            .bearer(&t)
            .header("If-Match", &old_etag)
            .json(&json!({"title": "x"})),
    );
    assert_eq!(stale.status, 412);
    // Search entries and tag rows are back.
    assert_eq!(
        server
            .get("/api/tess/tasks?q=fern", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server.get("/api/tess/tags", &t).json(),
        json!([{"tag": "Home", "count": 1}])
    );
    assert_eq!(server.get("/api/tess/trash", &t).json(), json!([]));
    server
        .send(Request::new("POST", &restore).bearer(&t))
        .assert_json_error(404);
    server
        .send(Request::new("POST", "/api/tess/tasks/99999/restore").bearer(&t))
        .assert_json_error(404);
    server
        .send(Request::new("POST", "/api/tess/tasks/abc/restore").bearer(&t))
        .assert_json_error(404);
    // A delete with If-Match still checks the version.
    let refused = server.send(
        Request::new("DELETE", &item)
            .bearer(&t)
            .header("If-Match", &old_etag),
    );
    assert_eq!(refused.status, 412);
    let accepted = server.send(
        Request::new("DELETE", &item)
            .bearer(&t)
            .header("If-Match", &new_etag),
    );
    assert_eq!(accepted.status, 204);
    assert_eq!(
        server.get("/api/tess/export", &t).json()["trash"][0]["id"],
        id
    );
}

#[test]
fn with_no_retention_a_delete_is_final_but_still_reported() {
    let server = Server::builder()
        .variable("trash_retention_days", "0")
        .start();
    let t = token("nora");
    let id = server.create("nora", "gone for good")["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        server.delete(&format!("/api/nora/tasks/{id}"), &t).status,
        204
    );
    assert_eq!(server.get("/api/nora/trash", &t).json(), json!([]));
    server
        .send(Request::new("POST", &format!("/api/nora/tasks/{id}/restore")).bearer(&t))
        .assert_json_error(404);
    let feed = server.get("/api/nora/tasks/changes", &t).json();
    assert_eq!(feed["changes"].as_array().unwrap().len(), 1);
    assert_eq!(feed["changes"][0]["id"], id);
    assert!(feed["changes"][0]["deleted_at"].is_string());
    assert_eq!(
        feed["changes"][0].as_object().unwrap().len(),
        2,
        "a tombstone is id and deleted_at"
    );

    let bad = Server::builder()
        .variable("trash_retention_days", "forever")
        .start();
    let id = bad.create("nora", "kept")["id"].as_i64().unwrap();
    let response = bad.delete(&format!("/api/nora/tasks/{id}"), &t);
    bad.assert_misconfigured(&response, "trash_retention_days");
    // Routes that do not need it still work.
    assert_eq!(bad.get("/api/nora/tasks", &t).status, 200);
}

/// A client's copy of one user's tasks, kept in step by the feed alone.
struct Replica {
    user: String,
    token: String,
    since: Option<String>,
    tasks: BTreeMap<i64, Value>,
}

impl Replica {
    fn new(user: &str) -> Self {
        Self {
            user: user.to_owned(),
            token: token(user),
            since: None,
            tasks: BTreeMap::new(),
        }
    }

    /// Pages through the feed (random page sizes) until it says there is no more.
    /// `own_ids`: every id the user's writes created so far, when known at this moment (not
    /// while other threads are creating).
    fn sync(&mut self, server: &Server, random: &mut Rng, own_ids: Option<&[i64]>) {
        for _ in 0..10_000 {
            let limit = 1 + random.below(6);
            let mut path = format!("/api/{}/tasks/changes?limit={limit}", self.user);
            if let Some(since) = &self.since {
                path += &format!("&since={since}");
            }
            let response = server.get(&path, &self.token);
            assert_eq!(response.status, 200, "{}", response.text());
            let body = response.json();
            let changes = body["changes"].as_array().unwrap();
            assert!(changes.len() <= limit);
            for change in changes {
                let id = change["id"].as_i64().unwrap();
                // Never another user's row or id, deleted or not.
                if let Some(own) = own_ids {
                    assert!(own.contains(&id), "{} got id {id}, not theirs", self.user);
                }
                if change.get("deleted_at").is_some() {
                    self.tasks.remove(&id);
                } else {
                    assert_eq!(change["user_id"], self.user.as_str());
                    self.tasks.insert(id, change.clone());
                }
            }
            self.since = Some(body["next"].as_str().unwrap().to_owned());
            if !body["more"].as_bool().unwrap() {
                return;
            }
        }
        panic!("the feed never ended");
    }
}

/// The server's state of a user: every live task, by id.
fn server_state(server: &Server, user: &str) -> BTreeMap<i64, Value> {
    let export = server
        .get(&format!("/api/{user}/export"), &token(user))
        .json();
    export["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| (task["id"].as_i64().unwrap(), task.clone()))
        .collect()
}

#[test]
fn clients_that_apply_the_feed_end_with_the_servers_state() {
    let (mut random, _seed) = Rng::from_env("SYNC_SEED");
    let server = Server::start();
    let users = ["sync-a", "sync-b", "sync-c"];
    let mut replicas: Vec<Replica> = users
        .iter()
        .flat_map(|user| [Replica::new(user), Replica::new(user)])
        .collect();
    let mut ids: BTreeMap<&str, Vec<i64>> = users.iter().map(|u| (*u, Vec::new())).collect();
    let mut deleted: BTreeMap<&str, Vec<i64>> = users.iter().map(|u| (*u, Vec::new())).collect();
    for step in 0..150 {
        let user = *random.pick(&users);
        let t = token(user);
        let live: Vec<i64> = ids[user]
            .iter()
            .copied()
            .filter(|id| !deleted[user].contains(id))
            .collect();
        match random.below(10) {
            0..=2 => {
                let mut body = json!({"title": format!("task {step}")});
                if random.chance(30) {
                    body["recurrence"] = json!("daily");
                    body["due_at"] = json!("2031-01-01T09:00:00Z");
                }
                let response = server.post(&format!("/api/{user}/tasks"), &t, body);
                assert_eq!(response.status, 201);
                ids.get_mut(user)
                    .unwrap()
                    .push(response.json()["id"].as_i64().unwrap());
            }
            3 | 4 if !live.is_empty() => {
                let id = *random.pick(&live);
                let response = server.patch(
                    &format!("/api/{user}/tasks/{id}"),
                    &t,
                    json!({"title": format!("edited {step}"), "priority": "low"}),
                );
                assert_eq!(response.status, 200);
            }
            5 if !live.is_empty() => {
                // Completing a recurring task creates its next occurrence: a change too.
                let id = *random.pick(&live);
                let response = server.toggle(user, id, &t);
                assert_eq!(response.status, 200);
                if let Some(next) = response.json()["next_task_id"].as_i64()
                    && !ids[user].contains(&next)
                {
                    ids.get_mut(user).unwrap().push(next);
                }
            }
            6 | 7 if !live.is_empty() => {
                let id = *random.pick(&live);
                assert_eq!(
                    server.delete(&format!("/api/{user}/tasks/{id}"), &t).status,
                    204
                );
                deleted.get_mut(user).unwrap().push(id);
            }
            8 if !deleted[user].is_empty() => {
                let id = *random.pick(&deleted[user]);
                let response = server.send(
                    Request::new("POST", &format!("/api/{user}/tasks/{id}/restore")).bearer(&t),
                );
                assert_eq!(response.status, 200);
                deleted.get_mut(user).unwrap().retain(|d| *d != id);
            }
            _ => {
                let index = random.below(replicas.len());
                let replica = &mut replicas[index];
                let own = ids[replica.user.as_str()].clone();
                replica.sync(&server, &mut random, Some(&own));
            }
        }
    }
    for replica in &mut replicas {
        let own = ids[replica.user.as_str()].clone();
        replica.sync(&server, &mut random, Some(&own));
        assert_eq!(
            replica.tasks,
            server_state(&server, &replica.user),
            "{}",
            replica.user
        );
    }
    // A feed already at the end has nothing new and keeps its token.
    let at_end = &replicas[0];
    let again = server.get(
        &format!(
            "/api/{}/tasks/changes?since={}",
            at_end.user,
            at_end.since.as_deref().unwrap()
        ),
        &at_end.token,
    );
    let body = again.json();
    assert_eq!(body["changes"], json!([]));
    assert_eq!(body["next"].as_str(), at_end.since.as_deref());
    assert_eq!(body["more"], false);
}

#[test]
fn feed_tokens_survive_a_restart_and_bad_ones_are_422() {
    let server = Server::start();
    let t = token("tom");
    server.create("tom", "before");
    let first = server.get("/api/tom/tasks/changes", &t).json();
    let since = first["next"].as_str().unwrap().to_owned();
    let state = server.stop();
    let server = Server::builder().state(state).start();
    let created = server.create("tom", "after");
    let next = server
        .get(&format!("/api/tom/tasks/changes?since={since}"), &t)
        .json();
    assert_eq!(next["changes"], json!([created]));
    for bad in [
        "since=",
        "since=abc",
        "since=-1",
        "since=s1&since=s2",
        "limit=0",
        "limit=1001",
        "limit=x",
        "since=s99999999999999999999",
    ] {
        server
            .get(&format!("/api/tom/tasks/changes?{bad}"), &t)
            .assert_json_error(422);
    }
    // Every token OpenAPI's pattern admits is accepted; one past the end of the feed has
    // nothing after it.
    let past_end = server
        .get("/api/tom/tasks/changes?since=s9925732053768531200", &t)
        .json();
    assert_eq!(past_end["changes"], json!([]));
    assert_eq!(past_end["more"], false);
    assert_eq!(
        server.get("/api/tom/tasks/changes", &token("tim")).status,
        403
    );
}

#[test]
fn a_client_syncing_during_concurrent_writes_ends_in_step() {
    let server = Server::start();
    let user = "busy";
    let t = token(user);
    let ids = std::sync::Mutex::new(Vec::new());
    let mut replica = Replica::new(user);
    let (mut random, _seed) = Rng::from_env("BUSY_SEED");
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (server, t, ids) = (&server, &t, &ids);
            scope.spawn(move || {
                for i in 0..12 {
                    let created = server.post(
                        &format!("/api/{user}/tasks"),
                        t,
                        json!({"title": format!("w{writer} {i}")}),
                    );
                    assert_eq!(created.status, 201);
                    let id = created.json()["id"].as_i64().unwrap();
                    ids.lock().unwrap().push(id);
                    if i % 3 == 0 {
                        assert_eq!(server.toggle(user, id, t).status, 200);
                    }
                    if i % 4 == 1 {
                        assert_eq!(
                            server.delete(&format!("/api/{user}/tasks/{id}"), t).status,
                            204
                        );
                    }
                }
            });
        }
        for _ in 0..15 {
            replica.sync(&server, &mut random, None);
        }
    });
    let own = ids.lock().unwrap().clone();
    replica.sync(&server, &mut random, Some(&own));
    assert_eq!(replica.tasks, server_state(&server, user));
    assert_eq!(replica.tasks.len(), 4 * 9);
}

#[test]
fn a_database_of_the_last_release_upgrades_in_place_and_syncs() {
    use super::support::{builder_at_schema, stored_integer};
    let server = builder_at_schema(9)
        .sqlite(
            "INSERT INTO tasks (user_id, title, tags, created_at, updated_at, idempotency_key, \
             request_hash, derived_stale) VALUES \
             ('uma', 'old one', '{}', 1, 1, 'k1', 'h1', 1), \
             ('uma', 'old two', '{\"home\":\"Home\"}', 2, 2, NULL, NULL, 1), \
             ('ursula', 'not uma''s', '{}', 3, 3, NULL, NULL, 1)",
        )
        .sqlite("INSERT INTO rate_limits (user_id, window_start, count) VALUES ('uma', 1, 5)")
        .start();
    let t = token("uma");
    let mut replica = Replica::new("uma");
    let (mut random, _seed) = Rng::from_env("UPGRADE_SEED");
    replica.sync(&server, &mut random, None);
    assert_eq!(replica.tasks.len(), 2, "both old tasks are in the feed");
    assert_eq!(replica.tasks, server_state(&server, "uma"));
    let page = server.get("/api/uma/tasks?limit=1", &t);
    assert!(page.header("x-next-cursor").is_some());
    let old = *replica.tasks.keys().next().unwrap();
    assert_eq!(
        server.delete(&format!("/api/uma/tasks/{old}"), &t).status,
        204
    );
    let restored =
        server.send(Request::new("POST", &format!("/api/uma/tasks/{old}/restore")).bearer(&t));
    assert_eq!(restored.status, 200);
    server.create("uma", "new one");
    replica.sync(&server, &mut random, None);
    assert_eq!(replica.tasks, server_state(&server, "uma"));
    assert_eq!(replica.tasks.len(), 3);
    let database = server.database();
    let _state = server.stop();
    assert_eq!(
        stored_integer(&database, "SELECT max(version) FROM schema_migrations"),
        task_api::db::migrations::LATEST
    );
    assert_eq!(
        stored_integer(&database, "SELECT count(*) FROM tasks WHERE seq = 0"),
        0
    );
    assert_eq!(
        stored_integer(
            &database,
            "SELECT count(*) FROM rate_limits WHERE user_id = 'uma'"
        ),
        1
    );
}
