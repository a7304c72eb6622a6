//! The two user sources: `auto` records users from tokens, `better-auth` requires them in
//! Better Auth's own `user` table.

use super::support::Server;
use super::tokens::{now, token, with_claims};
use serde_json::json;

/// Better Auth's `user` table as its SQLite adapter creates it.
const BETTER_AUTH_USER_TABLE: &str = r#"CREATE TABLE "user" ("id" text not null primary key, "name" text not null, "email" text not null unique, "emailVerified" integer not null, "image" text, "createdAt" date not null, "updatedAt" date not null)"#;

/// Rows of the server's database (a file or sqld), each value as JSON.
fn query(server: &Server, sql: &str) -> Vec<Vec<serde_json::Value>> {
    server.database().query(sql)
}

#[test]
fn auto_mode_records_a_user_on_first_sight() {
    let server = Server::start();
    assert_eq!(server.get("/api/dana/tasks", &token("dana")).status, 200);
    assert_eq!(server.get("/api/dana/tasks", &token("dana")).status, 200);
    let anonymous = with_claims(json!({"sub": "eve", "exp": now() + 900}));
    assert_eq!(server.get("/api/eve/tasks", &anonymous).status, 200);
    let users = query(&server, "SELECT id, email, name FROM users ORDER BY id");
    assert_eq!(
        users,
        vec![
            vec![json!("dana"), json!("dana@example.com"), json!("dana")],
            vec![json!("eve"), json!(null), json!(null)],
        ]
    );
}

#[test]
fn better_auth_mode_accepts_only_users_in_its_table() {
    let server = Server::builder()
        .variable("user_source", "better-auth")
        .sqlite(BETTER_AUTH_USER_TABLE)
        .sqlite(r#"INSERT INTO "user" VALUES ('ba_user_1', 'Ann', 'ann@example.com', 1, NULL, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')"#)
        .start();
    let known = server.post(
        "/api/ba_user_1/tasks",
        &token("ba_user_1"),
        json!({"title": "from Better Auth"}),
    );
    assert_eq!(known.status, 201, "{}", known.text());
    assert_eq!(
        server
            .get("/api/ba_user_1/tasks", &token("ba_user_1"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let stranger = server.get("/api/ghost/tasks", &token("ghost"));
    stranger.assert_json_error(401);
    assert_eq!(
        stranger.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    // Nor may a stranger write: the guard that refuses them is the write's own condition.
    server
        .post("/api/ghost/tasks", &token("ghost"), json!({"title": "x"}))
        .assert_json_error(401);
    assert_eq!(
        query(
            &server,
            "SELECT count(*) FROM tasks WHERE user_id = 'ghost'"
        ),
        vec![vec![json!(0)]]
    );
    // The API's own table lists who wrote through it (ids only), never a refused stranger.
    assert_eq!(
        query(&server, "SELECT id, email FROM users"),
        vec![vec![json!("ba_user_1"), json!(null)]],
    );
}

#[test]
fn better_auth_mode_without_its_table_is_503() {
    let server = Server::builder()
        .variable("user_source", "better-auth")
        .start();
    let response = server.get("/api/ann/tasks", &token("ann"));
    server.assert_misconfigured(&response, "Better Auth \"user\" table");
}

#[test]
fn an_unknown_user_source_is_503() {
    let server = Server::builder().variable("user_source", "ldap").start();
    let response = server.get("/api/ann/tasks", &token("ann"));
    server.assert_misconfigured(&response, "user_source is \"ldap\"");
}

#[test]
fn better_auth_mode_erases_a_user_before_and_after_better_auth_deletes_it() {
    let server = Server::builder()
        .variable("user_source", "better-auth")
        .sqlite(BETTER_AUTH_USER_TABLE)
        .sqlite(r#"INSERT INTO "user" VALUES ('ba_keep', 'Kim', 'kim@example.com', 1, NULL, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')"#)
        .sqlite(r#"INSERT INTO "user" VALUES ('ba_gone', 'Gus', 'gus@example.com', 1, NULL, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')"#)
        .start();
    for user in ["ba_keep", "ba_gone"] {
        let created = server.post(
            &format!("/api/{user}/tasks"),
            &token(user),
            json!({"title": "t"}),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    }
    // beforeDelete: the user still exists; the erase leaves Better Auth's own row alone.
    assert_eq!(server.delete("/api/ba_keep", &token("ba_keep")).status, 204);
    assert_eq!(
        query(
            &server,
            r#"SELECT count(*) FROM "user" WHERE id = 'ba_keep'"#
        ),
        vec![vec![json!(1)]]
    );
    // afterDelete: Better Auth removed the user first; its tasks can still be erased.
    server
        .database()
        .execute(r#"DELETE FROM "user" WHERE id = 'ba_gone'"#);
    assert_eq!(
        server.get("/api/ba_gone/tasks", &token("ba_gone")).status,
        401
    );
    assert_eq!(server.delete("/api/ba_gone", &token("ba_gone")).status, 204);
    assert_eq!(
        query(
            &server,
            "SELECT count(*) FROM tasks WHERE replace(user_id, char(1), '') IN ('ba_keep', 'ba_gone')"
        ),
        vec![vec![json!(0)]]
    );
}
