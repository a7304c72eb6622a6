//! Which runtime serves the component in tests: the bundled host (the default, so `cargo test`
//! needs nothing but Rust) or real Spin, chosen by `TASK_API_RUNTIME=spin`.

use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// The project's Spin-compatible host (`host/`), in process.
    Host,
    /// Real `spin up`, as a child process.
    Spin(PathBuf),
}

impl Runtime {
    /// The runtime this test run uses: `TASK_API_RUNTIME` = `host` (default) or `spin`. Spin is
    /// found at `SPIN_BIN`, else as `spin` on `PATH`, else at `../shared/bin/spin` beside the
    /// repository. Asking for Spin when none is found is a failure, never a silent fallback.
    pub fn current() -> &'static Runtime {
        static CURRENT: OnceLock<Runtime> = OnceLock::new();
        CURRENT.get_or_init(|| match std::env::var("TASK_API_RUNTIME").as_deref() {
            Err(_) | Ok("") | Ok("host") => Runtime::Host,
            Ok("spin") => match spin_binary() {
                Some(path) => Runtime::Spin(path),
                None => panic!(
                    "TASK_API_RUNTIME=spin, but no Spin was found: set SPIN_BIN, put `spin` on \
                     PATH, or place it at ../shared/bin/spin"
                ),
            },
            Ok(other) => panic!("TASK_API_RUNTIME={other:?}: expected \"host\" or \"spin\""),
        })
    }

    pub fn is_spin(&self) -> bool {
        matches!(self, Runtime::Spin(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Host => "host",
            Runtime::Spin(_) => "spin",
        }
    }
}

/// Where a Spin CLI is, if anywhere: `SPIN_BIN`, `spin` on `PATH`, `../shared/bin/spin`.
pub fn spin_binary() -> Option<PathBuf> {
    find_binary("spin", "SPIN_BIN")
}

/// A tool the tests run but the project does not build: the path in `env_var`, else `name` on
/// `PATH`, else `../shared/bin/<name>` beside the repository.
pub fn find_binary(name: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(env_var).filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let shared = crate::component::root().join("../shared/bin").join(name);
    shared.is_file().then_some(shared)
}
