//! The task API without WebAssembly, as the baseline `bench/run` measures the runtimes against:
//! the component's own request pipeline ([`task_api::app::handle`]) called directly, behind the
//! host's HTTP stack. What differs from the runtimes is the sandbox: no component instance per
//! request, no WIT calls, no WASI streams.
//!
//! Kept equal to them on purpose (a faster baseline would make the ratio lie):
//! - SQLite as Spin gives it: a connection of its own per request, opened with SQLite's
//!   defaults on the first statement ([`task_api::db::sqlite::SqliteDb`]), every statement on a
//!   blocking thread;
//! - variables: the manifest's, resolved by the host's own code (`SPIN_VARIABLE_*` wins over
//!   `--variable`, then defaults) and rendered through the component's templates;
//! - HTTP: the host's accept loop and hyper HTTP/1.1 settings ([`task_api_host::server::serve`]),
//!   the component's 64 KiB body limit;
//! - logging: the component's JSON line per request on stdout.
//!
//! What it leaves out: outbound HTTP (the live JWKS; [`task_api::http::fetch::NoNetwork`]) and the
//! runtimes' `spin-*` request headers, which the application does not read.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use task_api::app;
use task_api::config::Variables;
use task_api::db::Now;
use task_api::db::sqlite::SqliteDb;
use task_api::env::Env;
use task_api::http::message::{Body, BodyReader, Request};
use task_api::time::Timestamp;
use task_api_host::manifest::Manifest;
use task_api_host::server::{Handler, full, serve};
use task_api_host::variables::{ComponentVariables, process_env_lookup, resolve_app_variables};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The component's variables, resolved once at start-up the way the runtimes do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestVariables(BTreeMap<String, String>);

impl Variables for ManifestVariables {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

impl ManifestVariables {
    /// The single component's variables of `manifest`, with `given` (`--variable`, in order)
    /// and, when `use_env`, `SPIN_VARIABLE_*` and `.env` beside the manifest.
    pub fn resolve(
        manifest: &Manifest,
        given: &[(String, String)],
        use_env: bool,
    ) -> anyhow::Result<Self> {
        let values = if use_env {
            resolve_app_variables(manifest, given, &process_env_lookup(&manifest.dir))?
        } else {
            resolve_app_variables(manifest, given, &|_| None)?
        };
        let [component] = manifest.components.values().collect::<Vec<_>>()[..] else {
            anyhow::bail!(
                "{}: expected exactly one component",
                manifest.path.display()
            );
        };
        Ok(Self(
            ComponentVariables::render(component, &values)?.into_map(),
        ))
    }
}

/// What serves a request: the application, its database file and its variables.
pub struct Native {
    pub db: PathBuf,
    pub vars: ManifestVariables,
}

impl Native {
    /// One request, as a runtime would run it: its own SQLite connection, the pipeline on a
    /// thread that may block (a write waits for fsync), one JSON log line.
    fn run(&self, request: &Request) -> task_api::http::message::Response {
        let db = match SqliteDb::open(&self.db) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("{e}");
                return task_api::http::message::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({"detail": "Service temporarily unavailable"}),
                );
            }
        };
        app::handle(
            request,
            &Env {
                db: &db,
                vars: &self.vars,
                // Parsed per request, like the connection: this baseline keeps nothing.
                config: &task_api::config::ConfigCache::default(),
                http: &task_api::http::fetch::NoNetwork,
                now: Timestamp::now(),
                // The pipeline never waits here (`.now()` below): a long-poll's pauses step
                // the clock instead, so it answers at once. Event streams need a runtime.
                clock: &task_api::time::SteppingClock::starting_at(Timestamp::now()),
            },
        )
        // rusqlite answers every statement at once: the pipeline never waits.
        .now()
    }
}

impl Handler for Native {
    async fn handle(
        self: Arc<Self>,
        req: http::Request<Incoming>,
        _client: SocketAddr,
    ) -> http::Response<task_api_host::server::Body> {
        let (parts, body) = req.into_parts();
        let body = read_body(body, &parts.method, &parts.headers).await;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let request = Request::new(parts.method, &path_and_query, parts.headers, body);
        match tokio::task::spawn_blocking(move || self.run(&request)).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let mut out = full(parts.status, "", Bytes::from(body));
                *out.headers_mut() = parts.headers;
                out
            }
            Err(e) => {
                eprintln!("request failed: {e}");
                full(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "application/json",
                    r#"{"detail":"Internal server error"}"#,
                )
            }
        }
    }
}

/// The component's rule ([`BodyReader`]), on hyper's body.
async fn read_body(mut body: Incoming, method: &http::Method, headers: &http::HeaderMap) -> Body {
    let mut reader = BodyReader::start(method, headers);
    if let BodyReader::Done(_) = reader {
        return reader.finish();
    }
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(chunk) = frame.data_ref()
                    && let Some(body) = reader.push(chunk)
                {
                    return body;
                }
            }
            Err(_) => break,
        }
    }
    reader.finish()
}

/// How to start serving.
#[derive(Clone)]
pub struct Options {
    pub manifest: PathBuf,
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub variables: Vec<(String, String)>,
    /// Whether `SPIN_VARIABLE_*` (process environment, then `.env`) is read.
    pub use_env: bool,
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
    let manifest = Manifest::load(&opts.manifest)?;
    let vars = ManifestVariables::resolve(&manifest, &opts.variables, opts.use_env)?;
    if let Some(parent) = opts.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(Native { db: opts.db, vars });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, app, stopped));
    Ok(Running {
        addr,
        stop,
        task: Some(task),
    })
}

/// The project's manifest, next to this crate.
pub fn project_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_manifest_resolves_with_its_defaults_and_the_given_values() {
        let manifest = Manifest::load(&project_manifest()).unwrap();
        let vars = ManifestVariables::resolve(&manifest, &[], false).unwrap();
        assert_eq!(vars.get("user_source").as_deref(), Some("auto"));
        assert_eq!(vars.get("better_auth_secret").as_deref(), Some(""));
        let given = [("user_source".to_owned(), "better-auth".to_owned())];
        let vars = ManifestVariables::resolve(&manifest, &given, false).unwrap();
        assert_eq!(vars.get("user_source").as_deref(), Some("better-auth"));
    }
}
