//! Link settings for the WebAssembly component; nothing for native builds.

/// The component's linear memory at start: Rust's 1 MiB shadow stack, ~110 KiB of data, and
/// heap enough for a request. With Rust's default (stack + data, rounded up) every request
/// grows memory at its first allocations, and the runtime must then re-protect and release the
/// grown pages when the instance is recycled: that cost about a third of a 404's throughput
/// through the bundled host (bench/README.md, "Making it fast"). The setting travels with the
/// component, so under Spin (also wasmtime) a request does not grow memory either; the gain
/// there has not been measured.
const INITIAL_MEMORY_BYTES: u32 = 2 << 20;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY_BYTES}");
    }
}
