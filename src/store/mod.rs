//! Every SQL statement of the API, one room per concern. Task statements take an [`Account`]
//! and bind its user id as a parameter; nothing user-supplied is ever formatted into SQL text.
//!
//! One statement per request on the hot path. Every statement is a round trip through the
//! runtime (and, on a libSQL server, the network), so the checks a request needs (is the schema
//! current? does a Better Auth user exist?) ride on the statement that does the work
//! ([`guard`]). Only when that statement comes back empty, which can also mean "schema behind"
//! or "user unknown", does a second statement ([`ensure_user`]) tell which, migrating if needed.
//!
//! # Rooms
//!
//! - [`fields`]: the one definition of a task's columns, and decoding a row into a `Task`.
//! - [`guard`]: the guard columns and conditions, and the feed position (`seq`) of a write.
//! - [`list`], [`list_statement`](mod@list_statement): one task, a page of a list, the SQL behind it;
//!   [`packed`]: a page's rows as one JSON array, so the runtime hands over one row.
//! - [`writes`]: create, update, toggle, replace; [`recurrence`]: completing a recurring task;
//!   [`precondition`]: `If-Match` as part of a write's statement.
//! - [`transaction`]: all-or-nothing units (batches, multi-statement writes).
//! - [`derived`]: tags and search rows, refreshed by the reads that need them.
//! - [`trash`], [`changes`](mod@changes): deletes, restores, the purge; the changes feed.
//! - [`export`](mod@export): everything stored for a user, and erasing it.
//! - [`auth_cache`]: the JWKS cache and the rate-limit counter; [`streams`]: the leases of open
//!   event streams.

pub mod auth_cache;
pub mod changes;
pub mod derived;
pub mod export;
pub mod fields;
pub mod guard;
pub mod list;
pub mod list_statement;
pub mod packed;
pub mod precondition;
pub mod recurrence;
pub mod streams;
pub mod transaction;
pub mod trash;
pub mod writes;

#[cfg(test)]
mod tests;

pub use auth_cache::{CachedJwks, cached_jwks, claim_jwks_fetch, count_request, save_jwks};
pub use changes::{Changes, changes};
pub use derived::{TagCount, list_tags};
pub use export::{Export, erase, export};
pub use list::{Page, get_task, list_tasks};
pub use list_statement::{
    ListStatement, count_sql, count_statement, list_sql, list_statement, undated_sql,
};
pub use precondition::Expected;
pub use recurrence::{NextOccurrence, complete_recurring};
pub use transaction::in_batch;
pub use trash::{delete_task, list_trash, restore_task};
pub use writes::{Created, IdempotencyKey, create_task, replace_task, toggle_task, update_task};

use crate::db::{Database, DbError, Row, Value, migrations};
use crate::domain::{AuthenticatedUser, Identity, UserSource};
use crate::time::Timestamp;
use anyhow::anyhow;
use fields::integer_or_zero;
use guard::user_check_sql;

/// Whom the statements run for: the verified user, where users are known from, and the
/// token's identity (recorded on a user's first sight in `auto` mode).
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub user: &'a AuthenticatedUser,
    pub identity: &'a Identity,
    pub source: UserSource,
}

impl Account<'_> {
    fn id(&self) -> &str {
        self.user.id()
    }
}

/// What the store knows about the caller after [`ensure_user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Known,
    /// Only possible with `better-auth`: the user is not in Better Auth's table.
    Unknown,
}

#[derive(Debug)]
pub enum StoreError {
    Db(DbError),
    /// `user_source = better-auth`, and the user is not in Better Auth's table.
    UnknownUser,
    /// `user_source = better-auth`, but the database has no Better Auth `user` table.
    NoBetterAuthTable,
    /// The database answered something our schema cannot produce.
    Corrupt(anyhow::Error),
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        Self::Db(error)
    }
}

/// What [`ensure_user`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCheck {
    pub status: UserStatus,
    /// Whether it brought the schema up to date (a statement that found nothing before may
    /// find something now).
    pub migrated: bool,
}

/// Brings the schema up to date if needed and makes sure the user exists: recorded on first
/// sight in `auto` mode, looked up in Better Auth's table otherwise. The hot path needs it only
/// when a guarded statement comes back empty; it is two statements on a user's first request.
pub async fn ensure_user(
    db: &dyn Database,
    source: UserSource,
    identity: &Identity,
    now: Timestamp,
) -> Result<UserCheck, StoreError> {
    let check = async |db: &dyn Database| {
        db.execute(user_check_sql(source), &[identity.subject().into()])
            .await
    };
    let is_user_table = |table: &str| matches!(table, "user" | "main.user");
    let mut migrated = false;
    let rows = match check(db).await {
        // A database no request has seen yet: create the schema and ask again.
        Err(error) if error.missing_table().is_some_and(|t| !is_user_table(t)) => {
            migrations::apply(db, 0).await?;
            migrated = true;
            check(db).await
        }
        other => other,
    }
    .map_err(|error| match error.missing_table() {
        Some(table) if is_user_table(table) => StoreError::NoBetterAuthTable,
        _ => StoreError::Db(error),
    })?;
    let (version, exists) = match rows.first().map(Vec::as_slice) {
        Some([version, Value::Integer(exists)]) => (integer_or_zero(version), *exists != 0),
        _ => return Err(StoreError::Corrupt(anyhow!("unexpected user check result"))),
    };
    if version < migrations::LATEST {
        migrations::apply(db, version).await?;
        migrated = true;
    }
    let status = match (exists, source) {
        (true, _) => UserStatus::Known,
        (false, UserSource::BetterAuth) => UserStatus::Unknown,
        (false, UserSource::Auto) => {
            db.execute(
                "INSERT INTO users (id, email, name, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    identity.subject().into(),
                    identity.email.as_deref().into(),
                    identity.name.as_deref().into(),
                    now.as_micros().into(),
                ],
            )
            .await?;
            UserStatus::Known
        }
    };
    Ok(UserCheck { status, migrated })
}

/// The schema version, migrating first if the database is new or behind. Used by `/health`.
pub async fn ensure_schema(db: &dyn Database) -> Result<i64, StoreError> {
    let version = match db
        .execute("SELECT max(version) FROM schema_migrations", &[])
        .await
    {
        Ok(rows) => rows
            .first()
            .and_then(|row| row.first())
            .map_or(0, integer_or_zero),
        Err(error) if error.missing_table().is_some() => 0,
        Err(error) => return Err(error.into()),
    };
    if version < migrations::LATEST {
        migrations::apply(db, version).await?;
    }
    Ok(migrations::LATEST.max(version))
}

/// Runs a statement that may be the first a database sees (authentication and event streams
/// run before any guarded statement): on tables missing or behind, migrates and runs it once
/// more.
async fn execute_migrating(
    db: &dyn Database,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    match db.execute(sql, params).await {
        Err(error) if error.schema_behind() => {
            ensure_schema(db).await?;
            Ok(db.execute(sql, params).await?)
        }
        other => Ok(other?),
    }
}
