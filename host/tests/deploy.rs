//! The deployment files cannot rot silently: `deploy/`'s SpinKube manifests, its runtime
//! configurations and the GitHub workflow are parsed and held to `spin.toml`, to each other
//! and to the host's own runtime-config parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use task_api_host::manifest::Manifest;
use task_api_host::runtime_config::{RuntimeConfig, SqliteDatabaseConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn get<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("missing `{path}` (at `{key}`)"))
    })
}

fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    get(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

/// The Secrets of `deploy/secrets.yaml`: name → key → value.
fn secrets() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for doc in yaml_documents("deploy/secrets.yaml") {
        assert_eq!(text(&doc, "apiVersion"), "v1");
        assert_eq!(text(&doc, "kind"), "Secret");
        let name = text(&doc, "metadata.name").to_string();
        let data: BTreeMap<String, String> =
            serde_yaml_ng::from_value(get(&doc, "stringData").clone())
                .unwrap_or_else(|e| panic!("Secret {name}: stringData: {e}"));
        assert!(
            out.insert(name.clone(), data).is_none(),
            "Secret {name} twice"
        );
    }
    out
}

fn spinapp() -> Value {
    let docs = yaml_documents("deploy/spinapp.yaml");
    assert_eq!(docs.len(), 1, "deploy/spinapp.yaml holds one SpinApp");
    docs.into_iter().next().unwrap()
}

#[test]
fn the_spinapp_is_complete_and_matches_spin_toml_and_its_secrets() {
    let app = spinapp();
    assert_eq!(text(&app, "apiVersion"), "core.spinkube.dev/v1alpha1");
    assert_eq!(text(&app, "kind"), "SpinApp");
    assert!(!text(&app, "metadata.name").is_empty());
    let image = text(&app, "spec.image");
    let (_, tag) = image
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("image {image} has no tag"));
    assert!(!tag.is_empty() && !tag.contains('/'), "image {image}");
    assert_eq!(text(&app, "spec.executor"), "containerd-shim-spin");
    let replicas = get(&app, "spec.replicas").as_u64().unwrap();
    assert!(replicas >= 2, "the point is several replicas: {replicas}");

    for probe in ["readiness", "liveness"] {
        assert_eq!(
            text(&app, &format!("spec.checks.{probe}.httpGet.path")),
            "/health",
            "{probe} probe"
        );
    }

    let manifest = Manifest::load(&root().join("spin.toml")).unwrap();
    let secrets = secrets();
    let mut bound = BTreeSet::new();
    for var in get(&app, "spec.variables").as_sequence().unwrap() {
        let name = text(var, "name");
        assert!(
            bound.insert(name.to_string()),
            "variable {name} bound twice"
        );
        let declared = manifest
            .variables
            .get(name)
            .unwrap_or_else(|| panic!("variable {name} is not in spin.toml's [variables]"));
        match (var.get("value"), var.get("valueFrom")) {
            (Some(value), None) => {
                assert!(
                    !declared.secret,
                    "{name} is secret in spin.toml: bind it with secretKeyRef, not a value"
                );
                assert!(value.as_str().is_some(), "{name}: value must be a string");
            }
            (None, Some(from)) => {
                let secret = text(from, "secretKeyRef.name");
                let key = text(from, "secretKeyRef.key");
                let keys = secrets.get(secret).unwrap_or_else(|| {
                    panic!("{name} refers to Secret {secret}, which secrets.yaml does not define")
                });
                assert!(
                    keys.contains_key(key),
                    "{name} refers to key {key} of Secret {secret}, which has {:?}",
                    keys.keys()
                );
            }
            _ => panic!("variable {name} needs exactly one of value and valueFrom"),
        }
    }
    for (name, declared) in &manifest.variables {
        assert!(
            !declared.required || bound.contains(name),
            "required variable {name} is not bound"
        );
    }
    let limit = get(&app, "spec.variables")
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| text(v, "name") == "rate_limit_per_minute")
        .map(|v| text(v, "value"));
    if let Some(limit) = limit {
        limit
            .parse::<u32>()
            .expect("rate_limit_per_minute is a number");
    }

    // SpinKube reads the whole runtime configuration from one key of the named Secret.
    let secret = text(&app, "spec.runtimeConfig.loadFromSecret");
    let keys = secrets
        .get(secret)
        .unwrap_or_else(|| panic!("loadFromSecret names {secret}, not in secrets.yaml"));
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        ["runtime-config.toml"],
        "Secret {secret}"
    );
}

#[test]
fn runtime_configs_parse_with_the_hosts_parser() {
    let base = Path::new("/run/from/here");
    let turso_text = read("deploy/runtime-config.turso.toml");
    let turso = RuntimeConfig::parse(&turso_text, Path::new("runtime-config.turso.toml"), base)
        .unwrap_or_else(|e| panic!("{e}"));
    match &turso.sqlite_databases["default"] {
        SqliteDatabaseConfig::LibSql { url, token } => {
            assert!(url.starts_with("https://"), "{url}");
            assert!(!token.is_empty());
        }
        other => panic!("the Turso config's default database is {other:?}"),
    }
    assert_eq!(turso.sqlite_databases.len(), 1);

    // The copy SpinKube gets must be this file, not a stale edit of it.
    let secrets = secrets();
    let secret = text(&spinapp(), "spec.runtimeConfig.loadFromSecret").to_string();
    assert_eq!(
        secrets[&secret]["runtime-config.toml"], turso_text,
        "secrets.yaml's runtime-config.toml differs from deploy/runtime-config.turso.toml"
    );

    let local = RuntimeConfig::parse(
        &read("deploy/runtime-config.local.toml"),
        Path::new("runtime-config.local.toml"),
        base,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    match &local.sqlite_databases["default"] {
        SqliteDatabaseConfig::Spin { path: Some(path) } => {
            let relative = path
                .strip_prefix(base)
                .expect("a path relative to where Spin runs");
            assert!(
                relative.starts_with(".spin"),
                "{} should stay under the git-ignored .spin/",
                relative.display()
            );
        }
        other => panic!("the local config's default database is {other:?}"),
    }
    assert!(
        read(".gitignore")
            .lines()
            .any(|l| l.trim_matches('/') == ".spin"),
        ".spin/ must be git-ignored"
    );
}

#[test]
fn the_github_workflow_runs_ci_run() {
    let docs = yaml_documents(".github/workflows/ci.yml");
    let workflow = &docs[0];
    let jobs = get(workflow, "jobs").as_mapping().unwrap();
    let mut runs_ci = false;
    for (name, job) in jobs {
        let minutes = get(job, "timeout-minutes").as_u64();
        assert!(
            minutes.is_some_and(|m| m <= 90),
            "job {name:?} needs timeout-minutes ≤ 90"
        );
        for step in get(job, "steps").as_sequence().unwrap() {
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                runs_ci |= run.lines().any(|l| l.trim() == "bash .ci/run");
            }
        }
    }
    assert!(runs_ci, "no step runs `bash .ci/run`");
    assert!(root().join(".ci/run").is_file());
}

#[test]
fn the_readme_names_only_deploy_files_that_exist() {
    let readme = read("README.md");
    let mut named = BTreeSet::new();
    for (i, _) in readme.match_indices("deploy/") {
        let rest = &readme[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches('.');
        if path.len() > "deploy/".len() {
            named.insert(path.to_string());
        }
    }
    assert!(
        named.contains("deploy/spinapp.yaml"),
        "the README walks through deploy/: {named:?}"
    );
    for path in named {
        assert!(
            root().join(&path).exists(),
            "README names {path}, which does not exist"
        );
    }
}
