//! The request and response the application sees: plain `http` crate types, independent of
//! Spin, so the whole pipeline runs natively in unit tests.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Serialize;

/// Largest request body accepted (64 KiB); larger bodies answer 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body as read by the runtime adapter: either complete, or abandoned once it grew past
/// [`MAX_BODY_BYTES`] (so a huge upload costs at most 64 KiB of memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Complete(Vec<u8>),
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Request {
    /// Splits `path?query` the way it arrives on the wire.
    pub fn new(method: Method, path_and_query: &str, headers: HeaderMap, body: Body) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        Self {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body,
        }
    }
}

pub type Response = http::Response<Vec<u8>>;

pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON response. Serialising our own types cannot fail; if it ever did, the client gets a
/// 500 rather than a half-written body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => with_content_type(status, JSON, body),
        Err(_) => with_content_type(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            br#"{"detail":"Internal server error"}"#.to_vec(),
        ),
    }
}

pub fn with_content_type(status: StatusCode, content_type: HeaderValue, body: Vec<u8>) -> Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

pub fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = status;
    response
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a user id in a URL.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query() {
        let r = Request::new(
            Method::GET,
            "/a/b?x=1&y=2",
            HeaderMap::new(),
            Body::Complete(vec![]),
        );
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/a/b", "x=1&y=2"));
        let r = Request::new(Method::GET, "/a", HeaderMap::new(), Body::Complete(vec![]));
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/a", ""));
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_path_segment("abc-_.~09"), "abc-_.~09");
        assert_eq!(encode_path_segment("a/b c|é"), "a%2Fb%20c%7C%C3%A9");
    }
}
