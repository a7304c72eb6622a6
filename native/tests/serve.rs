//! The baseline must stay a working server of the same API, or the benchmark's ratio means
//! nothing: health, a create, and the list, over real HTTP.
#![cfg(not(target_arch = "wasm32"))]

use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "native-test-secret-0123456789abcdef012";

fn token(sub: &str) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    let b64 = |b: &[u8]| Base64UrlSafeNoPadding::encode_to_string(b).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(r#"{{"sub":"{sub}","iat":{now},"exp":{}}}"#, now + 600);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.as_bytes())
    );
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), SECRET.as_bytes());
    format!("{input}.{}", b64(&tag))
}

/// One request on its own connection; returns the status and the body.
async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_creates_and_lists() {
    let dir = std::env::temp_dir().join(format!("task-api-native-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let running = task_api_native::start(task_api_native::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.join("sqlite_db.db"),
        variables: vec![("better_auth_secret".into(), SECRET.into())],
        use_env: false,
        log_requests: false,
    })
    .await
    .unwrap();
    let addr = running.addr();

    let (status, body) = send(addr, "GET", "/health", None, None).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let t = token("alice");
    for title in ["one", "two"] {
        let body = format!(r#"{{"title":"{title}"}}"#);
        let (status, _) = send(addr, "POST", "/api/alice/tasks", Some(&t), Some(&body)).await;
        assert_eq!(status, 201);
    }
    let (status, body) = send(addr, "GET", "/api/alice/tasks", Some(&t), None).await;
    assert_eq!(status, 200, "{body}");
    let tasks: serde_json::Value = serde_json::from_str(&body).unwrap();
    let titles: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["two", "one"], "newest first");

    let (status, _) = send(addr, "GET", "/api/alice/tasks", Some("x.y.z"), None).await;
    assert_eq!(status, 401);
    let (status, _) = send(addr, "GET", "/api/bob/tasks", Some(&t), None).await;
    assert_eq!(status, 403);

    running.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
