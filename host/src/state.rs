//! Per-request store data, and the per-component state every request of a component shares.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::logs::ComponentLogs;
use crate::outbound::OutboundPolicy;
use crate::sqlite::SqliteAccess;
use crate::variables::ComponentVariables;

/// Everything resolved at start-up for one component; immutable while serving.
pub struct ComponentState {
    pub id: String,
    pub sqlite: SqliteAccess,
    pub variables: ComponentVariables,
    pub outbound: OutboundPolicy,
    pub logs: ComponentLogs,
    pub environment: Vec<(String, String)>,
}

/// The data of one request's `Store`: a fresh one per request, as Spin does.
pub struct RequestState {
    pub app: Arc<ComponentState>,
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundPolicy,
    pub limits: wasmtime::StoreLimits,
}

/// Caps a guest's linear memory when the pooling allocator is unavailable (the pool enforces
/// its own, equal, limit).
pub const MAX_GUEST_MEMORY: usize = 128 << 20;

impl RequestState {
    pub fn new(app: Arc<ComponentState>) -> RequestState {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(app.logs.stdout())
            .stderr(app.logs.stderr())
            .envs(&app.environment);
        RequestState {
            hooks: app.outbound.clone(),
            app,
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(MAX_GUEST_MEMORY)
                .instances(64)
                .build(),
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
