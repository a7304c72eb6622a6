//! A write's precondition from `If-Match`, checked in the write's own statement.

use crate::db::Value;

/// A write's precondition from `If-Match`: `None` for none, else the `updated_at` values the
/// client's ETags name (an empty list can never match).
pub type Expected<'a> = Option<&'a [i64]>;

/// `(?{param} IS NULL OR updated_at IN (…))`, with the list passed as one JSON array parameter
/// ([`expected_param`]), so one statement text serves conditional and unconditional writes and
/// the check is atomic with the write.
pub(super) fn expected_condition(param: u8) -> String {
    format!("(?{param} IS NULL OR updated_at IN (SELECT value FROM json_each(?{param})))")
}

/// The parameter of an [`expected_condition`].
pub(super) fn expected_param(expected: Expected) -> Value {
    match expected {
        None => Value::Null,
        Some(versions) => {
            Value::Text(serde_json::to_string(versions).unwrap_or_else(|_| "[]".to_owned()))
        }
    }
}
