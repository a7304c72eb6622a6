//! Configuration from Spin variables, read per request (a component instance lives for one
//! request) and only on the routes that need it.

use crate::auth::{Verifier, VerifierSettings};
use crate::error::ApiError;

/// Where variables come from: Spin's `variables` interface in the component, a map in tests.
pub trait Variables {
    /// The variable's value; `None` when it is unset or not declared for the component.
    fn get(&self, name: &str) -> Option<String>;
}

/// Which users exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    /// The first valid token of a user records it in our `users` table.
    Auto,
    /// The user must exist in Better Auth's own `user` table (a database shared with it).
    BetterAuth,
}

pub struct Config {
    pub verifier: Verifier,
    pub user_source: UserSource,
}

impl Config {
    /// The configuration, or a 503 that says what to fix.
    pub fn load(vars: &dyn Variables) -> Result<Self, ApiError> {
        let non_empty = |name: &str| vars.get(name).filter(|v| !v.trim().is_empty());
        let user_source = match non_empty("user_source").as_deref().map(str::trim) {
            None | Some("auto") => UserSource::Auto,
            Some("better-auth") => UserSource::BetterAuth,
            Some(other) => {
                return Err(ApiError::Misconfigured(format!(
                    "user_source is {other:?}; expected \"auto\" or \"better-auth\""
                )));
            }
        };
        let verifier = Verifier::new(VerifierSettings {
            hs256_secret: vars.get("better_auth_secret"),
            issuer: non_empty("jwt_issuer"),
            audience: non_empty("jwt_audience"),
        })
        .map_err(ApiError::Misconfigured)?;
        Ok(Self {
            verifier,
            user_source,
        })
    }
}

/// Variables from a fixed list, for tests and native embedding.
pub struct VariableList<'a>(pub &'a [(&'a str, &'a str)]);

impl Variables for VariableList<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn status_of(vars: &[(&str, &str)]) -> Option<u16> {
        Config::load(&VariableList(vars))
            .err()
            .map(|e| e.status().as_u16())
    }

    #[test]
    fn a_secret_is_enough() {
        let config = Config::load(&VariableList(&[("better_auth_secret", SECRET)])).unwrap();
        assert_eq!(config.user_source, UserSource::Auto);
    }

    #[test]
    fn better_auth_user_source() {
        let vars = [
            ("better_auth_secret", SECRET),
            ("user_source", "better-auth"),
        ];
        assert_eq!(
            Config::load(&VariableList(&vars)).unwrap().user_source,
            UserSource::BetterAuth
        );
    }

    #[test]
    fn misconfiguration_is_503() {
        assert_eq!(status_of(&[]), Some(503));
        assert_eq!(status_of(&[("better_auth_secret", "")]), Some(503));
        assert_eq!(status_of(&[("better_auth_secret", "too-short")]), Some(503));
        assert_eq!(
            status_of(&[("better_auth_secret", SECRET), ("user_source", "ldap")]),
            Some(503)
        );
    }
}
