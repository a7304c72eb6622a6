//! The floor every request pays the host, in-process: no TCP and no HTTP/1 parsing, so what is
//! left is the host's own work (Spin routing and headers, a fresh `Store`, instantiating the
//! component, the guest's handler, the response body).
//!
//! - `host/get_nope_404`: the real component answering `GET /nope` (its router's 404: no
//!   database, no variables, one log line), through `Server::handle`, the function the listener
//!   calls for every request; the response body is read to the end, as hyper would send it.
//! - `host/instantiate_only`: a fresh `Store` and `RequestState`, instantiating the
//!   pre-instantiated component, and dropping both; no call into the guest.
//! - `host/store_only`: the `Store` and `RequestState` alone, created and dropped.
//!
//! `request_floor` measures the same floor over loopback HTTP; the difference between the two
//! is the cost of the socket and of hyper.
//!
//! Run: `cargo bench -p task-api-host --bench instantiate`. The component is rebuilt first if
//! stale; `TASK_API_BENCH_NO_BUILD=1` measures the one in `target/` as it is.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use task_api_host::componentize::load_component;
use task_api_host::logs::ComponentLogs;
use task_api_host::manifest::Manifest;
use task_api_host::outbound::{AllowedHost, OutboundPolicy};
use task_api_host::routes::Router;
use task_api_host::server::{ServedComponent, Server};
use task_api_host::sqlite::{Databases, ResultLimits, SqliteAccess};
use task_api_host::state::{ComponentState, RequestState};
use task_api_host::variables::{ComponentVariables, resolve_app_variables};
use wasmtime::{Store, UpdateDeadline};

/// The server `task_api_host::start` would build for `manifest`, minus the listener. Assembled
/// here from the host's public parts so the host needs no benchmark-only constructor.
fn server(manifest: &Manifest, state_dir: &Path) -> Server {
    let app_values = resolve_app_variables(manifest, &[], &|_| None).unwrap();
    let databases = Arc::new(Databases::new(state_dir, ResultLimits::default()));
    let mut components = HashMap::new();
    for (id, decl) in &manifest.components {
        let bytes = load_component(&manifest.source_path(decl), &decl.source, "cargo up").unwrap();
        let compiled = task_api_host::engine::compile(&bytes, id).unwrap();
        let pre = task_api_host::engine::pre_instantiate(&compiled, id).unwrap();
        let allowed = decl
            .allowed_outbound_hosts
            .iter()
            .map(|h| AllowedHost::resolve(h, &app_values).unwrap())
            .collect::<Vec<_>>();
        let state = ComponentState {
            id: id.clone(),
            sqlite: SqliteAccess::new(decl.sqlite_databases.clone(), databases.clone()),
            variables: ComponentVariables::render(decl, &app_values).unwrap(),
            outbound: OutboundPolicy {
                component: id.as_str().into(),
                allowed: allowed.into(),
            },
            logs: ComponentLogs::open(state_dir, id, true).unwrap(),
            environment: decl
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        components.insert(
            id.clone(),
            ServedComponent {
                pre,
                state: Arc::new(state),
            },
        );
    }
    Server {
        router: Router::new(manifest.http_base(), &manifest.http_triggers),
        components,
        request_timeout: Duration::from_secs(30),
        log_requests: false,
        local_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
    }
}

/// A fresh store for one request, set up as the server sets up its own.
fn store(component: &ServedComponent) -> Store<RequestState> {
    let mut store = Store::new(
        component.pre.engine(),
        RequestState::new(component.state.clone()),
    );
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    store
}

fn benches(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if std::env::var_os("TASK_API_BENCH_NO_BUILD").is_none() {
        task_api_host::build_component(&root).expect("build the component");
    }
    let manifest = Manifest::load(&root.join("spin.toml")).unwrap();
    let state_dir =
        std::env::temp_dir().join(format!("task-api-instantiate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    // As the host runs: a multi-threaded runtime with two workers; the guest runs in a task of
    // its own, so it can keep streaming after the response head.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = Arc::new(server(&manifest, &state_dir));
    let client = SocketAddr::from(([127, 0, 0, 1], 40000));
    let request = || {
        http::Request::builder()
            .method("GET")
            .uri("/nope")
            .header("host", "127.0.0.1:3000")
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let get = |server: &Arc<Server>| {
        let server = server.clone();
        async move {
            let response = server.handle(request(), client).await;
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
    };
    let (status, body) = runtime.block_on(get(&server));
    assert_eq!(status, 404, "{body:?}");

    let mut group = c.benchmark_group("host");
    group.bench_function("get_nope_404", |b| {
        // One `block_on` per batch, so the runtime's entry cost is not counted per request.
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(get(&server).await);
                }
                started.elapsed()
            })
        })
    });
    let component = server.components.values().next().unwrap();
    group.bench_function("instantiate_only", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let mut store = store(component);
                    let proxy = component.pre.instantiate_async(&mut store).await.unwrap();
                    black_box(&proxy);
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("store_only", |b| b.iter(|| black_box(store(component))));
    group.finish();
    drop(runtime);
    let _ = std::fs::remove_dir_all(&state_dir);
}

criterion_group!(instantiate, benches);
criterion_main!(instantiate);
