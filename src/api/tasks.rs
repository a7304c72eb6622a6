//! `/api/{user_id}/tasks…`: the caller is authenticated and owns the URL by the time these run.

use super::json_body;
use super::outcome::settled;
use crate::api::task_writes::{self, Written};
use crate::config;
use crate::domain::cursor;
use crate::domain::{ChangesQuery, ListQuery, NewTask, Task, TaskId, TaskPatch, TaskPriority};
use crate::env::Env;
use crate::error::ApiError;
use crate::http::conditional::{IfMatch, etag, if_none_match_hits};
use crate::http::message::{Request, Response, empty, json};
use crate::http::router::TaskAction;
use crate::store::{self, Account, Created, IdempotencyKey};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Longest `Idempotency-Key` accepted (a UUID is 36).
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

pub async fn handle(
    action: TaskAction,
    account: &Account<'_>,
    request: &Request,
    env: &Env<'_>,
) -> Result<Response, ApiError> {
    match action {
        TaskAction::List => list(account, request, env).await,
        TaskAction::Create => create(account, request, env).await,
        TaskAction::Get(id) => {
            let task = store::get_task(env.db, account, existing(id)?, env.now)
                .await?
                .ok_or_else(not_found)?;
            if if_none_match_hits(&request.headers, &task)? {
                let mut response = empty(StatusCode::NOT_MODIFIED);
                response.headers_mut().insert(header::ETAG, etag(&task));
                return Ok(response);
            }
            Ok(one(StatusCode::OK, &task))
        }
        TaskAction::Update(id) => {
            let id = existing(id)?;
            let patch = TaskPatch::from_json(json_body(request)?)?;
            let expected = IfMatch::from_headers(&request.headers, id)?;
            let updated =
                task_writes::update(env.db, account, id, &patch, expected.versions(), env.now)
                    .await?;
            written(updated)
        }
        TaskAction::Toggle(id) => {
            let id = existing(id)?;
            let expected = IfMatch::from_headers(&request.headers, id)?;
            let toggled =
                task_writes::toggle(env.db, account, id, expected.versions(), env.now).await?;
            written(toggled)
        }
        TaskAction::Tags => {
            let tags = store::list_tags(env.db, account, env.now).await?;
            Ok(json(StatusCode::OK, &tags))
        }
        TaskAction::Export => {
            let retention = config::trash_retention(env.vars)?;
            let export = store::export(env.db, account, retention, env.now).await?;
            let mut response = json(StatusCode::OK, &export);
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"tasks-export.json\""),
            );
            Ok(response)
        }
        TaskAction::Restore(id) => {
            let retention = config::trash_retention(env.vars)?;
            let task = store::restore_task(env.db, account, existing(id)?, retention, env.now)
                .await?
                .ok_or(ApiError::NotFound("Task"))?;
            Ok(one(StatusCode::OK, &task))
        }
        TaskAction::Trash => {
            let retention = config::trash_retention(env.vars)?;
            let trash = store::list_trash(env.db, account, retention, env.now).await?;
            Ok(json(StatusCode::OK, &trash))
        }
        TaskAction::Changes => {
            let query = ChangesQuery::parse(&request.query)?;
            let page = super::events::changes(env, account, query).await?;
            Ok(json(StatusCode::OK, &page))
        }
        TaskAction::Events => super::events::open(request, env, account).await,
        TaskAction::Batch => super::batch::batch(account, request, env).await,
        TaskAction::Erase => {
            store::erase(env.db, account).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        TaskAction::Delete(id) => {
            let id = existing(id)?;
            let expected = IfMatch::from_headers(&request.headers, id)?;
            let retention = config::trash_retention(env.vars)?;
            let versions = expected.versions();
            let outcome =
                task_writes::delete(env.db, account, id, versions, retention, env.now).await?;
            settled(outcome)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
    }
}

/// A `cursor` in the form cursors have that this API did not issue for this list (made up,
/// edited, another user's or list's): 400, with the body of a 422. Not a 422: the value is as
/// valid in form as any cursor (the document's pattern says so), only unknown here, like an
/// id naming no task; a 422 is for a value of the wrong form.
fn unknown_cursor(message: &str) -> Response {
    let errors = [crate::domain::FieldError::new("cursor", message)];
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "detail": format!("Invalid cursor: {message}"), "errors": errors }),
    )
}

/// A page of the list, with `Link: <…>; rel="next"` and `X-Next-Cursor` when it is full, and
/// `X-Total-Count` with `count=true`. The body stays the bare array existing clients read.
async fn list(
    account: &Account<'_>,
    request: &Request,
    env: &Env<'_>,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(&request.query)?;
    // Only a page by cursor, or one with a next page, needs the binding (a SHA-256).
    let binding = std::cell::OnceCell::new();
    let binding = || *binding.get_or_init(|| query.binding(account.user.id()));
    if let Some(cursor) = &query.cursor
        && let Err(message) = cursor.position_for(&binding(), query.sort.value_kind())
    {
        return Ok(unknown_cursor(message));
    }
    let page = store::list_tasks(env.db, account, &query, env.now).await?;
    if let Some(cursor) = &query.cursor {
        // Checked on the answer: the key comes back with the page's statement. The rows were
        // the caller's in any case; a forged or edited cursor is refused, not served.
        if !page
            .cursor_key
            .as_ref()
            .is_some_and(|key| cursor.is_sealed_by(key))
        {
            return Ok(unknown_cursor(cursor::NOT_ISSUED));
        }
    }
    let mut response = json(StatusCode::OK, &page.tasks);
    let headers = response.headers_mut();
    if let (Some(next), Some(key)) = (&page.next, &page.cursor_key) {
        let cursor = cursor::seal(next, &binding(), key);
        let link = format!(
            "<{}?{}>; rel=\"next\"",
            request.path,
            next_page_query(&request.query, &cursor)
        );
        if let (Ok(cursor), Ok(link)) =
            (HeaderValue::from_str(&cursor), HeaderValue::from_str(&link))
        {
            headers.insert("x-next-cursor", cursor);
            headers.insert(header::LINK, link);
        }
    }
    if let Some(total) = page.total {
        headers.insert("x-total-count", HeaderValue::from(total));
    }
    Ok(response)
}

/// The request's query string for the next page: every parameter as the client sent it
/// (still percent-encoded) but `cursor` and `offset`, then the new cursor (base64url: nothing
/// to encode).
fn next_page_query(query: &str, cursor: &str) -> String {
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && key != "cursor" && key != "offset"
        })
        .collect();
    let last = format!("cursor={cursor}");
    pairs.push(&last);
    pairs.join("&")
}

async fn create(
    account: &Account<'_>,
    request: &Request,
    env: &Env<'_>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&request.headers)?;
    let new_task = NewTask::from_json(json_body(request)?)?;
    let hash = key.map(|_| request_hash(&new_task));
    let keyed = key
        .zip(hash.as_deref())
        .map(|(key, request_hash)| IdempotencyKey { key, request_hash });
    match store::create_task(env.db, account, &new_task, keyed.as_ref(), env.now).await? {
        Created::New(task) | Created::Replayed(task) => Ok(created(&task)),
        Created::KeyReused => Err(ApiError::validation(
            "Idempotency-Key",
            "was already used for a different request body",
        )),
    }
}

/// The `Idempotency-Key` header: at most one, an sf-string as the IETF httpapi draft defines
/// it (`"…"`, 1 to 255 characters, no `"` or `\\` inside) or, for clients that send it bare,
/// 1 to 255 visible ASCII characters; `"abc"` and `abc` are the same key. This is exactly the
/// `pattern` of the OpenAPI document.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let invalid = || {
        ApiError::validation(
            "Idempotency-Key",
            "must be a quoted string or 1 to 255 visible ASCII characters, given once",
        )
    };
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let value = value.to_str().map_err(|_| invalid())?;
    let bytes = value.as_bytes();
    let quoted = bytes.len() >= 3
        && bytes.len() <= MAX_IDEMPOTENCY_KEY_BYTES + 2
        && bytes[0] == b'"'
        && bytes[bytes.len() - 1] == b'"'
        && bytes[1..bytes.len() - 1]
            .iter()
            .all(|b| (0x20..=0x7e).contains(b) && *b != b'"' && *b != b'\\');
    if quoted {
        return Ok(Some(&value[1..value.len() - 1]));
    }
    let visible = |b: &u8| b.is_ascii_graphic();
    let bare = !bytes.is_empty()
        && bytes.len() <= MAX_IDEMPOTENCY_KEY_BYTES
        && visible(&bytes[0])
        && visible(&bytes[bytes.len() - 1])
        && bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    if bare {
        Ok(Some(value))
    } else {
        Err(invalid())
    }
}

/// What makes two creates "the same request": the parsed task, not its JSON spelling, so a
/// retry that re-serialises the body differently still matches. A field added later joins
/// the hash only when it is not its default, so a key stored before the field existed still
/// matches the same retry.
fn request_hash(task: &NewTask) -> String {
    let mut canonical = serde_json::json!([
        task.title.as_str(),
        task.description.as_ref().map(|d| d.as_str()),
        task.completed
    ]);
    if let Some(fields) = canonical.as_array_mut() {
        if task.priority != TaskPriority::None {
            fields.push(task.priority.as_str().into());
        }
        // Later fields are named, so that which default-valued ones are left out cannot make
        // two different requests hash alike.
        let schedule = &task.schedule;
        if !task.tags.is_empty() {
            fields.push(serde_json::json!({ "tags": task.tags.to_json() }));
        }
        if let Some(due) = schedule.due_at {
            fields.push(serde_json::json!({ "due_at": due.as_micros() }));
        }
        if let Some(remind) = schedule.remind_at {
            fields.push(serde_json::json!({ "remind_at": remind.as_micros() }));
        }
        if let Some(rule) = &schedule.recurrence {
            fields.push(serde_json::json!({
                "recurrence": [rule.frequency.as_str(), rule.interval.get(),
                               rule.until.map(|u| u.as_micros())]
            }));
        }
        if schedule.time_zone.as_str() != "UTC" {
            fields.push(serde_json::json!({ "time_zone": schedule.time_zone.as_str() }));
        }
    }
    hmac_sha256::Hash::hash(canonical.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Someone else's task and a task that never existed answer alike.
fn not_found() -> ApiError {
    ApiError::NotFound("Task")
}

fn existing(id: Option<TaskId>) -> Result<TaskId, ApiError> {
    id.ok_or_else(not_found)
}

/// The outcome of an update: the task, 412 if it exists at another version, else 404.
fn written(outcome: Written) -> Result<Response, ApiError> {
    let task = settled(outcome)?;
    Ok(one(StatusCode::OK, &task))
}

/// A single task, with its ETag.
fn one(status: StatusCode, task: &Task) -> Response {
    let mut response = json(status, task);
    response.headers_mut().insert(header::ETAG, etag(task));
    response
}

fn created(task: &Task) -> Response {
    let mut response = one(StatusCode::CREATED, task);
    let location = format!(
        "/api/{}/tasks/{}",
        crate::http::message::encode_path_segment(&task.user_id),
        task.id.get()
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_this_api_did_not_issue_is_a_400_naming_it() {
        let response = unknown_cursor(cursor::NOT_ISSUED);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "detail": "Invalid cursor: is not a cursor this API issued",
                "errors": [{"field": "cursor", "message": "is not a cursor this API issued"}],
            })
        );
    }
}

/// The request an `Idempotency-Key` is bound to covers every field a create accepts: the
/// OpenAPI `TaskCreate` schema's properties, each a column the field table knows
/// (`store::fields`). A field added to creates but not to [`request_hash`] would let a retry
/// with a different value replay the first task.
#[cfg(test)]
mod idempotency_tests {
    use super::*;
    use crate::store::fields;

    fn hash(body: &serde_json::Value) -> String {
        let task = NewTask::from_json(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{body} is not a valid create: {e:?}"));
        request_hash(&task)
    }

    /// For each property: what else the body needs for the property to be valid, and a value
    /// unlike its default.
    fn variant(property: &str) -> Option<(serde_json::Value, serde_json::Value)> {
        use serde_json::json;
        let due = json!({ "due_at": "2027-01-04T09:00:00Z" });
        let recurring = json!({ "due_at": "2027-01-04T09:00:00Z", "recurrence": "daily" });
        Some(match property {
            "title" => (json!({}), json!("another title")),
            "description" => (json!({}), json!("a description")),
            "completed" => (json!({}), json!(true)),
            "priority" => (json!({}), json!("high")),
            "tags" => (json!({}), json!(["errand"])),
            "due_at" => (json!({}), json!("2027-01-04T09:00:00Z")),
            "remind_at" => (due, json!("2027-01-04T08:00:00Z")),
            "recurrence" => (due, json!("weekly")),
            "interval" => (recurring, json!(3)),
            "until" => (recurring, json!("2027-03-01T00:00:00Z")),
            "time_zone" => (json!({}), json!("Asia/Tokyo")),
            _ => return None,
        })
    }

    #[test]
    fn every_field_a_create_accepts_is_in_its_request_hash() {
        let openapi: serde_json::Value =
            serde_json::from_str(crate::api::docs::OPENAPI_JSON).unwrap();
        let properties = openapi["components"]["schemas"]["TaskCreate"]["properties"]
            .as_object()
            .expect("a TaskCreate schema");
        assert!(properties.len() > 5);
        for property in properties.keys() {
            assert!(
                fields::shown_in(property).is_some_and(|c| c.shown),
                "creates accept {property}, which no column in store::fields holds"
            );
            let (needs, value) = variant(property)
                .unwrap_or_else(|| panic!("no test value for {property}: add one here"));
            let mut base = serde_json::json!({ "title": "a title" });
            let mut changed = base.clone();
            for (key, needed) in needs.as_object().unwrap() {
                base[key] = needed.clone();
                changed[key] = needed.clone();
            }
            changed[property.as_str()] = value;
            assert_ne!(
                hash(&base),
                hash(&changed),
                "{property} does not change an Idempotency-Key's request hash"
            );
        }
    }
}
