//! HTTP as this API speaks it, independent of any runtime: the request and response types
//! ([`message`]), the route table ([`router`]), CORS ([`cors`]), conditional requests
//! ([`conditional`]), the per-request log line ([`request_log`]) and the outbound fetch the
//! JWKS cache uses ([`fetch`]).

pub mod conditional;
pub mod cors;
pub mod fetch;
pub mod message;
pub mod request_log;
pub mod router;
