//! The HTTP front: hyper HTTP/1.1, Spin's routing and `spin-*` headers, then the component:
//! a fresh instance per request for a WASI 0.2 component, reused instances (Spin 4.0.2's pool,
//! wasmtime-wasi-http's `ProxyHandler`) for a WASIp3 one; streamed bodies both ways.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wasmtime::component::{Accessor, InstancePre};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi_http::handler::{HandlerState, Proxy, ProxyHandler, StoreBundle};
use wasmtime_wasi_http::p2::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode as P2Code, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode as P3Code;

use crate::engine::HttpExport;
use crate::reuse::{InstanceReuse, Range};
use crate::routes::{RESERVED_PREFIX, RouteMatch, Router};
use crate::state::{ComponentState, InstanceState};

/// How long in-flight requests get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Slow clients must not hold a connection forever before sending a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How requests reach a component's instances.
pub enum Instances {
    /// WASI 0.2: a fresh instance per request.
    P2(ProxyPre<InstanceState>),
    /// WASIp3: instances reused as Spin 4.0.2 reuses them.
    P3(ProxyHandler<P3Instances>),
}

pub struct ServedComponent {
    /// The linked component, whichever its HTTP export.
    pub pre: InstancePre<InstanceState>,
    pub instances: Instances,
    pub state: Arc<ComponentState>,
}

/// A new store for `state`'s component, whose guest yields to the executor every
/// `yield_every` of running.
///
/// - A WASI 0.2 request's store has a `deadline`: past it the guest is interrupted. It yields
///   every epoch tick, so even a guest spinning without host calls cannot hold a worker thread.
/// - A WASIp3 instance's store has none: wasmtime-wasi-http's handler times its requests out
///   one by one, from outside the guest. Spin 4.0.2 never lets such a guest yield, so a
///   CPU-bound request keeps its thread (which shapes how requests spread over instances);
///   here it yields once per request timeout, only so that a runaway guest still lets the
///   handler's timeout end its instance.
fn new_store(
    pre: &InstancePre<InstanceState>,
    state: &Arc<ComponentState>,
    deadline: Option<Instant>,
    yield_every: Duration,
) -> Store<InstanceState> {
    let mut store = Store::new(pre.engine(), InstanceState::new(state.clone()));
    store.limiter(|s| &mut s.limits);
    let ticks = (yield_every.as_nanos() / crate::engine::EPOCH_TICK.as_nanos()).max(1);
    let ticks = u64::try_from(ticks).unwrap_or(u64::MAX / 2);
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_callback(move |_| {
        Ok(match deadline {
            Some(deadline) if Instant::now() >= deadline => UpdateDeadline::Interrupt,
            _ => UpdateDeadline::Yield(ticks),
        })
    });
    store
}

impl ServedComponent {
    pub fn new(
        pre: InstancePre<InstanceState>,
        export: HttpExport,
        state: Arc<ComponentState>,
        reuse: InstanceReuse,
        request_timeout: Duration,
    ) -> ServedComponent {
        let instances = match export {
            HttpExport::P2(pre) => Instances::P2(pre),
            HttpExport::P3(service) => Instances::P3(ProxyHandler::new(
                P3Instances {
                    pre: pre.clone(),
                    state: state.clone(),
                    reuse,
                    request_timeout,
                },
                wasmtime_wasi_http::handler::ProxyPre::P3(service),
            )),
        };
        ServedComponent {
            pre,
            instances,
            state,
        }
    }

    /// The `Store` of one WASI 0.2 request: a fresh one, as Spin makes, with the request's
    /// deadline.
    pub fn new_store(&self, timeout: Duration) -> Store<InstanceState> {
        let deadline = Some(Instant::now() + timeout);
        new_store(&self.pre, &self.state, deadline, crate::engine::EPOCH_TICK)
    }

    /// Whether the component is served through `wasi:http/handler@0.3` with instance reuse.
    pub fn is_p3(&self) -> bool {
        matches!(self.instances, Instances::P3(_))
    }
}

/// A WASIp3 component's instances: what wasmtime-wasi-http's `ProxyHandler` asks of the host
/// (the store of a new instance, and Spin's reuse settings, drawn per instance).
pub struct P3Instances {
    pre: InstancePre<InstanceState>,
    state: Arc<ComponentState>,
    reuse: InstanceReuse,
    request_timeout: Duration,
}

impl P3Instances {
    fn longest_timeout(&self) -> Duration {
        match self.reuse.request_timeout {
            Some(Range::Value(t) | Range::Bounds(_, t)) => t,
            None => self.request_timeout,
        }
    }
}

impl HandlerState for P3Instances {
    type StoreData = InstanceState;

    fn new_store(&self, _req_id: Option<u64>) -> wasmtime::Result<StoreBundle<InstanceState>> {
        Ok(StoreBundle {
            // No store-wide deadline: the handler times requests out one by one.
            store: new_store(&self.pre, &self.state, None, self.longest_timeout()),
            write_profile: Box::new(|_| ()),
        })
    }

    fn request_timeout(&self) -> Duration {
        self.reuse
            .request_timeout
            .map_or(self.request_timeout, |range| range.draw())
    }

    fn idle_instance_timeout(&self) -> Duration {
        self.reuse.idle_instance_timeout.draw()
    }

    fn max_instance_reuse_count(&self) -> usize {
        self.reuse.max_instance_reuse_count.draw()
    }

    fn max_instance_concurrent_reuse_count(&self) -> usize {
        self.reuse.max_instance_concurrent_reuse_count.draw()
    }

    fn handle_worker_error(&self, error: wasmtime::Error) {
        eprintln!(
            "component '{}': an instance ended with an error: {}",
            self.state.id,
            crate::messages::one_line_chain(&error.into())
        );
    }
}

pub struct Server {
    pub router: Router,
    pub components: HashMap<String, ServedComponent>,
    pub request_timeout: Duration,
    pub log_requests: bool,
    pub local_addr: SocketAddr,
}

/// The body every response of the host is sent with (what `wasmtime-wasi-http` streams).
pub type Body = HyperOutgoingBody;

/// A response whose body is all there already.
pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    if !content_type.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
    }
    response
}

fn internal_error() -> Response<Body> {
    full(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        r#"{"detail":"internal error"}"#,
    )
}

fn empty(status: StatusCode) -> Response<Body> {
    full(status, "", Bytes::new())
}

pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// The `spin-*` headers Spin adds to every request it routes to a component.
pub fn spin_headers(
    m: &RouteMatch<'_>,
    base: &str,
    full_url: &str,
    client: SocketAddr,
) -> Vec<(&'static str, String)> {
    vec![
        ("spin-full-url", full_url.to_string()),
        ("spin-path-info", m.path_info.clone()),
        ("spin-matched-route", m.matched_route.to_string()),
        ("spin-component-route", m.component_route.clone()),
        (
            "spin-raw-component-route",
            m.raw_component_route.to_string(),
        ),
        ("spin-base-path", base.to_string()),
        ("spin-client-addr", client.to_string()),
    ]
}

impl Server {
    /// Serves one request as if `client` had sent it: Spin's routing and headers, then a fresh
    /// component instance. The listener calls this with hyper's bodies; it is public so that
    /// benchmarks can measure what every request costs the host without TCP and HTTP/1 parsing
    /// (`benches/instantiate.rs`), through exactly the code that serves real requests.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<impl IncomingBody>,
        client: SocketAddr,
    ) -> Response<Body> {
        let start = Instant::now();
        let method = req.method().clone();
        // Only the path is logged: query strings and headers can carry credentials.
        let path = req.uri().path().to_string();
        let response = self.dispatch(req, client, &method, &path).await;
        if self.log_requests {
            eprintln!(
                "{method} {path} {} {}",
                response.status().as_u16(),
                format_duration(start.elapsed())
            );
        }
        response
    }

    async fn dispatch(
        &self,
        mut req: Request<impl IncomingBody>,
        client: SocketAddr,
        method: &http::Method,
        path: &str,
    ) -> Response<Body> {
        if path.starts_with(RESERVED_PREFIX) {
            return well_known(path);
        }
        let Some(m) = self.router.route(path) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let Some(component) = self.components.get(m.component) else {
            return internal_error();
        };

        // The guest sees an absolute URI, like under Spin: scheme and authority from the request.
        let authority = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| self.local_addr.to_string());
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let Ok(uri) = http::Uri::builder()
            .scheme("http")
            .authority(authority.as_str())
            .path_and_query(path_and_query.as_str())
            .build()
        else {
            return empty(StatusCode::BAD_REQUEST);
        };
        let full_url = uri.to_string();
        *req.uri_mut() = uri;
        for (name, value) in spin_headers(&m, self.router.base(), &full_url, client) {
            // Client-sent headers of the same name are replaced, never trusted.
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    req.headers_mut().insert(name, v);
                }
                Err(_) => return empty(StatusCode::BAD_REQUEST),
            }
        }

        self.run_component(component, req, method, path).await
    }

    async fn run_component(
        &self,
        component: &ServedComponent,
        req: Request<impl IncomingBody>,
        method: &http::Method,
        path: &str,
    ) -> Response<Body> {
        match &component.instances {
            Instances::P2(proxy) => self.run_p2(component, proxy, req, method, path).await,
            Instances::P3(handler) => run_p3(&component.state.id, handler, req, method, path).await,
        }
    }

    /// A WASI 0.2 request: a fresh instance, called through `wasi:http/incoming-handler`.
    async fn run_p2(
        &self,
        component: &ServedComponent,
        proxy: &ProxyPre<InstanceState>,
        req: Request<impl IncomingBody>,
        method: &http::Method,
        path: &str,
    ) -> Response<Body> {
        let id = component.state.id.clone();
        let timeout = self.request_timeout;
        let mut store = component.new_store(timeout);
        let req = req.map(|body| body.map_err(|e| p2_code(e.into())));

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let prepared = (|| -> wasmtime::Result<_> {
            let data = store.data_mut();
            let req = data.http().new_incoming_request(Scheme::Http, req)?;
            let out = data.http().new_response_outparam(sender)?;
            Ok((req, out))
        })();
        let (req, out) = match prepared {
            Ok(v) => v,
            Err(e) => {
                eprintln!("component '{id}': cannot pass {method} {path} to the guest: {e}");
                return empty(StatusCode::BAD_REQUEST);
            }
        };

        let pre = proxy.clone();
        let what = format!("component '{id}' handling {method} {path}");
        // A separate task: the guest may keep streaming the body after sending the head.
        let task = tokio::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            let failure = match tokio::time::timeout(timeout, run).await {
                Ok(Ok(())) => return true,
                Ok(Err(e)) => format!("{e:?}"),
                Err(_) => format!("timed out after {}", format_duration(timeout)),
            };
            eprintln!("{what} failed: {failure}");
            false
        });

        match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                eprintln!("component '{id}' answered {method} {path} with error {code:?}");
                internal_error()
            }
            Err(_) => {
                // The outparam was dropped unset: the task tells whether the guest failed
                // (already logged) or returned without responding.
                if let Ok(true) = task.await {
                    eprintln!("component '{id}' returned without a response for {method} {path}");
                }
                internal_error()
            }
        }
    }
}

/// An error of a request body on its way in.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body the server can hand to a guest: hyper's, or one a test makes.
pub trait IncomingBody:
    hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

impl<B> IncomingBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

fn p2_code(e: BoxError) -> P2Code {
    match e.downcast::<hyper::Error>() {
        Ok(e) => wasmtime_wasi_http::p2::hyper_request_error(*e),
        Err(e) => P2Code::InternalError(Some(e.to_string())),
    }
}

fn p3_code(e: BoxError) -> P3Code {
    match e.downcast::<hyper::Error>() {
        Ok(e) if e.is_timeout() => P3Code::ConnectionReadTimeout,
        Ok(e) => P3Code::InternalError(Some(e.to_string())),
        Err(e) => P3Code::InternalError(Some(e.to_string())),
    }
}

/// What failed, when a WASIp3 guest gave no response.
type P3Outcome = Result<Response<Body>, String>;

/// A WASIp3 request: handed to one of the component's instances (a running one with room for
/// it, or a new one) through `wasi:http/handler@0.3.0-rc-2026-03-15#handle`, as Spin 4.0.2
/// does. The task ends once hyper has read the whole response body, so the guest can stream
/// it, and the request timeout covers the body too.
async fn run_p3(
    id: &str,
    handler: &ProxyHandler<P3Instances>,
    req: Request<impl IncomingBody>,
    method: &http::Method,
    path: &str,
) -> Response<Body> {
    let req = req.map(|body| body.map_err(|e| p3_code(e.into())));
    let (request, request_io) = wasmtime_wasi_http::p3::Request::from_http(req);
    let (tx, rx) = tokio::sync::oneshot::channel::<P3Outcome>();
    handler.spawn(
        None,
        Box::new(move |store: &Accessor<InstanceState>, guest: &Proxy| {
            Box::pin(async move {
                let Proxy::P3(guest) = guest else {
                    let _ = tx.send(Err("not a wasi:http@0.3 instance".to_string()));
                    return;
                };
                let response = async {
                    let request = store
                        .with(|mut s| s.get().table.push(request))
                        .map_err(wasmtime::Error::from)?;
                    guest.wasi_http_handler().call_handle(store, request).await
                }
                .await;
                let response = match response {
                    Ok(Ok(response)) => response,
                    Ok(Err(code)) => {
                        let _ = tx.send(Err(format!("the guest answered error {code:?}")));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:?}")));
                        return;
                    }
                };
                let response = store.with(|mut s| -> wasmtime::Result<_> {
                    let response = s.get().table.delete(response)?;
                    response.into_http(&mut s, request_io)
                });
                let response = match response {
                    Ok(response) => response,
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:?}")));
                        return;
                    }
                };
                let (read_tx, read_rx) = tokio::sync::oneshot::channel::<()>();
                let response = response.map(|body| {
                    NotifyOnDrop {
                        body: body.map_err(p3_to_p2_code).boxed_unsync(),
                        _read: read_tx,
                    }
                    .boxed_unsync()
                });
                if tx.send(Ok(response)).is_ok() {
                    // The guest may still be writing the body: keep its task (and the
                    // instance's event loop) alive until hyper has read or dropped it.
                    let _ = read_rx.await;
                }
            })
        }),
    );
    match rx.await {
        Ok(Ok(response)) => response,
        Ok(Err(failure)) => {
            eprintln!("component '{id}' handling {method} {path} failed: {failure}");
            internal_error()
        }
        Err(_) => {
            eprintln!(
                "component '{id}' handling {method} {path} failed: timed out, or its instance \
                 ended"
            );
            internal_error()
        }
    }
}

fn p3_to_p2_code(e: P3Code) -> P2Code {
    P2Code::InternalError(Some(format!("{e:?}")))
}

/// A response body that lets the guest's task know when hyper is done with it.
struct NotifyOnDrop {
    body: Body,
    _read: tokio::sync::oneshot::Sender<()>,
}

impl hyper::body::Body for NotifyOnDrop {
    type Data = Bytes;
    type Error = P2Code;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, P2Code>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn well_known(path: &str) -> Response<Body> {
    match path {
        "/.well-known/spin/health" => full(StatusCode::OK, "text/plain", "OK"),
        "/.well-known/spin/info" => full(
            StatusCode::OK,
            "application/json",
            format!(
                r#"{{"host":"task-api-host","version":"{}"}}"#,
                env!("CARGO_PKG_VERSION")
            ),
        ),
        _ => empty(StatusCode::NOT_FOUND),
    }
}

/// Resolves once shutdown is requested (or the host is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not across an await.
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// What answers the requests of [`serve`]: the host's [`Server`], or the native baseline.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
        client: SocketAddr,
    ) -> impl std::future::Future<Output = Response<Body>> + Send;
}

impl Handler for Server {
    fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
        client: SocketAddr,
    ) -> impl std::future::Future<Output = Response<Body>> + Send {
        Server::handle(self, req, client)
    }
}

/// Accepts connections until `shutdown` turns true, then lets in-flight requests finish for up
/// to [`SHUTDOWN_GRACE`].
pub async fn serve<H: Handler>(
    listener: TcpListener,
    server: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    // No TCP_NODELAY, as Spin 4.0.2 sets none: a component that hands its
                    // response over in pieces must see the same Nagle delays here as there.
                    connections.spawn(serve_connection(stream, client, server.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped(&mut shutdown) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "shutdown: {} connection(s) still busy after {}; closing them",
            connections.len(),
            format_duration(SHUTDOWN_GRACE)
        );
        connections.abort_all();
    }
}

async fn serve_connection<H: Handler>(
    stream: tokio::net::TcpStream,
    client: SocketAddr,
    server: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(Handler::handle(server, req, client).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::HttpTrigger;

    #[test]
    fn spin_headers_for_a_catch_all_route() {
        let router = Router::new(
            "/",
            &[HttpTrigger {
                route: "/...".into(),
                component: "c".into(),
            }],
        );
        let m = router.route("/api/u1/tasks").unwrap();
        let client: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let headers: HashMap<_, _> = spin_headers(
            &m,
            router.base(),
            "http://localhost:3000/api/u1/tasks?x=1",
            client,
        )
        .into_iter()
        .collect();
        assert_eq!(
            headers["spin-full-url"],
            "http://localhost:3000/api/u1/tasks?x=1"
        );
        assert_eq!(headers["spin-path-info"], "/api/u1/tasks");
        assert_eq!(headers["spin-matched-route"], "/...");
        assert_eq!(headers["spin-component-route"], "");
        assert_eq!(headers["spin-raw-component-route"], "/...");
        assert_eq!(headers["spin-base-path"], "/");
        assert_eq!(headers["spin-client-addr"], "127.0.0.1:5555");
        assert_eq!(headers.len(), 7);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_micros(1234)), "1.2ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.50s");
    }
}
