//! `GET /openapi.json` and `GET /docs`. The document is a checked-in file so that it can be
//! reviewed and diffed; tests and schemathesis check the running API against it.

use crate::http::message::{Response, with_content_type};
use http::{HeaderValue, StatusCode};

pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn openapi() -> Response {
    with_content_type(
        StatusCode::OK,
        crate::http::message::JSON,
        OPENAPI_JSON.as_bytes().to_vec(),
    )
}

/// Scalar's API reference, pinned: this exact file (a self-contained build of
/// `@scalar/api-reference` 1.46.4, 3,566,844 bytes, fetched from the npm registry and hashed)
/// from jsDelivr, which serves npm files unchanged. The browser refuses it if one byte differs
/// (Subresource Integrity), and the page's policy allows no other script, so neither a CDN
/// compromise nor an upgrade can run new code on this origin, where the `access_token` cookie
/// is valid. Upgrading means changing the version and the hash together.
pub const SCALAR_URL: &str =
    "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.46.4/dist/browser/standalone.js";
pub const SCALAR_INTEGRITY: &str =
    "sha384-BbTs28WithFYxTDCiH0YPK5tv3MflhBVpABoMjfb9UqXa/hegSE9I4THoddKejMF";

/// The page's Content-Security-Policy: exactly that script (by URL and hash), the inline
/// styles Scalar injects, requests to this origin only (the document and "try it"; Scalar's
/// proxy is not allowed, so a token never leaves for it), and no framing.
fn docs_policy() -> String {
    format!(
        "default-src 'none'; script-src {SCALAR_URL} '{SCALAR_INTEGRITY}'; \
         style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn docs_html() -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>task-api</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="{SCALAR_URL}" integrity="{SCALAR_INTEGRITY}" crossorigin="anonymous"></script>
  </body>
</html>
"#
    )
}

pub fn docs_page() -> Response {
    let mut response = with_content_type(
        StatusCode::OK,
        HeaderValue::from_static("text/html; charset=utf-8"),
        docs_html().into_bytes(),
    );
    if let Ok(policy) = HeaderValue::from_str(&docs_policy()) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    response
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
    fn the_docs_page_loads_only_the_pinned_script() {
        let page = docs_page();
        let html = String::from_utf8(page.body().clone()).unwrap();
        assert_eq!(html.matches("<script src=").count(), 1);
        assert!(html.contains(&format!(r#"integrity="{SCALAR_INTEGRITY}""#)));
        assert!(SCALAR_URL.contains("@1.46.4/"), "a pinned version");
        let policy = page.headers()[http::header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.starts_with("default-src 'none'"), "{policy}");
        assert!(policy.contains(&format!("script-src {SCALAR_URL} '{SCALAR_INTEGRITY}';")));
        assert!(!policy.contains("unsafe-eval") && !policy.contains("scalar.com"));
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
