//! The task API without WebAssembly, as the baseline `bench/run` measures the host against:
//! the component's own request pipeline ([`task_api::app::handle`]) called directly, over one
//! shared rusqlite connection and behind the host's HTTP stack. Everything that differs from the
//! host is the sandbox: no component instance per request, no WIT calls, no WASI streams.
//!
//! Kept equal to the host on purpose (a faster baseline would make the ratio lie):
//! - SQLite: one connection opened with SQLite's defaults, behind a mutex, every statement via
//!   `prepare_cached` (rusqlite's default cache), one statement per call ([`SqliteDb`]);
//! - variables: the manifest's `[variables]` defaults and `required`, `--variable`, then
//!   `SPIN_VARIABLE_*` winning, rendered through the component's templates ([`ManifestVariables`]);
//! - HTTP: hyper 1 HTTP/1.1 with keep-alive, the same header-read timeout and `TCP_NODELAY`, the
//!   component's 64 KiB body limit, on a multi-threaded tokio runtime with the host's worker count;
//! - logging: the component's JSON line per request on stdout and the host's one-line request
//!   log on stderr.
//!
//! What it leaves out: outbound HTTP (the live JWKS; [`task_api::fetch::NoNetwork`]) and the
//! host's `spin-*` request headers, which the application does not read.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use rusqlite::types::ValueRef;
use task_api::app::{self, Env};
use task_api::config::Variables;
use task_api::db::{Database, DbError, Row, Value};
use task_api::http::{Body, MAX_BODY_BYTES, Request};
use task_api::time::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The project's manifest, compiled in: the variables and their defaults are the component's.
pub const MANIFEST: &str = include_str!("../../spin.toml");

/// The host's values, so that only the sandbox differs.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The database as the host gives it to the component: one connection for all requests.
pub struct SqliteDb {
    conn: Mutex<rusqlite::Connection>,
}

impl SqliteDb {
    pub fn open(path: &Path) -> anyhow::Result<SqliteDb> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        Ok(SqliteDb {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Database for SqliteDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let conn = self.lock();
        let io = |e: rusqlite::Error| DbError::Io(e.to_string());
        let mut statement = conn.prepare_cached(sql).map_err(io)?;
        let columns = statement.column_count();
        let params = params.iter().map(|value| match value {
            Value::Integer(n) => rusqlite::types::Value::Integer(*n),
            Value::Real(x) => rusqlite::types::Value::Real(*x),
            Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
            Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
            Value::Null => rusqlite::types::Value::Null,
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(io)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(io)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(io)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(x) => Value::Real(x),
                    // As the host does: a guest always receives valid UTF-8.
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

/// The component's variables, resolved once at start-up the way Spin (and the host) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestVariables {
    values: HashMap<String, String>,
}

impl Variables for ManifestVariables {
    fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
}

impl ManifestVariables {
    /// `given` is `--variable` in order (the last value of a name wins); `env` looks up
    /// `SPIN_VARIABLE_<NAME>`, which beats both `given` and the manifest's default.
    pub fn resolve(
        manifest: &str,
        given: &[(String, String)],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<ManifestVariables> {
        let manifest: toml::Table = manifest
            .parse()
            .map_err(|e| anyhow::anyhow!("spin.toml: {e}"))?;
        let declared = table(&manifest, "variables")?;
        let mut app = BTreeMap::new();
        for (name, decl) in &declared {
            let decl = decl
                .as_table()
                .ok_or_else(|| anyhow::anyhow!("spin.toml: variable {name} is not a table"))?;
            let from_env = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
            let from_args = given.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
            let default = decl.get("default").and_then(toml::Value::as_str);
            let required = decl.get("required").and_then(toml::Value::as_bool) == Some(true);
            let value = match (from_env, from_args, default) {
                (Some(v), _, _) => v,
                (None, Some(v), _) => v.clone(),
                (None, None, Some(v)) => v.to_owned(),
                (None, None, None) if required => {
                    anyhow::bail!("variable '{name}' is required but has no value")
                }
                (None, None, None) => continue,
            };
            app.insert(name.clone(), value);
        }
        for (name, _) in given {
            if !declared.contains_key(name) {
                eprintln!("warning: --variable {name} is not declared in [variables]; ignored");
            }
        }

        let components = table(&manifest, "component")?;
        let [(id, component)] = components.iter().collect::<Vec<_>>()[..] else {
            anyhow::bail!("spin.toml: expected exactly one component");
        };
        let templates = component
            .get("variables")
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default();
        let mut values = HashMap::new();
        for (key, template) in templates {
            let template = template.as_str().ok_or_else(|| {
                anyhow::anyhow!("spin.toml: component {id} variable {key} is not a string")
            })?;
            values.insert(
                key.clone(),
                render(template, &app).map_err(|e| {
                    anyhow::anyhow!("spin.toml: component {id} variable {key}: {e}")
                })?,
            );
        }
        Ok(ManifestVariables { values })
    }
}

fn table(manifest: &toml::Table, key: &str) -> anyhow::Result<toml::Table> {
    match manifest.get(key) {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t.clone()),
        Some(_) => anyhow::bail!("spin.toml: [{key}] is not a table"),
    }
}

/// Literal text with `{{ name }}` references to application variables.
fn render(template: &str, app: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("unterminated '{{{{' in {template:?}"))?;
        let name = after[..close].trim();
        let value = app
            .get(name)
            .ok_or_else(|| format!("no value for variable '{name}'"))?;
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What serves a request: the application and its two runtime dependencies.
pub struct Native {
    pub db: SqliteDb,
    pub vars: ManifestVariables,
    pub log_requests: bool,
}

type ResponseBody = Full<Bytes>;

impl Native {
    async fn handle(self: Arc<Self>, req: http::Request<Incoming>) -> http::Response<ResponseBody> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let body = read_body(body, &parts.headers).await;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let request = Request::new(parts.method, &path_and_query, parts.headers, body);
        // The pipeline blocks on SQLite (a write waits for fsync); off the async workers, as the
        // host moves each SQLite call off them.
        let this = self.clone();
        let response = tokio::task::spawn_blocking(move || {
            app::handle(
                &request,
                &Env {
                    db: &this.db,
                    vars: &this.vars,
                    http: &task_api::fetch::NoNetwork,
                    now: Timestamp::now(),
                },
            )
        })
        .await;
        let response = match response {
            Ok(response) => response.map(|body| Full::new(Bytes::from(body))),
            Err(e) => {
                eprintln!("{method} {path} failed: {e}");
                let mut r = http::Response::new(Full::new(Bytes::from_static(
                    br#"{"detail":"internal error"}"#,
                )));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            }
        };
        if self.log_requests {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!("{method} {path} {} {ms:.1}ms", response.status().as_u16());
        }
        response
    }
}

/// The component's rule: a declared length over the limit is refused unread, and a stream that
/// runs past it is abandoned.
async fn read_body(mut body: Incoming, headers: &http::HeaderMap) -> Body {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Body::TooLarge;
    }
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(chunk) = frame.data_ref() {
                    if out.len() + chunk.len() > MAX_BODY_BYTES {
                        return Body::TooLarge;
                    }
                    out.extend_from_slice(chunk);
                }
            }
            Err(_) => break,
        }
    }
    Body::Complete(out)
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// The host's accept loop: accept until shutdown, then give in-flight requests a grace period.
pub async fn serve(listener: TcpListener, app: Arc<Native>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _client)) => {
                    // No TCP_NODELAY, as Spin 4.0.2 sets none: a component that hands its
                    // response over in pieces must see the same Nagle delays here as there.
                    connections.spawn(serve_connection(stream, app.clone(), shutdown.clone()));
                }
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped(&mut shutdown) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Arc<Native>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// How to start serving.
#[derive(Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub variables: Vec<(String, String)>,
    /// Whether `SPIN_VARIABLE_*` from the process environment is read.
    pub use_env: bool,
    pub log_requests: bool,
}

/// A server running on the current tokio runtime; stops on [`Running::shutdown`] or drop.
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub async fn start(opts: Options) -> anyhow::Result<Running> {
    let env = |name: &str| {
        if opts.use_env {
            std::env::var(name).ok()
        } else {
            None
        }
    };
    let vars = ManifestVariables::resolve(MANIFEST, &opts.variables, &env)?;
    let db = SqliteDb::open(&opts.db)?;
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(Native {
        db,
        vars,
        log_requests: opts.log_requests,
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, app, stopped));
    Ok(Running {
        addr,
        stop,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_follow_spins_precedence() {
        let manifest = r#"
[variables]
secret = { required = true, secret = true }
origin = { default = "https://x.invalid" }
mode = { default = "auto" }
[component.c.variables]
secret = "{{ secret }}"
origin = "{{origin}}/path"
mode = "{{ mode }}"
"#;
        let none = |_: &str| None;
        let vars = ManifestVariables::resolve(
            manifest,
            &given(&[("secret", "a"), ("secret", "b"), ("undeclared", "x")]),
            &none,
        )
        .unwrap();
        assert_eq!(vars.get("secret").as_deref(), Some("b"));
        assert_eq!(
            vars.get("origin").as_deref(),
            Some("https://x.invalid/path")
        );
        assert_eq!(vars.get("mode").as_deref(), Some("auto"));
        assert_eq!(vars.get("undeclared"), None);

        let env = |name: &str| (name == "SPIN_VARIABLE_MODE").then(|| "env".to_string());
        let vars =
            ManifestVariables::resolve(manifest, &given(&[("secret", "s"), ("mode", "arg")]), &env)
                .unwrap();
        assert_eq!(vars.get("mode").as_deref(), Some("env"));

        let missing = ManifestVariables::resolve(manifest, &[], &none).unwrap_err();
        assert!(
            missing.to_string().contains("'secret' is required"),
            "{missing}"
        );
    }

    #[test]
    fn the_projects_manifest_resolves() {
        let vars = ManifestVariables::resolve(MANIFEST, &[], &|_| None).unwrap();
        assert_eq!(vars.get("user_source").as_deref(), Some("auto"));
        assert_eq!(vars.get("better_auth_secret").as_deref(), Some(""));
    }
}
