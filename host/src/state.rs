//! The data of one instance's store, and the per-component state every instance of a component
//! shares.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::{p2, p3};

use crate::logs::ComponentLogs;
use crate::outbound::OutboundPolicy;
use crate::sqlite::{ConnectionTable, SqliteAccess};
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

/// The data of one instance's `Store`. A WASI 0.2 component gets a fresh one per request; a
/// WASIp3 component's instance, and so this state (its open SQLite connections among it), is
/// reused for many requests, as Spin 4.0.2 does.
pub struct InstanceState {
    pub app: Arc<ComponentState>,
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundPolicy,
    pub limits: wasmtime::StoreLimits,
    /// The guest's open SQLite connections.
    pub connections: ConnectionTable,
}

/// The former name, from when every store served exactly one request.
pub type RequestState = InstanceState;

/// Caps a guest's linear memory when the pooling allocator is unavailable (the pool enforces
/// its own, equal, limit).
pub const MAX_GUEST_MEMORY: usize = 128 << 20;

impl InstanceState {
    pub fn new(app: Arc<ComponentState>) -> InstanceState {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(app.logs.stdout())
            .stderr(app.logs.stderr())
            .envs(&app.environment);
        InstanceState {
            hooks: app.outbound.clone(),
            app,
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(MAX_GUEST_MEMORY)
                .instances(64)
                .build(),
            connections: ConnectionTable::default(),
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl p2::WasiHttpView for InstanceState {
    fn http(&mut self) -> p2::WasiHttpCtxView<'_> {
        p2::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl p3::WasiHttpView for InstanceState {
    fn http(&mut self) -> p3::WasiHttpCtxView<'_> {
        p3::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
