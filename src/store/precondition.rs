//! A write's precondition from `If-Match`, checked in the write's own statement.

use crate::db::Value;

/// A write's precondition from `If-Match`: `None` for none, else the `updated_at` values the
/// client's ETags name (an empty list can never match).
pub type Expected<'a> = Option<&'a [i64]>;

/// `?N IS NULL OR updated_at IN (…)`, with the list passed as one JSON array parameter, so one
/// statement text serves conditional and unconditional writes and the check is atomic with
/// the write.
pub(super) fn expected_param(expected: Expected) -> Value {
    match expected {
        None => Value::Null,
        Some(versions) => {
            Value::Text(serde_json::to_string(versions).unwrap_or_else(|_| "[]".to_owned()))
        }
    }
}
