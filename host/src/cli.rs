//! The `task-api-host` command line, parsed by hand (two subcommands, a handful of flags).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::component_build::build_manifest;
use crate::host::{HostOptions, start};
use crate::manifest::Manifest;
use crate::reuse::{InstanceReuse, Range, parse_count_range, parse_duration_range};
use std::time::Duration;

pub const USAGE: &str = "\
task-api-host: a small Spin-compatible host for the task-api component

Usage:
  task-api-host up [OPTIONS]     build the component if stale, then serve it (like `spin build --up`)
  task-api-host build [--from FILE]   run the manifest's build command(s)
  task-api-host token USER [OPTIONS]  print a development token for USER (HS256, needs a secret)
  task-api-host --help

Options for `up`:
  -f, --from FILE        manifest to serve (default: spin.toml in this or a parent directory)
      --listen ADDR      address to listen on (default: 127.0.0.1:3000)
      --state-dir DIR    state directory: SQLite database and logs (default: .spin beside the manifest)
      --runtime-config-file FILE
                         Spin runtime configuration: [sqlite_database.<label>] with
                         type = \"spin\" and path (relative to the working directory, as in
                         Spin); several hosts can share one database file this way
      --sqlite SQL       run SQL against the default database before serving; @FILE reads it
                         from a file (repeatable, run in order)
      --variable K=V     set application variable K (repeatable; @FILE.json sets several);
                         SPIN_VARIABLE_<K> in the environment takes precedence
      --quiet            do not echo the component's stdout/stderr (still logged to files)
      --request-timeout DURATION
                         stop a request still running after this (default: 30s; 500ms, 2s, or
                         a range like 1..8s drawn per WASIp3 instance)
      --max-instance-reuse-count N
                         requests a WASIp3 instance serves in its life (default: 128; or a
                         range like 1..8, drawn per instance). A WASI 0.2 component gets a
                         fresh instance per request, as in Spin
      --max-instance-concurrent-reuse-count N
                         requests a WASIp3 instance serves at once (default: 16; or a range)
      --idle-instance-timeout DURATION
                         drop a WASIp3 instance after this without a request (default: 1s;
                         or a range)
      --build            build before serving (the default)
      --no-build         serve the existing wasm without building
  -h, --help             print this help

Options for `token`:
  -f, --from FILE        manifest whose variables configure the API (default: spin.toml nearby)
      --variable K=V     as for `up` (SPIN_VARIABLE_<K> and .env are read too)
      --ttl SECONDS      lifetime (default: 3600)
  The token is signed with better_auth_secret and carries the iss/aud the API requires, so
  `curl -H \"Authorization: Bearer $(cargo token alice)\" …/api/alice/tasks` works against
  `cargo up` or `spin up` with the same variables. Refuses to run without a usable secret.
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Up(Box<UpArgs>),
    Build {
        from: Option<PathBuf>,
    },
    Token {
        user: String,
        from: Option<PathBuf>,
        variables: Vec<String>,
        ttl_secs: u64,
    },
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpArgs {
    pub from: Option<PathBuf>,
    pub listen: String,
    pub state_dir: Option<PathBuf>,
    pub runtime_config: Option<PathBuf>,
    pub sqlite: Vec<String>,
    /// Raw `--variable` values: `k=v` or `@file.json`.
    pub variables: Vec<String>,
    pub quiet: bool,
    pub build: bool,
    /// `--request-timeout`: `None` keeps the host's default.
    pub request_timeout: Option<Range<Duration>>,
    /// The WASIp3 instance reuse flags (`request_timeout` is set from the field above).
    pub reuse: InstanceReuse,
}

impl Default for UpArgs {
    fn default() -> Self {
        UpArgs {
            from: None,
            listen: "127.0.0.1:3000".to_string(),
            state_dir: None,
            runtime_config: None,
            sqlite: Vec::new(),
            variables: Vec::new(),
            quiet: false,
            build: true,
            request_timeout: None,
            reuse: InstanceReuse::default(),
        }
    }
}

/// Splits `--flag=value` and takes the value of `--flag value`.
fn take_value(
    flag: &str,
    inline: Option<String>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<String, String> {
    inline
        .or_else(|| rest.next())
        .ok_or_else(|| format!("{flag} needs a value (see --help)"))
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let sub = args.first().cloned();
    // `cargo up` is `cargo run … -- up`, so `cargo up -- --help` (the habit from `cargo run`)
    // hands the host a `--` right after the subcommand: it separates nothing here.
    let rest = match args.get(1).map(String::as_str) {
        Some("--") => &args[2..],
        _ => args.get(1..).unwrap_or(&[]),
    };
    let mut it = rest.iter().cloned();
    let Some(sub) = sub else {
        return Ok(Command::Help);
    };
    match sub.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "up" => {
            let mut up = UpArgs::default();
            while let Some(arg) = it.next() {
                let (flag, inline) = match arg.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                    _ => (arg.clone(), None),
                };
                match flag.as_str() {
                    "-h" | "--help" => return Ok(Command::Help),
                    "-f" | "--from" => up.from = Some(take_value(&flag, inline, &mut it)?.into()),
                    "--listen" => up.listen = take_value(&flag, inline, &mut it)?,
                    "--state-dir" => {
                        up.state_dir = Some(take_value(&flag, inline, &mut it)?.into())
                    }
                    "--runtime-config-file" => {
                        up.runtime_config = Some(take_value(&flag, inline, &mut it)?.into())
                    }
                    "--sqlite" => up.sqlite.push(take_value(&flag, inline, &mut it)?),
                    "--variable" => up.variables.push(take_value(&flag, inline, &mut it)?),
                    "--quiet" | "-q" => up.quiet = true,
                    "--build" => up.build = true,
                    "--no-build" => up.build = false,
                    "--request-timeout" => {
                        let value = take_value(&flag, inline, &mut it)?;
                        up.request_timeout = Some(parse_duration_range(&flag, &value)?);
                    }
                    "--max-instance-reuse-count" => {
                        let value = take_value(&flag, inline, &mut it)?;
                        up.reuse.max_instance_reuse_count = parse_count_range(&flag, &value)?;
                    }
                    "--max-instance-concurrent-reuse-count" => {
                        let value = take_value(&flag, inline, &mut it)?;
                        up.reuse.max_instance_concurrent_reuse_count =
                            parse_count_range(&flag, &value)?;
                    }
                    "--idle-instance-timeout" => {
                        let value = take_value(&flag, inline, &mut it)?;
                        up.reuse.idle_instance_timeout = parse_duration_range(&flag, &value)?;
                    }
                    other => return Err(format!("unknown option '{other}' for up (see --help)")),
                }
            }
            Ok(Command::Up(Box::new(up)))
        }
        "build" => {
            let mut from = None;
            while let Some(arg) = it.next() {
                let (flag, inline) = match arg.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                    _ => (arg.clone(), None),
                };
                match flag.as_str() {
                    "-h" | "--help" => return Ok(Command::Help),
                    "-f" | "--from" => from = Some(take_value(&flag, inline, &mut it)?.into()),
                    other => {
                        return Err(format!("unknown option '{other}' for build (see --help)"));
                    }
                }
            }
            Ok(Command::Build { from })
        }
        "token" => {
            let (mut user, mut from, mut variables, mut ttl_secs) = (None, None, Vec::new(), 3600);
            while let Some(arg) = it.next() {
                let (flag, inline) = match arg.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                    _ => (arg.clone(), None),
                };
                match flag.as_str() {
                    "-h" | "--help" => return Ok(Command::Help),
                    "-f" | "--from" => from = Some(take_value(&flag, inline, &mut it)?.into()),
                    "--variable" => variables.push(take_value(&flag, inline, &mut it)?),
                    "--ttl" => {
                        let value = take_value(&flag, inline, &mut it)?;
                        ttl_secs = value
                            .parse()
                            .ok()
                            .filter(|t| *t > 0)
                            .ok_or_else(|| format!("--ttl {value}: a number of seconds"))?;
                    }
                    other if other.starts_with('-') => {
                        return Err(format!("unknown option '{other}' for token (see --help)"));
                    }
                    _ if user.is_none() => user = Some(arg),
                    _ => return Err("token takes one USER (see --help)".to_string()),
                }
            }
            let user = user
                .filter(|u| !u.trim().is_empty())
                .ok_or_else(|| "token needs a USER, e.g. `cargo token alice`".to_string())?;
            Ok(Command::Token {
                user,
                from,
                variables,
                ttl_secs,
            })
        }
        other => Err(format!("unknown command '{other}' (see --help)")),
    }
}

/// `--from` as given (a file or a directory holding spin.toml), else the nearest spin.toml.
pub fn manifest_path(from: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(from) = from {
        return Ok(if from.is_dir() {
            from.join("spin.toml")
        } else {
            from.to_path_buf()
        });
    }
    let cwd = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))?;
    for dir in cwd.ancestors() {
        let candidate = dir.join("spin.toml");
        if candidate.is_file() {
            // Keep it relative when it is here, so messages stay short.
            return Ok(if dir == cwd {
                PathBuf::from("spin.toml")
            } else {
                candidate
            });
        }
    }
    anyhow::bail!(
        "no spin.toml in {} or its parents (pass --from FILE)",
        cwd.display()
    )
}

pub fn parse_listen(s: &str) -> anyhow::Result<SocketAddr> {
    s.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| anyhow::anyhow!("--listen {s}: not an address like 127.0.0.1:3000"))
}

/// Expands `--variable` arguments into name/value pairs, in order.
pub fn parse_variables(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for arg in raw {
        if let Some(file) = arg.strip_prefix('@') {
            let text = std::fs::read_to_string(file).map_err(|e| {
                anyhow::anyhow!(
                    "--variable @{file}: cannot read file: {}",
                    crate::messages::io_message(&e)
                )
            })?;
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--variable @{file}: not a JSON object: {e}"))?;
            for (k, v) in map {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => anyhow::bail!("--variable @{file}: value of '{k}' must be a string"),
                };
                out.push((k, v));
            }
        } else {
            let (k, v) = arg
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--variable {arg}: expected NAME=VALUE"))?;
            out.push((k.trim().to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// Runs the command line; the caller prints the error as `Error: …`.
pub fn main(args: Vec<String>) -> anyhow::Result<()> {
    let command = parse(&args).map_err(|e| anyhow::anyhow!("{e}"))?;
    match command {
        Command::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Command::Build { from } => {
            let manifest = Manifest::load(&manifest_path(from.as_deref())?)?;
            build_manifest(&manifest)
        }
        Command::Token {
            user,
            from,
            variables,
            ttl_secs,
        } => {
            println!(
                "{}",
                development_token(&user, from.as_deref(), &variables, ttl_secs)?
            );
            Ok(())
        }
        Command::Up(up) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| anyhow::anyhow!("cannot start a tokio runtime: {e}"))?;
            runtime.block_on(run_up(*up))
        }
    }
}

/// A token the API as configured by `manifest` and `variables` accepts for `user`: signed with
/// `better_auth_secret`, with the issuer and audience the component would require.
fn development_token(
    user: &str,
    from: Option<&Path>,
    variables: &[String],
    ttl_secs: u64,
) -> anyhow::Result<String> {
    let manifest = Manifest::load(&manifest_path(from)?)?;
    let values = crate::variables::resolve_app_variables(
        &manifest,
        &parse_variables(variables)?,
        &crate::variables::process_env_lookup(&manifest.dir),
    )?;
    // The component's view: its variables rendered from the application's values.
    let mut seen = std::collections::HashMap::new();
    for component in manifest.components.values() {
        seen.extend(crate::variables::ComponentVariables::render(component, &values)?.into_map());
    }
    let get = |name: &str| seen.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let secret = get("better_auth_secret").ok_or_else(|| {
        anyhow::anyhow!(
            "no better_auth_secret is configured, so the API accepts no HS256 token: set \
             SPIN_VARIABLE_BETTER_AUTH_SECRET (e.g. to \"$(openssl rand -base64 32)\") for both \
             this command and the server"
        )
    })?;
    let secret = task_api::auth::SharedSecret::parse(&secret).map_err(|why| {
        anyhow::anyhow!("{why}; the API refuses it, so no token would be accepted")
    })?;
    let url = get("better_auth_url");
    let issuer = get("jwt_issuer").or_else(|| url.clone());
    let audience = get("jwt_audience").or(url);
    task_api::auth::development_token(
        &secret,
        user,
        issuer.as_deref(),
        audience.as_deref(),
        std::time::Duration::from_secs(ttl_secs),
    )
    .map_err(|e| anyhow::anyhow!(e))
}

async fn run_up(up: UpArgs) -> anyhow::Result<()> {
    let manifest_path = manifest_path(up.from.as_deref())?;
    let listen = parse_listen(&up.listen)?;
    let variables = parse_variables(&up.variables)?;
    if up.build {
        let manifest = Manifest::load(&manifest_path)?;
        // A build can take minutes; find out now that the port is taken, not after it.
        std::net::TcpListener::bind(listen).map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {listen}: {}",
                crate::messages::io_message(&e)
            )
        })?;
        tokio::task::spawn_blocking(move || build_manifest(&manifest))
            .await
            .map_err(|e| anyhow::anyhow!("build failed: {e}"))??;
    }
    let mut opts = HostOptions::new(&manifest_path);
    opts.listen = listen;
    opts.state_dir = up.state_dir;
    opts.runtime_config = up.runtime_config.clone();
    opts.variables = variables;
    opts.use_env = true;
    opts.sqlite = up.sqlite;
    opts.quiet = up.quiet;
    opts.log_requests = true;
    opts.reuse = up.reuse;
    match up.request_timeout {
        None => {}
        Some(Range::Value(timeout)) => opts.request_timeout = timeout,
        // A WASIp3 instance draws its own; a WASI 0.2 request gets the longest.
        Some(range @ Range::Bounds(_, longest)) => {
            opts.request_timeout = longest;
            opts.reuse.request_timeout = Some(range);
        }
    }
    let host = start(opts).await?;
    for warning in host.warnings() {
        eprintln!("warning: {warning}");
    }

    if let Some(file) = &up.runtime_config {
        let config = crate::runtime_config::RuntimeConfig::load(file)?;
        println!("Using runtime config {} from {:?}", config.summary(), file);
    }
    for (label, location) in host.sqlite_databases() {
        println!("SQLite database '{label}': {location}");
    }
    println!(
        "Logging component stdio to {:?}",
        host.state_dir().join("logs")
    );
    println!();
    println!("Serving {}", host.url());
    println!("Available Routes:");
    for route in host.routes() {
        let suffix = if route.wildcard { " (wildcard)" } else { "" };
        println!("  {}: {}{suffix}", route.component, route.url);
    }

    shutdown_signal().await;
    eprintln!("Shutting down");
    host.shutdown().await
}

/// Resolves on Ctrl-C or SIGTERM (what `kill` and orchestrators send).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// `cargo up -- --listen …` and `cargo token -- alice` (cargo run's habit) mean the same
    /// as without the `--`.
    #[test]
    fn a_separator_after_the_subcommand_is_ignored() {
        assert_eq!(
            parse(&args("up -- --listen 0.0.0.0:1 --no-build")),
            parse(&args("up --listen 0.0.0.0:1 --no-build"))
        );
        assert_eq!(parse(&args("up -- --help")), Ok(Command::Help));
        assert_eq!(parse(&args("token -- alice")), parse(&args("token alice")));
        assert!(parse(&args("up --listen 0.0.0.0:1 --")).is_err());
    }

    #[test]
    fn parses_up_with_repeatable_flags() {
        let cmd = parse(&args(
            "up --from x/spin.toml --listen=0.0.0.0:8080 --state-dir /tmp/s --runtime-config-file rc.toml --sqlite @a.sql --sqlite SELECT --variable a=1 --variable=b=2 --quiet --no-build",
        ))
        .unwrap();
        assert_eq!(
            cmd,
            Command::Up(Box::new(UpArgs {
                from: Some("x/spin.toml".into()),
                listen: "0.0.0.0:8080".into(),
                state_dir: Some("/tmp/s".into()),
                runtime_config: Some("rc.toml".into()),
                sqlite: vec!["@a.sql".into(), "SELECT".into()],
                variables: vec!["a=1".into(), "b=2".into()],
                quiet: true,
                build: false,
                ..UpArgs::default()
            }))
        );
        let cmd = parse(&args(
            "up --request-timeout 500ms --max-instance-reuse-count 1..8 --max-instance-concurrent-reuse-count=4 --idle-instance-timeout 2s",
        ))
        .unwrap();
        let Command::Up(up) = cmd else { panic!() };
        assert_eq!(
            up.request_timeout,
            Some(Range::Value(Duration::from_millis(500)))
        );
        assert_eq!(up.reuse.max_instance_reuse_count, Range::Bounds(1, 8));
        assert_eq!(
            up.reuse.max_instance_concurrent_reuse_count,
            Range::Value(4)
        );
        assert_eq!(
            up.reuse.idle_instance_timeout,
            Range::Value(Duration::from_secs(2))
        );
        assert!(parse(&args("up --max-instance-reuse-count 0")).is_err());
        assert!(parse(&args("up --idle-instance-timeout soon")).is_err());
        assert_eq!(parse(&args("up")).unwrap(), Command::Up(Box::default()));
        assert_eq!(
            parse(&args("build -f a.toml")).unwrap(),
            Command::Build {
                from: Some("a.toml".into())
            }
        );
        assert_eq!(parse(&args("--help")).unwrap(), Command::Help);
        assert_eq!(parse(&args("up --help")).unwrap(), Command::Help);
    }

    #[test]
    fn rejects_unknown_things() {
        assert!(
            parse(&args("down"))
                .unwrap_err()
                .contains("unknown command 'down'")
        );
        assert!(
            parse(&args("up --frobnicate"))
                .unwrap_err()
                .contains("'--frobnicate'")
        );
        assert!(
            parse(&args("up --listen"))
                .unwrap_err()
                .contains("--listen needs a value")
        );
    }

    #[test]
    fn variables_from_pairs_and_json_files() {
        let file =
            std::env::temp_dir().join(format!("task-api-host-vars-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"x": "1", "y": 2}"#).unwrap();
        let vars = parse_variables(&["a=b=c".to_string(), format!("@{}", file.display())]).unwrap();
        assert_eq!(
            vars,
            vec![
                ("a".to_string(), "b=c".to_string()),
                ("x".to_string(), "1".to_string()),
                ("y".to_string(), "2".to_string()),
            ]
        );
        assert!(parse_variables(&["novalue".to_string()]).is_err());
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:3000").unwrap(),
            "127.0.0.1:3000".parse().unwrap()
        );
        assert!(parse_listen("nonsense").is_err());
    }
}
