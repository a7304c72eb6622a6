//! CORS for a browser frontend on another origin, with cookies: allowed origins are echoed
//! (never `*`, which browsers refuse with credentials); any other origin gets no CORS headers.

use crate::config::Variables;
use crate::http::message::{Response, empty};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

pub const DEFAULT_ORIGINS: &str = "http://localhost:3000";
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Last-Event-ID";
const EXPOSED_HEADERS: &str =
    "ETag, Link, Location, Retry-After, WWW-Authenticate, X-Next-Cursor, X-Total-Count";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// The request's `Origin`, if it is one of the allowed ones (variable `cors_allowed_origins`,
/// comma-separated). Read only when the request has an `Origin` at all.
pub fn allowed_origin(headers: &HeaderMap, vars: &dyn Variables) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let configured = vars
        .get("cors_allowed_origins")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ORIGINS.to_owned());
    let wanted = origin.to_str().ok()?;
    configured
        .split(',')
        .map(|o| o.trim().trim_end_matches('/'))
        .any(|allowed| !allowed.is_empty() && allowed.eq_ignore_ascii_case(wanted))
        .then(|| origin.clone())
}

/// Adds the CORS headers of an actual (non-preflight) response. Every response varies by
/// `Origin`, so caches never hand one origin's answer to another.
pub fn decorate(response: &mut Response, origin: Option<HeaderValue>) {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

/// The answer to `OPTIONS` on a known path: 204 with `Allow`, plus the preflight grant when the
/// origin is allowed. No authentication: browsers send preflights without credentials.
pub fn preflight(methods: &[Method], origin: Option<HeaderValue>) -> Response {
    let mut response = empty(StatusCode::NO_CONTENT);
    let allow = methods
        .iter()
        .map(Method::as_str)
        .chain(["OPTIONS"])
        .collect::<Vec<_>>()
        .join(", ");
    let headers = response.headers_mut();
    if let Ok(allow) = HeaderValue::from_str(&allow) {
        headers.insert(header::ALLOW, allow.clone());
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, allow);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VariableList;

    fn origin_of(origin: &str, configured: &[(&str, &str)]) -> Option<HeaderValue> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        allowed_origin(&headers, &VariableList(configured))
    }

    #[test]
    fn default_allows_the_local_next_dev_server() {
        assert!(origin_of("http://localhost:3000", &[]).is_some());
        assert!(origin_of("http://localhost:3001", &[]).is_none());
        assert!(origin_of("https://evil.example", &[]).is_none());
        assert!(origin_of("null", &[]).is_none());
    }

    #[test]
    fn configured_origins_replace_the_default() {
        let vars = [(
            "cors_allowed_origins",
            "https://app.example.com, https://staging.example.com/",
        )];
        assert!(origin_of("https://app.example.com", &vars).is_some());
        assert!(origin_of("https://staging.example.com", &vars).is_some());
        assert!(origin_of("http://localhost:3000", &vars).is_none());
        assert!(origin_of("https://app.example.com.evil.example", &vars).is_none());
    }

    #[test]
    fn no_origin_no_lookup() {
        assert!(allowed_origin(&HeaderMap::new(), &VariableList(&[])).is_none());
    }

    #[test]
    fn preflight_grants_only_allowed_origins() {
        let granted = preflight(
            &[Method::GET, Method::POST],
            Some(HeaderValue::from_static("http://localhost:3000")),
        );
        assert_eq!(granted.status(), 204);
        assert_eq!(
            granted.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, OPTIONS"
        );
        assert_eq!(
            granted.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );
        assert!(
            granted.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
        let refused = preflight(&[Method::GET], None);
        assert_eq!(refused.status(), 204);
        assert!(
            refused
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert_eq!(refused.headers()[header::ALLOW], "GET, OPTIONS");
    }
}
