//! The HTTP front: hyper HTTP/1.1, Spin's routing and `spin-*` headers, one fresh instance per
//! request, streamed bodies both ways.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::routes::{RESERVED_PREFIX, RouteMatch, Router};
use crate::state::{ComponentState, RequestState};

/// How long in-flight requests get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Slow clients must not hold a connection forever before sending a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ServedComponent {
    pub pre: ProxyPre<RequestState>,
    pub state: Arc<ComponentState>,
}

impl ServedComponent {
    /// The `Store` of one request: a fresh one, as Spin makes, with the request's deadline.
    pub fn new_store(&self, timeout: Duration) -> Store<RequestState> {
        let mut store = Store::new(self.pre.engine(), RequestState::new(self.state.clone()));
        store.limiter(|s| &mut s.limits);
        let deadline = Instant::now() + timeout;
        // Every tick the guest yields to the executor; past the deadline it is interrupted, so
        // even a guest spinning without host calls cannot hold a worker thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store
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
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>, client: SocketAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
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

    async fn dispatch<B>(
        &self,
        mut req: Request<B>,
        client: SocketAddr,
        method: &http::Method,
        path: &str,
    ) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
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

    async fn run_component<B>(
        &self,
        component: &ServedComponent,
        req: Request<B>,
        method: &http::Method,
        path: &str,
    ) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let id = component.state.id.clone();
        let timeout = self.request_timeout;
        let mut store = component.new_store(timeout);

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

        let pre = component.pre.clone();
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
