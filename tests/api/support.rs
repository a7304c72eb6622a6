//! Starting the real component under the project's Spin-compatible host, one fresh state
//! directory (so one fresh SQLite database) per server.

use super::client::{Request, Response};
use super::tokens;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use task_api_host::{BlockingHost, HostOptions};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo test` builds the component itself (cargo's own freshness check makes this cheap
/// when nothing changed), so no manual step comes before it.
pub fn build_component_once() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| task_api_host::build_component(root()).expect("building the component"));
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("task-api-test-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    host: Option<BlockingHost>,
    pub state: TempDir,
}

pub struct ServerBuilder {
    variables: Vec<(String, String)>,
    sqlite: Vec<String>,
    manifest: PathBuf,
    state: Option<TempDir>,
}

impl ServerBuilder {
    pub fn variable(mut self, name: &str, value: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self.variables.push((name.into(), value.into()));
        self
    }

    pub fn sqlite(mut self, statement_or_file: &str) -> Self {
        self.sqlite.push(statement_or_file.into());
        self
    }

    pub fn manifest(mut self, manifest: PathBuf) -> Self {
        self.manifest = manifest;
        self
    }

    /// Reuse a state directory (the database of an earlier server).
    pub fn state(mut self, state: TempDir) -> Self {
        self.state = Some(state);
        self
    }

    pub fn try_start(self) -> Result<Server, (anyhow::Error, TempDir)> {
        build_component_once();
        let state = self.state.unwrap_or_else(|| TempDir::new("state"));
        let mut options = HostOptions::new(self.manifest);
        options.state_dir = Some(state.path().to_owned());
        options.variables = self.variables;
        options.sqlite = self.sqlite;
        options.wasm = Some(root().join("target/wasm32-wasip1/release/task_api.wasm"));
        match BlockingHost::start(options) {
            Ok(host) => Ok(Server {
                host: Some(host),
                state,
            }),
            Err(error) => Err((error, state)),
        }
    }

    pub fn start(self) -> Server {
        self.try_start()
            .map_err(|(e, _)| e)
            .expect("starting the host")
    }
}

impl Server {
    /// A server configured like a typical deployment: HS256 with the test secret.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            variables: vec![("better_auth_secret".into(), tokens::SECRET.into())],
            sqlite: Vec::new(),
            manifest: root().join("spin.toml"),
            state: None,
        }
    }

    pub fn start() -> Self {
        Self::builder().start()
    }

    pub fn addr(&self) -> SocketAddr {
        self.host.as_ref().unwrap().addr()
    }

    pub fn database(&self) -> PathBuf {
        self.state.path().join("sqlite_db.db")
    }

    /// Stops the host and hands back its state directory.
    pub fn stop(mut self) -> TempDir {
        self.host
            .take()
            .unwrap()
            .shutdown()
            .expect("clean shutdown");
        std::mem::replace(&mut self.state, TempDir::new("unused"))
    }

    pub fn send(&self, request: Request) -> Response {
        request.send(self.addr())
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.send(Request::new("GET", path).bearer(token))
    }

    pub fn post(&self, path: &str, token: &str, body: serde_json::Value) -> Response {
        self.send(Request::new("POST", path).bearer(token).json(&body))
    }

    pub fn put(&self, path: &str, token: &str, body: serde_json::Value) -> Response {
        self.send(Request::new("PUT", path).bearer(token).json(&body))
    }

    pub fn patch(&self, path: &str, token: &str, body: serde_json::Value) -> Response {
        self.send(Request::new("PATCH", path).bearer(token).json(&body))
    }

    pub fn delete(&self, path: &str, token: &str) -> Response {
        self.send(Request::new("DELETE", path).bearer(token))
    }

    pub fn toggle(&self, user: &str, id: i64, token: &str) -> Response {
        self.send(Request::new("PATCH", &format!("/api/{user}/tasks/{id}/complete")).bearer(token))
    }

    /// Creates a task for `user` with their own token and returns it.
    pub fn create(&self, user: &str, title: &str) -> serde_json::Value {
        let response = self.post(
            &format!("/api/{user}/tasks"),
            &tokens::token(user),
            serde_json::json!({ "title": title }),
        );
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()
    }
}
