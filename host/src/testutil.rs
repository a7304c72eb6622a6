//! Test components built in-process: a core module encoded with `wasm-encoder`, WIT metadata
//! embedded, and `wit-component` to make a component. They cover the host's failure paths
//! (trap, runaway guest, missing response) and the import check without a Rust guest build.

use std::path::{Path, PathBuf};

use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, ImportSection, Instruction,
    MemorySection, MemoryType, Module, TypeSection, ValType,
};
use wit_parser::Resolve;

/// The slice of `wasi:http@0.2.0` an incoming handler needs.
pub const WASI_HTTP_WIT: &str = "
package wasi:http@0.2.0;
interface types {
  resource incoming-request;
  resource response-outparam;
}
interface incoming-handler {
  use types.{incoming-request, response-outparam};
  handle: func(request: incoming-request, response-out: response-outparam);
}
";

pub const HANDLE_EXPORT: &str = "wasi:http/incoming-handler@0.2.0#handle";

/// What the exported `handle` does.
#[derive(Clone, Copy)]
pub enum Handler {
    Trap,
    /// Loops forever without calling the host.
    Spin,
    /// Returns without setting a response.
    Return,
}

/// A core module exporting `memory`, `cabi_realloc`, optionally `handle`, and importing
/// `(module, name, params)` functions with no results.
pub fn core_module(imports: &[(&str, &str, &[ValType])], handler: Option<Handler>) -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut import_section = ImportSection::new();
    for (i, (module, name, params)) in imports.iter().enumerate() {
        types.ty().function(params.iter().copied(), []);
        import_section.import(module, name, wasm_encoder::EntityType::Function(i as u32));
    }
    let realloc_ty = imports.len() as u32;
    types.ty().function(
        [ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        [ValType::I32],
    );
    let handle_ty = realloc_ty + 1;
    types.ty().function([ValType::I32, ValType::I32], []);

    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut exports = ExportSection::new();
    let first = imports.len() as u32;

    functions.function(realloc_ty);
    let mut realloc = Function::new([]);
    realloc.instruction(&Instruction::Unreachable);
    realloc.instruction(&Instruction::End);
    code.function(&realloc);
    exports.export("cabi_realloc", ExportKind::Func, first);

    if let Some(handler) = handler {
        functions.function(handle_ty);
        let mut f = Function::new([]);
        match handler {
            Handler::Trap => {
                f.instruction(&Instruction::Unreachable);
            }
            Handler::Spin => {
                f.instruction(&Instruction::Loop(wasm_encoder::BlockType::Empty));
                f.instruction(&Instruction::Br(0));
                f.instruction(&Instruction::End);
            }
            Handler::Return => {}
        }
        f.instruction(&Instruction::End);
        code.function(&f);
        exports.export(HANDLE_EXPORT, ExportKind::Func, first + 1);
    }

    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    exports.export("memory", ExportKind::Memory, 0);

    let mut module = Module::new();
    module
        .section(&types)
        .section(&import_section)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code);
    module.finish()
}

/// Embeds `world` (from `wit`, resolved against the project's Spin WIT and [`WASI_HTTP_WIT`])
/// into `module` and encodes the component.
pub fn component(mut module: Vec<u8>, wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    resolve.push_dir(spin_wit_dir()).unwrap();
    resolve.push_str("wasi-http.wit", WASI_HTTP_WIT).unwrap();
    let pkg = resolve.push_str("guest.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .unwrap()
        .encode()
        .unwrap()
}

/// An HTTP component whose handler behaves as `handler`.
pub fn http_component(handler: Handler) -> Vec<u8> {
    component(
        core_module(&[], Some(handler)),
        "package test:guest;\nworld guest { export wasi:http/incoming-handler@0.2.0; }\n",
        "guest",
    )
}

pub fn spin_wit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps/spin")
}

/// A fresh, empty temporary directory unique to this process and `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("task-api-host-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A one-shot HTTP/1.1 request over a raw socket; returns (status, headers text, body).
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}
