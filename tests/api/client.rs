//! The test kit's raw HTTP client.

pub use task_api_testkit::client::*;
