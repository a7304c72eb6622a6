//! Request bodies: strict JSON objects turned into domain values, with every field problem
//! reported at once.

use super::invalid::{FieldError, Invalid};
use super::task::{TaskDescription, TaskPriority, TaskTitle};
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
}

/// The body of an update: only the fields present change. `description: null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub completed: Option<bool>,
    pub priority: Option<TaskPriority>,
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
        match title {
            Some(title) if errors.is_empty() => Ok(Self {
                title,
                description,
                completed,
                priority,
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
        if errors.is_empty() {
            Ok(Self {
                title,
                description,
                completed,
                priority,
            })
        } else {
            Err(Invalid(errors))
        }
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
        };
        for (key, value) in object.0 {
            let slot = match key.as_str() {
                "title" => &mut fields.title,
                "description" => &mut fields.description,
                "completed" => &mut fields.completed,
                "priority" => &mut fields.priority,
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
mod tests {
    use super::*;

    fn field_errors(Invalid(errors): Invalid) -> Vec<(String, String)> {
        errors.into_iter().map(|e| (e.field, e.message)).collect()
    }

    fn fields_of(body: &str) -> Vec<String> {
        field_errors(NewTask::from_json(body.as_bytes()).unwrap_err())
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn a_minimal_create() {
        let task = NewTask::from_json(br#"{"title":"  Write tests  "}"#).unwrap();
        assert_eq!(task.title.as_str(), "Write tests");
        assert_eq!(task.description, None);
        assert!(!task.completed);
    }

    #[test]
    fn a_full_create() {
        let task = NewTask::from_json(
            br#"{"title":"t","description":"d","completed":true,"extra":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(task.description.unwrap().as_str(), "d");
        assert!(task.completed);
    }

    #[test]
    fn priority_is_optional_strict_and_patchable() {
        let task = NewTask::from_json(br#"{"title":"t"}"#).unwrap();
        assert_eq!(task.priority, TaskPriority::None);
        let task = NewTask::from_json(br#"{"title":"t","priority":"high"}"#).unwrap();
        assert_eq!(task.priority, TaskPriority::High);
        for bad in [r#""HIGH""#, "null", "3", r#""urgent""#, "[]"] {
            let body = format!(r#"{{"title":"t","priority":{bad}}}"#);
            assert_eq!(fields_of(&body), ["priority"], "{body}");
        }
        let patch = TaskPatch::from_json(br#"{"priority":"low"}"#).unwrap();
        assert_eq!(patch.priority, Some(TaskPriority::Low));
        assert_eq!(TaskPatch::from_json(b"{}").unwrap().priority, None);
    }

    #[test]
    fn create_requires_a_title() {
        assert_eq!(fields_of("{}"), ["title"]);
        assert_eq!(fields_of(r#"{"title":null}"#), ["title"]);
    }

    #[test]
    fn types_are_strict() {
        assert_eq!(fields_of(r#"{"title":5}"#), ["title"]);
        assert_eq!(
            fields_of(r#"{"title":"t","completed":"yes"}"#),
            ["completed"]
        );
        assert_eq!(fields_of(r#"{"title":"t","completed":1}"#), ["completed"]);
        assert_eq!(
            fields_of(r#"{"title":"t","description":false}"#),
            ["description"]
        );
        assert_eq!(fields_of(r#"{"title":["t"]}"#), ["title"]);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        assert_eq!(
            fields_of(r#"{"title":"","description":1,"completed":"no"}"#),
            ["title", "description", "completed"]
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_rejected() {
        for body in [
            "",
            "null",
            "[]",
            "\"title\"",
            "42",
            "{",
            "{\"title\":\"t\",}",
            "\u{0}",
        ] {
            assert_eq!(fields_of(body), ["body"], "{body:?}");
        }
        assert_eq!(
            field_errors(NewTask::from_json(&[0xff, 0xfe]).unwrap_err())[0].0,
            "body"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let errors = field_errors(NewTask::from_json(br#"{"title":"a","title":"b"}"#).unwrap_err());
        assert_eq!(errors[0].0, "body");
        assert!(errors[0].1.contains("duplicate key"), "{errors:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = format!(r#"{{"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(fields_of(&body), ["body"]);
    }

    #[test]
    fn numbers_beyond_i64_are_just_wrong_types() {
        assert_eq!(fields_of(r#"{"title":"t","completed":1e400}"#), ["body"]);
        assert_eq!(
            fields_of(r#"{"title":"t","completed":99999999999999999999999}"#),
            ["completed"]
        );
    }

    #[test]
    fn a_patch_may_be_empty() {
        assert_eq!(TaskPatch::from_json(b"{}").unwrap(), TaskPatch::default());
    }

    #[test]
    fn a_patch_distinguishes_null_from_absent_description() {
        let cleared = TaskPatch::from_json(br#"{"description":null}"#).unwrap();
        assert_eq!(cleared.description, Some(None));
        let untouched = TaskPatch::from_json(br#"{"completed":true}"#).unwrap();
        assert_eq!(untouched.description, None);
        assert_eq!(untouched.completed, Some(true));
    }

    #[test]
    fn a_patch_validates_what_it_sets() {
        let errors = field_errors(TaskPatch::from_json(br#"{"title":"   "}"#).unwrap_err());
        assert_eq!(
            errors,
            [("title".to_owned(), "must not be empty".to_owned())]
        );
        let errors = field_errors(TaskPatch::from_json(br#"{"title":null}"#).unwrap_err());
        assert_eq!(errors[0].0, "title");
    }
}
