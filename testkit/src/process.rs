//! A server as its own OS process: the host's binary or `spin up`, started with the same
//! options, so crash, replica and shell-level tests drive either runtime the same way.

use crate::runtime::Runtime;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago (a race with other processes is possible, not likely).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// How to start a server process.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    pub manifest: PathBuf,
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    /// Working directory: a relative `path` in a runtime config resolves against it (Spin's rule).
    pub workdir: PathBuf,
    /// Application variables, passed as `SPIN_VARIABLE_<NAME>` (never on the command line).
    pub variables: Vec<(String, String)>,
    pub sqlite: Vec<String>,
    pub runtime_config: Option<PathBuf>,
    /// Where stdout and stderr go: `<log_stem>.out` and `<log_stem>.err`.
    pub log_stem: PathBuf,
    /// More flags for `up` (`--idle-instance-timeout 30`, say).
    pub extra_args: Vec<String>,
}

impl ProcessOptions {
    pub fn new(manifest: &Path, state_dir: &Path, workdir: &Path) -> Self {
        Self {
            manifest: manifest.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], free_port())),
            state_dir: state_dir.to_owned(),
            workdir: workdir.to_owned(),
            variables: Vec::new(),
            sqlite: Vec::new(),
            runtime_config: None,
            log_stem: state_dir.with_extension("server"),
            extra_args: Vec::new(),
        }
    }
}

/// A running server process; killed (with its process group) when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub options: ProcessOptions,
    runtime: Runtime,
    host_bin: PathBuf,
}

impl ServerProcess {
    /// Starts `runtime`'s server; `host_bin` is the `task-api-host` binary (a test knows it as
    /// `env!("CARGO_BIN_EXE_task-api-host")`), used when the runtime is the host. Returns once
    /// the process is spawned; see [`ServerProcess::wait_ready`].
    pub fn spawn(runtime: &Runtime, host_bin: &Path, options: ProcessOptions) -> ServerProcess {
        let child = Self::launch(runtime, host_bin, &options);
        ServerProcess {
            child: Some(child),
            addr: options.listen,
            options,
            runtime: runtime.clone(),
            host_bin: host_bin.to_owned(),
        }
    }

    fn launch(runtime: &Runtime, host_bin: &Path, options: &ProcessOptions) -> Child {
        let mut command = match runtime {
            Runtime::Host => {
                let mut c = Command::new(host_bin);
                c.args(["up", "--no-build", "--quiet"]);
                c
            }
            Runtime::Spin(spin) => {
                let mut c = Command::new(spin);
                c.args(["up", "--quiet"]);
                c
            }
        };
        command
            .arg("--from")
            .arg(&options.manifest)
            .args(["--listen", &options.listen.to_string()])
            .arg("--state-dir")
            .arg(&options.state_dir);
        if let Some(config) = &options.runtime_config {
            command.arg("--runtime-config-file").arg(config);
        }
        for statement in &options.sqlite {
            command.args(["--sqlite", statement]);
        }
        // Instance-reuse flags for a whole test pass (CI runs the suites once more with
        // `--max-instance-reuse-count 1`: a fresh instance per request).
        command.args(reuse_args());
        command.args(&options.extra_args);
        // Nothing from the caller's environment may configure the server under test.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                command.env_remove(name);
            }
        }
        for (name, value) in &options.variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let log = |ext: &str| {
            let path = options.log_stem.with_extension(ext);
            std::fs::File::create(&path)
                .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()))
        };
        std::fs::create_dir_all(&options.workdir).expect("creating the working directory");
        use std::os::unix::process::CommandExt;
        command
            .current_dir(&options.workdir)
            // Its own process group: `spin up` runs the trigger as a child process, and a kill
            // must reach both.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log("out")))
            .stderr(Stdio::from(log("err")))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"))
    }

    /// Waits until the runtime's own health route answers (it never reaches the component, so
    /// it neither opens the database nor migrates), or fails with the process's stderr.
    ///
    /// [`free_port`] can race with another process binding the same port between the probe and
    /// the server's own bind; a server that exits saying so is started again on another port
    /// (a few times), and [`ServerProcess::addr`] follows it.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut port_retries = 4;
        while Instant::now() < deadline {
            if answers_health(self.addr) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let stderr = self.stderr();
                if port_retries > 0 && stderr.contains("already in use") {
                    port_retries -= 1;
                    self.options.listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
                    self.addr = self.options.listen;
                    self.child = Some(Self::launch(&self.runtime, &self.host_bin, &self.options));
                    continue;
                }
                return Err(format!("exited with {status}: {}", stderr.trim()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "not ready after {timeout:?}: {}",
            self.stderr().trim()
        ))
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.options.log_stem.with_extension("err")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.options.log_stem.with_extension("out")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL to the whole process group: no clean-up, no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), "KILL");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGINT (Ctrl-C) to the process group and a wait; SIGKILL if it has not exited in 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), "INT");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    // The group may still hold the trigger child for a moment.
                    signal_group(child.id(), "KILL");
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            signal_group(child.id(), "KILL");
            let _ = child.wait();
        }
    }
}

/// Whether the runtime's health route at `addr` answers 200 within a second; a socket that
/// accepts and never answers (a port someone else holds) is a no, not a 30 s wait.
fn answers_health(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let probe = || -> std::io::Result<bool> {
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(
            b"GET /.well-known/spin/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    probe().unwrap_or(false)
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `TASK_API_REUSE_ARGS`, split at whitespace: flags such as `--max-instance-reuse-count 1`
/// that every server of this test run starts with (`spin up`'s instance-reuse options, which
/// the bundled host takes too).
pub fn reuse_args() -> Vec<String> {
    std::env::var("TASK_API_REUSE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
