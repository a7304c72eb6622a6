//! The test kit: everything a test or benchmark needs to drive the real component over HTTP,
//! under the bundled host or under real Spin, chosen by one switch ([`Runtime::current`]).
#![cfg(not(target_arch = "wasm32"))]

pub mod client;
pub mod component;
pub mod database;
pub mod events;
pub mod fs;
pub mod process;
pub mod rng;
pub mod runtime;
pub mod server;
pub mod sqld;
pub mod tokens;

pub use client::{KeepAlive, Request, Response, raw};
pub use component::{build_component_once, root, wasm_path};
pub use database::{Backend, StoredDatabase};
pub use fs::TempDir;
pub use process::{ServerProcess, free_port};
pub use runtime::Runtime;
pub use server::{Server, ServerBuilder};
pub use sqld::Sqld;
