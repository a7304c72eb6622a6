//! The test kit's server under this run's runtime (`TASK_API_RUNTIME`), and what the tests
//! here share about it.

pub use task_api_testkit::component::manifest_copy;
pub use task_api_testkit::{Runtime, Server, TempDir, build_component_once, root};

/// The runtime serving this run, for the few assertions where Spin and the host differ.
pub fn runtime() -> &'static Runtime {
    Runtime::current()
}
