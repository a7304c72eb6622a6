//! `GET /openapi.json` and `GET /docs`. The document is a checked-in file so that it can be
//! reviewed and diffed; tests and schemathesis check the running API against it.

use crate::http::{Response, with_content_type};
use http::{HeaderValue, StatusCode};

pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn openapi() -> Response {
    with_content_type(
        StatusCode::OK,
        crate::http::JSON,
        OPENAPI_JSON.as_bytes().to_vec(),
    )
}

/// Scalar's API reference, loaded from a CDN like FastAPI's Swagger UI; the page itself is a
/// few lines and needs no build step.
const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>task-api</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  </body>
</html>
"#;

pub fn docs_page() -> Response {
    with_content_type(
        StatusCode::OK,
        HeaderValue::from_static("text/html; charset=utf-8"),
        DOCS_HTML.as_bytes().to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/health", &["get"][..]),
            ("/openapi.json", &["get"]),
            ("/docs", &["get"]),
            ("/api/{user_id}/tasks", &["get", "post"]),
            (
                "/api/{user_id}/tasks/{id}",
                &["get", "put", "patch", "delete"],
            ),
            ("/api/{user_id}/tasks/{id}/complete", &["patch"]),
        ] {
            for method in methods {
                assert!(paths[path][method].is_object(), "{method} {path}");
            }
        }
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
        assert_eq!(schemes["cookieAuth"]["name"], "access_token");
    }

    #[test]
    fn the_documented_limits_are_the_code_s() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let create = &doc["components"]["schemas"]["TaskCreate"]["properties"];
        assert_eq!(
            create["title"]["maxLength"],
            crate::domain::task::MAX_TITLE_CHARS
        );
        assert_eq!(
            create["description"]["maxLength"],
            crate::domain::task::MAX_DESCRIPTION_CHARS
        );
        let limit = &doc["components"]["parameters"]["Limit"]["schema"];
        assert_eq!(limit["maximum"], crate::domain::list_query::MAX_LIMIT);
        assert_eq!(limit["default"], crate::domain::list_query::DEFAULT_LIMIT);
    }
}
