//! `better_auth_url`: where a Better Auth server lives, the issuer and audience of its tokens,
//! and the origin of its live JWKS.

use http::Uri;

/// Better Auth's JWKS route under its default base path (`/api/auth`) and `jwksPath` (`/jwks`).
const JWKS_PATH: &str = "/api/auth/jwks";

/// A validated `better_auth_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthUrl {
    /// As configured: Better Auth puts its `baseURL` string into `iss` and `aud` unchanged.
    base: String,
    jwks_url: String,
    origin: String,
}

impl BetterAuthUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let base = text.trim();
        let bad = |why: &str| format!("better_auth_url {base:?} {why}");
        let uri: Uri = base
            .parse()
            .map_err(|_| bad("is not a URL (expected e.g. https://app.example.com)"))?;
        let origin = origin_of(&uri).map_err(|why| bad(&why))?;
        if uri.query().is_some() || base.contains('#') {
            return Err(bad("must not have a query or a fragment"));
        }
        let path = uri.path().trim_end_matches('/');
        Ok(Self {
            base: base.to_owned(),
            jwks_url: format!("{origin}{path}{JWKS_PATH}"),
            origin,
        })
    }

    /// The default `iss` and `aud`.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }

    /// `scheme://host[:port]`, lower-case, default port left out.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// The origin of an `http`/`https` URL, normalised so that two spellings of one origin compare
/// equal (`HTTPS://App.example.com:443/` and `https://app.example.com`).
pub fn origin_of(uri: &Uri) -> Result<String, String> {
    let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => "http",
        Some("https") => "https",
        _ => return Err("must start with http:// or https://".to_owned()),
    };
    let authority = uri.authority().ok_or("has no host")?;
    if authority.as_str().contains('@') {
        return Err("must not carry credentials".to_owned());
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    Ok(match (scheme, uri.port_u16()) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => format!("{scheme}://{host}"),
        (_, Some(port)) => format!("{scheme}://{host}:{port}"),
    })
}

/// The origin of the `better_auth_origin` variable (what spin.toml's `allowed_outbound_hosts`
/// grants), normalised like `origin_of`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let uri: Uri = text
        .trim()
        .parse()
        .map_err(|_| format!("better_auth_origin {text:?} is not a URL"))?;
    let origin = origin_of(&uri).map_err(|why| format!("better_auth_origin {text:?} {why}"))?;
    if uri.path().trim_matches('/').is_empty() && uri.query().is_none() {
        Ok(origin)
    } else {
        Err(format!(
            "better_auth_origin {text:?} must be an origin only (scheme://host[:port]): \
             Spin's allowed_outbound_hosts takes no path"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_url_and_origin() {
        let url = BetterAuthUrl::parse("http://localhost:3000").unwrap();
        assert_eq!(url.as_str(), "http://localhost:3000");
        assert_eq!(url.jwks_url(), "http://localhost:3000/api/auth/jwks");
        assert_eq!(url.origin(), "http://localhost:3000");
        let url = BetterAuthUrl::parse(" HTTPS://App.Example.com:443/ ").unwrap();
        assert_eq!(url.as_str(), "HTTPS://App.Example.com:443/");
        assert_eq!(url.jwks_url(), "https://app.example.com/api/auth/jwks");
        assert_eq!(url.origin(), "https://app.example.com");
        let mounted = BetterAuthUrl::parse("https://example.com/app/").unwrap();
        assert_eq!(mounted.jwks_url(), "https://example.com/app/api/auth/jwks");
    }

    #[test]
    fn bad_urls_are_explained() {
        for (text, why) in [
            ("localhost:3000", "http:// or https://"),
            ("ftp://example.com", "http:// or https://"),
            ("/api/auth", "http:// or https://"),
            ("https://user:pw@example.com", "credentials"),
            ("https://example.com/?x=1", "query"),
            ("https://example.com/#x", "fragment"),
            ("not a url", "not a URL"),
        ] {
            let error = BetterAuthUrl::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("better_auth_url"), "{error}");
        }
    }

    #[test]
    fn origins_compare_normalised() {
        assert_eq!(
            parse_origin("https://App.example.com:443/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:4000").unwrap(),
            "http://127.0.0.1:4000"
        );
        assert!(parse_origin("https://example.com/api").is_err());
        assert!(parse_origin("example.com").is_err());
    }
}
