//! One request, start to finish: route, configuration, token, ownership, user, handler.
//! Runtime-independent: the Spin adapter and the native tests both call [`handle`].

use crate::api;
use crate::auth;
use crate::config::{Config, Variables};
use crate::db::DbError;
use crate::domain::{AuthenticatedUser, Identity};
use crate::env::Env;
use crate::error::{ApiError, AuthError};
use crate::http::cors;
use crate::http::message::{Request, Response};
use crate::http::request_log::{RequestLog, duration_ms, user_hash};
use crate::http::router::{Resource, Route};
use crate::store::{self, Account};
use http::{HeaderValue, Method, header};
use std::time::Instant;

/// Handles one request and logs it.
pub async fn handle(request: &Request, env: &Env<'_>) -> Response {
    let started = Instant::now();
    let mut trace = Trace::default();
    let response = dispatch(request, env, &mut trace)
        .await
        .unwrap_or_else(ApiError::into_response);
    let response = finish(request, env.vars, response);
    let log = RequestLog {
        time: env.now,
        method: request.method.as_str(),
        route: trace.route,
        status: response.status().as_u16(),
        duration_ms: duration_ms(started.elapsed()),
        user: trace.user.as_deref().map(user_hash),
    };
    println!("{}", log.line());
    response
}

/// What every response gets on its way out: CORS, the protective headers, no body for `HEAD`.
fn finish(request: &Request, vars: &dyn Variables, mut response: Response) -> Response {
    if request.method != Method::OPTIONS {
        cors::decorate(&mut response, cors::allowed_origin(&request.headers, vars));
    }
    protect(&mut response, request.path.starts_with("/api/"));
    if request.method == Method::HEAD {
        // The headers of the GET, no body (RFC 9110 §9.3.2).
        response.body_mut().clear();
    }
    response
}

/// The answer instead of [`handle`]'s when the writes it made were lost after all: they were
/// committed with a group of others and that `COMMIT` failed (see `db::shared`). A 503 with
/// `Retry-After`: nothing of the request happened, and trying again is safe.
pub fn lost_writes(request: &Request, vars: &dyn Variables, error: &DbError) -> Response {
    let response = ApiError::Unavailable(format!("a group commit failed: {error}")).into_response();
    finish(request, vars, response)
}

/// Headers every response carries, so that neither a cache nor a browser can turn a response
/// into something it is not.
///
/// Anything under `/api/` depends on the caller's token, which may arrive as a cookie: it is
/// `private` (no shared cache may store it), varies by `Authorization` and `Cookie` as well as
/// `Origin`, and `no-cache` (the browser may keep it but must revalidate before every use, so
/// `ETag` / `If-None-Match` → 304 keeps working; `no-store` would throw that away and buy no
/// safety a private, revalidated copy lacks). Every response says `nosniff`; the API's own
/// responses are data, never a document: `default-src 'none'` and no framing. `/docs` sets
/// its own policy.
fn protect(response: &mut Response, api: bool) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if api {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Origin, Authorization, Cookie"),
        );
    } else if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}

/// What the log line may say about a request, filled in as the pipeline learns it.
#[derive(Default)]
struct Trace {
    route: Option<&'static str>,
    user: Option<String>,
}

async fn dispatch(
    request: &Request,
    env: &Env<'_>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    let resource = Resource::resolve(&request.path)?;
    trace.route = Some(resource.template());
    if request.method == Method::OPTIONS {
        let origin = cors::allowed_origin(&request.headers, env.vars);
        return Ok(cors::preflight(resource.methods(), origin));
    }
    match resource.route(&request.method)? {
        Route::Health => api::health::health(env.db).await,
        Route::OpenApi => Ok(api::docs::openapi()),
        Route::Docs => Ok(api::docs::docs_page()),
        Route::Tasks { owner, action } => {
            let config = env.config.get(env.vars)?;
            let identity = authenticate(request, config, env).await?;
            trace.user = Some(identity.subject().to_owned());
            // Ownership is decided before the database is touched.
            let user = identity.authorize(&owner).ok_or(ApiError::Forbidden)?;
            if let Some(limit) = config.rate_limit_per_minute {
                enforce_rate_limit(env, &user, limit).await?;
            }
            // Whether the schema is current and the user known is checked by the statement that
            // does the work (see `store`).
            let account = Account {
                user: &user,
                identity: &identity,
                source: config.user_source,
            };
            api::tasks::handle(action, &account, request, env).await
        }
    }
}

/// 429 once `user` has made more than `limit` requests this minute, with the seconds left in
/// the window as `Retry-After`. Costs one upsert (a write) per request, so it is off by default.
async fn enforce_rate_limit(
    env: &Env<'_>,
    user: &AuthenticatedUser,
    limit: u32,
) -> Result<(), ApiError> {
    let count = store::count_request(env.db, user, env.now).await?;
    if count > i64::from(limit) {
        let into_minute = env.now.as_micros().rem_euclid(60_000_000) / 1_000_000;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: (60 - into_minute).max(1) as u64,
        });
    }
    Ok(())
}

async fn authenticate(
    request: &Request,
    config: &Config,
    env: &Env<'_>,
) -> Result<Identity, ApiError> {
    let token = auth::extract_token(&request.headers).map_err(ApiError::Unauthorized)?;
    if !auth::has_object_segments(token) {
        return Err(ApiError::Unauthorized(AuthError::InvalidToken));
    }
    let live = config.better_auth_url.as_ref().map(|url| auth::LiveJwks {
        url: url.jwks_url(),
        db: env.db,
        http: env.http,
        now: env.now,
    });
    // A live JWKS is asked (database, maybe network) before verifying, and only for a `kid`
    // the configured keys lack; the verification itself is synchronous.
    let fetched = match (&live, config.verifier.unknown_kid(token)) {
        (Some(live), Some(kid)) => Some(auth::FetchedKeys(live.key_set_with(&kid).await?)),
        _ => None,
    };
    let remote = fetched.as_ref().map(|keys| keys as &dyn auth::RemoteKeys);
    config.verifier.verify_with(token, env.now, remote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;
    use crate::db::Now;
    use crate::db::sqlite::SqliteDb;
    use crate::http::message::Body;
    use crate::test_support::{SECRET, token_for};
    use crate::time::Timestamp;
    use http::{HeaderMap, HeaderValue, Method, header};

    const NOW_SECS: u64 = 1_800_000_000;
    const VARS: &[(&str, &str)] = &[("better_auth_secret", SECRET)];

    struct Harness {
        db: SqliteDb,
        vars: &'static [(&'static str, &'static str)],
    }

    impl Harness {
        fn new() -> Self {
            Self {
                db: SqliteDb::in_memory(),
                vars: VARS,
            }
        }

        fn send(
            &self,
            method: Method,
            path: &str,
            token: Option<&str>,
            body: Option<&str>,
        ) -> Response {
            let mut headers = HeaderMap::new();
            if let Some(token) = token {
                headers.insert(
                    header::AUTHORIZATION,
                    HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
                );
            }
            if body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            let body = Body::Complete(body.unwrap_or("").as_bytes().to_vec());
            let request = Request::new(method, path, headers, body);
            let env = Env {
                db: &self.db,
                vars: &crate::config::VariableList(self.vars),
                config: &crate::config::ConfigCache::default(),
                http: &crate::http::fetch::NoNetwork,
                now: Timestamp::from_micros(NOW_SECS as i64 * 1_000_000),
                clock: &crate::time::SteppingClock::starting_at(Timestamp::from_micros(
                    NOW_SECS as i64 * 1_000_000,
                )),
            };
            handle(&request, &env).now()
        }
    }

    fn token(sub: &str) -> String {
        token_for(sub, NOW_SECS)
    }

    fn json(response: &Response) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn health_needs_no_token() {
        let response = Harness::new().send(Method::GET, "/health", None, None);
        assert_eq!(response.status(), 200);
        assert_eq!(json(&response), serde_json::json!({"status": "ok"}));
    }

    #[test]
    fn create_then_read_back() {
        let h = Harness::new();
        let t = token("alice");
        let created = h.send(
            Method::POST,
            "/api/alice/tasks",
            Some(&t),
            Some(r#"{"title":"Buy milk"}"#),
        );
        assert_eq!(created.status(), 201);
        let task = json(&created);
        let location = format!("/api/alice/tasks/{}", task["id"]);
        assert_eq!(created.headers()[header::LOCATION], location.as_str());
        let fetched = h.send(Method::GET, &location, Some(&t), None);
        assert_eq!(json(&fetched), task);
        assert_eq!(task["user_id"], "alice");
        assert_eq!(task["completed"], false);
        assert!(task["created_at"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn another_users_url_is_403_before_any_lookup() {
        let h = Harness::new();
        // The database is never touched: no schema exists afterwards.
        let response = h.send(Method::GET, "/api/bob/tasks/1", Some(&token("alice")), None);
        assert_eq!(response.status(), 403);
        assert!(
            h.db.execute("SELECT 1 FROM tasks", &[]).now().is_err(),
            "the 403 must precede any query"
        );
    }

    #[test]
    fn a_foreign_task_id_is_a_plain_404() {
        let h = Harness::new();
        let created = h.send(
            Method::POST,
            "/api/alice/tasks",
            Some(&token("alice")),
            Some(r#"{"title":"x"}"#),
        );
        let id = json(&created)["id"].clone();
        let bob = token("bob");
        let foreign = h.send(
            Method::GET,
            &format!("/api/bob/tasks/{id}"),
            Some(&bob),
            None,
        );
        let missing = h.send(Method::GET, "/api/bob/tasks/999999", Some(&bob), None);
        assert_eq!(
            (foreign.status(), missing.status()),
            (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
        );
        assert_eq!(foreign.body(), missing.body());
    }

    #[test]
    fn no_token_and_bad_tokens_are_401() {
        let h = Harness::new();
        let none = h.send(Method::GET, "/api/alice/tasks", None, None);
        assert_eq!(none.status(), 401);
        assert_eq!(none.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let bad = h.send(Method::GET, "/api/alice/tasks", Some("not.a.token"), None);
        assert_eq!(bad.status(), 401);
        assert_eq!(
            bad.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn misconfiguration_is_503_and_accepts_nothing() {
        let mut h = Harness::new();
        h.vars = &[("better_auth_secret", "short")];
        let response = h.send(Method::GET, "/api/alice/tasks", Some(&token("alice")), None);
        assert_eq!(response.status(), 503);
        let detail = json(&response)["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("misconfigured") && !detail.contains("better_auth_secret"),
            "an outsider learns nothing of the deployment: {detail}"
        );
    }

    #[test]
    fn impossible_ids_are_404_after_auth() {
        let h = Harness::new();
        let t = token("alice");
        for path in [
            "/api/alice/tasks/abc",
            "/api/alice/tasks/0",
            "/api/alice/tasks/99999999999999999999",
        ] {
            assert_eq!(
                h.send(Method::GET, path, Some(&t), None).status(),
                404,
                "{path}"
            );
        }
        assert_eq!(
            h.send(Method::GET, "/api/alice/tasks/abc", None, None)
                .status(),
            401
        );
    }

    use http::StatusCode;
}
