//! Spin shares one SQLite connection between concurrent requests: each write must be one
//! atomic statement.

use super::support::Server;
use super::tokens::token;
use serde_json::json;
use std::collections::BTreeSet;
use std::thread;
use task_api_testkit::Backend;

#[test]
fn sixty_concurrent_creates_make_sixty_tasks() {
    let server = Server::start();
    let t = token("alice");
    let server = &server;
    let ids: Vec<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                let t = t.clone();
                scope.spawn(move || {
                    let response = server.post(
                        "/api/alice/tasks",
                        &t,
                        json!({"title": format!("task {i}")}),
                    );
                    assert_eq!(response.status, 201, "{}", response.text());
                    response.json()["id"].as_i64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 60, "ids are distinct");
    let listed = server.get("/api/alice/tasks?limit=100", &t).json();
    let listed: BTreeSet<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        listed, unique,
        "every acknowledged create is stored, nothing more"
    );
}

#[test]
fn forty_concurrent_toggles_flip_forty_times() {
    let server = Server::start();
    let t = token("alice");
    let task = server.create("alice", "flip me");
    let id = task["id"].as_i64().unwrap();
    let server = &server;
    let results: Vec<(bool, String)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let t = t.clone();
                scope.spawn(move || {
                    let response = server.toggle("alice", id, &t);
                    assert_eq!(response.status, 200, "{}", response.text());
                    let body = response.json();
                    (
                        body["completed"].as_bool().unwrap(),
                        body["updated_at"].as_str().unwrap().to_owned(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Each toggle saw a distinct state: 20 turned it on, 20 turned it off, and every update
    // has its own updated_at.
    let turned_on = results.iter().filter(|(completed, _)| *completed).count();
    assert_eq!(turned_on, 20);
    let stamps: BTreeSet<&String> = results.iter().map(|(_, stamp)| stamp).collect();
    assert_eq!(stamps.len(), 40, "updated_at moved on every toggle");
    let last = server.get(&format!("/api/alice/tasks/{id}"), &t).json();
    assert_eq!(last["completed"], false, "an even number of flips");
    assert_eq!(
        last["updated_at"].as_str(),
        stamps.iter().next_back().map(|s| s.as_str())
    );
}

/// Under Spin an instance serves many requests and keeps one SQLite connection for all of
/// them. A batch holds a transaction on that connection while it runs; a create of another
/// request that ran between two of the batch's statements would land inside that transaction
/// and be rolled back with it, after its 201. Failing batches race plain creates on one server
/// (so on the same instances): every acknowledged create must be there afterwards, and
/// nothing of any batch.
#[test]
fn failing_batches_never_take_other_requests_writes_with_them() {
    let server = Server::start();
    let t = token("ivy");
    let server = &server;
    let doomed: Vec<serde_json::Value> = (0..40)
        .map(|i| json!({"op": "create", "task": {"title": format!("doomed {i}")}}))
        .chain([json!({"op": "delete", "id": 999_999_999})])
        .collect();
    let doomed = json!({ "operations": doomed });
    let created: Vec<i64> = thread::scope(|scope| {
        let batches: Vec<_> = (0..6)
            .map(|_| {
                let (t, doomed) = (t.clone(), doomed.clone());
                scope.spawn(move || {
                    for _ in 0..8 {
                        let response = server.post("/api/ivy/tasks/batch", &t, doomed.clone());
                        // A libSQL server may abort a transaction that holds its write lock
                        // while others queue (sqld interrupts it): the batch then answers 503
                        // with Retry-After, and none of it is applied (checked below).
                        if Backend::current() == Backend::Sqld && response.status == 503 {
                            assert!(response.header("retry-after").is_some());
                            continue;
                        }
                        assert_eq!(
                            response.status,
                            404,
                            "{}; the component's log: {}",
                            response.text(),
                            server.component_stderr()
                        );
                    }
                })
            })
            .collect();
        let creates: Vec<_> = (0..10)
            .map(|writer| {
                let t = t.clone();
                scope.spawn(move || {
                    (0..12)
                        .map(|i| {
                            let title = format!("kept {writer}-{i}");
                            let response =
                                server.post("/api/ivy/tasks", &t, json!({ "title": title }));
                            assert_eq!(response.status, 201, "{}", response.text());
                            response.json()["id"].as_i64().unwrap()
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        for batch in batches {
            batch.join().unwrap();
        }
        creates
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let export = server.get("/api/ivy/export", &t).json();
    let stored: BTreeSet<i64> = export["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let acknowledged: BTreeSet<i64> = created.iter().copied().collect();
    assert_eq!(acknowledged.len(), 120);
    assert_eq!(
        stored, acknowledged,
        "every acknowledged create is stored, and nothing of a failed batch"
    );
}
