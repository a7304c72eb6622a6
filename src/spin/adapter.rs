//! The Spin entry point: a WASIp3 HTTP service (`wasi:http/handler@0.3.0-rc-2026-03-15`, from
//! spin-sdk 6), with Spin's SQLite and variables underneath. Everything else is
//! runtime-independent.
//!
//! # What lives per instance, what per request
//!
//! Spin 4.0.2 reuses an instance of a WASIp3 component for many requests (up to 128 in its
//! life, up to 16 at once, retired after 1 s idle; `--max-instance-reuse-count` and friends), and
//! the whole store survives between them. So what is the same for every request of an instance
//! is done once, in [`Instance`]: the variables are read, the configuration parsed (HS256 key,
//! JWKS), and the `default` database opened on first use and kept, with its schema parsed by
//! SQLite once instead of on every request's first statement. Whether the schema is current is
//! still asked by every statement that does the work (see `store`): another replica may
//! migrate the database under a running instance.
//!
//! # Sharing the connection
//!
//! Requests of one instance run concurrently: each awaits the runtime at every statement, and
//! meanwhile others run. They share the instance's connection through
//! [`SharedDatabase`](crate::db::shared): a request takes it at its first statement and keeps it
//! until it has its answer, so statements of two requests never interleave, and the writes
//! waiting at one moment commit together. A connection the runtime calls invalid, or whose
//! libSQL server lost it, is dropped and opened again on the next statement ([`Kept`]).

use crate::app;
use crate::config::{ConfigCache, VariableMap};
use crate::db::kept::{Kept, Open, Opened, Opening, is_libsql_source_id};
use crate::db::pool::Pool;
use crate::db::shared::{SessionEnd, SharedDatabase};
use crate::db::{Database, DbError, Rows, Value};
use crate::env::Env;
use crate::http::message::{Body, BodyReader, Request, Response};
use crate::live::{self, EventStream};
use crate::spin::phases::{self, Phase, Stamp};
use crate::time::{Clock, Timestamp};
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use spin_sdk::sqlite as spin_sqlite;
use spin_sdk::wasip3;
use spin_sdk::wasip3::http::types::{
    ErrorCode, Fields, Method as WasiMethod, Request as WasiRequest, Response as WasiResponse,
};
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use std::cell::RefCell;
use std::rc::Rc;

struct Service;

wasip3::http::service::export!(Service);

impl wasip3::exports::http::handler::Guest for Service {
    async fn handle(incoming: WasiRequest) -> Result<WasiResponse, ErrorCode> {
        let instance = Instance::current();
        let read = Stamp::now();
        let request = read_request(incoming).await;
        read.record(Phase::Read);
        let vars = instance.variables().await;
        let head = request.method == Method::HEAD;
        let session = instance
            .db
            .session(matches!(request.method, Method::GET | Method::HEAD));
        let handle = Stamp::now();
        let mut response = app::handle(
            &request,
            &Env {
                db: &session,
                vars: &*vars,
                http: &crate::spin::fetch::SpinHttp,
                config: &instance.config,
                now: Timestamp::now(),
                clock: &SpinClock,
            },
        )
        .await;
        if let SessionEnd::Lost(error) = session.finish().await {
            // The request's writes were part of a group whose COMMIT failed: whatever it
            // computed did not happen.
            response = app::lost_writes(&request, &*vars, &error);
        }
        handle.record(Phase::Handle);
        let (status, bytes) = (response.status().as_u16(), response.body().len());
        let response = match response.extensions_mut().remove::<EventStream>() {
            Some(stream) => into_event_stream(response, stream, instance.clone()),
            None => phases::time(Phase::Send, || into_wasi_response(response, head)),
        };
        phases::report(status, bytes);
        Ok(response)
    }
}

/// What an instance keeps between its requests.
struct Instance {
    variables: RefCell<Option<Rc<VariableMap>>>,
    config: ConfigCache,
    db: Pool<Kept<SpinDefault>>,
}

thread_local! {
    static INSTANCE: Rc<Instance> = Rc::new(Instance {
        variables: RefCell::new(None),
        config: ConfigCache::default(),
        db: Pool::new(|| {
            SharedDatabase::with_retries(Kept::new(SpinDefault), Some(Box::new(SpinClock)))
        }),
    });
}

impl Instance {
    fn current() -> Rc<Instance> {
        INSTANCE.with(Rc::clone)
    }

    /// Every variable the component reads, read once per instance. Spin resolves them when
    /// the instance asks; an instance lives at most 128 requests or a second idle, so a
    /// changed value reaches the next instance.
    async fn variables(&self) -> Rc<VariableMap> {
        if let Some(vars) = self.variables.borrow().as_ref() {
            return vars.clone();
        }
        let mut values = Vec::new();
        for name in crate::config::VARIABLE_NAMES {
            let value = phases::time_async(Phase::Variable, spin_sdk::variables::get(name)).await;
            if let Ok(value) = value {
                values.push((*name, value));
            }
        }
        let vars = Rc::new(VariableMap::new(values));
        // Two requests may have read them at once; either copy is the same.
        *self.variables.borrow_mut() = Some(vars.clone());
        vars
    }
}

async fn read_request(incoming: WasiRequest) -> Request {
    let method = match incoming.get_method() {
        WasiMethod::Get => Method::GET,
        WasiMethod::Post => Method::POST,
        WasiMethod::Put => Method::PUT,
        WasiMethod::Patch => Method::PATCH,
        WasiMethod::Delete => Method::DELETE,
        WasiMethod::Head => Method::HEAD,
        WasiMethod::Options => Method::OPTIONS,
        WasiMethod::Connect => Method::CONNECT,
        WasiMethod::Trace => Method::TRACE,
        WasiMethod::Other(other) => Method::from_bytes(other.as_bytes()).unwrap_or(Method::OPTIONS),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in incoming.get_headers().copy_all() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    let path_and_query = incoming
        .get_path_with_query()
        .unwrap_or_else(|| "/".to_owned());
    let body = read_body(incoming, &method, &headers).await;
    Request::new(method, &path_and_query, headers, body)
}

/// Reads the body by [`BodyReader`]'s rule. The runtime strips `Transfer-Encoding` before the
/// guest sees the headers, so "no length declared" cannot tell a chunked body from none: the
/// stream is read until it ends.
async fn read_body(incoming: WasiRequest, method: &Method, headers: &HeaderMap) -> Body {
    let mut reader = BodyReader::start(method, headers);
    if let BodyReader::Done(_) = reader {
        return reader.finish();
    }
    let (_result, result_reader) = wasip3::wit_future::new(|| Ok(()));
    let (mut stream, _trailers) = WasiRequest::consume_body(incoming, result_reader);
    loop {
        let (result, chunk) = stream.read(Vec::with_capacity(16 * 1024)).await;
        match result {
            StreamResult::Complete(_) => {
                if let Some(body) = reader.push(&chunk) {
                    return body;
                }
            }
            // The client finished (or hung up mid-body: whatever it sent is judged as a whole;
            // a truncated JSON document fails to parse).
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    reader.finish()
}

/// The response with its whole body. The body is written by a task of this request that the
/// runtime polls as it reads the stream.
fn into_wasi_response(response: Response, head: bool) -> WasiResponse {
    let (parts, body) = response.into_parts();
    let mut headers = wasi_headers(&parts.headers);
    // A HEAD response has no body to count; Content-Length may be left out (RFC 9110 §9.3.2).
    if !head && !parts.headers.contains_key(header::CONTENT_LENGTH) && has_body(parts.status) {
        headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let (trailers_writer, trailers) = wasip3::wit_future::new(|| Ok(None));
    let contents = if body.is_empty() {
        drop(trailers_writer);
        None
    } else {
        let (mut writer, reader) = wasip3::wit_stream::new();
        wasip3::spawn(async move {
            let unwritten = writer.write_all(body).await;
            drop(writer);
            if unwritten.is_empty() {
                let _ = trailers_writer.write(Ok(None)).await;
            }
        });
        Some(reader)
    };
    let (response, _sent) = WasiResponse::new(fields, contents, trailers);
    let _ = response.set_status_code(parts.status.as_u16());
    response
}

/// An event stream's response: the head and the first events now, then the body stays open
/// while [`live::pump`] sends what comes (no `Content-Length`: it goes out chunked). Kept
/// apart from [`into_wasi_response`], whose every other response must reach the client in one
/// piece (see `tests/api/runtimes.rs`: a body written late waits for a delayed ACK).
fn into_event_stream(
    response: Response,
    stream: EventStream,
    instance: Rc<Instance>,
) -> WasiResponse {
    let (parts, body) = response.into_parts();
    let fields = Fields::from_list(&wasi_headers(&parts.headers)).unwrap_or_else(|_| Fields::new());
    let (trailers_writer, trailers) = wasip3::wit_future::new(|| Ok(None));
    let (mut writer, reader) = wasip3::wit_stream::new();
    wasip3::spawn(async move {
        if writer.write_all(body).await.is_empty() {
            let db = EachStatement(instance);
            live::pump(&stream, &db, &SpinClock, &mut StreamSink(&mut writer)).await;
        }
        drop(writer);
        let _ = trailers_writer.write(Ok(None)).await;
    });
    let (response, _sent) = WasiResponse::new(fields, Some(reader), trailers);
    let _ = response.set_status_code(parts.status.as_u16());
    response
}

fn wasi_headers(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

/// 1xx, 204 and 304 responses carry no body and no `Content-Length` of one.
fn has_body(status: http::StatusCode) -> bool {
    !(status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED)
}

/// Spin's clocks: the wall clock for the time, the monotonic one for waiting.
struct SpinClock;

impl Clock for SpinClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn pause(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Box::pin(spin_sdk::wasip3::clocks::monotonic_clock::wait_for(nanos))
    }
}

/// An event stream's body: its bytes go out as they come; `false` once the client is gone.
struct StreamSink<'w>(&'w mut wasip3::wit_bindgen::StreamWriter<u8>);

impl live::Sink for StreamSink<'_> {
    fn send<'a>(
        &'a mut self,
        bytes: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + 'a>> {
        Box::pin(async move { self.0.write_all(bytes).await.is_empty() })
    }
}

/// The instance's database for an event stream, whose body outlives its request: every
/// statement takes the connection on its own and gives it back, so a waiting stream holds
/// nothing another request needs.
struct EachStatement(Rc<Instance>);

impl Database for EachStatement {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        Box::pin(async move {
            let session = self.0.db.session(true);
            let rows = session.execute(sql, params).await;
            // A read session never joins a group: its writes (the stream's lease) are
            // committed when the statement returns.
            session.finish().await;
            rows
        })
    }
}

/// A statement that met a locked database waits on the same monotonic clock.
impl crate::db::shared::Pause for SpinClock {
    fn pause(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        Clock::pause(self, duration)
    }
}

/// Opens the `default` database for [`Kept`]: Spin's connection, with the busy handler off and
/// what kind of database it is asked once.
struct SpinDefault;

impl Open for SpinDefault {
    type Connection = SpinConnection;

    fn open(&self) -> Opening<'_, SpinConnection> {
        Box::pin(async {
            let open = Stamp::now();
            let connection = SpinConnection(
                spin_sqlite::Connection::open_default()
                    .await
                    .map_err(db_error)?,
            );
            open.record(Phase::Open);
            // A libSQL server (sqld, Turso) or a local file: see `db::kept`. A failure here is
            // the server's (unreachable, a refused token) and fails the first statement.
            let source = connection.execute("SELECT sqlite_source_id()", &[]).await?;
            let remote = matches!(
                source.first().and_then(|row| row.first()),
                Some(Value::Text(id)) if is_libsql_source_id(id)
            );
            // A locked database is retried by `db::shared`, at once and then after pauses of
            // a few milliseconds; SQLite's own busy handler (Spin opens with a 5 s timeout) sleeps up to 100 ms at
            // a time. A runtime that refuses the setting keeps its handler: the retry then
            // never sees "locked" before that handler's timeout. libSQL's client refuses any
            // PRAGMA that sets a value, so it is not asked.
            if !remote {
                let _ = connection.execute("PRAGMA busy_timeout = 0", &[]).await;
            }
            Ok(Opened { connection, remote })
        })
    }
}

/// One connection Spin opened.
struct SpinConnection(spin_sqlite::Connection);

impl Database for SpinConnection {
    fn execute<'a>(&'a self, sql: &'a str, params: &'a [Value]) -> Rows<'a> {
        Box::pin(async move {
            let statement = Stamp::now();
            let params: Vec<spin_sqlite::Value> = params.iter().map(to_spin).collect();
            let outcome = match self.0.execute(sql, params).await {
                Ok(result) => result.collect().await,
                Err(error) => Err(error),
            };
            statement.record(Phase::Statement);
            outcome.map_err(db_error).map(|rows| {
                rows.into_iter()
                    .map(|row| row.values.into_iter().map(from_spin).collect())
                    .collect()
            })
        })
    }
}

fn to_spin(value: &Value) -> spin_sqlite::Value {
    match value {
        Value::Integer(n) => spin_sqlite::Value::Integer(*n),
        Value::Real(x) => spin_sqlite::Value::Real(*x),
        Value::Text(s) => spin_sqlite::Value::Text(s.clone()),
        Value::Blob(b) => spin_sqlite::Value::Blob(b.clone()),
        Value::Null => spin_sqlite::Value::Null,
    }
}

fn from_spin(value: spin_sqlite::Value) -> Value {
    match value {
        spin_sqlite::Value::Integer(n) => Value::Integer(n),
        spin_sqlite::Value::Real(x) => Value::Real(x),
        spin_sqlite::Value::Text(s) => Value::Text(s),
        spin_sqlite::Value::Blob(b) => Value::Blob(b),
        spin_sqlite::Value::Null => Value::Null,
    }
}

fn db_error(error: spin_sqlite::Error) -> DbError {
    match error {
        spin_sqlite::Error::NoSuchDatabase => DbError::NoSuchDatabase,
        spin_sqlite::Error::AccessDenied => DbError::AccessDenied,
        spin_sqlite::Error::InvalidConnection => DbError::InvalidConnection,
        spin_sqlite::Error::DatabaseFull => DbError::DatabaseFull,
        spin_sqlite::Error::Io(message) => DbError::from_runtime(message),
    }
}
