//! Start-up and shutdown of a running host: the library API the CLI and the integration tests
//! share, so both fail with the same one-line messages.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::componentize::load_component;
use crate::imports::{PROJECT_WORLD, check_imports};
use crate::logs::ComponentLogs;
use crate::manifest::{ComponentDecl, Manifest};
use crate::outbound::{AllowedHost, OutboundPolicy};
use crate::reuse::InstanceReuse;
use crate::routes::Router;
use crate::runtime_config::{RuntimeConfig, SqliteDatabaseConfig};
use crate::server::{ServedComponent, Server, serve};
use crate::sqlite::{Databases, Location, ResultLimits, SqliteAccess};
use crate::state::ComponentState;
use crate::variables::{ComponentVariables, process_env_lookup, resolve_app_variables};

/// How a host is started.
#[derive(Clone)]
pub struct HostOptions {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Port 0 picks a free port; [`RunningHost::addr`] tells which.
    pub listen: SocketAddr,
    /// Defaults to `.spin/` beside the manifest.
    pub state_dir: Option<PathBuf>,
    /// `--variable name=value`, in order (the last value of a name wins).
    pub variables: Vec<(String, String)>,
    /// Whether `SPIN_VARIABLE_*` (process environment, then `.env` beside the manifest) is read.
    pub use_env: bool,
    /// `--sqlite` arguments (`@file.sql` or SQL), run in order against `default` before serving.
    pub sqlite: Vec<String>,
    /// Do not echo the component's stdout/stderr to the terminal (the log files still get it).
    pub quiet: bool,
    /// Print one line per request (method, path, status, duration) to stderr.
    pub log_requests: bool,
    /// Serve this wasm instead of the manifest's `source` (single-component manifests only).
    pub wasm: Option<PathBuf>,
    /// A request still running after this is stopped and answered with a 500 (a WASIp3
    /// instance running several requests lets the others finish, up to twice this).
    pub request_timeout: Duration,
    /// Instance reuse for WASIp3 components: Spin 4.0.2's settings and defaults.
    pub reuse: InstanceReuse,
    /// Caps on a single SQLite result.
    pub sqlite_limits: ResultLimits,
    /// `--runtime-config-file`: where SQLite databases live (Spin's `[sqlite_database.<label>]`).
    pub runtime_config: Option<PathBuf>,
}

impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Variable values are secrets (the JWT key among them): show names only.
        let variables: Vec<&str> = self.variables.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HostOptions")
            .field("manifest", &self.manifest)
            .field("listen", &self.listen)
            .field("state_dir", &self.state_dir)
            .field("variables", &variables)
            .field("use_env", &self.use_env)
            .field("sqlite", &self.sqlite)
            .field("quiet", &self.quiet)
            .field("log_requests", &self.log_requests)
            .field("wasm", &self.wasm)
            .field("request_timeout", &self.request_timeout)
            .field("reuse", &self.reuse)
            .field("sqlite_limits", &self.sqlite_limits)
            .field("runtime_config", &self.runtime_config)
            .finish()
    }
}

impl HostOptions {
    /// Library defaults: an ephemeral port on 127.0.0.1, no process environment, quiet.
    pub fn new(manifest: impl Into<PathBuf>) -> HostOptions {
        HostOptions {
            manifest: manifest.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: None,
            variables: Vec::new(),
            use_env: false,
            sqlite: Vec::new(),
            quiet: true,
            log_requests: false,
            wasm: None,
            request_timeout: Duration::from_secs(30),
            reuse: InstanceReuse::default(),
            sqlite_limits: ResultLimits::default(),
            runtime_config: None,
        }
    }
}

/// A route as served, for start-up banners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRoute {
    pub component: String,
    pub url: String,
    pub wildcard: bool,
}

/// A host serving requests; stops on [`RunningHost::shutdown`] or when dropped.
pub struct RunningHost {
    addr: SocketAddr,
    warnings: Vec<String>,
    state_dir: PathBuf,
    routes: Vec<ServedRoute>,
    databases: Vec<(String, String)>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningHost {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// What the manifest asks for that this host does not do (see [`Manifest::warnings`]).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn routes(&self) -> &[ServedRoute] {
        &self.routes
    }

    /// The SQLite databases the components may open: label and where it lives.
    pub fn sqlite_databases(&self) -> &[(String, String)] {
        &self.databases
    }

    /// Stops accepting, lets in-flight requests finish (briefly), and waits for the server.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| anyhow::anyhow!("server task failed: {e}"))?;
        }
        Ok(())
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn listen_error(addr: SocketAddr, e: &std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot listen on {addr}: {}",
        crate::messages::io_message(e)
    )
}

/// The build command to suggest when a component's wasm is missing.
fn build_hint(component: &ComponentDecl) -> String {
    match &component.build {
        Some(build) => build.command.join(" && "),
        None => "the component's build".to_string(),
    }
}

/// Starts serving `opts.manifest`. Every error is one line, the same the CLI prints.
pub async fn start(opts: HostOptions) -> anyhow::Result<RunningHost> {
    // Bound before the slow steps, so a busy port fails at once.
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| listen_error(opts.listen, &e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| listen_error(opts.listen, &e))?;
    let prepared = prepare(&opts, addr).await?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, prepared.server, stopped));
    Ok(RunningHost {
        addr,
        warnings: prepared.warnings,
        state_dir: prepared.state_dir,
        routes: prepared.routes,
        databases: prepared.databases,
        stop,
        task: Some(task),
    })
}

/// Everything a running host serves, before any connection: the manifest read, variables
/// resolved, components compiled, databases located, `--sqlite` run.
pub struct Prepared {
    pub server: Arc<Server>,
    pub warnings: Vec<String>,
    pub state_dir: PathBuf,
    pub routes: Vec<ServedRoute>,
    pub databases: Vec<(String, String)>,
}

/// Prepares what [`start`] serves on `addr`; benchmarks call it to measure the per-request
/// path without a socket.
pub async fn prepare(opts: &HostOptions, addr: SocketAddr) -> anyhow::Result<Prepared> {
    let manifest = Manifest::load(&opts.manifest)?;

    let app_values = if opts.use_env {
        resolve_app_variables(
            &manifest,
            &opts.variables,
            &process_env_lookup(&manifest.dir),
        )?
    } else {
        resolve_app_variables(&manifest, &opts.variables, &|_| None)?
    };
    if !opts.quiet {
        for (name, _) in &opts.variables {
            if !manifest.variables.contains_key(name) {
                eprintln!("warning: --variable {name} is not declared in [variables]; ignored");
            }
        }
    }
    if opts.wasm.is_some() && manifest.components.len() != 1 {
        anyhow::bail!(
            "a wasm override needs a manifest with exactly one component ({} has {})",
            opts.manifest.display(),
            manifest.components.len()
        );
    }

    let state_dir = opts
        .state_dir
        .clone()
        .unwrap_or_else(|| manifest.dir.join(".spin"));
    std::fs::create_dir_all(&state_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create state directory {}: {}",
            state_dir.display(),
            crate::messages::io_message(&e)
        )
    })?;

    let locations = match &opts.runtime_config {
        Some(file) => sqlite_locations(&RuntimeConfig::load(file)?)?,
        None => HashMap::new(),
    };
    let databases = Arc::new(Databases::with_locations(
        &state_dir,
        locations,
        opts.sqlite_limits,
    ));
    let mut used = Vec::new();
    for (id, decl) in &manifest.components {
        for label in &decl.sqlite_databases {
            match databases.location(label) {
                Some(location) => used.push((label.clone(), location.to_string())),
                None => anyhow::bail!(
                    "component '{id}' uses SQLite database '{label}', which is not defined: \
                     check the spelling, or pass a runtime config file that defines \
                     [sqlite_database.{label}]"
                ),
            }
        }
    }
    used.sort();
    used.dedup();
    // What the manifest's own defaults render to: Spin refuses to load an app whose
    // allowed_outbound_hosts are invalid with them (a required variable has no default).
    let defaults = resolve_app_variables(&manifest, &[], &|_| None).ok();
    let wit_dir = manifest.dir.join("wit");
    let mut components = HashMap::new();
    for (id, decl) in &manifest.components {
        let (path, shown) = match &opts.wasm {
            Some(wasm) => (wasm.clone(), wasm.display().to_string()),
            None => (manifest.source_path(decl), decl.source.clone()),
        };
        let bytes = load_component(&path, &shown, &build_hint(decl))?;
        // Projects without a wit/ directory have no declared world to hold the component to.
        if wit_dir.is_dir() {
            check_imports(&bytes, &wit_dir, PROJECT_WORLD)
                .map_err(|e| anyhow::anyhow!("component '{id}': {e:#}"))?;
        }
        let what = format!("component '{id}' ({shown})");
        let (pre, export) = tokio::task::spawn_blocking(move || {
            let compiled = crate::engine::compile(&bytes, &what)?;
            crate::engine::pre_instantiate(&compiled, &what)
        })
        .await
        .map_err(|e| anyhow::anyhow!("compiling component '{id}' failed: {e}"))??;

        let allowed = allowed_hosts(id, &decl.allowed_outbound_hosts, &app_values, &defaults)?;
        let state = ComponentState {
            id: id.clone(),
            sqlite: SqliteAccess::new(decl.sqlite_databases.clone(), databases.clone()),
            variables: ComponentVariables::render(decl, &app_values)?,
            outbound: OutboundPolicy {
                component: id.as_str().into(),
                allowed: allowed.into(),
            },
            logs: ComponentLogs::open(&state_dir, id, opts.quiet)?,
            environment: decl
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        components.insert(
            id.clone(),
            ServedComponent::new(
                pre,
                export,
                Arc::new(state),
                opts.reuse,
                opts.request_timeout,
            ),
        );
    }

    for arg in opts.sqlite.clone() {
        let databases = databases.clone();
        tokio::task::spawn_blocking(move || databases.run_startup_sql(&arg))
            .await
            .map_err(|e| anyhow::anyhow!("--sqlite failed: {e}"))??;
    }

    let router = Router::new(manifest.http_base(), &manifest.http_triggers);
    let routes = router
        .routes()
        .iter()
        .map(|r| ServedRoute {
            component: r.component.clone(),
            url: format!("http://{addr}{}", r.prefix),
            wildcard: r.wildcard,
        })
        .collect();
    let server = Arc::new(Server {
        router,
        components,
        request_timeout: opts.request_timeout,
        log_requests: opts.log_requests,
        local_addr: addr,
    });
    Ok(Prepared {
        server,
        warnings: manifest.warnings.clone(),
        state_dir,
        routes,
        databases: used,
    })
}

/// A component's `allowed_outbound_hosts` with the app's values. As in Spin 4.0.2: an entry
/// invalid with the manifest's defaults stops the start; one that only the values given at
/// start-up make invalid (an empty variable, say) is resolved per instance there, fails, and
/// denies every outbound request, so here it is a warning and no host is granted.
fn allowed_hosts(
    id: &str,
    entries: &[String],
    values: &HashMap<String, String>,
    defaults: &Option<HashMap<String, String>>,
) -> anyhow::Result<Vec<AllowedHost>> {
    let resolve = |values: &HashMap<String, String>| {
        entries
            .iter()
            .map(|h| AllowedHost::resolve(h, values))
            .collect::<Result<Vec<_>, String>>()
    };
    if let Some(defaults) = defaults {
        resolve(defaults)
            .map_err(|e| anyhow::anyhow!("component '{id}': allowed_outbound_hosts: {e}"))?;
    }
    match resolve(values) {
        Ok(allowed) => Ok(allowed),
        Err(e) => {
            eprintln!(
                "warning: component '{id}': allowed_outbound_hosts: {e}; no outbound request \
                 will be allowed"
            );
            Ok(Vec::new())
        }
    }
}

/// Where each runtime-configured label lives. Refuses what this host cannot serve, so that a
/// configuration meant for a remote database never silently falls back to a local file.
fn sqlite_locations(config: &RuntimeConfig) -> anyhow::Result<HashMap<String, Location>> {
    let mut locations = HashMap::new();
    for (label, database) in &config.sqlite_databases {
        let location = match database {
            SqliteDatabaseConfig::Spin { path: None } => Location::Memory,
            SqliteDatabaseConfig::Spin { path: Some(path) } => {
                // As Spin does: the file's directory is created, the file on first use.
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        anyhow::anyhow!(
                            "runtime config file {}: [sqlite_database.{label}]: cannot create \
                             directory {}: {}",
                            config.file.display(),
                            parent.display(),
                            crate::messages::io_message(&e)
                        )
                    })?;
                }
                Location::File(path.clone())
            }
            SqliteDatabaseConfig::LibSql { url, .. } => anyhow::bail!(
                "runtime config file {}: [sqlite_database.{label}] is type \"libsql\" ({url}): \
                 this host has no libSQL client, so it cannot serve a remote libSQL/Turso \
                 database; Spin itself (spin up --runtime-config-file …) and SpinKube do. Here, \
                 use type = \"spin\" with a local path",
                config.file.display()
            ),
        };
        locations.insert(label.clone(), location);
    }
    Ok(locations)
}

/// A [`RunningHost`] on its own runtime, for plain `#[test]` functions and other sync callers.
/// Shuts down when dropped.
pub struct BlockingHost {
    host: Option<RunningHost>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BlockingHost {
    /// Starts a host on a new multi-threaded runtime. Do not call from within an async context.
    pub fn start(opts: HostOptions) -> anyhow::Result<BlockingHost> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("task-api-host")
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start a tokio runtime: {e}"))?;
        let host = runtime.block_on(start(opts))?;
        Ok(BlockingHost {
            host: Some(host),
            runtime: Some(runtime),
        })
    }

    fn host(&self) -> &RunningHost {
        self.host.as_ref().expect("host is running until shutdown")
    }

    pub fn addr(&self) -> SocketAddr {
        self.host().addr()
    }

    pub fn url(&self) -> String {
        self.host().url()
    }

    pub fn state_dir(&self) -> &Path {
        self.host().state_dir()
    }

    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        let (Some(host), Some(runtime)) = (self.host.take(), self.runtime.take()) else {
            return Ok(());
        };
        let result = runtime.block_on(host.shutdown());
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }
}

impl Drop for BlockingHost {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Handler, http_component, http_request, temp_dir};
    use std::time::Instant;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
token = { default = "d" }
[[trigger.http]]
route = "ROUTE"
component = "guest"
[component.guest]
source = "guest.wasm"
sqlite_databases = ["default"]
[component.guest.variables]
token = "{{ token }}"
"#;

    fn app(tag: &str, handler: Handler, route: &str) -> PathBuf {
        let dir = temp_dir(tag);
        std::fs::write(dir.join("guest.wasm"), http_component(handler)).unwrap();
        std::fs::write(dir.join("spin.toml"), MANIFEST.replace("ROUTE", route)).unwrap();
        dir.join("spin.toml")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trap_is_a_500_with_a_json_body_and_reserved_paths_are_served() {
        let manifest = app("trap", Handler::Trap, "/...");
        let host = start(HostOptions::new(&manifest)).await.unwrap();
        assert_eq!(host.state_dir(), manifest.parent().unwrap().join(".spin"));
        assert!(host.state_dir().join("logs/guest_stderr.txt").is_file());
        assert_eq!(host.routes()[0].url, host.url());
        assert!(host.routes()[0].wildcard);

        let (status, head, body) = http_request(host.addr(), "GET", "/api/x?token=secret").await;
        assert_eq!(status, 500);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        assert_eq!(body, r#"{"detail":"internal error"}"#);

        let (status, _, body) = http_request(host.addr(), "GET", "/.well-known/spin/health").await;
        assert_eq!((status, body.as_str()), (200, "OK"));
        let (status, _, _) = http_request(host.addr(), "GET", "/.well-known/spin/nope").await;
        assert_eq!(status, 404);

        let addr = host.addr();
        host.shutdown().await.unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "still accepting after shutdown"
        );
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runaway_guest_is_stopped_at_the_timeout_and_the_server_keeps_serving() {
        let manifest = app("spin", Handler::Spin, "/...");
        let mut opts = HostOptions::new(&manifest);
        opts.request_timeout = Duration::from_millis(300);
        let host = start(opts).await.unwrap();
        let t = Instant::now();
        let (a, b) = tokio::join!(
            http_request(host.addr(), "GET", "/a"),
            http_request(host.addr(), "GET", "/b"),
        );
        assert_eq!((a.0, b.0), (500, 500));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
        let (status, _, _) = http_request(host.addr(), "GET", "/.well-known/spin/health").await;
        assert_eq!(status, 200);
        host.shutdown().await.unwrap();
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_response_is_a_500_and_unrouted_paths_are_404() {
        let manifest = app("noresp", Handler::Return, "/api/...");
        let host = start(HostOptions::new(&manifest)).await.unwrap();
        assert_eq!(http_request(host.addr(), "GET", "/api/x").await.0, 500);
        assert_eq!(http_request(host.addr(), "GET", "/api").await.0, 500);
        assert_eq!(http_request(host.addr(), "GET", "/other").await.0, 404);
        assert_eq!(http_request(host.addr(), "GET", "/apix").await.0, 404);
        host.shutdown().await.unwrap();
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn startup_sql_runs_against_the_default_database_in_the_state_dir() {
        let manifest = app("sql", Handler::Trap, "/...");
        let state = manifest.parent().unwrap().join("state");
        let mut opts = HostOptions::new(&manifest);
        opts.state_dir = Some(state.clone());
        opts.sqlite = vec![
            "CREATE TABLE t (x)".into(),
            "INSERT INTO t VALUES (42)".into(),
        ];
        let host = start(opts.clone()).await.unwrap();
        host.shutdown().await.unwrap();
        let conn = rusqlite::Connection::open(state.join("sqlite_db.db")).unwrap();
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 42);

        // The same statement again fails: the table exists now.
        opts.sqlite.truncate(1);
        let e = start(opts).await.err().unwrap().to_string();
        assert!(e.starts_with("--sqlite statement failed: "), "{e}");
        assert!(e.contains("already exists"), "{e}");
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runtime_config_moves_the_default_database_and_refuses_what_it_cannot_serve() {
        let manifest = app("rc", Handler::Trap, "/...");
        let dir = manifest.parent().unwrap().to_path_buf();
        let shared = dir.join("shared/one.db");
        let rc = dir.join("rc.toml");
        std::fs::write(
            &rc,
            format!(
                "[sqlite_database.default]\ntype = \"spin\"\npath = \"{}\"\n",
                shared.display()
            ),
        )
        .unwrap();
        let mut opts = HostOptions::new(&manifest);
        opts.state_dir = Some(dir.join("state"));
        opts.runtime_config = Some(rc.clone());
        opts.sqlite = vec![
            "CREATE TABLE t (x)".into(),
            "INSERT INTO t VALUES (7)".into(),
        ];
        let host = start(opts.clone()).await.unwrap();
        assert_eq!(
            host.sqlite_databases(),
            &[("default".to_string(), shared.display().to_string())]
        );
        host.shutdown().await.unwrap();
        let conn = rusqlite::Connection::open(&shared).unwrap();
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
        assert!(!dir.join("state/sqlite_db.db").exists());

        opts.sqlite.clear();
        let refused = |text: &str| {
            std::fs::write(&rc, text).unwrap();
            let opts = opts.clone();
            async move { start(opts).await.err().unwrap().to_string() }
        };
        let e = refused(
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"https://db.turso.io\"\ntoken = \"tok-123\"\n",
        )
        .await;
        assert!(
            e.contains(&format!("runtime config file {}", rc.display())),
            "{e}"
        );
        assert!(
            e.contains("[sqlite_database.default] is type \"libsql\""),
            "{e}"
        );
        assert!(e.contains("Spin itself"), "{e}");
        assert!(!e.contains("tok-123") && !e.contains('\n'), "{e}");
        let e = refused("[sqlite_database.default]\ntype = \"redis\"\n").await;
        assert!(e.contains("unknown type \"redis\""), "{e}");

        // A label the component declares but nothing defines stops the start, as in Spin.
        std::fs::write(
            &manifest,
            MANIFEST
                .replace("ROUTE", "/...")
                .replace(r#"["default"]"#, r#"["default", "archive"]"#),
        )
        .unwrap();
        let e = refused("").await;
        assert!(
            e.contains("component 'guest' uses SQLite database 'archive', which is not defined"),
            "{e}"
        );
        std::fs::write(&rc, "[sqlite_database.archive]\ntype = \"spin\"\n").unwrap();
        let host = start(opts.clone()).await.unwrap();
        assert_eq!(
            host.sqlite_databases()[0].1,
            "a temporary in-memory database"
        );
        host.shutdown().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn startup_errors_are_single_lines() {
        let manifest = app("errors", Handler::Trap, "/...");
        let dir = manifest.parent().unwrap().to_path_buf();

        // Busy port.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut opts = HostOptions::new(&manifest);
        opts.listen = taken.local_addr().unwrap();
        let e = start(opts).await.err().unwrap().to_string();
        assert_eq!(
            e,
            format!(
                "cannot listen on {}: address already in use",
                taken.local_addr().unwrap()
            )
        );

        // Missing wasm.
        std::fs::write(
            &manifest,
            MANIFEST
                .replace("ROUTE", "/...")
                .replace("guest.wasm", "missing.wasm"),
        )
        .unwrap();
        let e = start(HostOptions::new(&manifest))
            .await
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "component source missing.wasm not found — run the component's build (or cargo up)"
        );

        // Not wasm.
        std::fs::write(dir.join("missing.wasm"), "text").unwrap();
        let e = start(HostOptions::new(&manifest))
            .await
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "component source missing.wasm is not a WebAssembly module or component"
        );

        // A required variable without a value.
        std::fs::write(
            &manifest,
            MANIFEST
                .replace("ROUTE", "/...")
                .replace("{ default = \"d\" }", "{ required = true }"),
        )
        .unwrap();
        let e = start(HostOptions::new(&manifest))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("variable 'token' is required but not set"),
            "{e}"
        );
        let mut opts = HostOptions::new(&manifest);
        opts.variables = vec![("token".into(), "v".into())];
        start(opts).await.unwrap().shutdown().await.unwrap();

        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_component_importing_outside_the_world_is_refused() {
        let manifest = app("world", Handler::Trap, "/...");
        let wit = manifest.parent().unwrap().join("wit");
        std::fs::create_dir_all(wit.join("deps/spin")).unwrap();
        for f in std::fs::read_dir(crate::testutil::spin_wit_dir()).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, wit.join("deps/spin").join(f.file_name().unwrap())).unwrap();
        }
        std::fs::write(
            wit.join("world.wit"),
            "package task-api:component;\nworld task-api { import fermyon:spin/sqlite@2.0.0; }\n",
        )
        .unwrap();
        let e = start(HostOptions::new(&manifest))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("component 'guest': the component imports an interface outside the world task-api:component/task-api"), "{e}");
        assert!(e.ends_with(": wasi:http/types@0.2.0"), "{e}");

        // The same world plus the interface: accepted.
        std::fs::create_dir_all(wit.join("deps/http")).unwrap();
        std::fs::write(
            wit.join("deps/http/types.wit"),
            crate::testutil::WASI_HTTP_WIT,
        )
        .unwrap();
        std::fs::write(
            wit.join("world.wit"),
            "package task-api:component;\nworld task-api { import fermyon:spin/sqlite@2.0.0; import wasi:http/types@0.2.0; export wasi:http/incoming-handler@0.2.0; }\n",
        )
        .unwrap();
        start(HostOptions::new(&manifest))
            .await
            .unwrap()
            .shutdown()
            .await
            .unwrap();
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }

    #[test]
    fn debug_output_hides_variable_values() {
        let mut opts = HostOptions::new("spin.toml");
        opts.variables = vec![("better_auth_secret".into(), "hunter2-secret".into())];
        let shown = format!("{opts:?}");
        assert!(shown.contains("better_auth_secret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn blocking_host_serves_from_plain_tests() {
        let manifest = app("blocking", Handler::Trap, "/...");
        let host = BlockingHost::start(HostOptions::new(&manifest)).unwrap();
        let url = host.url();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let addr = host.addr();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 500"), "{response}");
        host.shutdown().unwrap();
        assert!(std::net::TcpStream::connect(addr).is_err());
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
    }
}
