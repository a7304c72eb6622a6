//! `POST /api/{user_id}/tasks/batch`: several writes, all or none.
//!
//! The whole batch is parsed and checked first (a 422 names `operations[i].field`); then the
//! operations run in order in one transaction (no other request's statement runs inside it:
//! see `store::in_transaction`), each exactly as its single route would run it. The
//! first that fails rolls everything back and answers with its own status (404, 412, 422, …)
//! and `operation: i`; otherwise 200 with one result per operation.

use super::json_body;
use super::outcome::settled;
use crate::api::task_writes::{self, Written};
use crate::config;
use crate::domain::batch::{Batch, Operation};
use crate::domain::{FieldError, Invalid, Task, TaskId, TaskPatch};
use crate::env::Env;
use crate::error::ApiError;
use crate::http::conditional::{IfMatch, etag};
use crate::http::message::{Request, Response, json};
use crate::store::{self, Account, Created};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

pub async fn batch(
    account: &Account<'_>,
    request: &Request,
    env: &Env<'_>,
) -> Result<Response, ApiError> {
    let Batch(operations) = Batch::parse(json_body(request)?)?;
    let expected = preconditions(&operations)?;
    let retention = config::trash_retention(env.vars)?;
    let results = store::in_batch(env.db, async |db| {
        let mut results = Vec::with_capacity(operations.len());
        for (index, (operation, expected)) in operations.iter().zip(&expected).enumerate() {
            let failed = |cause: ApiError| ApiError::BatchFailed {
                index,
                cause: Box::new(cause),
            };
            let versions = expected.versions();
            let result = match operation {
                Operation::Create(task) => {
                    match store::create_task(db, account, task, None, env.now).await? {
                        Created::New(task) | Created::Replayed(task) => {
                            result(StatusCode::CREATED, Some(task))
                        }
                        Created::KeyReused => {
                            return Err(failed(ApiError::Internal(anyhow::anyhow!(
                                "a create without a key answered KeyReused"
                            ))));
                        }
                    }
                }
                Operation::Update { id, patch, .. } => {
                    let outcome =
                        task_writes::update(db, account, *id, patch, versions, env.now).await?;
                    written(outcome, index).map_err(failed)?
                }
                Operation::Complete { id, .. } => {
                    let complete = TaskPatch {
                        completed: Some(true),
                        ..TaskPatch::default()
                    };
                    let outcome =
                        task_writes::update(db, account, *id, &complete, versions, env.now).await?;
                    written(outcome, index).map_err(failed)?
                }
                Operation::Delete { id, .. } => {
                    let outcome =
                        task_writes::delete(db, account, *id, versions, retention, env.now).await?;
                    settled(outcome).map_err(failed)?;
                    result(StatusCode::NO_CONTENT, None)
                }
            };
            results.push(result);
        }
        Ok::<_, ApiError>(results)
    })
    .await?;
    Ok(json(StatusCode::OK, &BatchResults { results }))
}

/// Each operation's `if_match`, parsed as the `If-Match` header is (for that operation's task);
/// one 422 for all that are malformed.
fn preconditions(operations: &[Operation]) -> Result<Vec<IfMatch>, ApiError> {
    let mut expected = Vec::with_capacity(operations.len());
    let mut errors = Vec::new();
    for (index, operation) in operations.iter().enumerate() {
        let (id, raw): (Option<TaskId>, Option<&str>) = match operation {
            Operation::Create(_) => (None, None),
            Operation::Update { id, if_match, .. }
            | Operation::Complete { id, if_match }
            | Operation::Delete { id, if_match } => (Some(*id), if_match.as_deref()),
        };
        let parsed = match (id, raw) {
            (Some(id), Some(raw)) => {
                let mut headers = HeaderMap::new();
                HeaderValue::from_str(raw).ok().and_then(|value| {
                    headers.insert(http::header::IF_MATCH, value);
                    IfMatch::from_headers(&headers, id).ok()
                })
            }
            _ => Some(IfMatch::Any),
        };
        match parsed {
            Some(parsed) => expected.push(parsed),
            None => errors.push(FieldError::new(
                format!("operations[{index}].if_match"),
                "must be `*` or a comma-separated list of entity tags, as the If-Match header",
            )),
        }
    }
    if errors.is_empty() {
        Ok(expected)
    } else {
        Err(Invalid(errors).into())
    }
}

/// One operation's result: its status and, but for a delete, the task and its ETag.
#[derive(Serialize)]
struct OperationResult {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
}

#[derive(Serialize)]
struct BatchResults {
    results: Vec<OperationResult>,
}

fn result(status: StatusCode, task: Option<Task>) -> OperationResult {
    OperationResult {
        status: status.as_u16(),
        etag: task
            .as_ref()
            .map(|task| etag(task).to_str().unwrap_or_default().to_owned()),
        task,
    }
}

/// An update's outcome as a result, or the error that fails the batch (field errors named for
/// the operation).
fn written(outcome: Written, index: usize) -> Result<OperationResult, ApiError> {
    match settled(outcome) {
        Ok(task) => Ok(result(StatusCode::OK, Some(*task))),
        Err(ApiError::Validation(errors)) => Err(ApiError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError::new(format!("operations[{index}].{}", e.field), e.message))
                .collect(),
        )),
        Err(other) => Err(other),
    }
}
