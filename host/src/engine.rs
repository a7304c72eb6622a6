//! The wasmtime engine, shared by every host in the process, and a cache of compiled components
//! so that a test binary starting many servers compiles the component once.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::bindings::{self, SpinHost};
use crate::state::{InstanceState, MAX_GUEST_MEMORY};

/// How often the epoch advances: the granularity of guest yields and of the request timeout.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Concurrent instances the pool holds: far more than two cores serve at once.
const MAX_INSTANCES: u32 = 1000;

/// Bytes of each linear memory reset in place rather than released, when the kernel can say
/// which pages a request touched: the component's 1 MiB stack, its data and a request's heap.
const MEMORY_KEEP_RESIDENT: usize = 2 << 20;

/// Bytes of each table reset in place.
const TABLE_KEEP_RESIDENT: usize = 1 << 20;

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // WASIp3 components (`wasi:http/handler@0.3.0-rc-2026-03-15`) are async components.
    config.wasm_component_model_async(true);
    // Epochs let a long-running guest yield to the executor and be stopped at its deadline.
    config.epoch_interruption(true);
    config
}

fn pooling_config() -> Config {
    let mut pool = PoolingAllocationConfig::default();
    // A componentized wasip1 module instantiates several core modules (main module, adapter,
    // shims), each possibly with a table; size the totals for that, per component instance.
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 8)
        .total_memories(MAX_INSTANCES)
        .total_tables(MAX_INSTANCES * 8)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(MAX_GUEST_MEMORY)
        // Keep a few recently used slots warm; they are what makes instantiation cheap.
        .max_unused_warm_slots(32);
    // A request leaves its slot dirty. By default wasmtime hands the pages back with
    // madvise(DONTNEED), so the next request faults each page in again, and every madvise and
    // mprotect in a multi-threaded process interrupts the other cores to flush their TLBs: under
    // load that put half of the host's time in the kernel (bench/PROFILE.md).
    // Tables are a few KiB: zeroing them in place is always cheaper.
    pool.table_keep_resident(TABLE_KEEP_RESIDENT);
    if pagemap_scan_supported() {
        // PAGEMAP_SCAN tells wasmtime which pages the request dirtied, so it copies back just
        // those and keeps them resident; without it, keeping memory resident means a memset of
        // the whole low region per request, which costs more than it saves.
        pool.pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT);
    }
    let mut config = base_config();
    // Each slot reserves only what a guest may use (plus the guard), not the 4 GiB that would
    // elide bounds checks: a thousand 4 GiB slots is terabytes of address space.
    config.memory_reservation(MAX_GUEST_MEMORY as u64);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7).
fn pagemap_scan_supported() -> bool {
    cfg!(target_os = "linux")
        && std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|release| kernel_version(&release))
            .is_some_and(|version| version >= (6, 7))
}

/// `(major, minor)` of a kernel release string such as `6.18.2-arch1`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn pooling_wanted() -> bool {
    // A switch for measuring the allocator's effect, and an escape hatch where the pool's
    // virtual-memory reservation is not available.
    std::env::var("TASK_API_HOST_POOLING").map_or(true, |v| v != "0")
}

/// The process-wide engine. Its epoch ticker thread lives as long as the process.
pub fn engine() -> anyhow::Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let engine = if pooling_wanted() {
            // The pool reserves address space up front; fall back to on-demand allocation where
            // that is refused (e.g. under a tight `ulimit -v`).
            Engine::new(&pooling_config()).or_else(|_| Engine::new(&base_config()))
        } else {
            Engine::new(&base_config())
        }
        .map_err(|e| format!("cannot create the wasm engine: {e}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
        Ok(engine)
    });
    engine.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct CacheKey {
    hash: u64,
    len: usize,
}

impl CacheKey {
    fn of(bytes: &[u8]) -> CacheKey {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        CacheKey {
            hash: h.finish(),
            len: bytes.len(),
        }
    }
}

/// Compiles component bytes, or returns the earlier compilation of the same bytes.
///
/// Compiling takes most of a second; this is blocking work, call it off the async executor.
pub fn compile(bytes: &[u8], what: &str) -> anyhow::Result<Component> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Component>>> = OnceLock::new();
    let engine = engine()?;
    let key = CacheKey::of(bytes);
    // Held while compiling: concurrent starts of the same component wait for one compilation
    // instead of each doing their own.
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(component) = cache.get(&key) {
        return Ok(component.clone());
    }
    let component = Component::new(engine, bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot compile {what}: {}",
            crate::messages::one_line_chain(&e.into())
        )
    })?;
    cache.insert(key, component.clone());
    Ok(component)
}

/// The HTTP export a component serves requests through.
pub enum HttpExport {
    /// `wasi:http/incoming-handler@0.2.x`: a fresh instance per request.
    P2(ProxyPre<InstanceState>),
    /// `wasi:http/handler@0.3.0-rc-2026-03-15`: instances are reused.
    P3(ServicePre<InstanceState>),
}

/// The export a WASI 0.2 HTTP component has.
pub const P2_HANDLER: &str = "wasi:http/incoming-handler@0.2.x";
/// The export a WASIp3 HTTP component has (the version Spin 4.0.2 serves).
pub const P3_HANDLER: &str = "wasi:http/handler@0.3.0-rc-2026-03-15";

/// Links WASI (0.2 and 0.3), `wasi:http` (both) and the Spin interfaces (both generations),
/// pre-instantiates `component` and finds its HTTP export.
pub fn pre_instantiate(
    component: &Component,
    what: &str,
) -> anyhow::Result<(InstancePre<InstanceState>, HttpExport)> {
    let mut linker: Linker<InstanceState> = Linker::new(engine()?);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    bindings::sqlite::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
    bindings::variables::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
    bindings::sqlite3::add_to_linker::<_, SpinHost>(&mut linker, |s| s)?;
    bindings::variables3::add_to_linker::<_, SpinHost>(&mut linker, |s| s)?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        anyhow::anyhow!(
            "{what} cannot be linked: {}",
            crate::messages::one_line_chain(&e.into())
        )
    })?;
    let p2 = ProxyPre::new(pre.clone()).ok();
    let p3 = ServicePre::new(pre.clone()).ok();
    let export = match (p2, p3) {
        (Some(p2), None) => HttpExport::P2(p2),
        (None, Some(p3)) => HttpExport::P3(p3),
        (Some(_), Some(_)) => anyhow::bail!(
            "{what} exports both {P2_HANDLER} and {P3_HANDLER}; an HTTP component exports one"
        ),
        (None, None) => anyhow::bail!(
            "{what} is not an HTTP component (it must export {P2_HANDLER} or {P3_HANDLER})"
        ),
    };
    Ok((pre, export))
}

#[cfg(test)]
mod tests {
    use super::kernel_version;

    #[test]
    fn kernel_versions_parse_from_release_strings() {
        assert_eq!(kernel_version("6.18.0\n"), Some((6, 18)));
        assert_eq!(kernel_version("6.7.0-rc1"), Some((6, 7)));
        assert_eq!(kernel_version("5.15.0-91-generic"), Some((5, 15)));
        assert_eq!(kernel_version("6.1-arch1"), Some((6, 1)));
        assert!(kernel_version("6.6.13") < Some((6, 7)));
        assert_eq!(kernel_version("linux"), None);
        assert_eq!(kernel_version(""), None);
    }
}
