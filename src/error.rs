//! The one error type of the API, and how each error becomes an HTTP response.

use crate::domain::FieldError;
use crate::http::message::{Response, json};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use std::fmt;

/// Why a request was not authenticated. The variants decide the `WWW-Authenticate` challenge
/// (RFC 6750); the reason itself is logged by nobody and shown to the client only as a
/// generic sentence, so a forger learns nothing about which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all.
    Missing,
    /// Credentials were given but are not a valid token (any reason).
    InvalidToken,
    /// The token is valid but names a user that the user source does not know.
    UnknownUser,
}

#[derive(Debug)]
pub enum ApiError {
    Unauthorized(AuthError),
    /// The URL's user is not the token's user.
    Forbidden,
    NotFound(&'static str),
    MethodNotAllowed(&'static [Method]),
    PayloadTooLarge,
    UnsupportedMediaType,
    /// `If-Match` named a version the task is no longer at.
    PreconditionFailed,
    /// The user spent this minute's requests; retry after that many seconds.
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// The user has this many event streams open already.
    TooManyStreams {
        limit: u32,
    },
    Validation(Vec<FieldError>),
    /// The service is not configured well enough to authenticate anyone.
    Misconfigured(String),
    /// The database could not be reached or answered with an error we cannot blame on the client.
    Unavailable(String),
    /// The database server (libSQL) cannot be reached, or refuses the runtime's credentials.
    DatabaseUnreachable(String),
    /// A bug. The cause is logged; the client only learns that something went wrong.
    Internal(anyhow::Error),
    /// Operation `index` of a batch failed with `cause`, so none of the batch was applied.
    BatchFailed {
        index: usize,
        cause: Box<ApiError>,
    },
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// In a failed batch: which operation failed (from 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<usize>,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests { .. } | Self::TooManyStreams { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Misconfigured(_) | Self::Unavailable(_) | Self::DatabaseUnreachable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BatchFailed { cause, .. } => cause.status(),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Unauthorized(AuthError::Missing) => "Not authenticated".into(),
            Self::Unauthorized(AuthError::InvalidToken) => "Invalid or expired token".into(),
            Self::Unauthorized(AuthError::UnknownUser) => "Unknown user".into(),
            Self::Forbidden => "This token may not access another user's tasks".into(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::MethodNotAllowed(_) => "Method not allowed".into(),
            Self::PayloadTooLarge => format!(
                "Request body is larger than {} KiB",
                crate::http::message::MAX_BODY_BYTES / 1024
            ),
            Self::UnsupportedMediaType => {
                "Request body must be JSON (Content-Type: application/json)".into()
            }
            Self::PreconditionFailed => {
                "The task has changed since the version named in If-Match".into()
            }
            Self::TooManyRequests { retry_after_secs } => {
                format!("Too many requests; retry in {retry_after_secs} s")
            }
            Self::TooManyStreams { limit } => format!(
                "Too many open event streams: at most {limit} per user; close one, or retry later"
            ),
            Self::Validation(errors) => match errors.as_slice() {
                [only] => format!("Invalid {}: {}", only.field, only.message),
                _ => "The request has invalid fields".into(),
            },
            // The specifics (which variable, what is wrong with it) go to the log only: an
            // unauthenticated caller learns nothing about the deployment.
            Self::Misconfigured(_) => {
                "Service misconfigured; the operator finds the reason in the server's log".into()
            }
            Self::Unavailable(_) => "Service temporarily unavailable".into(),
            Self::DatabaseUnreachable(_) => {
                "The database cannot be reached; retry shortly (the operator finds the reason in \
                 the server's log)"
                    .into()
            }
            Self::Internal(_) => "Internal server error".into(),
            Self::BatchFailed { index, cause } => format!(
                "Operation {index} failed, so none of the batch was applied: {}",
                cause.detail()
            ),
        }
    }

    /// The response, logging on stderr what the client must not see.
    pub fn into_response(self) -> Response {
        match self {
            // The cause's status and headers, a detail that names the operation.
            Self::BatchFailed { index, cause } => cause.render(Some(index)),
            other => other.render(None),
        }
    }

    fn render(self, operation: Option<usize>) -> Response {
        match &self {
            Self::Internal(cause) => eprintln!("internal error: {cause:#}"),
            Self::Unavailable(cause) | Self::DatabaseUnreachable(cause) => {
                eprintln!("unavailable: {cause}")
            }
            Self::Misconfigured(why) => eprintln!("misconfigured: {why}"),
            _ => {}
        }
        let errors = match &self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let detail = match operation {
            Some(index) => format!(
                "Operation {index} failed, so none of the batch was applied: {}",
                self.detail()
            ),
            None => self.detail(),
        };
        let mut response = json(
            self.status(),
            &ErrorBody {
                detail: &detail,
                errors,
                operation,
            },
        );
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized(AuthError::Missing) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            Self::MethodNotAllowed(allowed) => {
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::Misconfigured(_) | Self::Unavailable(_) | Self::DatabaseUnreachable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            // A stream's lease is renewed with every heartbeat; one that was not closed
            // (its instance died) runs out within a lease.
            Self::TooManyStreams { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("15"));
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misconfigured(why) => write!(f, "503 misconfigured: {why}"),
            _ => write!(f, "{} {}", self.status().as_u16(), self.detail()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::Db(error) => ApiError::from(error),
            StoreError::UnknownUser => ApiError::Unauthorized(AuthError::UnknownUser),
            StoreError::NoBetterAuthTable => ApiError::Misconfigured(
                "user_source is better-auth but the database has no Better Auth \"user\" table"
                    .into(),
            ),
            StoreError::Corrupt(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(invalid: crate::domain::Invalid) -> Self {
        Self::Validation(invalid.0)
    }
}

impl From<crate::http::conditional::MalformedPrecondition> for ApiError {
    fn from(error: crate::http::conditional::MalformedPrecondition) -> Self {
        let field = match error.0 {
            "if-match" => "If-Match",
            "if-none-match" => "If-None-Match",
            other => other,
        };
        Self::validation(
            field,
            "must be * or a comma-separated list of entity tags (RFC 9110 §8.8.3), such as \
             an ETag this API sent",
        )
    }
}

impl From<crate::db::DbError> for ApiError {
    /// Contention and a full disk are passing conditions (503, retry); a database the component
    /// may not open is a manifest problem; any other SQLite error is our bug.
    fn from(error: crate::db::DbError) -> Self {
        use crate::db::DbError;
        match error {
            DbError::Io(message) if message.contains("locked") || message.contains("busy") => {
                Self::Unavailable(message)
            }
            DbError::Io(_) if error.interrupted() => Self::Unavailable(error.to_string()),
            DbError::DatabaseFull => Self::Unavailable(error.to_string()),
            // sqld down or restarting, an expired stream, a token it refuses: the log says which
            // (sqld's messages never contain the token).
            DbError::Unreachable(_) => Self::DatabaseUnreachable(error.to_string()),
            DbError::NoSuchDatabase | DbError::AccessDenied | DbError::InvalidConnection => {
                Self::Misconfigured(format!(
                    "cannot open the default SQLite database ({error}); the manifest must grant \
                     it with sqlite_databases = [\"default\"]"
                ))
            }
            DbError::Io(_) => Self::Internal(anyhow::Error::new(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn every_error_is_json_with_a_detail() {
        let errors = [
            ApiError::Unauthorized(AuthError::Missing),
            ApiError::Forbidden,
            ApiError::NotFound("Task"),
            ApiError::MethodNotAllowed(&[Method::GET]),
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::PreconditionFailed,
            ApiError::TooManyRequests {
                retry_after_secs: 7,
            },
            ApiError::validation("title", "is required"),
            ApiError::Misconfigured("no key".into()),
            ApiError::Unavailable("disk".into()),
            ApiError::Internal(anyhow::anyhow!("boom")),
        ];
        for error in errors {
            let status = error.status();
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            assert!(body(&response)["detail"].is_string(), "{status}");
        }
    }

    #[test]
    fn missing_credentials_get_a_bare_bearer_challenge() {
        let response = ApiError::Unauthorized(AuthError::Missing).into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn invalid_tokens_get_the_invalid_token_challenge() {
        for reason in [AuthError::InvalidToken, AuthError::UnknownUser] {
            let response = ApiError::Unauthorized(reason).into_response();
            assert_eq!(
                response.headers()[header::WWW_AUTHENTICATE],
                r#"Bearer error="invalid_token""#
            );
        }
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response = ApiError::MethodNotAllowed(&[Method::GET, Method::POST]).into_response();
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
    }

    #[test]
    fn validation_errors_carry_field_and_message() {
        let response = ApiError::validation("title", "must not be empty").into_response();
        let body = body(&response);
        assert_eq!(body["errors"][0]["field"], "title");
        assert_eq!(body["errors"][0]["message"], "must not be empty");
        assert_eq!(body["detail"], "Invalid title: must not be empty");
    }

    #[test]
    fn internal_errors_reveal_nothing() {
        let response =
            ApiError::Internal(anyhow::anyhow!("SELECT secret FROM keys failed")).into_response();
        let text = String::from_utf8(response.body().clone()).unwrap();
        assert!(!text.contains("secret"));
        assert_eq!(body(&response)["detail"], "Internal server error");
    }
}
