use crate::db::Database;
use crate::error::ApiError;
use crate::http::message::{Response, json};
use crate::store;
use http::StatusCode;
use serde_json::json;

/// `GET /health`: 200 once the database answers (and has the current schema), 503 otherwise.
/// No authentication, so orchestrators can probe it.
pub async fn health(db: &dyn Database) -> Result<Response, ApiError> {
    store::ensure_schema(db).await?;
    Ok(json(StatusCode::OK, &json!({ "status": "ok" })))
}
