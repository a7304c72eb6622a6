//! `with-sqld COMMAND [ARGS…]`: runs COMMAND beside a fresh libSQL server (a free port, a new
//! directory, token auth on; the binary from `SQLD_BIN`, `sqld` on PATH or ../shared/bin/sqld),
//! with `TASK_API_RUNTIME_CONFIG` naming a Spin runtime config that puts the `default` database
//! on it. The scripts that start `spin up` themselves (schemathesis, the Better Auth test) pass
//! that file on. sqld stops when COMMAND exits; its exit code is COMMAND's.
//! `WITH_SQLD_SEED=FILE` starts sqld on a copy of that SQLite file (the benchmarks' rows).

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: with-sqld COMMAND [ARGS...]");
        std::process::exit(2);
    };
    let dir = task_api_testkit::TempDir::new("with-sqld");
    let seed = std::env::var_os("WITH_SQLD_SEED").map(std::path::PathBuf::from);
    let sqld = task_api_testkit::Sqld::start_seeded(&dir.path().join("sqld"), seed.as_deref());
    let config = dir.path().join("runtime-config.toml");
    sqld.write_runtime_config(&config);
    eprintln!(
        "with-sqld: sqld at {} (runtime config {})",
        sqld.url(),
        config.display()
    );
    let status = std::process::Command::new(command)
        .args(rest)
        .env("TASK_API_RUNTIME_CONFIG", &config)
        .status();
    drop(sqld);
    drop(dir);
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("with-sqld: {}: {e}", command.to_string_lossy());
            std::process::exit(127);
        }
    }
}
