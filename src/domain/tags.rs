//! Tags: short labels a user puts on tasks, compared without regard to case.

use std::collections::BTreeMap;

pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;

/// A tag: 1 to 50 characters after trimming surrounding whitespace, no control characters
/// anywhere (so a tab or newline is refused, not trimmed: the OpenAPI pattern says the same).
/// Kept as typed; [`Tag::key`] is what compares (`Work` and `work` are one tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    name: String,
    key: String,
}

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > MAX_TAG_CHARS {
            return Err("must be at most 50 characters");
        }
        Ok(Self {
            key: fold(name),
            name: name.to_owned(),
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The comparison key: Unicode lowercase, so `ÉTÉ` and `été` are one tag.
fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// A task's tags: at most 20, no two alike, ordered by their keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagSet(BTreeMap<String, String>);

impl TagSet {
    /// The tags of a JSON array of at most 20 strings; the first spelling of a repeated tag
    /// wins.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut tags = BTreeMap::new();
        for (i, raw) in names.into_iter().enumerate() {
            if i == MAX_TAGS {
                return Err("must hold at most 20 tags".to_owned());
            }
            let tag = Tag::parse(raw).map_err(|message| format!("tag {i} {message}"))?;
            tags.entry(tag.key).or_insert(tag.name);
        }
        Ok(Self(tags))
    }

    /// The stored form: a JSON object from key to name, in key order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(stored: &str) -> Option<Self> {
        serde_json::from_str(stored).ok().map(Self)
    }

    /// The names, in key order: what the API shows.
    #[cfg(test)]
    pub fn names(&self) -> Vec<String> {
        self.0.values().cloned().collect()
    }

    /// The names as a JSON array, without copying them (every listed task is serialised).
    pub fn serialize_names<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.values())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_kept_as_typed_and_compared_without_case() {
        let tags = TagSet::from_names(["  Work ", "home", "WORK", "Été", "été"]).unwrap();
        assert_eq!(tags.names(), ["home", "Work", "Été"]);
        assert_eq!(
            Tag::parse("ÉTÉ").unwrap().key(),
            Tag::parse("été").unwrap().key()
        );
        assert_eq!(
            tags.to_json(),
            r#"{"home":"home","work":"Work","été":"Été"}"#
        );
        assert_eq!(TagSet::from_json(&tags.to_json()).unwrap(), tags);
    }

    #[test]
    fn tag_rules() {
        assert!(Tag::parse(&"é".repeat(50)).is_ok());
        assert!(Tag::parse(&format!("  {}  ", "a".repeat(50))).is_ok());
        for bad in [
            String::new(),
            "   ".to_owned(),
            "a".repeat(51),
            "a\u{0}b".to_owned(),
            "a\nb".to_owned(),
            "\ta".to_owned(),
        ] {
            assert!(Tag::parse(&bad).is_err(), "{bad:?}");
        }
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert!(TagSet::from_names(twenty.iter().map(String::as_str)).is_ok());
        let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(TagSet::from_names(twenty_one.iter().map(String::as_str)).is_err());
        // Repeats in another case are one tag.
        let repeated: Vec<String> = (0..20).map(|i| format!("T{}", i % 10)).collect();
        assert_eq!(
            TagSet::from_names(repeated.iter().map(String::as_str))
                .unwrap()
                .names()
                .len(),
            10
        );
    }
}
