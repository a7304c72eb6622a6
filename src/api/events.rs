//! `GET /api/{user_id}/events` (Server-Sent Events) and the long-poll of the changes feed: the
//! changes feed, pushed (see [`crate::live`] for how waiting works and what bounds it).

use crate::domain::{ChangesQuery, FieldError, Invalid, SyncToken};
use crate::env::Env;
use crate::error::ApiError;
use crate::http::message::{Request, Response, with_content_type};
use crate::live::{self, EventStream};
use crate::store::{self, Account, Changes};
use http::{HeaderName, HeaderValue, StatusCode};
use std::time::Duration;

/// `GET …/tasks/changes`: the page after `since`; with `wait=N` and nothing to report, read
/// again every [`live::POLL`] until a change is committed (through any instance or replica)
/// or `N` seconds have passed. The request holds no connection while it waits.
pub async fn changes(
    env: &Env<'_>,
    account: &Account<'_>,
    query: ChangesQuery,
) -> Result<Changes, ApiError> {
    let deadline = env.now.plus(Duration::from_secs(u64::from(query.wait)));
    let mut now = env.now;
    loop {
        let page = store::changes(env.db, account, query, now).await?;
        if !page.changes.is_empty() || now >= deadline {
            return Ok(page);
        }
        env.db.idle().await;
        env.clock.pause(live::POLL).await;
        now = env.clock.now();
    }
}

/// Opens an event stream: the changes after `Last-Event-ID` (or `?since=`, or every change
/// from the start) at once, then each one as it is committed. The response carries an
/// [`EventStream`] for the runtime adapter, which keeps the body open ([`live::pump`]).
pub async fn open(
    request: &Request,
    env: &Env<'_>,
    account: &Account<'_>,
) -> Result<Response, ApiError> {
    let (since, seconds) = start(request)?;
    let now = env.now;
    // The first page checks the user and the schema like any read, before a lease is taken.
    let query = ChangesQuery {
        since,
        limit: live::PAGE,
        wait: 0,
    };
    let page = store::changes(env.db, account, query, now).await?;
    let lease = store::streams::open_stream(
        env.db,
        account.user.id(),
        live::MAX_STREAMS_PER_USER,
        now,
        now.plus(live::LEASE),
    )
    .await?
    .ok_or(ApiError::TooManyStreams {
        limit: live::MAX_STREAMS_PER_USER,
    })?;
    let mut body = live::PREAMBLE.to_vec();
    for (change, position) in page.changes.iter().zip(&page.positions) {
        body.extend(live::event(*position, change));
    }
    let mut response = with_content_type(
        StatusCode::OK,
        HeaderValue::from_static("text/event-stream"),
        body,
    );
    let headers = response.headers_mut();
    // Proxies that buffer (nginx) would hold the events back.
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    let ends_at = account.identity.expires_at().min(now.plus(seconds));
    response.extensions_mut().insert(EventStream {
        user: account.user.clone(),
        identity: account.identity.clone(),
        source: account.source,
        since: page.next,
        ends_at,
        lease,
    });
    Ok(response)
}

/// Where a stream starts and how long it may last. The start: `Last-Event-ID` (what
/// `EventSource` sends when it reconnects) wins over `?since=`; neither is every change from
/// the start. `?seconds=N` (0 to 300) ends it sooner than [`live::MAX_STREAM`]; 0 sends what is
/// there now and ends.
fn start(request: &Request) -> Result<(SyncToken, Duration), ApiError> {
    let invalid = |field: &str, message: &str| -> ApiError {
        Invalid(vec![FieldError::new(field, message)]).into()
    };
    let mut seconds = None;
    for pair in request.query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "seconds" {
            continue;
        }
        let max = live::MAX_STREAM.as_secs();
        match value.parse::<u64>() {
            Ok(n) if seconds.is_none() && n <= max && value.bytes().all(|b| b.is_ascii_digit()) => {
                seconds = Some(Duration::from_secs(n));
            }
            _ => {
                return Err(invalid(
                    "seconds",
                    "must be given once, a whole number from 0 to 300",
                ));
            }
        }
    }
    // `since` is checked even when Last-Event-ID wins: a malformed parameter is a 422 either way.
    let from_query = ChangesQuery::parse(&request.query)?.since;
    let since = match request.headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| SyncToken::parse(text.trim()).ok())
            .ok_or_else(|| invalid("Last-Event-ID", "must be an event id this API sent"))?,
        None => from_query,
    };
    Ok((since, seconds.unwrap_or(live::MAX_STREAM)))
}
