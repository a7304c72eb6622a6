//! Where the token comes from: `Authorization: Bearer …`, else the `access_token` cookie.

use crate::error::AuthError;
use http::{HeaderMap, header};

const COOKIE_NAME: &str = "access_token";

/// The raw token of a request. A `Bearer` Authorization header wins over the cookie; an
/// Authorization header with another scheme (e.g. `Basic`) is not ours and is passed over.
pub fn extract_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    if let Some(value) = authorizations.next() {
        if authorizations.next().is_some() {
            // Two Authorization headers: which one would a proxy have checked? Refuse both.
            return Err(AuthError::InvalidToken);
        }
        let value = value.to_str().map_err(|_| AuthError::InvalidToken)?;
        if let Some(token) = strip_bearer(value) {
            let token = token.trim_matches(' ');
            return if token.is_empty() {
                Err(AuthError::InvalidToken)
            } else {
                Ok(token)
            };
        }
    }
    match cookie(headers, COOKIE_NAME)? {
        Some(token) if !token.is_empty() => Ok(token),
        _ => Err(AuthError::Missing),
    }
}

/// Whether a compact JWS has a JSON object as its header and as its payload (RFC 7515 §4,
/// RFC 7519 §7.2). serde's derived deserializers also accept a JSON array, mapping it onto
/// fields by position, so `["HS256"]` would pass as a header; such tokens are refused before
/// verification.
pub fn has_object_segments(token: &str) -> bool {
    use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
    if token.len() > super::MAX_TOKEN_BYTES {
        return false;
    }
    let mut segments = token.split('.');
    [segments.next(), segments.next()]
        .into_iter()
        .all(|segment| {
            segment
                .and_then(|s| Base64UrlSafeNoPadding::decode_to_vec(s, None).ok())
                .and_then(|json| json.into_iter().find(|b| !b.is_ascii_whitespace()))
                == Some(b'{')
        })
}

/// `Bearer <token>`, the scheme matched case-insensitively (RFC 9110 §11.1).
fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest)
}

/// The first cookie called `name` across all `Cookie` headers (RFC 6265 §5.4 pairs separated by
/// `; `), with optional double quotes removed.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((key, cookie_value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key.trim() == name {
                let cookie_value = cookie_value.trim();
                let unquoted = cookie_value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(cookie_value);
                return Ok(Some(unquoted));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_header() {
        assert_eq!(
            extract_token(&headers(&[("authorization", "Bearer abc")])),
            Ok("abc")
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let h = headers(&[("authorization", &format!("{scheme} abc"))]);
            assert_eq!(extract_token(&h), Ok("abc"));
        }
    }

    #[test]
    fn cookie_when_no_header() {
        let h = headers(&[("cookie", "theme=dark; access_token=xyz; other=1")]);
        assert_eq!(extract_token(&h), Ok("xyz"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "access_token=\"q\"")]);
        assert_eq!(extract_token(&h), Ok("q"));
    }

    #[test]
    fn header_wins_over_cookie() {
        let h = headers(&[
            ("authorization", "Bearer from-header"),
            ("cookie", "access_token=c"),
        ]);
        assert_eq!(extract_token(&h), Ok("from-header"));
    }

    #[test]
    fn other_schemes_fall_back_to_the_cookie() {
        let h = headers(&[
            ("authorization", "Basic dXNlcjpwdw=="),
            ("cookie", "access_token=c"),
        ]);
        assert_eq!(extract_token(&h), Ok("c"));
        let h = headers(&[("authorization", "Basic dXNlcjpwdw==")]);
        assert_eq!(extract_token(&h), Err(AuthError::Missing));
    }

    #[test]
    fn nothing_is_missing() {
        assert_eq!(extract_token(&HeaderMap::new()), Err(AuthError::Missing));
        let h = headers(&[("cookie", "access_token=; x=1")]);
        assert_eq!(extract_token(&h), Err(AuthError::Missing));
        let h = headers(&[("cookie", "my_access_token=abc")]);
        assert_eq!(extract_token(&h), Err(AuthError::Missing));
    }

    #[test]
    fn empty_or_doubled_bearer_is_invalid() {
        assert_eq!(
            extract_token(&headers(&[("authorization", "Bearer ")])),
            Err(AuthError::InvalidToken)
        );
        let h = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(extract_token(&h), Err(AuthError::InvalidToken));
    }

    #[test]
    fn segments_must_be_json_objects() {
        use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
        let b64 = |s: &str| Base64UrlSafeNoPadding::encode_to_string(s).unwrap();
        let token = |h: &str, p: &str| format!("{}.{}.sig", b64(h), b64(p));
        assert!(has_object_segments(&token(
            r#"{"alg":"HS256"}"#,
            r#" {"sub":"a"}"#
        )));
        assert!(!has_object_segments(&token(
            r#"["HS256"]"#,
            r#"{"sub":"a"}"#
        )));
        assert!(!has_object_segments(&token(
            r#"{"alg":"HS256"}"#,
            r#"["a",1,2]"#
        )));
        assert!(!has_object_segments(&token(r#"{"alg":"HS256"}"#, "12")));
        assert!(!has_object_segments("only-one-segment"));
        assert!(!has_object_segments("!!.!!.!!"));
    }

    #[test]
    fn non_utf8_header_is_invalid() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(extract_token(&h), Err(AuthError::InvalidToken));
    }
}
