//! Request bodies of creates, updates and patches: what parses, and the 422 each mistake gets.

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

/// `interval` is any number JSON Schema counts as an integer (`2`, `2.0`, `2e0`), as the
/// document's `"type": "integer"` admits; a fraction, a string or a bool is not.
#[test]
fn an_interval_is_any_json_integer() {
    for interval in ["2", "2.0", "2e0", "0.2e1"] {
        let body = format!(
            r#"{{"title":"t","due_at":"2026-03-01T09:00:00Z","recurrence":"daily","interval":{interval}}}"#
        );
        let task = NewTask::from_json(body.as_bytes()).unwrap();
        let recurrence = task.schedule.recurrence.unwrap();
        assert_eq!(recurrence.interval.get(), 2, "{interval}");
    }
    for bad in ["2.5", r#""2""#, "true", "0.0", "366.0", "1e300"] {
        let body = format!(
            r#"{{"title":"t","due_at":"2026-03-01T09:00:00Z","recurrence":"daily","interval":{bad}}}"#
        );
        assert_eq!(fields_of(&body), ["interval"], "{body}");
    }
}

#[test]
fn integers_are_read_exactly_from_their_text() {
    for (text, n) in [
        ("7", 7),
        ("-7", -7),
        ("7.0", 7),
        ("7.000", 7),
        ("7e0", 7),
        ("0.7e1", 7),
        ("70e-1", 7),
        ("0", 0),
        ("-0.0", 0),
        ("0e99999", 0),
        ("4258846359314586.0", 4_258_846_359_314_586),
        ("9223372036854775807", i64::MAX),
        ("9.223372036854775807e18", i64::MAX),
        ("-9223372036854775808.0", i64::MIN),
    ] {
        assert_eq!(json_integer_text(text), Some(n), "{text}");
    }
    for text in [
        "7.5",
        "0.7",
        "75e-1",
        "9223372036854775808",
        "1e19",
        "1e99999999999999999999",
        "\"7\"",
        "true",
        "null",
        "",
        "-",
        ".5",
    ] {
        assert_eq!(json_integer_text(text), None, "{text}");
    }
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
    let task =
        NewTask::from_json(br#"{"title":"t","description":"d","completed":true,"extra":[1,2]}"#)
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
