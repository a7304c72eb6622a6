//! The Spin entry point: WASI HTTP in, WASI HTTP out, Spin SQLite and variables underneath.
//! Everything else is runtime-independent.

use crate::app;
use crate::config::Variables;
use crate::db::{Database, DbError, Row, Value};
use crate::env::Env;
use crate::message::{Body, BodyReader, Request, Response};
use crate::phases::{self, Phase, Stamp};
use crate::time::Timestamp;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use spin_sdk::http::OutgoingBody;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::wit::wasi::http0_2_0::types::ResponseOutparam as RawOutparam;
use spin_sdk::{http_component, sqlite, variables};
use std::cell::OnceCell;
use wasi::io::streams::OutputStream;

#[http_component]
async fn handle(incoming: IncomingRequest, response_out: ResponseOutparam) {
    let read = Stamp::now();
    let request = read_request(incoming).await;
    read.record(Phase::Read);
    let head = request.method == Method::HEAD;
    let db = SpinDatabase::default();
    let response = phases::time(Phase::Handle, || {
        app::handle(
            &request,
            &Env {
                db: &db,
                vars: &SpinVariables,
                http: &crate::spin_fetch::SpinHttp,
                now: Timestamp::now(),
            },
        )
    });
    let (status, bytes) = (response.status().as_u16(), response.body().len());
    phases::time(Phase::Send, || send_response(response_out, response, head));
    phases::report(status, bytes);
}

async fn read_request(incoming: IncomingRequest) -> Request {
    let method = match incoming.method() {
        spin_sdk::http::Method::Get => Method::GET,
        spin_sdk::http::Method::Post => Method::POST,
        spin_sdk::http::Method::Put => Method::PUT,
        spin_sdk::http::Method::Patch => Method::PATCH,
        spin_sdk::http::Method::Delete => Method::DELETE,
        spin_sdk::http::Method::Head => Method::HEAD,
        spin_sdk::http::Method::Options => Method::OPTIONS,
        spin_sdk::http::Method::Connect => Method::CONNECT,
        spin_sdk::http::Method::Trace => Method::TRACE,
        spin_sdk::http::Method::Other(other) => {
            Method::from_bytes(other.as_bytes()).unwrap_or(Method::OPTIONS)
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in incoming.headers().entries() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let body = read_body(incoming, &method, &headers).await;
    Request::new(method, &path_and_query, headers, body)
}

/// Reads the body by [`BodyReader`]'s rule. The runtime strips `Transfer-Encoding` before the
/// guest sees the headers, so "no length declared" cannot tell a chunked body from none: the
/// stream is read until it ends.
async fn read_body(incoming: IncomingRequest, method: &Method, headers: &HeaderMap) -> Body {
    let mut reader = BodyReader::start(method, headers);
    if let BodyReader::Done(_) = reader {
        return reader.finish();
    }
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if let Some(body) = reader.push(&chunk) {
                    return body;
                }
            }
            // A client that hangs up mid-body gets whatever it sent judged as a whole; it is
            // gone anyway, and a truncated JSON document fails to parse.
            Err(_) => break,
        }
    }
    reader.finish()
}

/// Hands the response to the runtime with its whole body already written and finished, so the
/// runtime's HTTP server finds head and body ready together and sends them in one write. Setting
/// the head first (what `ResponseOutparam::set_with_body` does) lets the server flush the head
/// alone; the body then waits behind Nagle's algorithm for the client's delayed ACK — tens of
/// milliseconds per request on a keep-alive connection under Spin, which does not set
/// TCP_NODELAY. A body larger than the runtime lets us buffer is streamed after the head.
fn send_response(response_out: ResponseOutparam, response: Response, head: bool) {
    let (parts, body) = response.into_parts();
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    // A HEAD response has no body to count; Content-Length may be left out (RFC 9110 §9.3.2).
    if !head && !parts.headers.contains_key(header::CONTENT_LENGTH) && has_body(parts.status) {
        headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(parts.status.as_u16());
    let out = response_out.into_inner();
    let Ok(outgoing_body) = outgoing.body() else {
        RawOutparam::set(out, Ok(outgoing));
        return;
    };
    let Ok(stream) = outgoing_body.write() else {
        RawOutparam::set(out, Ok(outgoing));
        return;
    };
    let buffered = write_without_waiting(&stream, &body);
    if buffered == body.len() {
        drop(stream);
        let _ = OutgoingBody::finish(outgoing_body, None);
        RawOutparam::set(out, Ok(outgoing));
        return;
    }
    RawOutparam::set(out, Ok(outgoing));
    let mut rest = &body[buffered..];
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(4096)];
        if let Err(error) = stream.blocking_write_and_flush(chunk) {
            eprintln!("could not send the response body: {error}");
            return;
        }
        rest = &rest[chunk.len()..];
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing_body, None);
}

/// 1xx, 204 and 304 responses carry no body and no `Content-Length` of one.
fn has_body(status: http::StatusCode) -> bool {
    !(status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED)
}

/// Writes as much of `bytes` as the stream accepts without blocking; returns how much.
fn write_without_waiting(stream: &OutputStream, bytes: &[u8]) -> usize {
    let mut written = 0;
    while written < bytes.len() {
        let permitted = match stream.check_write() {
            Ok(0) | Err(_) => break,
            Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let end = written + permitted.min(bytes.len() - written);
        if stream.write(&bytes[written..end]).is_err() {
            break;
        }
        written = end;
    }
    written
}

/// The `default` database, opened on first use (routes that need no database never open it).
#[derive(Default)]
struct SpinDatabase {
    connection: OnceCell<Result<sqlite::Connection, DbError>>,
}

impl Database for SpinDatabase {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let connection = self
            .connection
            .get_or_init(|| {
                phases::time(Phase::Open, || {
                    sqlite::Connection::open_default().map_err(db_error)
                })
            })
            .as_ref()
            .map_err(Clone::clone)?;
        phases::time(Phase::Statement, || {
            let params: Vec<sqlite::Value> = params.iter().map(to_spin).collect();
            let result = connection.execute(sql, &params).map_err(db_error)?;
            Ok(result
                .rows
                .into_iter()
                .map(|row| row.values.into_iter().map(from_spin).collect())
                .collect())
        })
    }
}

fn to_spin(value: &Value) -> sqlite::Value {
    match value {
        Value::Integer(n) => sqlite::Value::Integer(*n),
        Value::Real(x) => sqlite::Value::Real(*x),
        Value::Text(s) => sqlite::Value::Text(s.clone()),
        Value::Blob(b) => sqlite::Value::Blob(b.clone()),
        Value::Null => sqlite::Value::Null,
    }
}

fn from_spin(value: sqlite::Value) -> Value {
    match value {
        sqlite::Value::Integer(n) => Value::Integer(n),
        sqlite::Value::Real(x) => Value::Real(x),
        sqlite::Value::Text(s) => Value::Text(s),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    }
}

fn db_error(error: sqlite::Error) -> DbError {
    match error {
        sqlite::Error::NoSuchDatabase => DbError::NoSuchDatabase,
        sqlite::Error::AccessDenied => DbError::AccessDenied,
        sqlite::Error::InvalidConnection => DbError::InvalidConnection,
        sqlite::Error::DatabaseFull => DbError::DatabaseFull,
        sqlite::Error::Io(message) => DbError::Io(message),
    }
}

struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Option<String> {
        phases::time(Phase::Variable, || variables::get(name).ok())
    }
}
