//! Many rows as one: a statement whose rows come back as a single JSON array.
//!
//! Under Spin 4.0.2 a WASIp3 guest reads a statement's rows from a stream that a blocking host
//! thread fills through a channel of four, so every row or few costs a trip out of the guest and
//! back (bench/README.md, "Instructions per request": 19 more rows cost the list ~1.3M
//! instructions). SQLite builds the same rows as one JSON text in microseconds, so a
//! statement that returns a page of tasks selects
//!
//! ```sql
//! SELECT json_group_array(json_array(c1, c2, …)), <once-per-statement columns>
//! FROM (<the page's own statement, with its ORDER BY and LIMIT>)
//! ```
//!
//! and the guest reads one row. The aggregate consumes its FROM subquery as a co-routine, in
//! the subquery's order (a subquery with a LIMIT is never flattened into an aggregate);
//! `tests/query_plans.rs` checks that every list plan keeps that shape. The columns that are
//! the same for every row (the guard, the cursor key) are read once, after the array.
//!
//! Only values JSON can carry go in the array: integers, reals, text and NULL (`json_array`
//! refuses a BLOB, so a blob column would fail the statement rather than come back altered).

use crate::db::{Database, Row, Value};
use crate::domain::UserSource;
use crate::store::guard::{Answer, Kind, guard_columns, guarded, strip_guard};
use crate::store::{Account, StoreError};
use crate::time::Timestamp;
use anyhow::anyhow;
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use std::fmt;

/// `SELECT json_group_array(json_array({columns})), {tail} FROM ({inner})`: `columns` names
/// the inner statement's result columns (unqualified), `tail` is read once.
pub fn packed_select(columns: &str, tail: &str, inner: &str) -> String {
    format!("SELECT json_group_array(json_array({columns})), {tail} FROM ({inner})")
}

/// A guarded read ([`guarded`]) of `inner`'s rows, packed: `columns` names `inner`'s result
/// columns (unqualified), `?1` is the user.
pub(super) async fn read_packed(
    db: &dyn Database,
    account: &Account<'_>,
    now: Timestamp,
    columns: &str,
    inner: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let sql = packed_select(columns, &guard_columns(account.source, 1), inner);
    guarded(db, account, now, Kind::Read, async || {
        let page = take_apart(db.execute(&sql, params).await?, account.source, 0)?;
        Ok(Answer::read(page.sure, page.rows))
    })
    .await
}

/// A [`packed_select`]'s answer taken apart.
pub(super) struct Unpacked {
    pub rows: Vec<Row>,
    /// The guard held and rows came back. No rows stays unsure, as for an unpacked read whose
    /// rows carry the guard: in `auto` mode that is how a user's first sight is recorded
    /// (`ensure_user`).
    pub sure: bool,
    /// The `after_guard` columns that follow the guard columns in the tail.
    pub after_guard: Row,
}

/// Splits a packed answer (one row: the array, the guard columns, then `after_guard` more).
pub(super) fn take_apart(
    answer: Vec<Row>,
    source: UserSource,
    after_guard: usize,
) -> Result<Unpacked, StoreError> {
    let Some(mut outer) = answer.into_iter().next() else {
        return Ok(Unpacked {
            rows: Vec::new(),
            sure: false,
            after_guard: Vec::new(),
        });
    };
    let tail = outer.split_off(outer.len().saturating_sub(after_guard));
    let guard_held = strip_guard(std::slice::from_mut(&mut outer), source) == Some(true);
    let rows = match outer.first() {
        Some(packed) => unpack(packed)?,
        None => Vec::new(),
    };
    Ok(Unpacked {
        sure: guard_held && !rows.is_empty(),
        rows,
        after_guard: tail,
    })
}

/// The rows of a [`packed_select`]'s array.
pub fn unpack(value: &Value) -> Result<Vec<Row>, StoreError> {
    let Value::Text(json) = value else {
        return Err(StoreError::Corrupt(anyhow!(
            "packed rows are {value:?}, not JSON text"
        )));
    };
    let rows: Vec<Vec<PackedValue>> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(anyhow!("packed rows are not a JSON array: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|row| row.into_iter().map(|PackedValue(value)| value).collect())
        .collect())
}

/// One SQL value as `json_array` writes it.
struct PackedValue(Value);

impl<'de> serde::Deserialize<'de> for PackedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PackedVisitor).map(PackedValue)
    }
}

struct PackedVisitor;

impl<'de> Visitor<'de> for PackedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an SQL value: an integer, a real, a string or null")
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Integer(n))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Value, E> {
        i64::try_from(n)
            .map(Value::Integer)
            .map_err(|_| E::custom(format!("{n} is past SQLite's integers")))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Real(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Text(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Text(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(A::Error::custom("a nested array is not an SQL value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sqlite::SqliteDb;

    #[test]
    fn every_sql_value_json_can_carry_comes_back_as_it_went_in() {
        let db = SqliteDb::in_memory();
        let inner = "SELECT 1 AS a, 'x' AS b, NULL AS c \
                     UNION ALL SELECT -9223372036854775808, 'é \"quoted\"\n\\\u{1F600}', 2.5 \
                     UNION ALL SELECT 9223372036854775807, '', -0.125";
        let sql = packed_select("a, b, c", "'tail'", &format!("{inner} LIMIT 10"));
        let rows = db.run(&sql, &[]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], Value::Text("tail".into()));
        let unpacked = unpack(&rows[0][0]).unwrap();
        assert_eq!(unpacked, db.run(inner, &[]).unwrap());
    }

    #[test]
    fn an_empty_page_is_no_rows_and_still_one_tail() {
        let db = SqliteDb::in_memory();
        let sql = packed_select("a", "42", "SELECT 1 AS a WHERE 0 LIMIT 5");
        let rows = db.run(&sql, &[]).unwrap();
        assert_eq!(
            rows,
            vec![vec![Value::Text("[]".into()), Value::Integer(42)]]
        );
        assert_eq!(unpack(&rows[0][0]).unwrap(), Vec::<Row>::new());
    }

    #[test]
    fn rows_keep_the_inner_statements_order() {
        let db = SqliteDb::in_memory();
        db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER)", &[])
            .unwrap();
        db.run("CREATE INDEX t_k ON t (k)", &[]).unwrap();
        for id in 1..=200 {
            db.run(
                "INSERT INTO t VALUES (?1, ?2)",
                &[Value::Integer(id), Value::Integer((id * 37) % 101)],
            )
            .unwrap();
        }
        for (order, limit) in [
            ("k DESC, id DESC", 50),
            ("k ASC, id ASC", 200),
            ("id DESC", 7),
        ] {
            let inner = format!("SELECT id, k FROM t ORDER BY {order} LIMIT {limit}");
            let packed = db.run(&packed_select("id, k", "0", &inner), &[]).unwrap();
            assert_eq!(unpack(&packed[0][0]).unwrap(), db.run(&inner, &[]).unwrap());
        }
    }

    #[test]
    fn a_blob_fails_the_statement_and_anything_but_an_array_of_rows_is_corrupt() {
        let db = SqliteDb::in_memory();
        let sql = packed_select("a", "0", "SELECT x'00ff' AS a LIMIT 1");
        assert!(db.run(&sql, &[]).is_err());
        for bad in [
            Value::Integer(1),
            Value::Text("{}".into()),
            Value::Text("[1]".into()),
            Value::Text("[[[1]]]".into()),
            Value::Text("[[true]]".into()),
            Value::Text("[[18446744073709551615]]".into()),
            Value::Text("[[1]".into()),
        ] {
            assert!(
                matches!(unpack(&bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
