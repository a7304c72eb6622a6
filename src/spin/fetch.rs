//! [`HttpClient`] over `wasi:http/client@0.3.0-rc-2026-03-15`, which Spin provides and restricts
//! to the component's `allowed_outbound_hosts`. The whole fetch races one monotonic-clock
//! deadline, so it is bounded even if a runtime ignores the request's timeout options.

use crate::http::fetch::{FetchError, Fetched, Fetching, HttpClient, Limits};
use futures::FutureExt;
use spin_sdk::wasip3;
use spin_sdk::wasip3::clocks::monotonic_clock;
use spin_sdk::wasip3::http::client;
use spin_sdk::wasip3::http::types::{
    ErrorCode, Fields, Method, Request, RequestOptions, Response, Scheme,
};
use spin_sdk::wasip3::wit_bindgen::StreamResult;

pub struct SpinHttp;

impl HttpClient for SpinHttp {
    fn get<'a>(&'a self, url: &'a str, limits: Limits) -> Fetching<'a> {
        Box::pin(async move {
            let request = build(url, limits)?;
            let nanos = u64::try_from(limits.deadline.as_nanos()).unwrap_or(u64::MAX);
            let fetch = std::pin::pin!(fetch(request, limits.max_bytes).fuse());
            let timer = std::pin::pin!(monotonic_clock::wait_for(nanos).fuse());
            match futures::future::select(fetch, timer).await {
                futures::future::Either::Left((outcome, _)) => outcome,
                futures::future::Either::Right(_) => Err(FetchError::Timeout),
            }
        })
    }
}

fn build(url: &str, limits: Limits) -> Result<Request, FetchError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| FetchError::Failed(format!("bad URL {url:?}")))?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        _ => return Err(FetchError::Failed(format!("unsupported scheme in {url:?}"))),
    };
    let invalid = |_| FetchError::Failed(format!("cannot build a request for {url:?}"));
    let options = RequestOptions::new();
    // Runtimes may not support every option; the deadline in `get` holds regardless.
    let budget = Some(limits.deadline.as_nanos().try_into().unwrap_or(u64::MAX));
    let _ = options.set_connect_timeout(budget);
    let _ = options.set_first_byte_timeout(budget);
    let _ = options.set_between_bytes_timeout(budget);
    let (_, no_trailers) = wasip3::wit_future::new(|| Ok(None));
    let (request, _sent) = Request::new(Fields::new(), None, no_trailers, Some(options));
    request.set_method(&Method::Get).map_err(invalid)?;
    request.set_scheme(Some(&scheme)).map_err(invalid)?;
    request
        .set_authority(uri.authority().map(|a| a.as_str()))
        .map_err(invalid)?;
    request
        .set_path_with_query(uri.path_and_query().map(|p| p.as_str()))
        .map_err(invalid)?;
    Ok(request)
}

async fn fetch(request: Request, max_bytes: usize) -> Result<Fetched, FetchError> {
    let response = client::send(request).await.map_err(fetch_error)?;
    let status = response.get_status_code();
    let body = read_body(response, max_bytes).await?;
    Ok(Fetched { status, body })
}

/// The body, at most `max_bytes` of it.
async fn read_body(response: Response, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let declared = response
        .get_headers()
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(FetchError::TooLarge);
    }
    let (_result, result_reader) = wasip3::wit_future::new(|| Ok(()));
    let (mut stream, trailers) = Response::consume_body(response, result_reader);
    let mut out = Vec::new();
    loop {
        let (result, chunk) = stream.read(Vec::with_capacity(16 * 1024)).await;
        match result {
            StreamResult::Complete(_) => {
                if out.len() + chunk.len() > max_bytes {
                    return Err(FetchError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    // The body's end says whether it arrived whole.
    trailers.await.map_err(fetch_error)?;
    Ok(out)
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
