//! What the host does for the component: state that survives a restart, `--sqlite`
//! migrations, database grants, and the component's world.

use super::support::{Server, TempDir, manifest_copy, root, titles};
use super::tokens::token;
use serde_json::json;
use std::collections::BTreeSet;
use task_api_host::imports::{component_imports, world_imports};
use task_api_host::{PROJECT_WORLD, check_targets, componentize::componentize};
use task_api_testkit::Backend;

#[test]
fn tasks_survive_a_restart_of_the_host() {
    let server = Server::start();
    let t = token("alice");
    let created: Vec<serde_json::Value> = (0..3)
        .map(|i| server.create("alice", &format!("persist {i}")))
        .collect();
    let toggled = server
        .toggle("alice", created[1]["id"].as_i64().unwrap(), &t)
        .json();
    let state = server.stop();

    let restarted = Server::builder().state(state).start();
    let listed = restarted.get("/api/alice/tasks?order=asc", &t).json();
    let expected = json!([created[0], toggled, created[2]]);
    assert_eq!(listed, expected);
    // And the restarted host keeps writing to the same database.
    restarted.create("alice", "after restart");
    assert_eq!(
        restarted
            .get("/api/alice/tasks", &t)
            .json()
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// The component's migration moves the database file to WAL, and the file keeps it: a server
/// restarted on it (Spin opens every connection with SQLite's defaults) still commits through
/// the write-ahead log, with synchronous left at FULL. (Spin closes each request's connection,
/// and the last connection to close checkpoints and removes the `-wal` file, so its presence
/// between requests says nothing; the mode stored in the database does.)
#[test]
fn the_component_puts_its_database_in_wal_mode() {
    let server = Server::start();
    server.create("alice", "first write");
    let journal = |database: &task_api_testkit::StoredDatabase| -> (String, i64) {
        let mode = database.query("PRAGMA journal_mode");
        let mode = mode[0][0].as_str().unwrap_or_default().to_owned();
        (mode, database.integer("PRAGMA synchronous"))
    };
    // 2 = FULL: a fresh connection's default, which Spin does not change. A libSQL server
    // keeps its own settings (it refuses a PRAGMA that sets one): WAL, synchronous NORMAL (1).
    let expected = match Backend::current() {
        Backend::File => ("wal".to_owned(), 2),
        Backend::Sqld => ("wal".to_owned(), 1),
    };
    assert_eq!(journal(&server.database()), expected);
    let database = server.database();
    let state = server.stop();
    assert_eq!(journal(&database), expected);
    let restarted = Server::builder().state(state).start();
    restarted.create("alice", "after restart");
    assert_eq!(journal(&restarted.database()), expected);
}

/// A raw `--sqlite` argument is one statement: Spin 4.0.2 prepares it as one query and
/// ignores what follows the first `;`, and the host does the same (a file runs whole).
#[test]
fn a_raw_sqlite_argument_runs_only_its_first_statement() {
    let server = Server::builder()
        .sqlite(&format!(
            "@{}",
            root().join("migrations/0001_create_tasks.sql").display()
        ))
        .sqlite(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at) VALUES \
             ('two', 'first', 0, 1700000000000000, 1700000000000000); \
             INSERT INTO tasks (user_id, title, completed, created_at, updated_at) VALUES \
             ('two', 'second', 0, 1700000000000001, 1700000000000001)",
        )
        .start();
    assert_eq!(
        titles(&server.get("/api/two/tasks", &token("two"))),
        ["first"]
    );
}

#[test]
fn sqlite_option_migrates_before_serving_and_the_component_agrees() {
    let migration = format!(
        "@{}",
        root().join("migrations/0001_create_tasks.sql").display()
    );
    // Applied twice to show it is idempotent, as `spin up --sqlite` users may do.
    let server = Server::builder()
        .sqlite(&migration)
        .sqlite(&migration)
        .sqlite("INSERT INTO users (id, email, name, created_at) VALUES ('seeded', NULL, NULL, 0)")
        .sqlite("INSERT INTO tasks (user_id, title, completed, created_at, updated_at) VALUES ('seeded', 'from --sqlite', 0, 1700000000000000, 1700000000000000)")
        .start();
    let listed = server.get("/api/seeded/tasks", &token("seeded")).json();
    assert_eq!(listed[0]["title"], "from --sqlite");
    assert_eq!(listed[0]["created_at"], "2023-11-14T22:13:20.000000Z");
    server.create("seeded", "second");
    assert_eq!(
        server
            .get("/api/seeded/tasks", &token("seeded"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_database_the_manifest_does_not_grant_is_refused() {
    let manifest_dir = TempDir::new("manifest");
    let path = manifest_copy(
        manifest_dir.path(),
        &[(r#"sqlite_databases = ["default"]"#, "sqlite_databases = []")],
    );
    let server = Server::builder().manifest(path).start();
    let response = server.get("/api/alice/tasks", &token("alice"));
    server.assert_misconfigured(&response, "sqlite_databases");
    server
        .send(super::client::Request::new("GET", "/health"))
        .assert_json_error(503);
    assert!(server.database().is_empty(), "no database was created");
}

#[test]
fn the_component_imports_exactly_its_wit_world() {
    super::support::build_component_once();
    let module = std::fs::read(root().join("target/wasm32-wasip1/release/task_api.wasm")).unwrap();
    let component = componentize(&module, "task_api.wasm").unwrap();
    let wit = root().join("wit");
    check_targets(&component, &wit, PROJECT_WORLD).expect("the component fits wit/");
    let imported: BTreeSet<String> = component_imports(&component).unwrap().into_iter().collect();
    // `wasi:io/poll` is in the world only because `wasi:io/streams` names its `pollable`
    // (WIT elaboration adds it); the component itself no longer polls anything.
    let declared: BTreeSet<String> = world_imports(&wit, PROJECT_WORLD)
        .unwrap()
        .into_iter()
        .filter(|import| import != "wasi:io/poll@0.2.6")
        .collect();
    assert_eq!(
        imported, declared,
        "wit/ declares exactly what the component imports"
    );
    assert!(imported.contains("spin:sqlite/sqlite@3.1.0"));
    // Outbound HTTP (the live JWKS) goes through wasi:http, which Spin restricts to
    // allowed_outbound_hosts; raw sockets would bypass that.
    assert!(imported.contains("wasi:http/client@0.3.0-rc-2026-03-15"));
    assert!(!imported.iter().any(|i| i.starts_with("wasi:sockets")));
}
