//! The real `task-api-host` binary serving the real component, as separate processes:
//! a SIGKILL in the middle of concurrent writes loses no acknowledged write, and nothing a run
//! logs contains a secret, a token or a cookie.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "process-test-secret-0123456789abcdef-XYZ";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("task-api-process-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn token(sub: &str) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    let b64 = |b: &[u8]| Base64UrlSafeNoPadding::encode_to_string(b).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(r#"{{"sub":"{sub}","iat":{now},"exp":{}}}"#, now + 900);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.as_bytes())
    );
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), SECRET.as_bytes());
    format!("{input}.{}", b64(&tag))
}

/// Starts the binary and waits until it answers `/health`.
fn spawn_host(state: &Path, port: u16, logs: &Path, extra: &[&str]) -> Child {
    build_component_once();
    let stdout = std::fs::File::create(logs.with_extension("out")).unwrap();
    let stderr = std::fs::File::create(logs.with_extension("err")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_task-api-host"))
        .args(["up", "--no-build", "--from"])
        .arg(root().join("spin.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
        .arg(state)
        .args(["--variable", &format!("better_auth_secret={SECRET}")])
        .args(extra)
        .env_remove("SPIN_VARIABLE_BETTER_AUTH_SECRET")
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some((200, _))) = send(addr, "GET", "/health", &[], None) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the host did not come up; stderr: {}",
        std::fs::read_to_string(logs.with_extension("err")).unwrap()
    );
}

fn build_component_once() {
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| task_api_host::build_component(&root()).expect("building the component"));
}

/// One request; `Ok(None)` when the connection died before a full response.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Option<(u16, String)>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    match body {
        Some(body) => request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => request.push_str("\r\n"),
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Ok(None);
    }
    let Some(status) = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
    else {
        return Ok(None);
    };
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    let text = String::from_utf8_lossy(&rest).into_owned();
    // Headers, then the (possibly chunked) body; the JSON object is all we need.
    let body = match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if end > start => text[start..=end].to_owned(),
        _ => String::new(),
    };
    Ok(Some((status, body)))
}

#[test]
fn sigkill_mid_write_load_loses_no_acknowledged_write() {
    let dir = temp_dir("crash");
    let state = dir.join("state");
    let port = free_port();
    let mut host = spawn_host(&state, port, &dir.join("first"), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let t = token("crash-user");
    let auth = format!("Bearer {t}");
    let acknowledged = Arc::new(Mutex::new(Vec::<(i64, String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (acknowledged, stop, auth) = (acknowledged.clone(), stop.clone(), auth.clone());
            std::thread::spawn(move || {
                let mut sent = 0;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let title = format!("crash {w}-{i}");
                    let description = format!("{}{title}", "d".repeat(400));
                    let body =
                        serde_json::json!({"title": title, "description": description}).to_string();
                    sent += 1;
                    match send(
                        addr,
                        "POST",
                        "/api/crash-user/tasks",
                        &[("Authorization", &auth)],
                        Some(&body),
                    ) {
                        Ok(Some((201, json))) => {
                            let task: serde_json::Value = serde_json::from_str(&json).unwrap();
                            acknowledged.lock().unwrap().push((
                                task["id"].as_i64().unwrap(),
                                title,
                                description,
                            ));
                        }
                        Ok(Some((status, json))) => panic!("unexpected {status}: {json}"),
                        // Killed mid-request: unacknowledged, may or may not be stored.
                        Ok(None) | Err(_) => {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let sent: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20,
        "too little load to mean anything: {} acknowledged",
        acknowledged.len()
    );

    let mut host = spawn_host(&state, port, &dir.join("second"), &[]);
    let mut missing = 0;
    for (id, title, description) in &acknowledged {
        match send(
            addr,
            "GET",
            &format!("/api/crash-user/tasks/{id}"),
            &[("Authorization", &auth)],
            None,
        )
        .unwrap()
        {
            Some((200, json)) => {
                let task: serde_json::Value = serde_json::from_str(&json).unwrap();
                assert_eq!(
                    (
                        task["title"].as_str().unwrap(),
                        task["description"].as_str().unwrap()
                    ),
                    (title.as_str(), description.as_str())
                );
            }
            other => {
                missing += 1;
                eprintln!("acknowledged task {id} not readable after restart: {other:?}");
            }
        }
    }
    host.kill().unwrap();
    host.wait().unwrap();
    // No half-written row anywhere, and the file is consistent.
    let connection = rusqlite::Connection::open(state.join("sqlite_db.db")).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let malformed: i64 = connection
        .query_row(
            "SELECT count(*) FROM tasks WHERE title NOT LIKE 'crash %' OR length(description) <> 400 + length(title) \
             OR substr(description, 401) <> title OR created_at <> updated_at",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let stored: i64 = connection
        .query_row("SELECT count(*) FROM tasks", [], |row| row.get(0))
        .unwrap();
    println!(
        "crash test: {sent} creates sent, {} acknowledged, {stored} stored, {missing} acknowledged but lost",
        acknowledged.len()
    );
    assert_eq!(missing, 0, "acknowledged writes lost");
    assert_eq!(malformed, 0, "half-written rows");
    assert!(stored as usize >= acknowledged.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn logs_of_a_full_run_hold_no_secrets_tokens_or_cookies() {
    let dir = temp_dir("secrets");
    let state = dir.join("state");
    let port = free_port();
    let mut host = spawn_host(&state, port, &dir.join("host"), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let t = token("secret-user");
    let bearer = format!("Bearer {t}");
    let cookie = format!("access_token={t}; session=cookie-value-that-must-not-leak");
    let forged = format!(
        "{}.forged-signature-must-not-leak",
        &t[..t.rfind('.').unwrap()]
    );
    type Request<'a> = (&'a str, String, Vec<(&'a str, String)>, Option<String>);
    let requests: Vec<Request> = vec![
        (
            "POST",
            "/api/secret-user/tasks".into(),
            vec![("Authorization", bearer.clone())],
            Some(r#"{"title":"private title"}"#.into()),
        ),
        (
            "GET",
            "/api/secret-user/tasks".into(),
            vec![("Cookie", cookie.clone())],
            None,
        ),
        (
            "GET",
            "/api/secret-user/tasks".into(),
            vec![("Authorization", format!("Bearer {forged}"))],
            None,
        ),
        (
            "GET",
            "/api/other-user/tasks".into(),
            vec![("Authorization", bearer.clone())],
            None,
        ),
        (
            "POST",
            "/api/secret-user/tasks".into(),
            vec![("Authorization", bearer.clone())],
            Some("{not json".into()),
        ),
        (
            "GET",
            "/api/secret-user/tasks/999".into(),
            vec![("Cookie", cookie.clone())],
            None,
        ),
        (
            "GET",
            "/nope".into(),
            vec![("Authorization", bearer.clone())],
            None,
        ),
    ];
    for (method, path, headers, body) in &requests {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = send(addr, method, path, &headers, body.as_deref())
            .unwrap()
            .unwrap();
        assert!(
            !response.1.contains(SECRET) && !response.1.contains(&t),
            "{method} {path}: response leaks"
        );
    }
    // A misconfigured instance logs why it refuses, without the (short) secret.
    let port2 = free_port();
    let mut weak = spawn_host(
        &dir.join("weak-state"),
        port2,
        &dir.join("weak"),
        &["--variable", "better_auth_secret=short-secret-XYZ"],
    );
    let addr2: SocketAddr = format!("127.0.0.1:{port2}").parse().unwrap();
    let (status, _) = send(
        addr2,
        "GET",
        "/api/secret-user/tasks",
        &[("Authorization", &bearer)],
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(status, 503);
    for child in [&mut host, &mut weak] {
        child.kill().unwrap();
        child.wait().unwrap();
    }

    let mut logged = String::new();
    for file in ["host.out", "host.err", "weak.out", "weak.err"] {
        logged.push_str(&std::fs::read_to_string(dir.join(file)).unwrap());
    }
    for logs in [state.join("logs"), dir.join("weak-state/logs")] {
        for entry in std::fs::read_dir(logs).unwrap() {
            logged.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    assert!(
        logged.lines().count() >= requests.len(),
        "the run logged something: {logged}"
    );
    let signature = t.rsplit('.').next().unwrap();
    for (what, needle) in [
        ("secret", SECRET),
        ("short secret", "short-secret-XYZ"),
        ("token", t.as_str()),
        ("token signature", signature),
        ("forged signature", "forged-signature-must-not-leak"),
        ("cookie", "cookie-value-that-must-not-leak"),
        ("request body", "private title"),
    ] {
        assert!(
            !logged.contains(needle),
            "the logs contain the {what}:\n{logged}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
