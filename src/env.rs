//! What a request may use of the outside world: handed to the pipeline by the runtime adapter
//! (Spin's interfaces in the component, rusqlite and fixed values natively).

use crate::config::Variables;
use crate::db::Database;
use crate::fetch::HttpClient;
use crate::time::Timestamp;

/// What a request may use of the outside world.
pub struct Env<'a> {
    pub db: &'a dyn Database,
    pub vars: &'a dyn Variables,
    /// Outbound HTTP, for the live JWKS.
    pub http: &'a dyn HttpClient,
    pub now: Timestamp,
}
