//! What a request costs through the host, measured in-process over loopback with one
//! keep-alive connection (so the numbers are latency, not throughput):
//!
//! - `GET /nope`: the floor every request pays — HTTP parsing, a fresh component instance, the
//!   component's router answering 404 without touching the database or variables;
//! - `GET /health`: plus one SQLite statement;
//! - `GET /api/bench/tasks` (20 tasks): plus JWT verification, the user check and the list query.
//!
//! Also the host's start-up: compiling the component on first start, and a start that reuses
//! the in-process compiled-component cache.
//!
//! Run: `cargo bench -p task-api-host --bench request_floor` (release build; the first build of
//! wasmtime takes a while). Prints medians of `ROUNDS` rounds. `TASK_API_BENCH_NO_BUILD=1`
//! skips rebuilding the component.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use task_api_host::{BlockingHost, HostOptions};

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";
const REQUESTS_PER_ROUND: usize = 2000;
const ROUNDS: usize = 5;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // TASK_API_BENCH_NO_BUILD=1 measures the component as it is in target/.
    if std::env::var_os("TASK_API_BENCH_NO_BUILD").is_none() {
        task_api_host::build_component(&root).expect("build the component");
    }
    let state = std::env::temp_dir().join(format!("task-api-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let options = || {
        let mut o = HostOptions::new(root.join("spin.toml"));
        o.state_dir = Some(state.clone());
        o.variables = vec![("better_auth_secret".into(), SECRET.into())];
        o
    };

    let started = Instant::now();
    let host = BlockingHost::start(options()).expect("start");
    let cold = started.elapsed();
    host.shutdown().unwrap();
    let started = Instant::now();
    let host = BlockingHost::start(options()).expect("restart");
    let warm = started.elapsed();
    println!("start-up, compiling the component: {:>8.1} ms", ms(cold));
    println!("start-up, compiled component cached: {:>6.1} ms", ms(warm));

    let mut connection = Connection::open(host.addr());
    let token = token("bench");
    for i in 0..20 {
        let body = format!(r#"{{"title":"task {i}","description":"benchmark task number {i}"}}"#);
        let status = connection.send("POST", "/api/bench/tasks", Some(&token), Some(&body));
        assert_eq!(status, 201);
    }

    println!(
        "\n{:<28} {:>10} {:>10} {:>10}   ({ROUNDS} rounds x {REQUESTS_PER_ROUND} sequential requests)",
        "request", "p50 µs", "p90 µs", "p99 µs"
    );
    for (name, path, auth) in [
        ("GET /nope (404, no DB)", "/nope", false),
        ("GET /health (1 SELECT)", "/health", true),
        ("GET list, 20 tasks", "/api/bench/tasks?limit=20", true),
    ] {
        let token = auth.then_some(token.as_str());
        let expected = if path == "/nope" { 404 } else { 200 };
        let mut rounds = Vec::new();
        for _ in 0..ROUNDS {
            let mut samples = Vec::with_capacity(REQUESTS_PER_ROUND);
            for _ in 0..REQUESTS_PER_ROUND {
                let t = Instant::now();
                let status = connection.send("GET", path, token, None);
                samples.push(t.elapsed());
                assert_eq!(status, expected, "{path}");
            }
            samples.sort();
            let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
            rounds.push((at(0.5), at(0.9), at(0.99)));
        }
        let median = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
            let mut values: Vec<Duration> = rounds.iter().map(pick).collect();
            values.sort();
            values[values.len() / 2]
        };
        println!(
            "{name:<28} {:>10.1} {:>10.1} {:>10.1}",
            us(median(|r| r.0)),
            us(median(|r| r.1)),
            us(median(|r| r.2))
        );
    }
    host.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&state);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn token(sub: &str) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    let b64 = |b: &[u8]| Base64UrlSafeNoPadding::encode_to_string(b).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(r#"{{"sub":"{sub}","iat":{now},"exp":{}}}"#, now + 3600);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.as_bytes())
    );
    let tag = hmac_sha256::HMAC::mac(input.as_bytes(), SECRET.as_bytes());
    format!("{input}.{}", b64(&tag))
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            reader: BufReader::new(stream),
            addr,
        }
    }

    fn send(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> u16 {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        match body {
            Some(body) => request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )),
            None => request.push_str("\r\n"),
        }
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body).unwrap();
        }
        status
    }
}
