//! Spin's HTTP routing: `/x/...` is a prefix wildcard (`/...` matches everything), other routes
//! are exact; an exact match beats any wildcard, and the longest wildcard prefix wins.

use crate::manifest::HttpTrigger;

/// Paths Spin keeps for itself; never routed to a component.
pub const RESERVED_PREFIX: &str = "/.well-known/spin/";

#[derive(Debug, Clone)]
pub struct Route {
    /// The route as the manifest writes it, e.g. `/...` or `/api/...`.
    pub raw: String,
    /// The full route including the application base, e.g. `/...`.
    pub full: String,
    /// The path the route matches from, without `/...` and with the base: `` for `/...`.
    pub prefix: String,
    pub wildcard: bool,
    pub component: String,
}

/// A matched request: which route, and Spin's `spin-*` header values for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub component: &'a str,
    pub matched_route: &'a str,
    pub raw_component_route: &'a str,
    /// `spin-component-route`: the component's route without the wildcard.
    pub component_route: String,
    pub path_info: String,
}

#[derive(Debug, Clone)]
pub struct Router {
    base: String,
    routes: Vec<Route>,
}

fn join_base(base: &str, route: &str) -> String {
    let base = base.trim_end_matches('/');
    format!("{base}{route}")
}

impl Router {
    pub fn new(base: &str, triggers: &[HttpTrigger]) -> Router {
        let routes = triggers
            .iter()
            .map(|t| {
                let full = join_base(base, &t.route);
                let (prefix, wildcard) = match full.strip_suffix("/...") {
                    Some(prefix) => (prefix.to_string(), true),
                    None => (full.clone(), false),
                };
                Route {
                    raw: t.route.clone(),
                    full,
                    prefix,
                    wildcard,
                    component: t.component.clone(),
                }
            })
            .collect();
        Router {
            base: base.to_string(),
            routes,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Finds the route for `path` (no query string).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        if path.starts_with(RESERVED_PREFIX) {
            return None;
        }
        let exact = self.routes.iter().find(|r| !r.wildcard && r.prefix == path);
        let route = exact.or_else(|| {
            self.routes
                .iter()
                .filter(|r| {
                    r.wildcard
                        && (path == r.prefix
                            || path
                                .strip_prefix(r.prefix.as_str())
                                .is_some_and(|rest| rest.starts_with('/')))
                })
                .max_by_key(|r| r.prefix.len())
        })?;
        let path_info = if route.wildcard {
            path[route.prefix.len()..].to_string()
        } else {
            String::new()
        };
        let component_route = route
            .raw
            .strip_suffix("/...")
            .unwrap_or(&route.raw)
            .to_string();
        Some(RouteMatch {
            component: &route.component,
            matched_route: &route.full,
            raw_component_route: &route.raw,
            component_route,
            path_info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(base: &str, routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(route, component)| HttpTrigger {
                route: route.to_string(),
                component: component.to_string(),
            })
            .collect();
        Router::new(base, &triggers)
    }

    fn component<'a>(r: &'a Router, path: &str) -> Option<&'a str> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn catch_all_matches_everything_but_reserved_paths() {
        let r = router("/", &[("/...", "all")]);
        for path in ["/", "/api", "/api/u1/tasks", "/.well-known/other"] {
            assert_eq!(component(&r, path), Some("all"), "{path}");
        }
        assert_eq!(component(&r, "/.well-known/spin/health"), None);
        let m = r.route("/api/u1/tasks").unwrap();
        assert_eq!(m.path_info, "/api/u1/tasks");
        assert_eq!(m.matched_route, "/...");
        assert_eq!(m.raw_component_route, "/...");
        assert_eq!(m.component_route, "");
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let r = router(
            "/",
            &[
                ("/...", "root"),
                ("/api/...", "api"),
                ("/api/admin/...", "admin"),
                ("/api/health", "health"),
            ],
        );
        assert_eq!(component(&r, "/api/health"), Some("health"));
        assert_eq!(component(&r, "/api/health/x"), Some("api"));
        assert_eq!(component(&r, "/api/admin/users"), Some("admin"));
        assert_eq!(component(&r, "/api/admin"), Some("admin"));
        assert_eq!(component(&r, "/api/adminx"), Some("api"));
        assert_eq!(component(&r, "/api"), Some("api"));
        assert_eq!(component(&r, "/apix"), Some("root"));
        assert_eq!(component(&r, "/"), Some("root"));
        let m = r.route("/api/admin/users").unwrap();
        assert_eq!(m.path_info, "/users");
        assert_eq!(m.component_route, "/api/admin");
        assert_eq!(r.route("/api/health").unwrap().path_info, "");
    }

    #[test]
    fn no_match_without_catch_all() {
        let r = router("/", &[("/api/...", "api"), ("/exact", "exact")]);
        assert_eq!(component(&r, "/"), None);
        assert_eq!(component(&r, "/other"), None);
        assert_eq!(component(&r, "/exact/more"), None);
        assert_eq!(component(&r, "/exac"), None);
        assert_eq!(component(&r, "/exact"), Some("exact"));
    }

    #[test]
    fn base_prefixes_every_route() {
        let r = router("/base", &[("/api/...", "api")]);
        assert_eq!(component(&r, "/api/x"), None);
        let m = r.route("/base/api/x").unwrap();
        assert_eq!(m.matched_route, "/base/api/...");
        assert_eq!(m.raw_component_route, "/api/...");
        assert_eq!(m.path_info, "/x");
    }
}
