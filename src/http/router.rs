//! Method + path → route. Unknown paths are 404 and wrong methods 405 before any
//! authentication, since neither reveals anything about anyone's data.

use crate::domain::{PathUserId, TaskId};
use crate::error::ApiError;
use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    Docs,
    Tasks {
        owner: PathUserId,
        action: TaskAction,
    },
}

/// What to do with a user's tasks. An item id that cannot exist (`abc`, `0`, past `i64::MAX`)
/// is kept as `None`: the request is still authenticated and authorised first, then answers 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    List,
    Create,
    Get(Option<TaskId>),
    Update(Option<TaskId>),
    Delete(Option<TaskId>),
    Toggle(Option<TaskId>),
    /// The user's tags with their task counts.
    Tags,
    /// Everything the API holds about the user, as one JSON document.
    Export,
    /// Bring a deleted task back from the trash.
    Restore(Option<TaskId>),
    /// The user's restorable deleted tasks.
    Trash,
    /// What changed since a sync token.
    Changes,
    /// The changes as they happen: a Server-Sent Events stream.
    Events,
    /// Several writes, all or none.
    Batch,
    /// Erase everything the API holds about the user.
    Erase,
}

/// A path the API knows, whatever the method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Health,
    OpenApi,
    Docs,
    Collection(PathUserId),
    Item(PathUserId, Option<TaskId>),
    Toggle(PathUserId, Option<TaskId>),
    Tags(PathUserId),
    /// `/api/{user_id}`: the user's data as a whole (erase).
    Account(PathUserId),
    Export(PathUserId),
    Restore(PathUserId, Option<TaskId>),
    Trash(PathUserId),
    Changes(PathUserId),
    Batch(PathUserId),
    Events(PathUserId),
}

// HEAD is answered wherever GET is (RFC 9110 §9.3.2): the same route, the same headers, no body.
const READ_ONLY: &[Method] = &[Method::GET, Method::HEAD];
const COLLECTION_METHODS: &[Method] = &[Method::GET, Method::HEAD, Method::POST];
const ITEM_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];
const TOGGLE_METHODS: &[Method] = &[Method::PATCH];
const ACCOUNT_METHODS: &[Method] = &[Method::DELETE];
const RESTORE_METHODS: &[Method] = &[Method::POST];
// No HEAD: a HEAD of a stream would take one of the user's stream leases for nothing.
const STREAM_METHODS: &[Method] = &[Method::GET];

impl Resource {
    /// The resource at `path`, or a 404.
    pub fn resolve(path: &str) -> Result<Self, ApiError> {
        let not_found = || ApiError::NotFound("Route");
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or("\0").split('/').collect();
        Ok(match segments.as_slice() {
            ["health"] => Self::Health,
            ["openapi.json"] => Self::OpenApi,
            ["docs"] => Self::Docs,
            ["api", user, rest @ ..] => {
                let owner = PathUserId::from_segment(user).ok_or_else(not_found)?;
                match rest {
                    [] => Self::Account(owner),
                    ["tags"] => Self::Tags(owner),
                    ["trash"] => Self::Trash(owner),
                    ["export"] => Self::Export(owner),
                    ["events"] => Self::Events(owner),
                    ["tasks"] => Self::Collection(owner),
                    // Not task ids (ids are digits), so no task is shadowed.
                    ["tasks", "changes"] => Self::Changes(owner),
                    ["tasks", "batch"] => Self::Batch(owner),
                    ["tasks", id] if !id.is_empty() => Self::Item(owner, TaskId::parse(id)),
                    ["tasks", id, "restore"] if !id.is_empty() => {
                        Self::Restore(owner, TaskId::parse(id))
                    }
                    ["tasks", id, "complete"] if !id.is_empty() => {
                        Self::Toggle(owner, TaskId::parse(id))
                    }
                    _ => return Err(not_found()),
                }
            }
            _ => return Err(not_found()),
        })
    }

    /// The methods this resource answers (besides `OPTIONS`), for `Allow` and CORS.
    pub fn methods(&self) -> &'static [Method] {
        match self {
            Self::Health
            | Self::OpenApi
            | Self::Docs
            | Self::Tags(_)
            | Self::Export(_)
            | Self::Trash(_)
            | Self::Changes(_) => READ_ONLY,
            Self::Restore(..) | Self::Batch(_) => RESTORE_METHODS,
            Self::Account(_) => ACCOUNT_METHODS,
            Self::Collection(_) => COLLECTION_METHODS,
            Self::Item(..) => ITEM_METHODS,
            Self::Toggle(..) => TOGGLE_METHODS,
            Self::Events(_) => STREAM_METHODS,
        }
    }

    /// The route template, for logs (never the concrete user id).
    pub fn template(&self) -> &'static str {
        match self {
            Self::Health => "/health",
            Self::OpenApi => "/openapi.json",
            Self::Docs => "/docs",
            Self::Collection(_) => "/api/{user_id}/tasks",
            Self::Item(..) => "/api/{user_id}/tasks/{id}",
            Self::Toggle(..) => "/api/{user_id}/tasks/{id}/complete",
            Self::Tags(_) => "/api/{user_id}/tags",
            Self::Export(_) => "/api/{user_id}/export",
            Self::Account(_) => "/api/{user_id}",
            Self::Restore(..) => "/api/{user_id}/tasks/{id}/restore",
            Self::Trash(_) => "/api/{user_id}/trash",
            Self::Changes(_) => "/api/{user_id}/tasks/changes",
            Self::Batch(_) => "/api/{user_id}/tasks/batch",
            Self::Events(_) => "/api/{user_id}/events",
        }
    }

    /// The route for `method`, or a 405 naming the allowed methods.
    pub fn route(self, method: &Method) -> Result<Route, ApiError> {
        let allowed = self.methods();
        if method == Method::HEAD && !allowed.contains(method) {
            return Err(ApiError::MethodNotAllowed(allowed));
        }
        // HEAD is GET without the body, which the caller drops.
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let action = match (self, method) {
            (Self::Health, &Method::GET) => return Ok(Route::Health),
            (Self::OpenApi, &Method::GET) => return Ok(Route::OpenApi),
            (Self::Docs, &Method::GET) => return Ok(Route::Docs),
            (Self::Collection(owner), &Method::GET) => (owner, TaskAction::List),
            (Self::Collection(owner), &Method::POST) => (owner, TaskAction::Create),
            (Self::Item(owner, id), &Method::GET) => (owner, TaskAction::Get(id)),
            (Self::Item(owner, id), &Method::PUT | &Method::PATCH) => {
                (owner, TaskAction::Update(id))
            }
            (Self::Item(owner, id), &Method::DELETE) => (owner, TaskAction::Delete(id)),
            (Self::Toggle(owner, id), &Method::PATCH) => (owner, TaskAction::Toggle(id)),
            (Self::Tags(owner), &Method::GET) => (owner, TaskAction::Tags),
            (Self::Export(owner), &Method::GET) => (owner, TaskAction::Export),
            (Self::Account(owner), &Method::DELETE) => (owner, TaskAction::Erase),
            (Self::Restore(owner, id), &Method::POST) => (owner, TaskAction::Restore(id)),
            (Self::Trash(owner), &Method::GET) => (owner, TaskAction::Trash),
            (Self::Changes(owner), &Method::GET) => (owner, TaskAction::Changes),
            (Self::Batch(owner), &Method::POST) => (owner, TaskAction::Batch),
            (Self::Events(owner), &Method::GET) => (owner, TaskAction::Events),
            _ => return Err(ApiError::MethodNotAllowed(allowed)),
        };
        Ok(Route::Tasks {
            owner: action.0,
            action: action.1,
        })
    }
}

/// Method + path → route: 404 for unknown paths, 405 for known paths with another method.
pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    Resource::resolve(path)?.route(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::{MAX_SEGMENT_BYTES, MAX_USER_ID_CHARS};
    use TaskAction::*;

    fn ok(method: Method, path: &str) -> Route {
        route(&method, path).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn status(method: Method, path: &str) -> u16 {
        route(&method, path).unwrap_err().status().as_u16()
    }

    fn tasks(owner: &str, action: TaskAction) -> Route {
        Route::Tasks {
            owner: PathUserId::from_segment(owner).expect("a routable user id"),
            action,
        }
    }

    fn id(n: i64) -> Option<TaskId> {
        Some(TaskId::from_db(n))
    }

    /// Each `(method, path, action)` routes to `action` on `owner`'s tasks.
    fn routes_of(owner: &str, cases: &[(Method, &str, TaskAction)]) {
        for (method, path, action) in cases {
            assert_eq!(
                ok(method.clone(), path),
                tasks(owner, *action),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn every_route() {
        assert_eq!(ok(Method::GET, "/health"), Route::Health);
        assert_eq!(ok(Method::GET, "/openapi.json"), Route::OpenApi);
        assert_eq!(ok(Method::GET, "/docs"), Route::Docs);
        routes_of(
            "u1",
            &[
                (Method::GET, "/api/u1/tasks", List),
                (Method::POST, "/api/u1/tasks", Create),
                (Method::GET, "/api/u1/tasks/7", Get(id(7))),
                (Method::PUT, "/api/u1/tasks/7", Update(id(7))),
                (Method::PATCH, "/api/u1/tasks/7", Update(id(7))),
                (Method::DELETE, "/api/u1/tasks/7", Delete(id(7))),
                (Method::PATCH, "/api/u1/tasks/7/complete", Toggle(id(7))),
            ],
        );
    }

    #[test]
    fn impossible_task_ids_still_route() {
        routes_of(
            "u1",
            &[
                (Method::GET, "/api/u1/tasks/abc", Get(None)),
                (
                    Method::PATCH,
                    "/api/u1/tasks/99999999999999999999/complete",
                    Toggle(None),
                ),
            ],
        );
    }

    #[test]
    fn user_ids_are_percent_decoded() {
        routes_of("a|b", &[(Method::GET, "/api/a%7Cb/tasks", List)]);
        routes_of("a/b", &[(Method::GET, "/api/a%2Fb/tasks", List)]);
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "",
            "/api",
            "/api/",
            "/api/u1/",
            "/api/u1/export/x",
            "/api/u1/tasks/",
            "/api/u1/tasks/1/",
            "/api/u1/tasks/1/complete/x",
            "/api/u1/notes",
            "/api//tasks",
            "/api/%zz/tasks",
            "/api/%ff/tasks",
            "/api/a%00b/tasks",
            "/health/",
            "/HEALTH",
        ] {
            assert_eq!(status(Method::GET, path), 404, "{path:?}");
        }
        let long = format!("/api/{}/tasks", "u".repeat(MAX_SEGMENT_BYTES + 1));
        assert_eq!(status(Method::GET, &long), 404);
        let too_many = format!("/api/{}/tasks", "u".repeat(MAX_USER_ID_CHARS + 1));
        assert_eq!(status(Method::GET, &too_many), 404);
    }

    #[test]
    fn the_longest_user_id_routes_however_it_is_encoded() {
        let plain = "u".repeat(MAX_USER_ID_CHARS);
        routes_of(
            &plain,
            &[(Method::GET, &format!("/api/{plain}/tasks"), List)],
        );
        // Four UTF-8 bytes a character, each percent-encoded: the longest segment accepted.
        let emoji = "🦀".repeat(MAX_USER_ID_CHARS);
        let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(encoded.len(), MAX_SEGMENT_BYTES);
        routes_of(
            &emoji,
            &[(Method::GET, &format!("/api/{encoded}/tasks"), List)],
        );
    }

    #[test]
    fn the_user_as_a_whole_is_erased_and_exported() {
        routes_of(
            "u1",
            &[
                (Method::DELETE, "/api/u1", Erase),
                (Method::GET, "/api/u1/export", Export),
                (Method::HEAD, "/api/u1/export", Export),
            ],
        );
        assert_eq!(status(Method::GET, "/api/u1"), 405);
        assert_eq!(status(Method::DELETE, "/api/u1/export"), 405);
        assert_eq!(
            Resource::resolve("/api/u1").unwrap().template(),
            "/api/{user_id}"
        );
    }

    #[test]
    fn the_trash_and_the_changes_feed_have_their_routes() {
        routes_of(
            "u1",
            &[
                (
                    Method::POST,
                    "/api/u1/tasks/7/restore",
                    Restore(TaskId::parse("7")),
                ),
                (Method::POST, "/api/u1/tasks/x/restore", Restore(None)),
                (Method::GET, "/api/u1/trash", Trash),
                (Method::GET, "/api/u1/tasks/changes", Changes),
                (Method::POST, "/api/u1/tasks/batch", Batch),
            ],
        );
        assert_eq!(status(Method::GET, "/api/u1/tasks/7/restore"), 405);
        assert_eq!(status(Method::POST, "/api/u1/tasks/changes"), 405);
        assert_eq!(status(Method::GET, "/api/u1/tasks/batch"), 405);
    }

    #[test]
    fn head_is_get_without_a_body() {
        routes_of("u1", &[(Method::HEAD, "/api/u1/tasks", List)]);
        assert_eq!(ok(Method::HEAD, "/health"), Route::Health);
        assert_eq!(status(Method::HEAD, "/api/u1/tasks/1/complete"), 405);
    }

    #[test]
    fn templates_never_contain_the_user() {
        let resource = Resource::resolve("/api/alice/tasks/7/complete").unwrap();
        assert_eq!(resource.template(), "/api/{user_id}/tasks/{id}/complete");
        assert_eq!(resource.methods(), TOGGLE_METHODS);
    }

    #[test]
    fn wrong_methods_are_405_with_allow() {
        assert_eq!(status(Method::DELETE, "/api/u1/tasks"), 405);
        assert_eq!(status(Method::POST, "/api/u1/tasks/1"), 405);
        assert_eq!(status(Method::GET, "/api/u1/tasks/1/complete"), 405);
        assert_eq!(status(Method::POST, "/health"), 405);
        assert_eq!(
            status(Method::OPTIONS, "/api/u1/tasks"),
            405,
            "OPTIONS is the app's (CORS)"
        );
        match route(&Method::PUT, "/api/u1/tasks") {
            Err(ApiError::MethodNotAllowed(allowed)) => assert_eq!(allowed, COLLECTION_METHODS),
            other => panic!("{other:?}"),
        }
    }
}
