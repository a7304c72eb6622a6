//! Outbound HTTP GET, as the component may do it: Spin's `wasi:http/outgoing-handler` in the
//! component, fakes in native tests. Every fetch is bounded in time and size, so a slow or
//! hostile server costs a request at most [`Limits::deadline`] and [`Limits::max_bytes`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From sending the request to the last byte of the body.
    pub deadline: Duration,
    /// A longer body (declared or streamed) is abandoned.
    pub max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The runtime refused the request (Spin: not in `allowed_outbound_hosts`).
    Denied,
    Timeout,
    TooLarge,
    /// Anything else: DNS, connection, protocol.
    Failed(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied => f.write_str(
                "the request was denied: spin.toml's allowed_outbound_hosts does not grant this \
                 origin (set better_auth_origin)",
            ),
            Self::Timeout => f.write_str("timed out"),
            Self::TooLarge => f.write_str("the response is too large"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

/// What [`HttpClient::get`] hands back: the response, once it has arrived.
pub type Fetching<'a> = Pin<Box<dyn Future<Output = Result<Fetched, FetchError>> + 'a>>;

pub trait HttpClient {
    fn get<'a>(&'a self, url: &'a str, limits: Limits) -> Fetching<'a>;
}

/// For embeddings without outbound HTTP: every fetch fails.
pub struct NoNetwork;

impl HttpClient for NoNetwork {
    fn get<'a>(&'a self, _url: &'a str, _limits: Limits) -> Fetching<'a> {
        Box::pin(std::future::ready(Err(FetchError::Failed(
            "no outbound HTTP in this environment".to_owned(),
        ))))
    }
}
