//! Host-side bindings for the Spin interfaces a component may import: the WASI 0.2 generation
//! (`fermyon:spin/sqlite@2.0.0`, `fermyon:spin/variables@2.0.0`, spin-sdk 5.x) and the WASIp3
//! one (`spin:sqlite/sqlite@3.1.0`, `spin:variables/variables@3.0.0`, spin-sdk 6.0).
//!
//! The WIT comes from the project's own `wit/deps`, so the host and the component agree on one
//! definition of each. Connections are not wasmtime resources of the store's table: they live
//! in the instance's own table of 256 ([`crate::sqlite::ConnectionTable`]), as in Spin, and the
//! generated `connection` types are only markers.
//!
//! WIT `async func`s (`open-async`, `execute-async`, …, `variables.get@3.0.0`) get wasmtime's
//! defaults for them (`async | store`): they are implemented on [`SpinHost`] with an
//! `Accessor`, so that a statement waiting on the blocking pool never holds the store.

wasmtime::component::bindgen!({
    inline: "
        package task-api:host;

        world spin-imports {
            import fermyon:spin/sqlite@2.0.0;
            import fermyon:spin/variables@2.0.0;
            import spin:sqlite/sqlite@3.1.0;
            import spin:variables/variables@3.0.0;
        }
    ",
    path: [
        "../wit/deps/spin",
        "../wit/deps/spin-sqlite-3.1.0",
        "../wit/deps/spin-variables-3.0.0",
    ],
    imports: { default: async },
});

pub use fermyon::spin::{sqlite, variables};
/// `spin:sqlite/sqlite@3.1.0`.
pub use spin::sqlite::sqlite as sqlite3;
/// `spin:variables/variables@3.0.0`.
pub use spin::variables::variables as variables3;

/// What the `*WithStore` traits of the async functions are implemented on: its data is the
/// instance's [`crate::state::InstanceState`].
pub struct SpinHost;

impl wasmtime::component::HasData for SpinHost {
    type Data<'a> = &'a mut crate::state::InstanceState;
}
