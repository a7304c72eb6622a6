//! task-api: a per-user task REST API as a Spin HTTP component.
//!
//! Everything but [`spin_adapter`] is plain Rust that runs (and is unit-tested) natively; the
//! adapter connects it to Spin's WASI HTTP, SQLite and variables interfaces.

// A panic traps the whole component instance, and Spin 4.0.2 runs up to 16 requests at once
// on one: every one of them fails. So production code has no `unwrap`, `expect`, `panic!` or
// `unreachable!` (clippy denies them outside tests; CI runs clippy with -D warnings), and the
// request path is fuzzed end to end (`tests/fuzz.rs`: no panic, no 500). Indexing is not
// linted: its 38 sites are guarded by length checks and lie on fuzzed parsers.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod api;
pub mod app;
pub mod auth;
pub mod conditional;
pub mod config;
pub mod cors;
pub mod db;
pub mod db_pool;
pub mod domain;
pub mod env;
pub mod error;
pub mod fetch;
pub mod kept_db;
pub mod message;
pub mod migrations;
pub mod request_log;
pub mod router;
pub mod shared_db;
#[cfg(any(test, feature = "rusqlite"))]
pub mod sqlite;
pub mod store;
pub mod task_writes;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod phases;
#[cfg(target_arch = "wasm32")]
mod spin_adapter;
#[cfg(target_arch = "wasm32")]
mod spin_fetch;

#[cfg(test)]
mod test_support;
