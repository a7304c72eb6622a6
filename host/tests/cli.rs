//! The `task-api-host` binary's start-up failures: one `Error: …` line on stderr, exit code 1,
//! no panic or backtrace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_task-api-host");

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
better_auth_secret = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "task-api"
[component.task-api]
source = "target/wasm32-wasip1/release/task_api.wasm"
sqlite_databases = ["default"]
[component.task-api.variables]
better_auth_secret = "{{ better_auth_secret }}"
[component.task-api.build]
command = "cargo build --target wasm32-wasip1 --release"
"#;

struct TempApp(PathBuf);

impl TempApp {
    fn new(tag: &str, manifest: &str) -> TempApp {
        let dir =
            std::env::temp_dir().join(format!("task-api-host-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spin.toml"), manifest).unwrap();
        TempApp(dir)
    }

    fn manifest(&self) -> PathBuf {
        self.0.join("spin.toml")
    }
}

impl Drop for TempApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn up(manifest: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("up")
        .arg("--from")
        .arg(manifest)
        .args(["--no-build", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("SPIN_VARIABLE_BETTER_AUTH_SECRET")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Asserts exit code 1 and exactly one stderr line, and returns that line.
fn single_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

#[test]
fn missing_required_variable() {
    let app = TempApp::new("required", MANIFEST);
    let line = single_error_line(&up(&app.manifest(), &[]));
    assert_eq!(
        line,
        "Error: variable 'better_auth_secret' is required but not set (set SPIN_VARIABLE_BETTER_AUTH_SECRET or pass --variable better_auth_secret=…)"
    );
}

#[test]
fn missing_wasm_names_the_build_command() {
    let app = TempApp::new("nowasm", MANIFEST);
    let line = single_error_line(&up(
        &app.manifest(),
        &["--variable", "better_auth_secret=x"],
    ));
    assert_eq!(
        line,
        "Error: component source target/wasm32-wasip1/release/task_api.wasm not found — run cargo build --target wasm32-wasip1 --release (or cargo up)"
    );
}

#[test]
fn environment_variable_satisfies_a_required_variable() {
    let app = TempApp::new("envvar", MANIFEST);
    let out = Command::new(BIN)
        .args(["up", "--no-build", "--listen", "127.0.0.1:0", "--from"])
        .arg(app.manifest())
        .env("SPIN_VARIABLE_BETTER_AUTH_SECRET", "from-env")
        .output()
        .unwrap();
    // Past the variable check, start-up stops at the missing wasm instead.
    let line = single_error_line(&out);
    assert!(line.contains("not found"), "{line}");
}

#[test]
fn invalid_wasm() {
    let app = TempApp::new("badwasm", MANIFEST);
    let wasm = app.0.join("target/wasm32-wasip1/release");
    std::fs::create_dir_all(&wasm).unwrap();
    std::fs::write(wasm.join("task_api.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
    let line = single_error_line(&up(
        &app.manifest(),
        &["--variable", "better_auth_secret=x"],
    ));
    assert!(
        line.starts_with("Error: cannot turn component source target/wasm32-wasip1/release/task_api.wasm into a component: "),
        "{line}"
    );
}

#[test]
fn busy_port() {
    let app = TempApp::new("busy", MANIFEST);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "up",
            "--no-build",
            "--listen",
            &addr,
            "--variable",
            "better_auth_secret=x",
            "--from",
        ])
        .arg(app.manifest())
        .output()
        .unwrap();
    assert_eq!(
        single_error_line(&out),
        format!("Error: cannot listen on {addr}: address already in use")
    );
}

#[test]
fn busy_port_is_reported_before_building() {
    // The build command would create a marker file; a busy port must stop `up` first.
    let app = TempApp::new(
        "busybuild",
        &MANIFEST.replace(
            "cargo build --target wasm32-wasip1 --release",
            "touch built-marker",
        ),
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "up",
            "--build",
            "--listen",
            &addr,
            "--variable",
            "better_auth_secret=x",
            "--from",
        ])
        .arg(app.manifest())
        .output()
        .unwrap();
    assert_eq!(
        single_error_line(&out),
        format!("Error: cannot listen on {addr}: address already in use")
    );
    assert!(!app.0.join("built-marker").exists());
}

#[test]
fn bad_manifest() {
    let app = TempApp::new(
        "badmanifest",
        &MANIFEST.replace("route = \"/...\"", "route = 5"),
    );
    let line = single_error_line(&up(&app.manifest(), &[]));
    assert!(
        line.starts_with(&format!(
            "Error: invalid manifest {}: ",
            app.manifest().display()
        )),
        "{line}"
    );

    let app = TempApp::new(
        "undeclared",
        &MANIFEST.replace("{{ better_auth_secret }}", "{{ nope }}"),
    );
    let line = single_error_line(&up(&app.manifest(), &[]));
    assert!(
        line.contains("'nope', which is not declared in [variables]"),
        "{line}"
    );

    let missing = single_error_line(&up(Path::new("/no/such/dir/spin.toml"), &[]));
    assert_eq!(
        missing,
        "Error: cannot read manifest /no/such/dir/spin.toml: not found"
    );
}

#[test]
fn usage_errors_and_help() {
    let out = Command::new(BIN).args(["up", "--bogus"]).output().unwrap();
    assert_eq!(
        single_error_line(&out),
        "Error: unknown option '--bogus' for up (see --help)"
    );
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("task-api-host up [OPTIONS]"), "{help}");
    assert!(help.contains("--no-build"), "{help}");
}

#[test]
fn build_runs_the_manifest_command() {
    let app = TempApp::new(
        "build",
        &MANIFEST.replace(
            "cargo build --target wasm32-wasip1 --release",
            "echo ok > built-marker",
        ),
    );
    let out = Command::new(BIN)
        .args(["build", "--from"])
        .arg(app.manifest())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(app.0.join("built-marker")).unwrap(),
        "ok\n"
    );

    let app = TempApp::new(
        "buildfail",
        &MANIFEST.replace("cargo build --target wasm32-wasip1 --release", "exit 7"),
    );
    let out = Command::new(BIN)
        .args(["build", "--from"])
        .arg(app.manifest())
        .output()
        .unwrap();
    let line = single_error_line(&out);
    assert!(
        line.starts_with("Error: building component 'task-api' with `exit 7` failed: "),
        "{line}"
    );
}

fn token(args: &[&str], secret: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("token")
        .args(args)
        .arg("--from")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
            command.env_remove(name);
        }
    }
    if let Some(secret) = secret {
        command.env("SPIN_VARIABLE_BETTER_AUTH_SECRET", secret);
    }
    command.output().unwrap()
}

/// `cargo token alice` prints a token the API, configured with the same variables, accepts for
/// alice (and only for alice); without a secret it refuses to run, and so with one the API
/// would refuse.
#[test]
fn token_mints_what_the_api_accepts() {
    use task_api_testkit::{Request, Server};
    let secret = "cli-token-test-k9Vq2xRz7Lm4Tn8Wb1Yc6Hd3Jf5Gs0Pa";
    let out = token(&["alice"], Some(secret));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(minted.split('.').count(), 3, "{minted}");

    let server = Server::builder()
        .variable("better_auth_secret", secret)
        .start();
    let ok = server.send(Request::new("GET", "/api/alice/tasks").bearer(&minted));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let other = server.send(Request::new("GET", "/api/bob/tasks").bearer(&minted));
    assert_eq!(other.status, 403);

    // With better_auth_url set, the API requires its iss and aud; the token carries them.
    let url = "http://auth.example.test";
    let out = Command::new(BIN)
        .args([
            "token",
            "carol",
            "--variable",
            &format!("better_auth_url={url}"),
            "--from",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml"))
        .env("SPIN_VARIABLE_BETTER_AUTH_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let server = Server::builder()
        .variable("better_auth_secret", secret)
        .variable("better_auth_url", url)
        .variable("better_auth_origin", url)
        .start();
    let ok = server.send(Request::new("GET", "/api/carol/tasks").bearer(&minted));
    assert_eq!(ok.status, 200, "{}", ok.text());

    for (why, secret) in [
        ("no better_auth_secret", None),
        ("placeholder", Some("REPLACE-WITH-AT-LEAST-32-RANDOM-BYTES")),
        ("32 are required", Some("too-short")),
    ] {
        let out = token(&["alice"], secret);
        assert!(!out.status.success(), "{why}: minted anyway");
        assert!(out.stdout.is_empty());
        let error = single_error_line(&out);
        assert!(error.contains(why), "{why}: {error}");
    }
    let out = token(&[], Some(secret));
    assert!(single_error_line(&out).contains("needs a USER"));
}
