//! What a request may use of the outside world: handed to the pipeline by the runtime adapter
//! (Spin's interfaces in the component, rusqlite and fixed values natively).

use crate::config::{ConfigCache, Variables};
use crate::db::Database;
use crate::http::fetch::HttpClient;
use crate::time::{Clock, Timestamp};

/// What a request may use of the outside world.
pub struct Env<'a> {
    pub db: &'a dyn Database,
    pub vars: &'a dyn Variables,
    /// The configuration parsed from `vars`: kept per component instance by the runtime
    /// adapter, so the HS256 key and JWKS are parsed once per instance, not per request.
    pub config: &'a ConfigCache,
    /// Outbound HTTP, for the live JWKS.
    pub http: &'a dyn HttpClient,
    /// When the request arrived.
    pub now: Timestamp,
    /// For a request that waits (long-poll): the time now, and waiting.
    pub clock: &'a dyn Clock,
}
