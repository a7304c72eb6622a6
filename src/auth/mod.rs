//! Who is calling: the token from the request and its verification, which yields the
//! [`Identity`](crate::domain::Identity) every task query is bound to.

mod better_auth_url;
pub mod jwks;
mod live_jwks;
mod secret;
mod token;
mod verifier;

pub use better_auth_url::{BetterAuthUrl, parse_origin};
pub use jwks::KeySet;
pub use live_jwks::LiveJwks;
pub use secret::{MIN_SECRET_BYTES, SharedSecret, WeakSecret, development_token};
pub use token::{extract_token, has_object_segments};
pub use verifier::{FetchedKeys, MAX_TOKEN_BYTES, RemoteKeys, Verifier, VerifierSettings};
