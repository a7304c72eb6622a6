//! A small Spin-compatible host for the task-api component: it serves the component locally
//! (`cargo up`) and hosts the integration tests. It implements exactly the Spin interfaces the
//! component imports, with Spin's semantics.
#![cfg(not(target_arch = "wasm32"))]

pub mod bindings;
pub mod cli;
pub mod component_build;
pub mod componentize;
pub mod engine;
pub mod guest;
pub mod host;
pub mod imports;
pub mod logs;
pub mod manifest;
pub mod messages;
pub mod outbound;
pub mod reuse;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod sqlite;
pub mod state;
pub mod template;
pub mod variables;

#[cfg(test)]
mod testutil;

pub use component_build::{build_component, build_manifest};
pub use host::{BlockingHost, HostOptions, RunningHost, ServedRoute, start};
pub use imports::{PROJECT_WORLD, check_imports, check_targets, disallowed_imports};
