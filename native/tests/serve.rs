//! The baseline must stay a working server of the same API, or the benchmark's ratio means
//! nothing: health, a create, the list, and the auth rules, over real HTTP.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::json;
use task_api_testkit::{Request, TempDir, tokens};

const SECRET: &str = "native-test-secret-k9Vq2xRz7Lm4Tn8Wb1Yc6Hd3J";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_creates_and_lists() {
    let dir = TempDir::new("native");
    let running = task_api_native::start(task_api_native::Options {
        manifest: task_api_native::project_manifest(),
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.path().join("sqlite_db.db"),
        variables: vec![("better_auth_secret".into(), SECRET.into())],
        use_env: false,
    })
    .await
    .unwrap();
    let addr = running.addr();
    // The client blocks; run it off the runtime's workers.
    let checks = tokio::task::spawn_blocking(move || {
        let health = Request::new("GET", "/health").send(addr);
        assert_eq!(
            (health.status, health.json()),
            (200, json!({"status": "ok"}))
        );
        let t = tokens::token_with(SECRET, "alice");
        for title in ["one", "two"] {
            let created = Request::new("POST", "/api/alice/tasks")
                .bearer(&t)
                .json(&json!({ "title": title }))
                .send(addr);
            assert_eq!(created.status, 201, "{}", created.text());
        }
        let listed = Request::new("GET", "/api/alice/tasks")
            .bearer(&t)
            .send(addr);
        assert_eq!(listed.status, 200, "{}", listed.text());
        let titles: Vec<String> = listed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(titles, ["two", "one"], "newest first");
        assert_eq!(
            Request::new("GET", "/api/alice/tasks")
                .bearer("x.y.z")
                .send(addr)
                .status,
            401
        );
        assert_eq!(
            Request::new("GET", "/api/bob/tasks")
                .bearer(&t)
                .send(addr)
                .status,
            403
        );
    });
    checks.await.unwrap();
    running.shutdown().await;
}
