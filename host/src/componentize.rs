//! Loading a component's wasm the way Spin does: a wasip1 core module is wrapped into a component
//! with the `wasi_snapshot_preview1` reactor adapter; a component is used as is.

use std::path::Path;

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};

/// What the bytes at a component `source` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    CoreModule,
    Component,
}

/// Classifies wasm by its preamble (magic + version/layer), without parsing the rest.
pub fn wasm_kind(bytes: &[u8]) -> Option<WasmKind> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return None;
    }
    // Bytes 4..6 are the version, 6..8 the layer: 0 for core modules, 1 for components.
    match (&bytes[4..6], &bytes[6..8]) {
        ([1, 0], [0, 0]) => Some(WasmKind::CoreModule),
        (_, [1, 0]) => Some(WasmKind::Component),
        _ => None,
    }
}

/// Returns component bytes for `bytes`, componentizing a core module. `what` names the source
/// in messages.
pub fn componentize(bytes: &[u8], what: &str) -> anyhow::Result<Vec<u8>> {
    match wasm_kind(bytes) {
        Some(WasmKind::Component) => Ok(bytes.to_vec()),
        Some(WasmKind::CoreModule) => {
            let encode = || -> anyhow::Result<Vec<u8>> {
                wit_component::ComponentEncoder::default()
                    .validate(true)
                    .module(bytes)?
                    .adapter(
                        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                        WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
                    )?
                    .encode()
            };
            encode().map_err(|e| {
                anyhow::anyhow!(
                    "cannot turn {what} into a component: {}",
                    crate::messages::one_line_chain(&e)
                )
            })
        }
        None => anyhow::bail!("{what} is not a WebAssembly module or component"),
    }
}

/// Reads a component source and componentizes it; the messages are the CLI's one-liners.
/// `shown` is the path as the manifest spells it; `build_hint` the command that produces it.
pub fn load_component(path: &Path, shown: &str, build_hint: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("component source {shown} not found — run {build_hint} (or cargo up)")
        }
        Err(e) => anyhow::bail!(
            "cannot read component source {shown}: {}",
            crate::messages::io_message(&e)
        ),
    };
    componentize(&bytes, &format!("component source {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_preambles() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0"), Some(WasmKind::CoreModule));
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0"), Some(WasmKind::Component));
        assert_eq!(wasm_kind(b"\0asm\x01\0"), None);
        assert_eq!(wasm_kind(b"not wasm at all"), None);
    }

    #[test]
    fn core_module_becomes_a_component_and_components_pass_through() {
        // The smallest reactor: no imports, no exports beyond memory.
        let module = wat_module();
        let component = componentize(&module, "test module").unwrap();
        assert_eq!(wasm_kind(&component), Some(WasmKind::Component));
        assert_eq!(componentize(&component, "c").unwrap(), component);
    }

    #[test]
    fn garbage_is_one_clear_line() {
        let e = componentize(b"hello", "component source x.wasm").unwrap_err();
        assert_eq!(
            e.to_string(),
            "component source x.wasm is not a WebAssembly module or component"
        );
        let mut broken = wat_module();
        broken.truncate(broken.len() - 1);
        broken.push(0xff);
        broken.extend_from_slice(&[0xff; 4]);
        let e = componentize(&broken, "component source y.wasm")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot turn component source y.wasm into a component: "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn missing_source_names_the_build_command() {
        let e = load_component(
            Path::new("/no/such/task_api.wasm"),
            "target/wasm32-wasip1/release/task_api.wasm",
            "cargo build --target wasm32-wasip1 --release",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "component source target/wasm32-wasip1/release/task_api.wasm not found — run cargo build --target wasm32-wasip1 --release (or cargo up)"
        );
    }

    /// `(module (memory (export "memory") 1))`, hand-encoded so the tests need no wat parser.
    fn wat_module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[5, 3, 1, 0, 1]); // memory section: one memory, min 1 page
        m.extend_from_slice(&[7, 10, 1, 6]); // export section: one export, name length 6
        m.extend_from_slice(b"memory");
        m.extend_from_slice(&[2, 0]); // memory index 0
        m
    }
}
