//! What a write came to, as an answer: the same for the single routes and the batch route.

use crate::api::task_writes::Written;
use crate::error::ApiError;

/// The value a write produced (the task, or nothing for a delete), or the error it answers.
pub fn settled<T>(outcome: Written<T>) -> Result<T, ApiError> {
    match outcome {
        Written::Done(value) => Ok(value),
        Written::Missing => Err(ApiError::NotFound("Task")),
        Written::Stale => Err(ApiError::PreconditionFailed),
        Written::Invalid(invalid) => Err(invalid.into()),
        Written::Contended => Err(ApiError::Unavailable(
            "an update kept meeting concurrent changes".into(),
        )),
    }
}
