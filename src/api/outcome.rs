//! What a write came to, as the single routes and the batch route both answer it.

use crate::db::Database;
use crate::domain::{Task, TaskId};
use crate::error::ApiError;
use crate::store::{self, Account, Expected};
use crate::task_writes::Written;
use crate::time::Timestamp;

/// The task an update wrote, or the error it answers (shared with the batch route).
pub fn updated_task(outcome: Written) -> Result<Box<Task>, ApiError> {
    match outcome {
        Written::Done(task) => Ok(task),
        Written::Missing => Err(ApiError::NotFound("Task")),
        Written::Stale => Err(ApiError::PreconditionFailed),
        Written::Invalid(invalid) => Err(invalid.into()),
        Written::Contended => Err(ApiError::Unavailable(
            "an update kept meeting concurrent changes".into(),
        )),
    }
}

/// Why a write matched no row. Only asked when the write was conditional; the lookup is bound
/// to the caller like every other, so it cannot reveal another user's task.
pub async fn precondition_or_missing(
    db: &dyn Database,
    expected: Expected<'_>,
    account: &Account<'_>,
    id: TaskId,
    now: Timestamp,
) -> Result<ApiError, ApiError> {
    if expected.is_some() && store::get_task(db, account, id, now).await?.is_some() {
        Ok(ApiError::PreconditionFailed)
    } else {
        Ok(ApiError::NotFound("Task"))
    }
}
