//! task-api: a per-user task REST API as a Spin HTTP component.
//!
//! Everything but `spin` is plain Rust that runs (and is unit-tested) natively; that one
//! folder connects it to Spin's WASI HTTP, SQLite and variables interfaces.
//!
//! # Layout
//!
//! A request goes down this list and never back up (`.ci/import-cycles` keeps it so):
//!
//! - `spin/`: the runtime adapter, the only code that knows it runs in Spin (wasm32 only).
//! - [`app`]: one request start to finish: route, configuration, token, user, handler.
//! - [`http`]: HTTP without a runtime: request/response, router, CORS, conditional requests,
//!   the request log line, outbound fetch.
//! - [`api`]: one module per resource; thin handlers that parse input into domain types,
//!   call the store and shape the response ([`api::outcome`] decides 404 vs 412 vs success
//!   for every write, single or batched).
//! - [`live`]: how a request waits for changes (long-poll) and an event stream's body.
//! - [`auth`]: tokens (HS256 shared secret, EdDSA and the rest from a JWKS), the verifier.
//! - [`domain`]: plain types that are valid once they exist (`TaskTitle`, `ListQuery`,
//!   `Cursor`, `Recurrence`, …); no I/O.
//! - [`store`]: every SQL statement, one room per concern; [`store::fields`] is the one
//!   definition of a task's columns that the statements are derived from or checked against.
//! - [`db`]: the connection under the store: the `Database` trait, how connections are kept
//!   per instance (pooled, reopened, serialized, group-committed) and the migrations.
//! - [`config`], [`env`](mod@env), [`error`], [`time`]: what every layer shares: the parsed variables,
//!   the outside world a request may use, the one error type, timestamps.

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
pub mod config;
pub mod db;
pub mod domain;
pub mod env;
pub mod error;
pub mod http;
pub mod live;
pub mod store;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod spin;

#[cfg(test)]
mod test_support;
