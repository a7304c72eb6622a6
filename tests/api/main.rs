//! Integration tests: the real compiled component, served by the project's Spin-compatible
//! host, driven over HTTP as a client would. One test binary, so the component is compiled once.

mod client;
mod support;
mod tokens;

mod account;
mod attacks;
mod auth;
mod batch;
mod concurrency;
mod contract;
mod host;
mod hostile;
mod isolation;
mod jwks;
mod live;
mod pages;
mod priority;
mod routes;
mod runtimes;
mod schedule;
mod search;
mod sync;
mod tags;
mod users;
mod validation;
mod web;
