//! The test kit's server under this run's runtime (`TASK_API_RUNTIME`), and what the tests
//! here share about it.

pub use task_api_testkit::component::manifest_copy;
pub use task_api_testkit::{Runtime, Server, TempDir, build_component_once, root};

/// The runtime serving this run, for the few assertions where Spin and the host differ.
pub fn runtime() -> &'static Runtime {
    Runtime::current()
}

/// The titles of a list response, in order; the response must be a 200.
pub fn titles(response: &task_api_testkit::client::Response) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|task| task["title"].as_str().expect("a title").to_owned())
        .collect()
}
