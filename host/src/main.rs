//! The `task-api-host` command line; see `task-api-host --help`.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match task_api_host::cli::main(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", task_api_host::messages::one_line_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
