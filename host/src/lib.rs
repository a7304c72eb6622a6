//! A small Spin-compatible host for the task-api component: it serves the component locally
//! (`cargo up`) and hosts the integration tests. It implements exactly the Spin interfaces the
//! component imports, with Spin's semantics.
#![cfg(not(target_arch = "wasm32"))]

pub mod bindings;
pub mod cli;
pub mod component_build;
pub mod componentize;
pub mod engine;
pub mod host;
pub mod imports;
pub mod logs;
pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod sqlite;
pub mod state;
pub mod variables;

#[cfg(test)]
mod testutil;

pub use component_build::{build_component, build_manifest};
pub use host::{BlockingHost, HostOptions, RunningHost, ServedRoute, start};
pub use imports::{PROJECT_WORLD, check_imports, check_targets, disallowed_imports};

/// An I/O error as a short lowercase phrase, e.g. `address already in use`, without the
/// `(os error N)` suffix.
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => "address already in use".to_string(),
        ErrorKind::AddrNotAvailable => "address not available".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::NotFound => "not found".to_string(),
        _ => {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

/// An error with its causes, `a: b: c`, on one line.
pub fn one_line_chain(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
