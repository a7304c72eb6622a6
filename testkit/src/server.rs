//! One server with a fresh state directory (so a fresh SQLite database), under the runtime of
//! this test run: the bundled host in process, or `spin up` as a child process.

use crate::client::{Request, Response};
use crate::component::{build_component_once, root, wasm_path};
use crate::database::{Backend, StoredDatabase};
use crate::fs::TempDir;
use crate::process::{ProcessOptions, ServerProcess};
use crate::runtime::Runtime;
use crate::sqld::Sqld;
use crate::tokens;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use task_api_host::{BlockingHost, HostOptions};

enum Running {
    Host(BlockingHost),
    Spin(ServerProcess),
}

pub struct Server {
    running: Option<Running>,
    pub state: TempDir,
    runtime: Runtime,
    /// The libSQL server holding the `default` database (`TASK_API_DATABASE=sqld`).
    sqld: Option<Arc<Mutex<Sqld>>>,
}

pub struct ServerBuilder {
    variables: Vec<(String, String)>,
    sqlite: Vec<String>,
    manifest: PathBuf,
    state: Option<TempDir>,
    runtime_config: Option<PathBuf>,
    runtime: Runtime,
    spin_args: Vec<String>,
}

impl ServerBuilder {
    /// More flags for `spin up` (real Spin only).
    pub fn spin_args(mut self, args: &[&str]) -> Self {
        self.spin_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn variable(mut self, name: &str, value: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self.variables.push((name.into(), value.into()));
        self
    }

    /// Removes a variable the builder would otherwise set (the default secret, say).
    pub fn without_variable(mut self, name: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self
    }

    /// `--sqlite` (a statement, or `@file`), run before serving, in order.
    pub fn sqlite(mut self, statement_or_file: &str) -> Self {
        self.sqlite.push(statement_or_file.into());
        self
    }

    /// Serve another manifest (see [`crate::component::manifest_copy`]).
    pub fn manifest(mut self, manifest: PathBuf) -> Self {
        self.manifest = manifest;
        self
    }

    /// `--runtime-config-file`.
    pub fn runtime_config(mut self, file: PathBuf) -> Self {
        self.runtime_config = Some(file);
        self
    }

    /// Reuse a state directory (the database of an earlier server).
    pub fn state(mut self, state: TempDir) -> Self {
        self.state = Some(state);
        self
    }

    /// Another runtime than this run's (e.g. to compare the two).
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Starts the server, or hands back why it did not start (the host's one-line error, or
    /// Spin's stderr) and the state directory.
    pub fn try_start(self) -> Result<Server, (String, TempDir)> {
        build_component_once();
        let state = self.state.unwrap_or_else(|| TempDir::new("state"));
        let mut runtime_config = self.runtime_config;
        let mut sqlite = self.sqlite;
        // With `TASK_API_DATABASE=sqld`, Spin's `default` database is a libSQL server whose
        // data lives in the state directory (a restart on the same state finds it again). A
        // test that brings its own runtime config keeps it; the bundled host serves files only.
        let sqld = match (Backend::current(), &self.runtime, &runtime_config) {
            (Backend::Sqld, Runtime::Spin(_), None) => {
                let database = StoredDatabase::for_state(state.path());
                runtime_config =
                    database.runtime_config(&state.path().with_extension("runtime-config.toml"));
                // `spin up --sqlite @file` hands a file to the libSQL client whole, and its
                // parser refuses the PRAGMA of migration 0005; files are run here instead, one
                // statement at a time, as the component runs its migrations. Single statements
                // still go through Spin.
                let mut files = true;
                sqlite.retain(|entry| match entry.strip_prefix('@') {
                    Some(file) => {
                        assert!(
                            files,
                            "under sqld, --sqlite files must come before statements"
                        );
                        if let Some(sqld) = database.sqld() {
                            crate::database::lock(sqld).run_file(std::path::Path::new(file));
                        }
                        false
                    }
                    None => {
                        files = false;
                        true
                    }
                });
                database.sqld().cloned()
            }
            (Backend::Sqld, Runtime::Host, None) => panic!(
                "TASK_API_DATABASE=sqld needs TASK_API_RUNTIME=spin: the bundled host refuses \
                 type = \"libsql\" (see host/src/runtime_config.rs)"
            ),
            _ => None,
        };
        let running = match &self.runtime {
            Runtime::Host => {
                let mut options = HostOptions::new(self.manifest.clone());
                options.state_dir = Some(state.path().to_owned());
                options.variables = self.variables;
                options.sqlite = sqlite.clone();
                options.runtime_config = runtime_config.clone();
                options.reuse = host_reuse();
                if self.manifest == root().join("spin.toml") {
                    options.wasm = Some(wasm_path());
                }
                BlockingHost::start(options)
                    .map(Running::Host)
                    .map_err(|e| format!("{e:#}"))
            }
            Runtime::Spin(_) => {
                let workdir = state.path().join("work");
                let mut options = ProcessOptions::new(&self.manifest, state.path(), &workdir);
                options.variables = self.variables;
                options.sqlite = sqlite.clone();
                options.runtime_config = runtime_config.clone();
                options.log_stem = state.path().join("spin");
                options.extra_args = self.spin_args.clone();
                let host_bin = PathBuf::new();
                let mut process = ServerProcess::spawn(&self.runtime, &host_bin, options);
                process
                    .wait_ready(Duration::from_secs(120))
                    .map(|()| Running::Spin(process))
            }
        };
        match running {
            Ok(running) => Ok(Server {
                running: Some(running),
                state,
                runtime: self.runtime,
                sqld,
            }),
            Err(error) => Err((error, state)),
        }
    }

    pub fn start(self) -> Server {
        let runtime = self.runtime.name();
        self.try_start()
            .unwrap_or_else(|(e, _)| panic!("starting the {runtime}: {e}"))
    }
}

impl Server {
    /// A server configured like a typical deployment: HS256 with [`tokens::SECRET`].
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            variables: vec![("better_auth_secret".into(), tokens::SECRET.into())],
            sqlite: Vec::new(),
            manifest: root().join("spin.toml"),
            state: None,
            runtime_config: None,
            runtime: Runtime::current().clone(),
            spin_args: Vec::new(),
        }
    }

    pub fn start() -> Self {
        Self::builder().start()
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn addr(&self) -> SocketAddr {
        match self.running.as_ref().expect("running") {
            Running::Host(host) => host.addr(),
            Running::Spin(process) => process.addr,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The `default` database: the file `<state>/sqlite_db.db` (both runtimes), or the sqld
    /// serving it. The handle stays readable after the server stops.
    pub fn database(&self) -> StoredDatabase {
        match &self.sqld {
            Some(sqld) => StoredDatabase::Sqld(sqld.clone()),
            None => StoredDatabase::File(self.state.path().join("sqlite_db.db")),
        }
    }

    /// What the component wrote to stderr (its log of misconfigurations and failures). Both
    /// runtimes keep it at `<state>/logs/<component>_stderr.txt`.
    pub fn component_stderr(&self) -> String {
        std::fs::read_to_string(self.state.path().join("logs/task-api_stderr.txt"))
            .unwrap_or_default()
    }

    /// What the component wrote to stdout (one JSON line per request).
    pub fn component_stdout(&self) -> String {
        std::fs::read_to_string(self.state.path().join("logs/task-api_stdout.txt"))
            .unwrap_or_default()
    }

    /// A 503 for a misconfiguration, as an outsider sees it: JSON with a detail that names
    /// nothing of the deployment, while the component's log (the operator's view) says
    /// `reason`.
    pub fn assert_misconfigured(&self, response: &Response, reason: &str) {
        let body = response.assert_json_error(503);
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("misconfigured") && !detail.contains(reason),
            "the 503 detail must be generic, got {detail:?}"
        );
        assert!(
            response.header("retry-after").is_some(),
            "503 without Retry-After"
        );
        // The log is written before the response, but reaches the file through the runtime.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.component_stderr();
            if log.contains(reason) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the component's log does not say {reason:?}: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server and hands back its state directory.
    pub fn stop(mut self) -> TempDir {
        match self.running.take().expect("running") {
            Running::Host(host) => host.shutdown().expect("clean shutdown"),
            Running::Spin(mut process) => process.stop(),
        }
        self.sqld = None;
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

impl Drop for Server {
    fn drop(&mut self) {
        // The state is thrown away with the server: no need to wait for a graceful exit.
        if let Some(Running::Spin(mut process)) = self.running.take() {
            process.kill();
        }
    }
}

/// [`crate::process::reuse_args`] as the in-process host takes them (the same flags `up`
/// parses); a flag it does not know stops the test run.
fn host_reuse() -> task_api_host::reuse::InstanceReuse {
    let mut args = vec!["up".to_owned()];
    args.extend(crate::process::reuse_args());
    match task_api_host::cli::parse(&args) {
        Ok(task_api_host::cli::Command::Up(up)) => up.reuse,
        Ok(_) => unreachable!("`up` parses as up"),
        Err(e) => panic!("TASK_API_REUSE_ARGS: {e}"),
    }
}
