//! The test kit's server under this run's runtime (`TASK_API_RUNTIME`), and what the tests
//! here share about it.

pub use task_api_testkit::component::manifest_copy;
pub use task_api_testkit::{Runtime, Server, ServerBuilder, TempDir, build_component_once, root};

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

/// The ids of a list response, in order; the response must be a 200.
pub fn ids(response: &task_api_testkit::client::Response) -> Vec<i64> {
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|task| task["id"].as_i64().expect("an id"))
        .collect()
}

/// A server whose database holds the schema of an older release: migrations 0001 to
/// `version`, run before the component starts (which then migrates it in place).
pub fn builder_at_schema(version: u32) -> ServerBuilder {
    let migrations = root().join("migrations");
    let mut builder = Server::builder();
    for v in 1..=version {
        let prefix = format!("{v:04}_");
        let file = std::fs::read_dir(&migrations)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("no migration {prefix}"));
        builder = builder.sqlite(&format!("@{}", file.display()));
    }
    builder
}

/// One integer a query of a (running or stopped) server's database answers.
pub fn stored_integer(database: &task_api_testkit::StoredDatabase, sql: &str) -> i64 {
    database.integer(sql)
}
