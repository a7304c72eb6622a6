//! `spin build`: run each component's `[component.<id>.build] command` in the manifest's
//! directory, after making sure the Rust wasm target it needs is installed.

use std::path::Path;
use std::process::Command;

use crate::manifest::Manifest;

pub const WASM_TARGET: &str = "wasm32-wasip1";

/// Builds the components of `<manifest_dir>/spin.toml`.
pub fn build_component(manifest_dir: &Path) -> anyhow::Result<()> {
    let manifest = Manifest::load(&manifest_dir.join("spin.toml"))?;
    build_manifest(&manifest)
}

/// Builds every component of `manifest` that has a build command, in id order.
pub fn build_manifest(manifest: &Manifest) -> anyhow::Result<()> {
    let mut target_checked = false;
    for (id, component) in &manifest.components {
        let Some(build) = &component.build else {
            continue;
        };
        if !target_checked && build.command.iter().any(|c| c.contains(WASM_TARGET)) {
            ensure_wasm_target()?;
            target_checked = true;
        }
        let dir = match &build.workdir {
            Some(w) => manifest.dir.join(w),
            None => manifest.dir.clone(),
        };
        for command in &build.command {
            run_shell(command, &dir).map_err(|e| {
                anyhow::anyhow!("building component '{id}' with `{command}` failed: {e}")
            })?;
        }
    }
    Ok(())
}

fn run_shell(command: &str, dir: &Path) -> anyhow::Result<()> {
    // Spin runs build commands through the shell, so they may use pipes and `&&`.
    let mut cmd = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    };
    let status = cmd
        .current_dir(dir)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run it: {}", crate::messages::io_message(&e)))?;
    if status.success() {
        Ok(())
    } else {
        anyhow::bail!("{status}")
    }
}

/// Installs `wasm32-wasip1` with rustup when missing; without rustup, checks the sysroot and
/// otherwise stops with the command to run.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(out) if out.status.success() => {
            let installed = String::from_utf8_lossy(&out.stdout);
            if installed.lines().any(|l| l.trim() == WASM_TARGET) {
                return Ok(());
            }
            eprintln!("Installing the {WASM_TARGET} Rust target (rustup target add {WASM_TARGET})");
            let status = Command::new("rustup")
                .args(["target", "add", WASM_TARGET])
                .status()
                .map_err(|e| {
                    anyhow::anyhow!("cannot run rustup: {}", crate::messages::io_message(&e))
                })?;
            if status.success() {
                Ok(())
            } else {
                anyhow::bail!("`rustup target add {WASM_TARGET}` failed ({status})")
            }
        }
        _ if target_in_sysroot() => Ok(()),
        _ => anyhow::bail!(
            "the Rust target {WASM_TARGET} is not installed and rustup is not available: install it, e.g. `rustup target add {WASM_TARGET}`"
        ),
    }
}

fn target_in_sysroot() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_with_build(dir: &Path, command: &str) -> Manifest {
        let text = format!(
            r#"
spin_manifest_version = 2
[application]
name = "b"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.build]
command = {command:?}
"#
        );
        Manifest::parse(&text, &dir.join("spin.toml")).unwrap()
    }

    #[test]
    fn runs_the_build_command_in_the_manifest_dir_and_reports_failure() {
        let dir = std::env::temp_dir().join(format!("task-api-host-build-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        build_manifest(&manifest_with_build(&dir, "echo built > out.txt")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("out.txt")).unwrap(),
            "built\n"
        );

        let e = build_manifest(&manifest_with_build(&dir, "exit 3"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("building component 'c' with `exit 3` failed: "),
            "{e}"
        );
        assert!(e.contains('3'), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
