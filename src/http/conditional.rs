//! ETags and conditional requests (RFC 9110 §8.8.3, §13.1). A task's ETag names its id and its
//! `updated_at`, which moves on every change, so it changes exactly when the task does.

use crate::domain::{Task, TaskId};
use http::{HeaderMap, HeaderValue};

/// The strong ETag of a task: `"<id>-<updated_at in µs>"`.
pub fn etag(task: &Task) -> HeaderValue {
    let value = format!("\"{}-{}\"", task.id.get(), task.updated_at.as_micros());
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("\"\""))
}

/// One entity-tag of a precondition list (RFC 9110 §8.8.3): `W/` or not, and its opaque part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// A precondition header's value, parsed: `*`, or a non-empty list of entity-tags.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagList<'a> {
    Any,
    Tags(Vec<EntityTag<'a>>),
}

/// Why a precondition header was refused (a 422 naming the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedPrecondition(pub &'static str);

/// Parses every field line of `name` into one list. RFC 9110 §13.1.1 defines `If-Match` (and
/// §13.1.2 `If-None-Match`) as `*` or `#entity-tag`; a value that is neither (garbage, an
/// unquoted tag, `*` with anything else) is malformed, and so is one that names nothing at
/// all (empty, or only commas): it cannot express the condition a client meant, and guessing
/// ("no condition") could overwrite a change the client never saw. `None` when absent.
///
/// The grammar is exactly the `pattern` the OpenAPI document gives these headers:
/// `^[ \t,]*(\*|ETAG([ \t]*,[ \t,]*ETAG)*)[ \t,]*$` with `ETAG = (W/)?"[\x21\x23-\x7E]*"`
/// (empty list elements are allowed, RFC 9110 §5.6.1).
fn tag_list<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<TagList<'a>>, MalformedPrecondition> {
    let malformed = MalformedPrecondition(name);
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let (mut stars, mut tags) = (0, Vec::new());
    for line in lines {
        let text = line.to_str().map_err(|_| malformed)?;
        let bytes = text.as_bytes();
        let mut i = 0;
        // Whether the previous element has been closed by a comma (or none came yet).
        let mut separated = true;
        while i < bytes.len() {
            match bytes[i] {
                b' ' | b'\t' => i += 1,
                b',' => {
                    separated = true;
                    i += 1;
                }
                _ if !separated => return Err(malformed),
                b'*' => {
                    stars += 1;
                    separated = false;
                    i += 1;
                }
                _ => {
                    let weak = text[i..].starts_with("W/");
                    let open = if weak { i + 2 } else { i };
                    if bytes.get(open) != Some(&b'"') {
                        return Err(malformed);
                    }
                    let close = bytes[open + 1..]
                        .iter()
                        .position(|b| *b == b'"')
                        .map(|n| open + 1 + n)
                        .ok_or(malformed)?;
                    let opaque = &text[open + 1..close];
                    if !opaque
                        .bytes()
                        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
                    {
                        return Err(malformed);
                    }
                    tags.push(EntityTag { weak, opaque });
                    separated = false;
                    i = close + 1;
                }
            }
        }
    }
    match (stars, tags.is_empty()) {
        (1, true) => Ok(Some(TagList::Any)),
        (0, false) => Ok(Some(TagList::Tags(tags))),
        // Nothing at all, `*` more than once, or `*` with tags.
        _ => Err(malformed),
    }
}

/// The `updated_at` an opaque tag of ours names for task `id`; `None` for a tag this API did
/// not issue for it, which can never match.
fn version_in(opaque: &str, id: TaskId) -> Option<i64> {
    let (tag_id, version) = opaque.split_once('-')?;
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
    pub fn from_headers(headers: &HeaderMap, id: TaskId) -> Result<Self, MalformedPrecondition> {
        Ok(match tag_list(headers, "if-match")? {
            None | Some(TagList::Any) => Self::Any,
            // If-Match uses the strong comparison: weak tags never match (RFC 9110 §13.1.1).
            Some(TagList::Tags(tags)) => Self::Versions(
                tags.iter()
                    .filter(|tag| !tag.weak)
                    .filter_map(|tag| version_in(tag.opaque, id))
                    .collect(),
            ),
        })
    }

    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            Self::Any => None,
            Self::Versions(versions) => Some(versions),
        }
    }
}

/// Whether `If-None-Match` names the task's current ETag (weak comparison, RFC 9110 §13.1.2)
/// or is `*`: a GET then answers 304.
pub fn if_none_match_hits(headers: &HeaderMap, task: &Task) -> Result<bool, MalformedPrecondition> {
    Ok(match tag_list(headers, "if-none-match")? {
        None => false,
        Some(TagList::Any) => true,
        Some(TagList::Tags(tags)) => tags
            .iter()
            .any(|tag| version_in(tag.opaque, task.id) == Some(task.updated_at.as_micros())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use http::header;

    fn task() -> Task {
        Task {
            id: TaskId::from_db(7),
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            priority: crate::domain::TaskPriority::None,
            tags: Default::default(),
            due_at: None,
            remind_at: None,
            recurrence: None,
            time_zone: Default::default(),
            next_task_id: None,
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
        assert_eq!(parse(&[]), Ok(IfMatch::Any));
        assert_eq!(parse(&["*"]), Ok(IfMatch::Any));
        assert_eq!(parse(&["\"7-1234\""]), Ok(IfMatch::Versions(vec![1234])));
        assert_eq!(
            parse(&["\"7-1\", \"7-2\"", "\"7-3\""]),
            Ok(IfMatch::Versions(vec![1, 2, 3]))
        );
        assert_eq!(
            parse(&[", \"7-1\",,"]),
            Ok(IfMatch::Versions(vec![1])),
            "empty list elements are ignored"
        );
        // Well-formed tags this API did not issue for this task, or weak ones, never match.
        for never in [
            "\"8-1234\"",
            "W/\"7-1234\"",
            "\"\"",
            "\"garbage\"",
            "\"7-x\"",
        ] {
            assert_eq!(parse(&[never]), Ok(IfMatch::Versions(vec![])), "{never}");
        }
        // Not `*` nor a list of entity-tags: refused, never read as "no condition".
        assert_eq!(
            parse(&["\"7-1,2\", \"7-3\""]),
            Ok(IfMatch::Versions(vec![3])),
            "a comma inside a tag belongs to the tag"
        );
        for malformed in [
            "",
            " ",
            ",",
            "7-1234",
            "garbage",
            "\"7-1234",
            "*, \"7-1\"",
            "*,*",
            "\"a b\"",
            "\"a\"\"b\"",
            "\"a\" \"b\"",
            "w/\"a\"",
            "\"caf\u{e9}\"",
        ] {
            assert_eq!(
                parse(&[malformed]),
                Err(MalformedPrecondition("if-match")),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn if_none_match() {
        let hits =
            |values: &[&str]| if_none_match_hits(&headers(header::IF_NONE_MATCH, values), &task());
        assert_eq!(hits(&["\"7-1234\""]), Ok(true));
        assert_eq!(hits(&["W/\"7-1234\""]), Ok(true), "weak comparison");
        assert_eq!(hits(&["\"1-1\", \"7-1234\""]), Ok(true));
        assert_eq!(hits(&["*"]), Ok(true));
        assert_eq!(hits(&[]), Ok(false));
        assert_eq!(hits(&["\"7-1233\""]), Ok(false));
        assert_eq!(hits(&[""]), Err(MalformedPrecondition("if-none-match")));
        assert_eq!(
            hits(&["7-1234"]),
            Err(MalformedPrecondition("if-none-match"))
        );
    }
}
