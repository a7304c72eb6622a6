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
//! `bench/run`'s keep-alive pass measures the whole floor over loopback HTTP, on every runtime.
//!
//! Run: `cargo bench -p task-api-bench --bench instantiate`. The component is rebuilt first if
//! stale; `TASK_API_NO_BUILD=1` measures the one in `target/` as it is.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use task_api_host::HostOptions;
use task_api_host::server::Server;
use task_api_testkit::{TempDir, build_component_once, root, wasm_path};

fn benches(c: &mut Criterion) {
    build_component_once();
    let state = TempDir::new("instantiate");
    // As the host runs: a multi-threaded runtime with two workers; the guest runs in a task of
    // its own, so it can keep streaming after the response head.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut options = HostOptions::new(root().join("spin.toml"));
    options.state_dir = Some(state.path().to_owned());
    options.wasm = Some(wasm_path());
    let local = SocketAddr::from(([127, 0, 0, 1], 3000));
    let server: Arc<Server> = runtime
        .block_on(task_api_host::host::prepare(&options, local))
        .expect("preparing the host")
        .server;
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
                    let mut store = component.new_store(Duration::from_secs(30));
                    let proxy = component.pre.instantiate_async(&mut store).await.unwrap();
                    black_box(&proxy);
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("store_only", |b| {
        b.iter(|| black_box(component.new_store(Duration::from_secs(30))))
    });
    group.finish();
    drop(runtime);
}

criterion_group!(instantiate, benches);
criterion_main!(instantiate);
