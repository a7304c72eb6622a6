//! One structured JSON line per request on stdout (Spin collects component output per
//! component). It carries the route template and a hash of the user id: never the token, the
//! concrete URL, a cookie or a body.

use crate::time::Timestamp;
use serde::Serialize;
use std::time::Duration;

#[derive(Serialize, Debug, PartialEq)]
pub struct RequestLog<'a> {
    pub time: Timestamp,
    pub method: &'a str,
    /// e.g. `/api/{user_id}/tasks/{id}`; `null` for paths that match no route.
    pub route: Option<&'static str>,
    pub status: u16,
    pub duration_ms: f64,
    /// First 12 hex digits of SHA-256 of the user id: enough to follow one user's requests,
    /// not the id itself.
    pub user: Option<String>,
}

pub fn user_hash(user_id: &str) -> String {
    let digest = hmac_sha256::Hash::hash(user_id.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn duration_ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

impl RequestLog<'_> {
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_json_with_no_user_id() {
        let log = RequestLog {
            time: Timestamp::from_micros(0),
            method: "GET",
            route: Some("/api/{user_id}/tasks"),
            status: 200,
            duration_ms: duration_ms(Duration::from_micros(1234)),
            user: Some(user_hash("alice")),
        };
        let line = log.line();
        assert!(!line.contains("alice"));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["route"], "/api/{user_id}/tasks");
        assert_eq!(parsed["duration_ms"], 1.234);
        assert_eq!(parsed["user"].as_str().unwrap().len(), 12);
        assert_eq!(user_hash("alice"), user_hash("alice"));
        assert_ne!(user_hash("alice"), user_hash("bob"));
    }
}
