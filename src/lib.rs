//! task-api: a per-user task REST API as a Spin HTTP component.
//!
//! Everything but [`spin_adapter`] is plain Rust that runs (and is unit-tested) natively; the
//! adapter connects it to Spin's WASI HTTP, SQLite and variables interfaces.

pub mod api;
pub mod app;
pub mod auth;
pub mod conditional;
pub mod config;
pub mod cors;
pub mod db;
pub mod domain;
pub mod env;
pub mod error;
pub mod fetch;
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
