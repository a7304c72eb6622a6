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

/// The body-reading rule every runtime adapter follows: the API reads no body on GET, HEAD,
/// OPTIONS or DELETE (their streams are not polled at all), a declared length over
/// [`MAX_BODY_BYTES`] is refused unread, and a stream that runs past it is abandoned, so no
/// request can make an instance hold more.
#[derive(Debug)]
pub enum BodyReader {
    /// Nothing to read: the body is already known.
    Done(Body),
    Reading(Vec<u8>),
}

impl BodyReader {
    pub fn start(method: &Method, headers: &HeaderMap) -> Self {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE
        ) {
            return Self::Done(Body::Complete(Vec::new()));
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(length) if length > MAX_BODY_BYTES as u64 => Self::Done(Body::TooLarge),
            Some(0) => Self::Done(Body::Complete(Vec::new())),
            _ => Self::Reading(Vec::new()),
        }
    }

    /// Adds a chunk; answers the finished body once reading should stop.
    pub fn push(&mut self, chunk: &[u8]) -> Option<Body> {
        let Self::Reading(out) = self else {
            return None;
        };
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            *self = Self::Done(Body::TooLarge);
            return Some(Body::TooLarge);
        }
        out.extend_from_slice(chunk);
        None
    }

    pub fn finish(self) -> Body {
        match self {
            Self::Done(body) => body,
            Self::Reading(out) => Body::Complete(out),
        }
    }
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

    fn length(n: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        h
    }

    #[test]
    fn bodyless_methods_are_not_read_and_declared_overflow_is_refused_unread() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::DELETE] {
            let mut r = BodyReader::start(&method, &length(10));
            assert_eq!(r.push(b"ignored"), None);
            assert_eq!(r.finish(), Body::Complete(Vec::new()));
        }
        let r = BodyReader::start(&Method::POST, &length(MAX_BODY_BYTES + 1));
        assert!(matches!(r, BodyReader::Done(Body::TooLarge)));
    }

    #[test]
    fn a_stream_past_the_limit_is_abandoned() {
        let mut r = BodyReader::start(&Method::POST, &HeaderMap::new());
        assert_eq!(r.push(&vec![b'a'; MAX_BODY_BYTES]), None);
        assert_eq!(r.push(b"b"), Some(Body::TooLarge));
        assert_eq!(r.finish(), Body::TooLarge);
        let mut r = BodyReader::start(&Method::PUT, &HeaderMap::new());
        assert_eq!(r.push(b"{}"), None);
        assert_eq!(r.finish(), Body::Complete(b"{}".to_vec()));
    }

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
