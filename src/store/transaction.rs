//! Transactions and savepoints: how a unit of several statements is all-or-nothing.

use crate::db::{Database, Nested};
use crate::store::StoreError;
use crate::store::ensure_schema;

/// Runs `body` as one transaction. `BEGIN IMMEDIATE` takes the write lock first, so two
/// writers never deadlock upgrading a read lock. It holds only this request's statements: the
/// component keeps one connection per instance, and no other request of the instance runs
/// while this one is between two statements (`spin::adapter` says why).
pub(super) async fn in_transaction<T, E: From<StoreError>>(
    db: &dyn Database,
    body: impl AsyncFnOnce() -> Result<T, E>,
) -> Result<T, E> {
    // Inside a batch's transaction, a unit that must be all-or-nothing is a savepoint.
    let (begin, commit, rollback): (&str, &str, &[&str]) = if db.nested() {
        (
            "SAVEPOINT unit",
            "RELEASE unit",
            &["ROLLBACK TO unit", "RELEASE unit"],
        )
    } else {
        ("BEGIN IMMEDIATE", "COMMIT", &["ROLLBACK"])
    };
    db.execute(begin, &[]).await.map_err(StoreError::from)?;
    let outcome = match body().await {
        Ok(value) => match db.execute(commit, &[]).await {
            Ok(_) => Ok(value),
            Err(error) => Err(StoreError::from(error).into()),
        },
        Err(error) => Err(error),
    };
    if outcome.is_err() {
        // Nothing to undo if COMMIT itself went through; SQLite answers an error then.
        for statement in rollback {
            let _ = db.execute(statement, &[]).await;
        }
    }
    outcome
}

/// Runs `body` in one transaction, handing it the database as [`Nested`], and commits only if
/// it succeeds: all of it or none (see `in_transaction` for why no other request's statement
/// lands inside it).
pub async fn in_batch<T, E: From<StoreError>>(
    db: &dyn Database,
    body: impl AsyncFnOnce(&dyn Database) -> Result<T, E>,
) -> Result<T, E> {
    ensure_schema(db).await?;
    in_transaction(db, async || body(&Nested(db)).await).await
}
