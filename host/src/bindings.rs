//! Host-side bindings for the Spin interfaces the component imports.
//!
//! The WIT comes from the project's own `wit/deps/spin`, so the host and the component agree
//! on one definition of `fermyon:spin@2.0.0`.

wasmtime::component::bindgen!({
    inline: "
        package task-api:host;

        world spin-imports {
            import fermyon:spin/sqlite@2.0.0;
            import fermyon:spin/variables@2.0.0;
        }
    ",
    path: "../wit/deps/spin",
    imports: { default: async },
    with: {
        "fermyon:spin/sqlite.connection": crate::sqlite::ConnectionHandle,
    },
});

pub use fermyon::spin::{sqlite, variables};
