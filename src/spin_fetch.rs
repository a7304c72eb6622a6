//! [`HttpClient`] over `wasi:http/outgoing-handler`, which Spin provides and restricts to the
//! component's `allowed_outbound_hosts`. The request pipeline is synchronous, so this blocks on
//! WASI pollables directly (the instance serves this one request; nothing else is waiting).
//! Every wait also watches one monotonic-clock deadline, so the whole fetch is bounded even if
//! a runtime ignores the request's timeout options.

use crate::fetch::{FetchError, Fetched, HttpClient, Limits};
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::StreamError;

pub struct SpinHttp;

impl HttpClient for SpinHttp {
    fn get(&self, url: &str, limits: Limits) -> Result<Fetched, FetchError> {
        let deadline = Deadline::after(limits.deadline);
        let response = send(url, limits, &deadline)?;
        let status = response.status();
        let body = read_body(&response, limits.max_bytes, &deadline)?;
        Ok(Fetched { status, body })
    }
}

struct Deadline(monotonic_clock::Instant);

impl Deadline {
    fn after(duration: std::time::Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self(monotonic_clock::now().saturating_add(nanos))
    }

    fn remaining(&self) -> u64 {
        self.0.saturating_sub(monotonic_clock::now())
    }

    /// Waits until `ready` fires or the deadline passes; `Err` on the deadline.
    fn wait(&self, ready: &Pollable) -> Result<(), FetchError> {
        if ready.ready() {
            return Ok(());
        }
        let timer = monotonic_clock::subscribe_instant(self.0);
        let fired = poll(&[ready, &timer]);
        if fired.contains(&0) {
            Ok(())
        } else {
            Err(FetchError::Timeout)
        }
    }
}

fn send(url: &str, limits: Limits, deadline: &Deadline) -> Result<IncomingResponse, FetchError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| FetchError::Failed(format!("bad URL {url:?}")))?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        _ => return Err(FetchError::Failed(format!("unsupported scheme in {url:?}"))),
    };
    let invalid = |_| FetchError::Failed(format!("cannot build a request for {url:?}"));
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(invalid)?;
    request.set_scheme(Some(&scheme)).map_err(invalid)?;
    request
        .set_authority(uri.authority().map(|a| a.as_str()))
        .map_err(invalid)?;
    request
        .set_path_with_query(uri.path_and_query().map(|p| p.as_str()))
        .map_err(invalid)?;
    let options = RequestOptions::new();
    // Runtimes may not support every option; the deadline below holds regardless.
    let budget = Some(limits.deadline.as_nanos().try_into().unwrap_or(u64::MAX));
    let _ = options.set_connect_timeout(budget);
    let _ = options.set_first_byte_timeout(budget);
    let _ = options.set_between_bytes_timeout(budget);
    let pending = outgoing_handler::handle(request, Some(options)).map_err(fetch_error)?;
    {
        let ready = pending.subscribe();
        deadline.wait(&ready)?;
    }
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(fetch_error(code)),
        Some(Err(())) | None => Err(FetchError::Failed("no response".to_owned())),
    }
}

/// The body, at most `max_bytes` of it. Resources are dropped child first (stream, body), as
/// WASI requires.
fn read_body(
    response: &IncomingResponse,
    max_bytes: usize,
    deadline: &Deadline,
) -> Result<Vec<u8>, FetchError> {
    let declared = {
        let headers = response.headers();
        headers
            .get(&"content-length".to_owned())
            .first()
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok())
    };
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(FetchError::TooLarge);
    }
    let body = response
        .consume()
        .map_err(|()| FetchError::Failed("the body was already taken".to_owned()))?;
    let stream = body
        .stream()
        .map_err(|()| FetchError::Failed("the body stream was already taken".to_owned()))?;
    let mut out = Vec::new();
    loop {
        if deadline.remaining() == 0 {
            return Err(FetchError::Timeout);
        }
        match stream.read(16 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                let ready = stream.subscribe();
                deadline.wait(&ready)?;
            }
            Ok(chunk) => {
                if out.len() + chunk.len() > max_bytes {
                    return Err(FetchError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(out),
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(FetchError::Failed(error.to_debug_string()));
            }
        }
    }
}

fn fetch_error(code: ErrorCode) -> FetchError {
    match code {
        ErrorCode::HttpRequestDenied => FetchError::Denied,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => FetchError::Timeout,
        other => FetchError::Failed(format!("{other:?}")),
    }
}
