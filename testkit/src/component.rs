//! The component under test: built once per test binary, from the repository it lives in.

use std::path::{Path, PathBuf};
use std::sync::Once;

/// The repository root (the workspace holding `spin.toml`).
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The wasm32-wasip1 module `spin.toml` names as the component's `source`.
pub fn wasm_path() -> PathBuf {
    root().join("target/wasm32-wasip1/release/task_api.wasm")
}

/// `cargo test` builds the component itself (cargo's freshness check makes this cheap when
/// nothing changed), so no manual step comes before it. `TASK_API_NO_BUILD=1` serves the
/// module as it is, for benchmarks of a build made elsewhere.
pub fn build_component_once() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        if std::env::var_os("TASK_API_NO_BUILD").is_some_and(|v| v != "0") {
            assert!(
                wasm_path().exists(),
                "TASK_API_NO_BUILD is set but {} is missing",
                wasm_path().display()
            );
            return;
        }
        task_api_host::build_component(root()).expect("building the component")
    });
}

/// A copy of the project's `spin.toml` in `dir`, with `source` made absolute (so the copy
/// serves the same component from anywhere) and each `(from, to)` replacement applied; every
/// `from` must occur, so a test cannot silently keep the original text.
pub fn manifest_copy(dir: &Path, replacements: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("spin.toml")).expect("reading spin.toml");
    let source = r#"source = "target/wasm32-wasip1/release/task_api.wasm""#;
    assert!(text.contains(source), "spin.toml's source moved");
    text = text.replace(
        source,
        &format!("source = {:?}", wasm_path().display().to_string()),
    );
    for (from, to) in replacements {
        assert!(text.contains(from), "spin.toml has no {from:?}");
        text = text.replace(from, to);
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).expect("writing the manifest copy");
    path
}
