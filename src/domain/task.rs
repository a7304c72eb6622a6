//! A task and the values it is made of.

use super::schedule::{Recurrence, TaskTimeZone};
use super::tags::TagSet;
use crate::time::Timestamp;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A task id as it appears in a URL: a positive integer that fits SQLite's 64-bit rowid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskId(i64);

impl TaskId {
    /// Only ASCII digits are accepted (no sign, no spaces); `None` for anything else, including
    /// zero and values past `i64::MAX`. Such ids cannot exist, so the caller answers 404.
    pub fn parse(segment: &str) -> Option<Self> {
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        segment.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
    }

    pub const fn from_db(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A title: 1 to 200 characters (Unicode scalar values) as sent, not only ASCII whitespace,
/// no NUL; stored with surrounding ASCII whitespace trimmed. The rules are stated on the raw
/// string and ASCII whitespace so that the OpenAPI schema can say exactly the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.contains('\0') {
            return Err("must not contain NUL characters");
        }
        if raw.chars().count() > MAX_TITLE_CHARS {
            return Err("must be at most 200 characters");
        }
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Err("must not be empty");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: any string of at most 1000 characters, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.contains('\0') {
            return Err("must not contain NUL characters");
        }
        if raw.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err("must be at most 1000 characters");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How important a task is. Stored as its rank (0–3), so that `sort=priority` is an index
/// order; shown and accepted as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskPriority {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl TaskPriority {
    pub const ALL: [Self; 4] = [Self::None, Self::Low, Self::Medium, Self::High];
    pub const EXPECTED: &'static str = "must be one of none, low, medium, high";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or(Self::EXPECTED)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub const fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.rank() == rank)
    }
}

/// A stored task, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: TaskPriority,
    pub tags: TagSet,
    pub due_at: Option<Timestamp>,
    pub remind_at: Option<Timestamp>,
    pub recurrence: Option<Recurrence>,
    pub time_zone: TaskTimeZone,
    /// The occurrence that completing this recurring task created.
    pub next_task_id: Option<TaskId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Task {
    /// Whether completing it now creates the next occurrence: it repeats, is not completed,
    /// and has not made one yet (un-completing and completing again makes none).
    pub fn completion_recurs(&self) -> bool {
        !self.completed && self.recurrence.is_some() && self.next_task_id.is_none()
    }
}

/// A task's tag names as the API shows them.
struct TagNames<'a>(&'a TagSet);

impl Serialize for TagNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_names(serializer)
    }
}

/// The recurrence rule shows as three flat fields (`recurrence`, `interval`, `until`), as a
/// client sends them; its series position stays internal.
impl Serialize for Task {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut task = serializer.serialize_struct("Task", 16)?;
        task.serialize_field("id", &self.id)?;
        task.serialize_field("user_id", &self.user_id)?;
        task.serialize_field("title", &self.title)?;
        task.serialize_field("description", &self.description)?;
        task.serialize_field("completed", &self.completed)?;
        task.serialize_field("priority", &self.priority)?;
        task.serialize_field("tags", &TagNames(&self.tags))?;
        task.serialize_field("due_at", &self.due_at)?;
        task.serialize_field("remind_at", &self.remind_at)?;
        let rule = self.recurrence.as_ref();
        task.serialize_field("recurrence", &rule.map(|r| r.frequency))?;
        task.serialize_field("interval", &rule.map(|r| r.interval))?;
        task.serialize_field("until", &rule.and_then(|r| r.until))?;
        task.serialize_field("time_zone", self.time_zone.as_str())?;
        task.serialize_field("next_task_id", &self.next_task_id)?;
        task.serialize_field("created_at", &self.created_at)?;
        task.serialize_field("updated_at", &self.updated_at)?;
        task.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_positive_decimal_integers() {
        assert_eq!(TaskId::parse("1"), Some(TaskId(1)));
        assert_eq!(TaskId::parse("9223372036854775807"), Some(TaskId(i64::MAX)));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            " 1",
            "1.0",
            "1e3",
            "abc",
            "9223372036854775808",
            "٣",
        ] {
            assert_eq!(TaskId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn priorities_are_exactly_their_names_and_ranks() {
        for (rank, priority) in TaskPriority::ALL.into_iter().enumerate() {
            assert_eq!(TaskPriority::parse(priority.as_str()), Ok(priority));
            assert_eq!(TaskPriority::from_rank(rank as i64), Some(priority));
            assert_eq!(priority.rank(), rank as i64);
        }
        for bad in ["", "High", " high", "urgent", "0", "none "] {
            assert!(TaskPriority::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(TaskPriority::from_rank(4), None);
        assert_eq!(TaskPriority::default(), TaskPriority::None);
        assert_eq!(
            serde_json::to_string(&TaskPriority::Medium).unwrap(),
            "\"medium\""
        );
    }

    #[test]
    fn titles_are_trimmed() {
        assert_eq!(
            TaskTitle::parse("  Buy milk \n").unwrap().as_str(),
            "Buy milk"
        );
    }

    #[test]
    fn only_ascii_whitespace_is_trimmed() {
        assert_eq!(
            TaskTitle::parse("\u{3000}x\u{a0}").unwrap().as_str(),
            "\u{3000}x\u{a0}"
        );
        assert!(TaskTitle::parse("\u{3000}").is_ok());
    }

    #[test]
    fn nul_is_rejected() {
        assert!(TaskTitle::parse("a\0b").is_err());
        assert!(TaskDescription::parse("a\0b").is_err());
    }

    #[test]
    fn blank_titles_are_rejected() {
        assert!(TaskTitle::parse("").is_err());
        assert!(TaskTitle::parse(" \t\n ").is_err());
    }

    #[test]
    fn title_length_counts_characters_not_bytes() {
        assert!(TaskTitle::parse(&"é".repeat(200)).is_ok());
        assert!(TaskTitle::parse(&"é".repeat(201)).is_err());
        assert!(TaskTitle::parse(&"🦀".repeat(200)).is_ok());
        // The limit applies to the title as sent.
        assert!(TaskTitle::parse(&format!(" {} ", "a".repeat(198))).is_ok());
        assert!(TaskTitle::parse(&format!(" {}", "a".repeat(200))).is_err());
    }

    #[test]
    fn description_length_is_limited() {
        assert!(TaskDescription::parse(&"x".repeat(1000)).is_ok());
        assert!(TaskDescription::parse(&"x".repeat(1001)).is_err());
        assert_eq!(
            TaskDescription::parse(" keep  spaces ").unwrap().as_str(),
            " keep  spaces "
        );
    }
}
