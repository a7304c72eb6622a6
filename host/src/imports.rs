//! The import check: a component may import only what the project's world (`wit/`) imports, so
//! what runs here is what production Spin will be asked to provide.

use std::path::Path;

use anyhow::Context;
use wit_parser::{Resolve, WorldId, WorldItem, WorldKey};

/// The project's world, in `wit/world.wit` beside `spin.toml`.
pub const PROJECT_WORLD: &str = "task-api:component/task-api";

fn item_name(resolve: &Resolve, key: &WorldKey, item: &WorldItem) -> Option<String> {
    match item {
        WorldItem::Interface { id, .. } => Some(match key {
            WorldKey::Interface(_) => resolve
                .id_of(*id)
                .unwrap_or_else(|| resolve.name_world_key(key)),
            WorldKey::Name(name) => name.clone(),
        }),
        WorldItem::Function(f) => Some(f.name.clone()),
        // Imported types come along with the interfaces that define them.
        WorldItem::Type { .. } => None,
    }
}

fn imports_of(resolve: &Resolve, world: WorldId) -> Vec<String> {
    let mut names: Vec<String> = resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| item_name(resolve, key, item))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn load_world(wit_dir: &Path, world: &str) -> anyhow::Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(wit_dir)
        .map_err(|e| anyhow::anyhow!("{}", crate::messages::one_line_chain(&e)))
        .with_context(|| format!("cannot parse the WIT in {}", wit_dir.display()))?;
    let id = resolve
        .select_world(&[pkg], Some(world))
        .map_err(|e| anyhow::anyhow!("{}", crate::messages::one_line_chain(&e)))
        .with_context(|| format!("no world {world} in {}", wit_dir.display()))?;
    Ok((resolve, id))
}

/// Fully-qualified names (`ns:pkg/interface@version`) of everything `world` in `wit_dir` imports,
/// including interfaces pulled in through `use`.
pub fn world_imports(wit_dir: &Path, world: &str) -> anyhow::Result<Vec<String>> {
    let (resolve, id) = load_world(wit_dir, world)?;
    Ok(imports_of(&resolve, id))
}

/// Fully-qualified names of a component's imports.
pub fn component_imports(component: &[u8]) -> anyhow::Result<Vec<String>> {
    match wit_component::decode(component).map_err(|e| {
        anyhow::anyhow!(
            "cannot decode component: {}",
            crate::messages::one_line_chain(&e)
        )
    })? {
        wit_component::DecodedWasm::Component(resolve, world) => Ok(imports_of(&resolve, world)),
        wit_component::DecodedWasm::WitPackage(..) => {
            anyhow::bail!("the wasm is a WIT package, not a component")
        }
    }
}

/// `ns:pkg/iface` and its version, if any.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Semver compatibility as the component model's linkers apply it: same major (or, below 1.0,
/// same minor). `0.2.0` and `0.2.12` name the same interface track; `2.0.0` and `3.0.0` do not.
fn same_track(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut it = v.split('.');
        let t = (
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
        );
        it.next().is_none().then_some(t)
    };
    match (parse(a), parse(b)) {
        (Some((0, 0, _)), _) | (_, Some((0, 0, _))) => false,
        (Some((0, a_minor, _)), Some((0, b_minor, _))) => a_minor == b_minor,
        (Some((a_major, ..)), Some((b_major, ..))) => a_major != 0 && a_major == b_major,
        _ => false,
    }
}

fn permitted(import: &str, allowed: &[String]) -> bool {
    let (base, version) = split_version(import);
    allowed.iter().any(|a| {
        let (a_base, a_version) = split_version(a);
        a_base == base
            && match (version, a_version) {
                (None, None) => true,
                (Some(v), Some(w)) => same_track(v, w),
                _ => false,
            }
    })
}

/// Imports of `component` that `world` (in `wit_dir`) does not import. Interface versions are
/// compared by semver track: the preview1 adapter and the SDK ask for different patch releases
/// of `wasi:*@0.2`, which the world names once.
pub fn disallowed_imports(
    component: &[u8],
    wit_dir: &Path,
    world: &str,
) -> anyhow::Result<Vec<String>> {
    let allowed = world_imports(wit_dir, world)?;
    Ok(component_imports(component)?
        .into_iter()
        .filter(|i| !permitted(i, &allowed))
        .collect())
}

/// Refuses a component importing anything outside `world`, naming the offending imports.
pub fn check_imports(component: &[u8], wit_dir: &Path, world: &str) -> anyhow::Result<()> {
    let extra = disallowed_imports(component, wit_dir, world)?;
    if extra.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "the component imports {} outside the world {world} ({}): {}",
            if extra.len() == 1 {
                "an interface"
            } else {
                "interfaces"
            },
            wit_dir.display(),
            extra.join(", ")
        )
    }
}

/// The structural check `wit_component::targets` offers: does `component` fit `world` exactly
/// (imports a subset with matching types, exports what the world exports)?
pub fn check_targets(component: &[u8], wit_dir: &Path, world: &str) -> anyhow::Result<()> {
    let (resolve, id) = load_world(wit_dir, world)?;
    wit_component::targets(&resolve, id, component).map_err(|e| {
        anyhow::anyhow!(
            "the component does not target the world {world}: {}",
            crate::messages::one_line_chain(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tracks() {
        assert!(same_track("0.2.0", "0.2.12"));
        assert!(same_track("2.0.0", "2.1.0"));
        assert!(!same_track("2.0.0", "3.0.0"));
        assert!(!same_track("0.2.0", "0.3.0"));
        assert!(!same_track("0.0.1", "0.0.2"));
        assert!(same_track("0.3.0-rc-2025", "0.3.0-rc-2025"));
        assert!(!same_track("0.3.0-rc-1", "0.3.0-rc-2"));
    }

    #[test]
    fn permitted_compares_names_and_tracks() {
        let allowed = vec![
            "fermyon:spin/sqlite@2.0.0".to_string(),
            "wasi:http/types@0.2.0".to_string(),
            "local".to_string(),
        ];
        assert!(permitted("fermyon:spin/sqlite@2.0.0", &allowed));
        assert!(permitted("wasi:http/types@0.2.6", &allowed));
        assert!(!permitted("spin:sqlite/sqlite@3.0.0", &allowed));
        assert!(!permitted("fermyon:spin/sqlite@3.0.0", &allowed));
        assert!(!permitted("fermyon:spin/key-value@2.0.0", &allowed));
        assert!(!permitted("fermyon:spin/sqlite", &allowed));
        assert!(permitted("local", &allowed));
    }

    fn wit_dir(tag: &str, world: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("task-api-host-wit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("deps/spin")).unwrap();
        let spin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps/spin");
        for f in std::fs::read_dir(spin).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join("deps/spin").join(f.file_name().unwrap())).unwrap();
        }
        std::fs::write(dir.join("world.wit"), world).unwrap();
        dir
    }

    /// A component importing `fermyon:spin/variables@2.0.0` (and nothing else), exporting nothing.
    fn component_importing_variables() -> Vec<u8> {
        use crate::testutil::{component, core_module};
        use wasm_encoder::ValType::I32;
        component(
            core_module(
                &[("fermyon:spin/variables@2.0.0", "get", &[I32, I32, I32])],
                None,
            ),
            "package test:guest;\nworld guest { import fermyon:spin/variables@2.0.0; }\n",
            "guest",
        )
    }

    #[test]
    fn component_outside_the_world_is_refused_by_name() {
        let component = component_importing_variables();
        assert_eq!(
            component_imports(&component).unwrap(),
            vec!["fermyon:spin/variables@2.0.0"]
        );

        let ok = wit_dir(
            "ok",
            "package t:c;\nworld w { import fermyon:spin/variables@2.0.0; import fermyon:spin/sqlite@2.0.0; }\n",
        );
        check_imports(&component, &ok, "t:c/w").unwrap();
        check_targets(&component, &ok, "t:c/w").unwrap();

        let narrow = wit_dir(
            "narrow",
            "package t:c;\nworld w { import fermyon:spin/sqlite@2.0.0; }\n",
        );
        let e = check_imports(&component, &narrow, "t:c/w")
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the world t:c/w"), "{e}");
        assert!(e.ends_with(": fermyon:spin/variables@2.0.0"), "{e}");
        assert!(check_targets(&component, &narrow, "t:c/w").is_err());

        let e = check_imports(&component, &ok, "t:c/nope").unwrap_err();
        assert!(format!("{e:#}").contains("no world t:c/nope"), "{e:#}");
        std::fs::remove_dir_all(ok).unwrap();
        std::fs::remove_dir_all(narrow).unwrap();
    }
}
