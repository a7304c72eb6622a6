//! Tokens as a frontend would mint them (see the test kit).

pub use task_api_testkit::tokens::*;
