//! Faults of a libSQL server under real Spin: each test starts its own `sqld` (token auth on)
//! and `spin up` with `[sqlite_database.default] type = "libsql"`, and breaks the server the
//! way operations do: restarted under write load, down when Spin starts, a token it refuses,
//! a stream it expired under a kept connection.
//!
//! They need both binaries (Spin: SPIN_BIN, PATH or ../shared/bin/spin; sqld: SQLD_BIN, PATH or
//! ../shared/bin/sqld). Without them a test says so and passes, unless the run asked for
//! them (TASK_API_DATABASE=sqld, as `.ci/run`'s libSQL pass does): then it fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use task_api_testkit::database::lock;
use task_api_testkit::sqld::sqld_binary;
use task_api_testkit::{Backend, Request, Runtime, Server, Sqld, TempDir, tokens};

/// Real Spin, or `None` (with the reason printed) when this machine cannot run these tests.
fn spin() -> Option<Runtime> {
    let spin = task_api_testkit::runtime::spin_binary();
    match (spin, sqld_binary()) {
        (Some(spin), Some(_)) => Some(Runtime::Spin(spin)),
        _ if Backend::current() == Backend::Sqld => {
            panic!("TASK_API_DATABASE=sqld, but Spin or sqld was not found")
        }
        _ => {
            eprintln!("skipped: needs real Spin and sqld (SPIN_BIN, SQLD_BIN)");
            None
        }
    }
}

/// An sqld in `dir`, shared with the test (to stop, restart or query it).
fn sqld(dir: &TempDir) -> Arc<Mutex<Sqld>> {
    Arc::new(Mutex::new(Sqld::start(&dir.path().join("sqld"))))
}

/// A Spin server whose `default` database is `sqld`, reached with `token`.
fn spin_on(
    runtime: &Runtime,
    dir: &TempDir,
    sqld: &Mutex<Sqld>,
    token: Option<&str>,
    spin_args: &[&str],
) -> Server {
    let config = dir.path().join("runtime-config.toml");
    let sqld = lock(sqld);
    match token {
        Some(token) => sqld.write_runtime_config_with_token(&config, token),
        None => sqld.write_runtime_config(&config),
    }
    drop(sqld);
    Server::builder()
        .runtime(runtime.clone())
        .runtime_config(config)
        .spin_args(spin_args)
        .start()
}

/// Spin over a fresh sqld of its own (`spin_args` added to `spin up`), or `None` when this
/// machine cannot run these tests.
fn spin_over_sqld(label: &str, spin_args: &[&str]) -> Option<(TempDir, Arc<Mutex<Sqld>>, Server)> {
    let runtime = spin()?;
    let dir = TempDir::new(label);
    let sqld = sqld(&dir);
    let server = spin_on(&runtime, &dir, &sqld, None, spin_args);
    Some((dir, sqld, server))
}

/// The 503 an outsider gets when the database cannot be reached: JSON, a detail that says
/// so, Retry-After.
fn assert_unreachable(response: &task_api_testkit::client::Response) {
    let body = response.assert_json_error(503);
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("database"), "{detail}");
    assert!(
        response.header("retry-after").is_some(),
        "503 without Retry-After"
    );
}

/// Waits until the component's log says `what`.
fn log_says(server: &Server, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.component_stderr();
        if log.contains(what) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "the log never said {what:?}: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_instance_idle_past_the_stream_expiry_serves_again() {
    // One instance lives through the wait: its kept connection's stream is older than sqld's
    // 10 s expiry when the next request comes.
    let Some((_dir, sqld, server)) =
        spin_over_sqld("libsql-expiry", &["--idle-instance-timeout", "30"])
    else {
        return;
    };
    let t = tokens::token("idle");
    let created = server.create("idle", "before the wait");
    std::thread::sleep(Duration::from_secs(11));
    let listed = server.get("/api/idle/tasks", &t);
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()[0]["id"], created["id"]);
    let again = server.post(
        "/api/idle/tasks",
        &t,
        serde_json::json!({"title": "after the wait"}),
    );
    assert_eq!(again.status, 201, "{}", again.text());
    assert_eq!(
        lock(&sqld).query("SELECT count(*) FROM tasks WHERE user_id = 'idle'"),
        vec![vec![serde_json::json!(2)]]
    );
    assert!(
        !server.component_stderr().contains("STREAM_EXPIRED"),
        "the expired stream reached a response: {}",
        server.component_stderr()
    );
}

#[test]
fn sqld_restarted_under_load_is_503_then_recovers_with_nothing_lost() {
    let Some((_dir, sqld, server)) = spin_over_sqld("libsql-restart", &[]) else {
        return;
    };
    let addr = server.addr();
    let t = tokens::token("outage");
    server.create("outage", "warm up");
    let stop = Arc::new(AtomicBool::new(false));
    // (status, id, when) of every request.
    let seen = Arc::new(Mutex::new(Vec::<(u16, Option<i64>, Instant)>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, seen, t) = (stop.clone(), seen.clone(), t.clone());
            std::thread::spawn(move || {
                // Each create carries an Idempotency-Key and is sent again with it after a 503
                // until it is acknowledged: a create that was applied but whose answer was lost
                // with sqld must not be applied twice.
                let mut i = 0;
                let mut pending: Option<Instant> = None;
                loop {
                    if pending.is_none() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        i += 1;
                    }
                    let key = format!("w{w}-{i}");
                    let response = Request::new("POST", "/api/outage/tasks")
                        .bearer(&t)
                        .header("Idempotency-Key", &key)
                        .json(&serde_json::json!({"title": key}))
                        .send(addr);
                    let id = match response.status {
                        201 | 200 => {
                            pending = None;
                            response.json()["id"].as_i64()
                        }
                        503 => {
                            assert_unreachable(&response);
                            let since = *pending.get_or_insert_with(Instant::now);
                            assert!(
                                since.elapsed() < Duration::from_secs(10),
                                "{key} still refused 10 s after its first 503"
                            );
                            std::thread::sleep(Duration::from_millis(20));
                            None
                        }
                        other => panic!("{other} during the outage: {}", response.text()),
                    };
                    seen.lock()
                        .unwrap()
                        .push((response.status, id, Instant::now()));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    lock(&sqld).kill();
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    lock(&sqld).restart();
    let up = Instant::now();
    std::thread::sleep(Duration::from_millis(2000));
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let during = seen
        .iter()
        .filter(|(_, _, at)| *at > down + Duration::from_millis(50) && *at < up)
        .count();
    let refused_during = seen
        .iter()
        .filter(|(status, _, at)| *status == 503 && *at > down && *at < up)
        .count();
    let acknowledged: Vec<i64> = seen.iter().filter_map(|(_, id, _)| *id).collect();
    let after_recovery = seen
        .iter()
        .filter(|(status, _, at)| *status == 201 && *at > up + Duration::from_millis(1000))
        .count();
    let late_refusals = seen
        .iter()
        .filter(|(status, _, at)| *status == 503 && *at > up + Duration::from_millis(1000))
        .count();
    let stored = lock(&sqld).query("SELECT id FROM tasks WHERE user_id = 'outage'");
    let stored: std::collections::BTreeSet<i64> =
        stored.iter().filter_map(|row| row[0].as_i64()).collect();
    let lost = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .count();
    let twice = lock(&sqld).query(
        "SELECT title FROM tasks WHERE user_id = 'outage' GROUP BY title HAVING count(*) > 1",
    );
    println!(
        "sqld restart: {} requests, {} acknowledged, {refused_during} answered 503 while sqld was \
         down, {after_recovery} acknowledged from 1 s after the restart, {late_refusals} 503 \
         then; {} stored, {lost} acknowledged but lost, {} applied twice",
        seen.len(),
        acknowledged.len(),
        stored.len(),
        twice.len()
    );
    assert!(
        during > 0 && refused_during > 0,
        "no request met the outage"
    );
    assert!(after_recovery > 0, "the service did not recover by itself");
    assert_eq!(
        late_refusals, 0,
        "still refusing a second after sqld came back"
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert!(twice.is_empty(), "creates applied twice: {twice:?}");
}

#[test]
fn sqld_down_at_start_makes_health_503_until_it_is_up() {
    let Some((_dir, sqld, server)) = spin_over_sqld("libsql-down", &[]) else {
        return;
    };
    lock(&sqld).kill();
    let health = server.send(Request::new("GET", "/health"));
    assert_unreachable(&health);
    let t = tokens::token("early");
    assert_unreachable(&server.get("/api/early/tasks", &t));
    log_says(&server, "database server unreachable");
    lock(&sqld).restart();
    let health = server.send(Request::new("GET", "/health"));
    assert_eq!(health.status, 200, "{}", health.text());
    server.create("early", "once it is up");
}

#[test]
fn a_token_sqld_refuses_is_503_and_never_logged() {
    let Some(runtime) = spin() else { return };
    for what in ["another key's", "an expired"] {
        let dir = TempDir::new("libsql-token");
        let sqld = sqld(&dir);
        let token = match what {
            "an expired" => lock(&sqld).expired_token(),
            _ => Sqld::foreign_token(),
        };
        let server = spin_on(&runtime, &dir, &sqld, Some(&token), &[]);
        assert_unreachable(&server.send(Request::new("GET", "/health")));
        let t = tokens::token("locked-out");
        let response = server.post(
            "/api/locked-out/tasks",
            &t,
            serde_json::json!({"title": "never stored"}),
        );
        assert_unreachable(&response);
        let log = log_says(&server, "Unauthorized");
        let everything = format!(
            "{log}{}{}{}",
            server.component_stdout(),
            health_text(&server),
            response.text()
        );
        assert!(!everything.contains(&token), "{what} token was echoed");
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(
            !everything.contains(signature),
            "{what} token's signature was echoed"
        );
        assert_eq!(
            lock(&sqld).query("SELECT count(*) FROM sqlite_master WHERE name = 'tasks'"),
            vec![vec![serde_json::json!(0)]],
            "with {what} token nothing reached the database"
        );
    }
}

fn health_text(server: &Server) -> String {
    server.send(Request::new("GET", "/health")).text()
}
