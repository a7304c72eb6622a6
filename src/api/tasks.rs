//! `/api/{user_id}/tasks…`: the caller is authenticated and owns the URL by the time these run.

use super::json_body;
use crate::app::Env;
use crate::auth::AuthenticatedUser;
use crate::domain::{ListQuery, NewTask, Task, TaskId, TaskPatch};
use crate::error::ApiError;
use crate::http::{Request, Response, empty, json};
use crate::router::TaskAction;
use crate::store;
use http::{HeaderValue, StatusCode, header};

pub fn handle(
    action: TaskAction,
    user: &AuthenticatedUser,
    request: &Request,
    env: &Env,
) -> Result<Response, ApiError> {
    match action {
        TaskAction::List => {
            let query = ListQuery::parse(&request.query)?;
            let tasks = store::list_tasks(env.db, user, &query)?;
            Ok(json(StatusCode::OK, &tasks))
        }
        TaskAction::Create => {
            let new_task = NewTask::from_json(json_body(request)?)?;
            let task = store::create_task(env.db, user, &new_task, env.now)?;
            Ok(created(&task))
        }
        TaskAction::Get(id) => {
            let task = store::get_task(env.db, user, existing(id)?)?;
            found(task)
        }
        TaskAction::Update(id) => {
            let id = existing(id)?;
            let patch = TaskPatch::from_json(json_body(request)?)?;
            found(store::update_task(env.db, user, id, &patch, env.now)?)
        }
        TaskAction::Toggle(id) => found(store::toggle_task(env.db, user, existing(id)?, env.now)?),
        TaskAction::Delete(id) => {
            if store::delete_task(env.db, user, existing(id)?)? {
                Ok(empty(StatusCode::NO_CONTENT))
            } else {
                Err(not_found())
            }
        }
    }
}

/// Someone else's task and a task that never existed answer alike.
fn not_found() -> ApiError {
    ApiError::NotFound("Task")
}

fn existing(id: Option<TaskId>) -> Result<TaskId, ApiError> {
    id.ok_or_else(not_found)
}

fn found(task: Option<Task>) -> Result<Response, ApiError> {
    task.map(|task| json(StatusCode::OK, &task))
        .ok_or_else(not_found)
}

fn created(task: &Task) -> Response {
    let mut response = json(StatusCode::CREATED, task);
    let location = format!(
        "/api/{}/tasks/{}",
        crate::http::encode_path_segment(&task.user_id),
        task.id.get()
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
