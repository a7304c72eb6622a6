//! `task-api-native serve`: the baseline server for `bench/run`.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
const USAGE: &str = "\
task-api-native: the task API without WebAssembly (benchmark baseline)

Usage:
  task-api-native serve [OPTIONS]

Options:
  -f, --from FILE        manifest whose variables configure the API (default: the project's)
      --listen ADDR      address to listen on (default: 127.0.0.1:3000; port 0 picks one)
      --db FILE          SQLite database file (default: .spin/sqlite_db.db, the host's)
      --variable K=V     set application variable K (repeatable);
                         SPIN_VARIABLE_<K> in the environment takes precedence
      --quiet            accepted for the runtimes' command lines; the component's JSON log
                         line per request goes to stdout regardless
  -h, --help             print this help
";

#[cfg(not(target_arch = "wasm32"))]
fn parse(args: &[String]) -> Result<Option<task_api_native::Options>, String> {
    let mut it = args.iter().cloned();
    match it.next().as_deref() {
        Some("serve") => {}
        None | Some("-h" | "--help" | "help") => return Ok(None),
        Some(other) => return Err(format!("unknown command '{other}' (see --help)")),
    }
    let mut opts = task_api_native::Options {
        manifest: task_api_native::project_manifest(),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 3000)),
        db: ".spin/sqlite_db.db".into(),
        variables: Vec::new(),
        use_env: true,
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let v = value()?;
                opts.listen = v
                    .parse()
                    .map_err(|_| format!("--listen {v}: not an address like 127.0.0.1:3000"))?;
            }
            "--db" => opts.db = value()?.into(),
            "-f" | "--from" => opts.manifest = value()?.into(),
            "--variable" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--variable {v}: expected NAME=VALUE"))?;
                opts.variables.push((k.trim().to_string(), val.to_string()));
            }
            "--quiet" | "-q" => {}
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    Ok(Some(opts))
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            print!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("Error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The host CLI's runtime: multi-threaded, one worker per core.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start a tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let running = task_api_native::start(opts).await?;
        println!("Serving http://{}", running.addr());
        task_api_host::cli::shutdown_signal().await;
        eprintln!("Shutting down");
        running.shutdown().await;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
