//! Configuration from Spin variables: read once per component instance (Spin reuses an
//! instance for many requests), parsed on the first request that needs it, and kept as long
//! as the instance lives ([`ConfigCache`]).

use crate::auth::{BetterAuthUrl, Verifier, VerifierSettings, parse_origin};
use crate::domain::{TrashRetention, UserSource};
use crate::error::ApiError;

/// Where variables come from: Spin's `variables` interface in the component, a map in tests.
pub trait Variables {
    /// The variable's value; `None` when it is unset or not declared for the component.
    fn get(&self, name: &str) -> Option<String>;
}

/// Every variable the component reads (spin.toml's `[component.task-api.variables]`): what a
/// runtime adapter fetches once per instance.
pub const VARIABLE_NAMES: &[&str] = &[
    "better_auth_secret",
    "jwt_jwks",
    "better_auth_url",
    "better_auth_origin",
    "jwt_issuer",
    "jwt_audience",
    "user_source",
    "cors_allowed_origins",
    "rate_limit_per_minute",
    "trash_retention_days",
];

pub struct Config {
    pub verifier: Verifier,
    pub user_source: UserSource,
    /// Where the live JWKS comes from, when `better_auth_url` is set.
    pub better_auth_url: Option<BetterAuthUrl>,
    /// Requests per user per minute; `None` when rate limiting is off (`rate_limit_per_minute`
    /// unset or 0).
    pub rate_limit_per_minute: Option<u32>,
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
        let better_auth_url = non_empty("better_auth_url")
            .map(|url| BetterAuthUrl::parse(&url))
            .transpose()
            .map_err(ApiError::Misconfigured)?;
        if let Some(url) = &better_auth_url {
            check_outbound_origin(url, vars.get("better_auth_origin"))?;
        }
        // Better Auth's JWT plugin sets both claims to its base URL.
        let default_claim = || better_auth_url.as_ref().map(|u| u.as_str().to_owned());
        let verifier = Verifier::new(VerifierSettings {
            hs256_secret: vars.get("better_auth_secret"),
            jwks: vars.get("jwt_jwks"),
            live_jwks: better_auth_url.is_some(),
            issuer: non_empty("jwt_issuer").or_else(default_claim),
            audience: non_empty("jwt_audience").or_else(default_claim),
        })
        .map_err(ApiError::Misconfigured)?;
        let rate_limit_per_minute = match non_empty("rate_limit_per_minute") {
            None => None,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(0) => None,
                Ok(limit) => Some(limit),
                Err(_) => {
                    return Err(ApiError::Misconfigured(format!(
                        "rate_limit_per_minute is {value:?}; expected a whole number (0 = off)"
                    )));
                }
            },
        };
        Ok(Self {
            verifier,
            user_source,
            better_auth_url,
            rate_limit_per_minute,
        })
    }
}

/// `trash_retention_days`, read only by the routes that delete, restore or list deleted tasks
/// (one variable lookup fewer on every other request); a bad value is a 503 naming it.
pub fn trash_retention(vars: &dyn Variables) -> Result<TrashRetention, ApiError> {
    TrashRetention::parse(vars.get("trash_retention_days").as_deref())
        .map_err(ApiError::Misconfigured)
}

/// Under Spin the JWKS fetch can only reach what `allowed_outbound_hosts` grants, and the
/// manifest grants `better_auth_origin`. A mismatch would fail every fetch quietly; say so
/// instead. (Embeddings without the variable have no such grant to check.)
fn check_outbound_origin(url: &BetterAuthUrl, granted: Option<String>) -> Result<(), ApiError> {
    let Some(granted) = granted else {
        return Ok(());
    };
    let granted = parse_origin(&granted).map_err(ApiError::Misconfigured)?;
    if granted == url.origin() {
        Ok(())
    } else {
        Err(ApiError::Misconfigured(format!(
            "better_auth_url is on {}, but better_auth_origin (what spin.toml's \
             allowed_outbound_hosts grants) is {granted}: set better_auth_origin to {}",
            url.origin(),
            url.origin()
        )))
    }
}

/// The configuration of one component instance: parsed on first use (the HS256 key, the
/// JWKS), then kept. A misconfiguration is kept too, and every request is a 503 naming it, as
/// when each request parsed it afresh.
#[derive(Default)]
pub struct ConfigCache(std::cell::OnceCell<Result<Config, String>>);

impl ConfigCache {
    pub fn get(&self, vars: &dyn Variables) -> Result<&Config, ApiError> {
        self.0
            .get_or_init(|| {
                Config::load(vars).map_err(|error| match error {
                    ApiError::Misconfigured(why) => why,
                    other => format!("{other:?}"),
                })
            })
            .as_ref()
            .map_err(|why| ApiError::Misconfigured(why.clone()))
    }
}

/// Variables read in advance, by name (what a runtime adapter keeps per instance).
#[derive(Debug, Default)]
pub struct VariableMap(Vec<(&'static str, String)>);

impl VariableMap {
    pub fn new(values: Vec<(&'static str, String)>) -> Self {
        Self(values)
    }
}

impl Variables for VariableMap {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
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

    fn detail(vars: &[(&str, &str)]) -> String {
        match Config::load(&VariableList(vars)) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{vars:?} loaded"),
        }
    }

    #[test]
    fn a_jwks_or_a_better_auth_url_is_enough() {
        assert_eq!(status_of(&[("jwt_jwks", r#"{"keys":[]}"#)]), None);
        let config = Config::load(&VariableList(&[(
            "better_auth_url",
            "http://localhost:3000",
        )]))
        .unwrap();
        assert_eq!(
            config.better_auth_url.unwrap().jwks_url(),
            "http://localhost:3000/api/auth/jwks"
        );
    }

    #[test]
    fn a_malformed_jwks_or_url_is_503_naming_the_variable() {
        let with_secret = |name: &'static str, value: &'static str| {
            detail(&[("better_auth_secret", SECRET), (name, value)])
        };
        assert!(with_secret("jwt_jwks", "{not json").contains("jwt_jwks"));
        assert!(with_secret("jwt_jwks", r#"{"kty":"OKP"}"#).contains("jwt_jwks"));
        assert!(with_secret("better_auth_url", "localhost:3000").contains("better_auth_url"));
    }

    #[test]
    fn the_granted_origin_must_be_better_auths() {
        let url = ("better_auth_url", "https://app.example.com");
        assert_eq!(
            status_of(&[url, ("better_auth_origin", "https://app.example.com")]),
            None
        );
        assert_eq!(
            status_of(&[url, ("better_auth_origin", "HTTPS://app.example.com:443/")]),
            None
        );
        let unset = detail(&[
            url,
            ("better_auth_origin", "https://better-auth-origin.invalid"),
        ]);
        assert!(
            unset.contains("set better_auth_origin to https://app.example.com"),
            "{unset}"
        );
        assert_eq!(
            status_of(&[url, ("better_auth_origin", "http://app.example.com")]),
            Some(503)
        );
        // Without better_auth_url the grant is not looked at.
        assert_eq!(
            status_of(&[
                ("better_auth_secret", SECRET),
                ("better_auth_origin", "junk")
            ]),
            None
        );
    }

    #[test]
    fn issuer_and_audience_default_to_better_auth_url() {
        use crate::test_support::{SECRET as KEY, sign_hs256};
        let now = 1_800_000_000_u64;
        let at = crate::time::Timestamp::from_micros(now as i64 * 1_000_000);
        let token = |claims: &str| {
            let payload = format!(r#"{{"sub":"u","exp":{}{claims}}}"#, now + 900);
            sign_hs256(KEY.as_bytes(), r#"{"alg":"HS256"}"#, &payload)
        };
        let accepts = |vars: &[(&str, &str)], claims: &str| {
            let config = Config::load(&VariableList(vars)).unwrap();
            config.verifier.verify(&token(claims), at).is_ok()
        };
        let url = ("better_auth_url", "https://app.example.com");
        let own = r#","iss":"https://app.example.com","aud":"https://app.example.com""#;
        let foreign = r#","iss":"https://other.example","aud":"https://other.example""#;
        assert!(accepts(&[("better_auth_secret", KEY)], ""));
        assert!(accepts(&[("better_auth_secret", KEY), url], own));
        assert!(!accepts(&[("better_auth_secret", KEY), url], ""));
        assert!(!accepts(&[("better_auth_secret", KEY), url], foreign));
        // jwt_issuer / jwt_audience override the default.
        let overridden = [
            ("better_auth_secret", KEY),
            url,
            ("jwt_issuer", "https://other.example"),
            ("jwt_audience", "https://other.example"),
        ];
        assert!(accepts(&overridden, foreign));
        assert!(!accepts(&overridden, own));
    }
}
