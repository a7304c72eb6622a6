//! Request bodies: strict JSON objects turned into domain values, with every field problem
//! reported at once.

use super::invalid::{FieldError, Invalid};
use super::schedule::{Frequency, Interval, Recurrence, Series, TaskTimeZone, parse_instant};
use super::tags::TagSet;
use super::task::{Task, TaskDescription, TaskPriority, TaskTitle};
use crate::time::Timestamp;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The body of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub completed: bool,
    pub priority: TaskPriority,
    pub tags: TagSet,
    pub schedule: Schedule,
}

impl NewTask {
    /// A task with this title and every other field at its default.
    pub fn new(title: TaskTitle) -> Self {
        Self {
            title,
            description: None,
            completed: false,
            priority: TaskPriority::None,
            tags: TagSet::default(),
            schedule: Schedule::default(),
        }
    }
}

/// When a task is due and how it repeats, checked together: a reminder needs a due date and
/// comes at or before it; a recurrence needs a due date; `interval` and `until` need a
/// recurrence, and `until` is not before the due date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    pub due_at: Option<Timestamp>,
    pub remind_at: Option<Timestamp>,
    pub recurrence: Option<Recurrence>,
    pub time_zone: TaskTimeZone,
}

/// A schedule's fields before they are checked together.
struct ScheduleParts {
    due_at: Option<Timestamp>,
    remind_at: Option<Timestamp>,
    frequency: Option<Frequency>,
    interval: Option<Interval>,
    until: Option<Timestamp>,
    time_zone: TaskTimeZone,
}

impl ScheduleParts {
    /// `series`: the position to keep (an update that leaves the rule alone), else a series
    /// starts at the due date.
    fn check(self, series: Option<Series>, errors: &mut Vec<FieldError>) -> Option<Schedule> {
        let before = errors.len();
        if self.remind_at.is_some() {
            match self.due_at {
                None => errors.push(FieldError::new("remind_at", "needs a due_at")),
                Some(due) if self.remind_at > Some(due) => {
                    errors.push(FieldError::new("remind_at", "must not be after due_at"))
                }
                Some(_) => {}
            }
        }
        if self.frequency.is_some() && self.due_at.is_none() {
            errors.push(FieldError::new("recurrence", "needs a due_at"));
        }
        if self.frequency.is_none() {
            if self.interval.is_some() {
                errors.push(FieldError::new("interval", "needs a recurrence"));
            }
            if self.until.is_some() {
                errors.push(FieldError::new("until", "needs a recurrence"));
            }
        }
        if let (Some(until), Some(due)) = (self.until, self.due_at)
            && until < due
        {
            errors.push(FieldError::new("until", "must not be before due_at"));
        }
        if errors.len() > before {
            return None;
        }
        let recurrence = match (self.frequency, self.due_at) {
            (Some(frequency), Some(due)) => Some(Recurrence {
                frequency,
                interval: self.interval.unwrap_or(Interval::ONE),
                until: self.until,
                series: series.unwrap_or_else(|| Series::starting_at(due, &self.time_zone)),
            }),
            _ => None,
        };
        Some(Schedule {
            due_at: self.due_at,
            remind_at: self.remind_at,
            recurrence,
            time_zone: self.time_zone,
        })
    }
}

/// The body of an update: only the fields present change. `description: null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub completed: Option<bool>,
    pub priority: Option<TaskPriority>,
    pub tags: Option<TagSet>,
    pub schedule: SchedulePatch,
}

/// The schedule fields an update sets; `Some(None)` is an explicit `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulePatch {
    pub due_at: Option<Option<Timestamp>>,
    pub remind_at: Option<Option<Timestamp>>,
    pub recurrence: Option<Option<Frequency>>,
    pub interval: Option<Option<Interval>>,
    pub until: Option<Option<Timestamp>>,
    pub time_zone: Option<TaskTimeZone>,
}

impl SchedulePatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The task's schedule with this patch applied, checked as a whole. `recurrence: null`
    /// also clears `interval` and `until`. The series carries on unless the due date, the zone
    /// or the rule's frequency or interval changed.
    pub fn apply(&self, current: &Task) -> Result<Schedule, Invalid> {
        let rule = current.recurrence.as_ref();
        let frequency = self.recurrence.unwrap_or(rule.map(|r| r.frequency));
        let cleared = self.recurrence == Some(None);
        let keep = |patch: Option<Option<Interval>>, now: Option<Interval>| match patch {
            Some(value) => value,
            None if cleared => None,
            None => now,
        };
        let interval = keep(self.interval, rule.map(|r| r.interval));
        let until = match self.until {
            Some(value) => value,
            None if cleared => None,
            None => rule.and_then(|r| r.until),
        };
        let parts = ScheduleParts {
            due_at: self.due_at.unwrap_or(current.due_at),
            remind_at: self.remind_at.unwrap_or(current.remind_at),
            frequency,
            interval,
            until,
            time_zone: self
                .time_zone
                .clone()
                .unwrap_or_else(|| current.time_zone.clone()),
        };
        let series = rule
            .filter(|r| {
                parts.due_at == current.due_at
                    && parts.time_zone == current.time_zone
                    && parts.frequency == Some(r.frequency)
                    && parts.interval.unwrap_or(Interval::ONE) == r.interval
            })
            .map(|r| r.series.clone());
        let mut errors = Vec::new();
        parts.check(series, &mut errors).ok_or(Invalid(errors))
    }
}

impl NewTask {
    pub fn from_json(body: &[u8]) -> Result<Self, Invalid> {
        let fields = Fields::parse(body)?;
        let mut errors = Vec::new();
        let title = match fields.title {
            Field::Absent => {
                errors.push(FieldError::new("title", "is required"));
                None
            }
            present => present_title(present, &mut errors),
        };
        let description = fields.description.into_description(&mut errors).flatten();
        let completed = fields.completed.into_bool(&mut errors).unwrap_or(false);
        let priority = fields
            .priority
            .into_priority(&mut errors)
            .unwrap_or_default();
        let tags = fields.tags.into_tags(&mut errors).unwrap_or_default();
        let parts = ScheduleParts {
            due_at: fields.due_at.into_instant("due_at", &mut errors).flatten(),
            remind_at: fields
                .remind_at
                .into_instant("remind_at", &mut errors)
                .flatten(),
            frequency: fields.recurrence.into_frequency(&mut errors).flatten(),
            interval: fields.interval.into_interval(&mut errors).flatten(),
            until: fields.until.into_instant("until", &mut errors).flatten(),
            time_zone: fields
                .time_zone
                .into_time_zone(&mut errors)
                .unwrap_or_default(),
        };
        let schedule = if errors.is_empty() {
            parts.check(None, &mut errors)
        } else {
            None
        };
        match (title, schedule) {
            (Some(title), Some(schedule)) if errors.is_empty() => Ok(Self {
                title,
                description,
                completed,
                priority,
                tags,
                schedule,
            }),
            _ => Err(Invalid(errors)),
        }
    }
}

impl TaskPatch {
    pub fn from_json(body: &[u8]) -> Result<Self, Invalid> {
        let fields = Fields::parse(body)?;
        let mut errors = Vec::new();
        let title = match fields.title {
            Field::Absent => None,
            present => present_title(present, &mut errors),
        };
        let description = fields.description.into_description(&mut errors);
        let completed = fields.completed.into_bool(&mut errors);
        let priority = fields.priority.into_priority(&mut errors);
        let tags = fields.tags.into_tags(&mut errors);
        let schedule = SchedulePatch {
            due_at: fields.due_at.into_instant("due_at", &mut errors),
            remind_at: fields.remind_at.into_instant("remind_at", &mut errors),
            recurrence: fields.recurrence.into_frequency(&mut errors),
            interval: fields.interval.into_interval(&mut errors),
            until: fields.until.into_instant("until", &mut errors),
            time_zone: fields.time_zone.into_time_zone(&mut errors),
        };
        if errors.is_empty() {
            Ok(Self {
                title,
                description,
                completed,
                priority,
                tags,
                schedule,
            })
        } else {
            Err(Invalid(errors))
        }
    }

    /// Whether the patch changes anything but `completed` (a recurring completion applies those
    /// changes before it completes).
    pub fn changes_more_than_completion(&self) -> bool {
        Self {
            completed: None,
            ..self.clone()
        } != Self::default()
    }
}

fn present_title(field: Field, errors: &mut Vec<FieldError>) -> Option<TaskTitle> {
    match field {
        Field::Present(Value::String(raw)) => match TaskTitle::parse(&raw) {
            Ok(title) => Some(title),
            Err(message) => {
                errors.push(FieldError::new("title", message));
                None
            }
        },
        _ => {
            errors.push(FieldError::new("title", "must be a string"));
            None
        }
    }
}

/// The fields we read, each absent or present with whatever JSON value was sent.
struct Fields {
    title: Field,
    description: Field,
    completed: Field,
    priority: Field,
    tags: Field,
    due_at: Field,
    remind_at: Field,
    recurrence: Field,
    interval: Field,
    until: Field,
    time_zone: Field,
}

enum Field {
    Absent,
    Present(Value),
}

impl Field {
    /// `None` when absent; `Some(None)` for `null`.
    fn into_description(self, errors: &mut Vec<FieldError>) -> Option<Option<TaskDescription>> {
        match self {
            Self::Absent => None,
            Self::Present(Value::Null) => Some(None),
            Self::Present(Value::String(raw)) => match TaskDescription::parse(&raw) {
                Ok(description) => Some(Some(description)),
                Err(message) => {
                    errors.push(FieldError::new("description", message));
                    None
                }
            },
            Self::Present(_) => {
                errors.push(FieldError::new("description", "must be a string or null"));
                None
            }
        }
    }

    fn into_priority(self, errors: &mut Vec<FieldError>) -> Option<TaskPriority> {
        match self {
            Self::Absent => None,
            Self::Present(Value::String(raw)) => match TaskPriority::parse(&raw) {
                Ok(priority) => Some(priority),
                Err(message) => {
                    errors.push(FieldError::new("priority", message));
                    None
                }
            },
            Self::Present(_) => {
                errors.push(FieldError::new("priority", TaskPriority::EXPECTED));
                None
            }
        }
    }

    /// An array of tag names; `null` is refused (an empty array clears).
    fn into_tags(self, errors: &mut Vec<FieldError>) -> Option<TagSet> {
        const EXPECTED: &str = "must be an array of strings";
        match self {
            Self::Absent => None,
            Self::Present(Value::Array(items)) => {
                let mut names = Vec::with_capacity(items.len());
                for item in &items {
                    match item {
                        Value::String(name) => names.push(name.as_str()),
                        _ => {
                            errors.push(FieldError::new("tags", EXPECTED));
                            return None;
                        }
                    }
                }
                if names.len() > crate::domain::tags::MAX_TAGS {
                    errors.push(FieldError::new("tags", "must hold at most 20 tags"));
                    return None;
                }
                match TagSet::from_names(names) {
                    Ok(tags) => Some(tags),
                    Err(message) => {
                        errors.push(FieldError::new("tags", message));
                        None
                    }
                }
            }
            Self::Present(_) => {
                errors.push(FieldError::new("tags", EXPECTED));
                None
            }
        }
    }

    /// `None` when absent; `Some(None)` for `null`.
    fn into_instant(
        self,
        name: &'static str,
        errors: &mut Vec<FieldError>,
    ) -> Option<Option<Timestamp>> {
        self.nullable(name, errors, |value| match value {
            Value::String(raw) => parse_instant(&raw),
            _ => Err("must be an RFC 3339 date-time string or null"),
        })
    }

    fn into_frequency(self, errors: &mut Vec<FieldError>) -> Option<Option<Frequency>> {
        self.nullable("recurrence", errors, |value| match value {
            Value::String(raw) => Frequency::parse(&raw),
            _ => Err(Frequency::EXPECTED),
        })
    }

    fn into_interval(self, errors: &mut Vec<FieldError>) -> Option<Option<Interval>> {
        self.nullable("interval", errors, |value| match json_integer(&value) {
            Some(n) => Interval::new(n),
            None => Err(Interval::EXPECTED),
        })
    }

    fn into_time_zone(self, errors: &mut Vec<FieldError>) -> Option<TaskTimeZone> {
        match self {
            Self::Absent => None,
            Self::Present(Value::String(raw)) => match TaskTimeZone::parse(&raw) {
                Ok(zone) => Some(zone),
                Err(message) => {
                    errors.push(FieldError::new("time_zone", message));
                    None
                }
            },
            Self::Present(_) => {
                errors.push(FieldError::new("time_zone", TaskTimeZone::EXPECTED));
                None
            }
        }
    }

    fn nullable<T>(
        self,
        name: &'static str,
        errors: &mut Vec<FieldError>,
        parse: impl FnOnce(Value) -> Result<T, &'static str>,
    ) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Present(Value::Null) => Some(None),
            Self::Present(value) => match parse(value) {
                Ok(parsed) => Some(Some(parsed)),
                Err(message) => {
                    errors.push(FieldError::new(name, message));
                    None
                }
            },
        }
    }

    fn into_bool(self, errors: &mut Vec<FieldError>) -> Option<bool> {
        match self {
            Self::Absent => None,
            Self::Present(Value::Bool(value)) => Some(value),
            Self::Present(_) => {
                errors.push(FieldError::new("completed", "must be a boolean"));
                None
            }
        }
    }
}

/// A JSON number that JSON Schema counts as an `integer` (2020-12 §6.1.1: a number with a zero
/// fractional part), in `i64`'s range: `7`, and also `7.0` or `7e0`, which the document's
/// `"type": "integer"` admits as well. `7.5`, strings and the rest are `None`.
fn json_integer(value: &Value) -> Option<i64> {
    // −2^63 ≤ n < 2^63: exactly i64's range for a whole f64.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (-TWO_TO_63..TWO_TO_63).contains(f))
            .map(|f| f as i64)
    })
}

/// [`json_integer`] read from a JSON number's text, exactly: serde_json's float parsing can be
/// a unit in the last place off for long numbers (`4258846359314586.0` reads as `…585.5`), so a
/// large id spelled as a float is read from its digits. `None` for a number that is not a whole
/// one or is outside `i64`, and for text that is not a JSON number.
pub(crate) fn json_integer_text(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    // The value is `digits` × 10^`scale`.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let scale = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let integer = if scale >= 0 {
        if digits.is_empty() {
            return Some(0);
        }
        // i64 has at most 19 digits.
        if i64::try_from(digits.len()).ok()? + scale > 19 {
            return None;
        }
        format!("{digits}{}", "0".repeat(usize::try_from(scale).ok()?))
    } else {
        let keep = digits.len().saturating_sub(usize::try_from(-scale).ok()?);
        if !digits[keep..].bytes().all(|b| b == b'0') {
            return None;
        }
        if keep == 0 {
            return Some(0);
        }
        digits[..keep].to_owned()
    };
    let magnitude: i128 = integer.parse().ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

impl Fields {
    fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let object: StrictObject = serde_json::from_slice(body).map_err(|error| {
            let message = if error.is_data() {
                // Our visitor's own messages: not an object, or a duplicated key.
                error.to_string()
            } else {
                format!("malformed JSON ({error})")
            };
            Invalid::field("body", message)
        })?;
        let mut fields = Fields {
            title: Field::Absent,
            description: Field::Absent,
            completed: Field::Absent,
            priority: Field::Absent,
            tags: Field::Absent,
            due_at: Field::Absent,
            remind_at: Field::Absent,
            recurrence: Field::Absent,
            interval: Field::Absent,
            until: Field::Absent,
            time_zone: Field::Absent,
        };
        for (key, value) in object.0 {
            let slot = match key.as_str() {
                "title" => &mut fields.title,
                "description" => &mut fields.description,
                "completed" => &mut fields.completed,
                "priority" => &mut fields.priority,
                "tags" => &mut fields.tags,
                "due_at" => &mut fields.due_at,
                "remind_at" => &mut fields.remind_at,
                "recurrence" => &mut fields.recurrence,
                "interval" => &mut fields.interval,
                "until" => &mut fields.until,
                "time_zone" => &mut fields.time_zone,
                // Unknown fields are ignored, as clients generated from older schemas send them.
                _ => continue,
            };
            *slot = Field::Present(value);
        }
        Ok(fields)
    }
}

/// A top-level JSON object whose keys are unique. serde_json would silently keep the last of
/// two `"title"` keys; a body that says two things is refused instead.
struct StrictObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(seen, _)| *seen == key) {
                        return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
                    }
                    let value = map.next_value::<Value>()?;
                    entries.push((key, value));
                }
                Ok(StrictObject(entries))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests;
