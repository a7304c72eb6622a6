//! The Spin adapter: the only code that knows it runs inside Spin. It turns Spin's WASIp3 HTTP
//! request into a [`crate::http::message::Request`], hands Spin's SQLite, variables and
//! outbound HTTP to [`crate::app::handle`] through [`crate::env::Env`], and keeps what an
//! instance reuses across requests. Built only for `wasm32`.

mod adapter;
mod fetch;
mod phases;
