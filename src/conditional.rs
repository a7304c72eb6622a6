//! ETags and conditional requests (RFC 9110 §8.8.3, §13.1). A task's ETag names its id and its
//! `updated_at`, which moves on every change, so it changes exactly when the task does.

use crate::domain::{Task, TaskId};
use http::{HeaderMap, HeaderValue, header};

/// The strong ETag of a task: `"<id>-<updated_at in µs>"`.
pub fn etag(task: &Task) -> HeaderValue {
    let value = format!("\"{}-{}\"", task.id.get(), task.updated_at.as_micros());
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The `updated_at` an ETag of ours names for task `id`; `None` for weak, foreign or
/// malformed tags, which can never match a precondition.
fn version_in(tag: &str, id: TaskId) -> Option<i64> {
    let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
    let (tag_id, version) = inner.split_once('-')?;
    (tag_id.parse::<i64>().ok()? == id.get()).then(|| version.parse().ok())?
}

/// What `If-Match` asks of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*` (any current version: the write then answers as if unconditional,
    /// which for a missing task is the same 404 a foreign task gets).
    Any,
    /// The task must currently be at one of these versions (possibly none: nothing matches).
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn from_headers(headers: &HeaderMap, id: TaskId) -> Self {
        let mut versions = Vec::new();
        let mut present = false;
        for value in headers.get_all(header::IF_MATCH) {
            present = true;
            let Ok(value) = value.to_str() else { continue };
            for tag in value.split(',').map(str::trim) {
                if tag == "*" {
                    return Self::Any;
                }
                // If-Match uses the strong comparison: weak tags (`W/"…"`) never match.
                versions.extend(version_in(tag, id));
            }
        }
        if present {
            Self::Versions(versions)
        } else {
            Self::Any
        }
    }

    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            Self::Any => None,
            Self::Versions(versions) => Some(versions),
        }
    }
}

/// Whether `If-None-Match` names the task's current ETag (weak comparison) or is `*`: a GET
/// then answers 304.
pub fn if_none_match_hits(headers: &HeaderMap, task: &Task) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            value.split(',').map(str::trim).any(|tag| {
                tag == "*"
                    || version_in(tag.strip_prefix("W/").unwrap_or(tag), task.id)
                        == Some(task.updated_at.as_micros())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn task() -> Task {
        Task {
            id: TaskId::from_db(7),
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            created_at: Timestamp::from_micros(1),
            updated_at: Timestamp::from_micros(1234),
        }
    }

    fn headers(name: header::HeaderName, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn etag_names_id_and_version() {
        assert_eq!(etag(&task()), "\"7-1234\"");
    }

    #[test]
    fn if_match() {
        let id = TaskId::from_db(7);
        let parse = |values: &[&str]| IfMatch::from_headers(&headers(header::IF_MATCH, values), id);
        assert_eq!(parse(&[]), IfMatch::Any);
        assert_eq!(parse(&["*"]), IfMatch::Any);
        assert_eq!(parse(&["\"7-1234\""]), IfMatch::Versions(vec![1234]));
        assert_eq!(
            parse(&["\"7-1\", \"7-2\"", "\"7-3\""]),
            IfMatch::Versions(vec![1, 2, 3])
        );
        // Another task's tag, a weak tag or garbage can never match.
        for never in [
            "\"8-1234\"",
            "W/\"7-1234\"",
            "7-1234",
            "\"\"",
            "garbage",
            "\"7-x\"",
        ] {
            assert_eq!(parse(&[never]), IfMatch::Versions(vec![]), "{never}");
        }
    }

    #[test]
    fn if_none_match() {
        let hits =
            |values: &[&str]| if_none_match_hits(&headers(header::IF_NONE_MATCH, values), &task());
        assert!(hits(&["\"7-1234\""]));
        assert!(hits(&["W/\"7-1234\""]), "weak comparison");
        assert!(hits(&["\"1-1\", \"7-1234\""]));
        assert!(hits(&["*"]));
        assert!(!hits(&[]));
        assert!(!hits(&["\"7-1233\""]));
    }
}
