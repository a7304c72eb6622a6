//! Who is calling: the token from the request, its verification, and the typed user id that
//! every task query is bound to.

mod better_auth_url;
pub mod jwks;
mod secret;
mod token;
mod verifier;

pub use better_auth_url::{BetterAuthUrl, parse_origin};
pub use jwks::KeySet;
pub use secret::{MIN_SECRET_BYTES, SharedSecret, WeakSecret, development_token};
pub use token::{extract_token, has_object_segments};
pub use verifier::{MAX_TOKEN_BYTES, RemoteKeys, Verifier, VerifierSettings};

use crate::error::ApiError;
use crate::router::PathUserId;

/// A verified token's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl Identity {
    #[doc(hidden)]
    pub fn for_tests(subject: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            email: None,
            name: None,
        }
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The URL's user must be the token's user (403 otherwise). This is the only way to obtain
    /// an [`AuthenticatedUser`], the type every task query takes, so a query cannot be bound to
    /// the URL's id by mistake.
    pub fn authorize(&self, owner: &PathUserId) -> Result<AuthenticatedUser, ApiError> {
        if owner.as_str() == self.subject {
            Ok(AuthenticatedUser(self.subject.clone()))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The id of the user a verified token speaks for, and whose URL it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(String);

impl AuthenticatedUser {
    pub fn id(&self) -> &str {
        &self.0
    }

    /// For tests and benchmarks that drive the store directly.
    #[doc(hidden)]
    pub fn for_tests(id: &str) -> Self {
        Self(id.to_owned())
    }
}
