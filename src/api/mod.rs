//! HTTP handlers: thin functions from a routed, authenticated request to a response.

pub mod batch;
pub mod docs;
pub mod events;
pub mod health;
pub mod outcome;
pub mod task_writes;
pub mod tasks;

use crate::error::ApiError;
use crate::http::message::{Body, Request};
use http::header;

/// The body of a request that must carry JSON: 413 if it was too large, 422 if there is none
/// at all (no body and no Content-Type: there is no media type to be unsupported, and the
/// body is what is missing), 415 if it is declared as something other than JSON. Parsing is
/// left to the domain types.
pub fn json_body(request: &Request) -> Result<&[u8], ApiError> {
    let bytes = match &request.body {
        Body::TooLarge => return Err(ApiError::PayloadTooLarge),
        Body::Complete(bytes) => bytes,
    };
    let content_type = request.headers.get(header::CONTENT_TYPE);
    if bytes.is_empty() && content_type.is_none() {
        return Err(ApiError::validation("body", "is required (a JSON object)"));
    }
    let is_json = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(bytes)
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn request(content_type: Option<&str>, body: Body) -> Request {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        Request::new(Method::POST, "/api/u/tasks", headers, body)
    }

    #[test]
    fn accepts_json_with_parameters_in_any_case() {
        for content_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            let r = request(Some(content_type), Body::Complete(b"{}".to_vec()));
            assert_eq!(json_body(&r).unwrap(), b"{}");
        }
    }

    #[test]
    fn no_body_at_all_is_422_body_required() {
        let r = request(None, Body::Complete(Vec::new()));
        let error = json_body(&r).unwrap_err();
        assert_eq!(error.status(), 422);
        assert!(error.to_string().contains("body"), "{error}");
        // A declared JSON body that is empty is malformed JSON, judged by the parser.
        let r = request(Some("application/json"), Body::Complete(Vec::new()));
        assert_eq!(json_body(&r).unwrap(), b"");
    }

    #[test]
    fn other_media_types_are_415() {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonx"),
        ] {
            let r = request(content_type, Body::Complete(b"{}".to_vec()));
            assert_eq!(json_body(&r).unwrap_err().status(), 415, "{content_type:?}");
        }
    }

    #[test]
    fn too_large_is_413_whatever_the_type() {
        let r = request(Some("text/plain"), Body::TooLarge);
        assert_eq!(json_body(&r).unwrap_err().status(), 413);
    }
}
