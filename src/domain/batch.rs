//! `POST /tasks/batch`: up to 100 operations, parsed and checked as a whole before any runs.
//!
//! The body is `{"operations": [{"op": "create", "task": {…}}, {"op": "update", "id": 7,
//! "patch": {…}, "if_match": "\"…\""}, {"op": "complete", "id": 7}, {"op": "delete", "id": 7}]}`.
//! `task` and `patch` are parsed by the same strict parsers as the single routes' bodies (from
//! their raw text, so a key given twice is still an error); a field error names its operation:
//! `operations[2].title`.

use super::input::{NewTask, TaskPatch, json_integer_text};
use super::invalid::{FieldError, Invalid};
use super::task::TaskId;
use serde::{Deserialize, Deserializer, de};
use serde_json::value::RawValue;

pub const MAX_OPERATIONS: usize = 100;

/// One operation, valid by construction but for `if_match`: the raw `If-Match` value, which
/// the handler parses with the header's own parser (for the operation's task id) before
/// anything runs.
#[derive(Debug)]
pub enum Operation {
    Create(Box<NewTask>),
    Update {
        id: TaskId,
        patch: Box<TaskPatch>,
        if_match: Option<String>,
    },
    /// `completed: true`, with what completing means (a recurring task's next occurrence).
    Complete {
        id: TaskId,
        if_match: Option<String>,
    },
    Delete {
        id: TaskId,
        if_match: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow)]
    operations: Vec<RawOperation<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation<'a> {
    op: String,
    #[serde(default, deserialize_with = "integer")]
    id: Option<i64>,
    #[serde(borrow)]
    task: Option<&'a RawValue>,
    #[serde(borrow)]
    patch: Option<&'a RawValue>,
    if_match: Option<String>,
}

/// The operations of a batch, 1 to 100.
#[derive(Debug)]
pub struct Batch(pub Vec<Operation>);

impl Batch {
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let body: Body = serde_json::from_slice(body).map_err(|error| {
            Invalid::field(
                "body",
                format!(
                    "must be {{\"operations\": [{{\"op\": …}}, …]}} with only op, id, task, \
                     patch and if_match in each operation ({})",
                    error
                ),
            )
        })?;
        if body.operations.is_empty() || body.operations.len() > MAX_OPERATIONS {
            return Err(Invalid::field(
                "operations",
                "must hold 1 to 100 operations",
            ));
        }
        let mut errors = Vec::new();
        let mut operations = Vec::with_capacity(body.operations.len());
        for (index, raw) in body.operations.into_iter().enumerate() {
            match parse_operation(raw) {
                Ok(operation) => operations.push(operation),
                Err(Invalid(fields)) => errors.extend(fields.into_iter().map(|error| {
                    FieldError::new(
                        format!("operations[{index}].{}", error.field),
                        error.message,
                    )
                })),
            }
        }
        if errors.is_empty() {
            Ok(Self(operations))
        } else {
            Err(Invalid(errors))
        }
    }
}

/// An `id` as the document's `"type": "integer"` admits it: `7`, `7.0` or `7e0`, read exactly
/// from its text (see [`json_integer_text`]); `null` is no id. Anything else fails the body, as
/// serde's own `i64` did.
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(raw) = Option::<&'de RawValue>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match raw.get() {
        "null" => Ok(None),
        text => json_integer_text(text).map(Some).ok_or_else(|| {
            de::Error::custom(format!("invalid type: {text}, expected an integer id"))
        }),
    }
}

fn parse_operation(raw: RawOperation) -> Result<Operation, Invalid> {
    let id = || -> Result<TaskId, Invalid> {
        raw.id
            .filter(|id| *id > 0)
            .map(TaskId::from_db)
            .ok_or_else(|| Invalid::field("id", "is required: a task id (a positive integer)"))
    };
    let only = |allowed: &[&str]| -> Result<(), Invalid> {
        let present = [
            ("id", raw.id.is_some()),
            ("task", raw.task.is_some()),
            ("patch", raw.patch.is_some()),
            ("if_match", raw.if_match.is_some()),
        ];
        let extra: Vec<FieldError> = present
            .iter()
            .filter(|(name, given)| *given && !allowed.contains(name))
            .map(|(name, _)| {
                FieldError::new(*name, format!("is not part of a {} operation", raw.op))
            })
            .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(Invalid(extra))
        }
    };
    // Its grammar is the header's, checked with the header's parser before the batch runs.
    let if_match = || -> Result<Option<String>, Invalid> { Ok(raw.if_match.clone()) };
    match raw.op.as_str() {
        "create" => {
            only(&["task"])?;
            let task = raw
                .task
                .ok_or_else(|| Invalid::field("task", "is required: the task to create"))?;
            Ok(Operation::Create(Box::new(NewTask::from_json(
                task.get().as_bytes(),
            )?)))
        }
        "update" => {
            only(&["id", "patch", "if_match"])?;
            let patch = raw
                .patch
                .ok_or_else(|| Invalid::field("patch", "is required: the fields to change"))?;
            Ok(Operation::Update {
                id: id()?,
                patch: Box::new(TaskPatch::from_json(patch.get().as_bytes())?),
                if_match: if_match()?,
            })
        }
        "complete" => {
            only(&["id", "if_match"])?;
            Ok(Operation::Complete {
                id: id()?,
                if_match: if_match()?,
            })
        }
        "delete" => {
            only(&["id", "if_match"])?;
            Ok(Operation::Delete {
                id: id()?,
                if_match: if_match()?,
            })
        }
        _ => Err(Invalid::field(
            "op",
            "must be one of create, update, complete, delete",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<String> {
        match Batch::parse(body.as_bytes()) {
            Err(Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Ok(batch) => panic!("{body} parsed: {batch:?}"),
        }
    }

    #[test]
    fn a_batch_of_each_kind_parses() {
        let batch = Batch::parse(
            br#"{"operations": [
                {"op": "create", "task": {"title": "a"}},
                {"op": "update", "id": 3, "patch": {"priority": "high"}, "if_match": "\"3-5\""},
                {"op": "complete", "id": 3},
                {"op": "delete", "id": 4, "if_match": "*"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(batch.0.len(), 4);
        assert!(matches!(&batch.0[0], Operation::Create(task) if task.title.as_str() == "a"));
        assert!(
            matches!(&batch.0[1], Operation::Update { id, if_match: Some(_), .. } if id.get() == 3)
        );
    }

    #[test]
    fn every_error_names_its_operation() {
        assert_eq!(
            fields(
                r#"{"operations": [{"op": "create", "task": {"title": ""}}, {"op": "update", "patch": {}}]}"#
            ),
            ["operations[0].title", "operations[1].id"]
        );
        assert_eq!(
            fields(r#"{"operations": [{"op": "frobnicate"}]}"#),
            ["operations[0].op"]
        );
        assert_eq!(
            fields(r#"{"operations": [{"op": "delete", "id": 1, "task": {}}]}"#),
            ["operations[0].task"]
        );
        assert_eq!(
            fields(r#"{"operations": [{"op": "create", "task": {"title": "a", "title": "b"}}]}"#),
            ["operations[0].body"]
        );
        assert_eq!(
            fields(r#"{"operations": [{"op": "delete", "id": 0}]}"#),
            ["operations[0].id"]
        );
    }

    /// The document's `"type": "integer"` admits `7.0` and `7e0` (JSON Schema counts a number
    /// with a zero fractional part as an integer); a fraction or a string is still refused.
    #[test]
    fn an_id_is_any_json_integer() {
        for id in ["7", "7.0", "7e0", "0.7e1"] {
            let body = format!(r#"{{"operations": [{{"op": "delete", "id": {id}}}]}}"#);
            let batch = Batch::parse(body.as_bytes()).unwrap();
            assert!(
                matches!(&batch.0[0], Operation::Delete { id, .. } if id.get() == 7),
                "{id}"
            );
        }
        // Read from the digits: serde_json's f64 for this text is 4258846359314585.5.
        let body = r#"{"operations": [{"op": "delete", "id": 4258846359314586.0}]}"#;
        let batch = Batch::parse(body.as_bytes()).unwrap();
        assert!(
            matches!(&batch.0[0], Operation::Delete { id, .. } if id.get() == 4_258_846_359_314_586)
        );
        for id in [
            "7.5",
            "\"7\"",
            "1e19",
            "-1.0",
            "9223372036854775808.0",
            "4258846359314585.5",
            "true",
        ] {
            let body = format!(r#"{{"operations": [{{"op": "delete", "id": {id}}}]}}"#);
            assert!(Batch::parse(body.as_bytes()).is_err(), "{id}");
        }
    }

    #[test]
    fn the_shape_and_size_are_checked() {
        assert_eq!(fields(r#"{"operations": []}"#), ["operations"]);
        let many = vec![r#"{"op": "delete", "id": 1}"#; 101].join(",");
        assert_eq!(
            fields(&format!(r#"{{"operations": [{many}]}}"#)),
            ["operations"]
        );
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"operations": {}}"#,
            r#"{"operations": [], "x": 1}"#,
            r#"{"operations": [{"op": "delete", "id": 1, "extra": 1}]}"#,
            r#"{"operations": [{"op": 5}]}"#,
            r#"{"operations": [{"op": "delete", "id": "1"}]}"#,
        ] {
            assert_eq!(fields(bad), ["body"], "{bad}");
        }
    }
}
