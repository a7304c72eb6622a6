//! `spin.toml` (manifest version 2): the subset this host serves, validated up front so that a
//! mistake is reported once, at start-up, in one line naming the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::template::{Template, validate_name};

/// A parsed and validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Directory holding `spin.toml`: component sources and build commands are relative to it.
    pub dir: PathBuf,
    pub path: PathBuf,
    pub application: Application,
    /// Application variables by name.
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_triggers: Vec<HttpTrigger>,
    /// Components by id.
    pub components: BTreeMap<String, ComponentDecl>,
    /// What the file asks for that this host does not do (a valid Spin manifest is never
    /// refused for a field this host can leave out; it says so instead).
    pub warnings: Vec<String>,
}

/// `[application]`, with every field of Spin's manifest v2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    /// Deployment target environments: for `spin build`'s checks, not for serving.
    #[serde(default)]
    pub targets: Option<toml::Value>,
    #[serde(default)]
    pub trigger: ApplicationTriggers,
    /// `[application.tool.<name>]`: other tools' settings, ignored by Spin too.
    #[serde(default)]
    pub tool: Option<toml::Table>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApplicationTriggers {
    #[serde(default)]
    pub http: Option<HttpAppSettings>,
    /// Global settings of other trigger types (`[application.trigger.redis]`, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAppSettings {
    #[serde(default)]
    pub base: Option<String>,
}

/// An entry of `[variables]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct ComponentDecl {
    pub id: String,
    /// `source` exactly as written, for messages.
    pub source: String,
    pub description: Option<String>,
    pub sqlite_databases: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variable name → template over application variables.
    pub variables: BTreeMap<String, Template>,
    pub environment: BTreeMap<String, String>,
    pub build: Option<BuildDecl>,
}

#[derive(Debug, Clone)]
pub struct BuildDecl {
    pub command: Vec<String>,
    pub workdir: Option<String>,
    pub watch: Vec<String>,
}

impl Manifest {
    /// Reads and validates `path`; every error is one line naming the file.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read manifest {}: {}",
                path.display(),
                crate::messages::io_message(&e)
            )
        })?;
        Self::parse(&text, path).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Parses manifest text; `path` is used for its directory and in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let err = |problem: String| ManifestError {
            path: path.to_path_buf(),
            problem,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            err(format!("{}{at}", one_line(e.message())))
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        raw.validate(dir, path).map_err(err)
    }

    pub fn http_base(&self) -> &str {
        self.application
            .trigger
            .http
            .as_ref()
            .and_then(|h| h.base.as_deref())
            .unwrap_or("/")
    }

    /// Absolute-or-manifest-relative path of a component's wasm.
    pub fn source_path(&self, component: &ComponentDecl) -> PathBuf {
        self.dir.join(&component.source)
    }
}

/// A manifest problem, displayed as `invalid manifest <file>: <problem>`.
#[derive(Debug, Clone)]
pub struct ManifestError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid manifest {}: {}",
            self.path.display(),
            self.problem
        )
    }
}

impl std::error::Error for ManifestError {}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    /// Accepted for compatibility; routing does not use trigger ids.
    #[serde(default, rename = "id")]
    _id: Option<String>,
    route: RawRoute,
    #[serde(default)]
    component: Option<toml::Value>,
    /// `[trigger.http.components]`: named component slots (Spin's middleware chains).
    #[serde(default)]
    components: Option<toml::Table>,
    #[serde(default)]
    executor: Option<toml::Table>,
    #[serde(default)]
    static_response: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private {
        #[allow(dead_code)]
        private: bool,
    },
}

/// `[component.<id>]`, with every field of Spin's manifest v2. What the host serves is typed;
/// the rest is kept only to say, at start-up, that it is not served.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, alias = "sqlite-databases")]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    exclude_files: Vec<String>,
    /// Spin's deprecated predecessor of `allowed_outbound_hosts`.
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default, alias = "key-value-stores")]
    key_value_stores: Vec<String>,
    #[serde(default)]
    ai_models: Vec<String>,
    #[serde(default)]
    targets: Option<toml::Value>,
    /// `[component.<id>.tool.<name>]`: other tools' settings, ignored by Spin too.
    #[serde(default)]
    tool: Option<toml::Table>,
    #[serde(default)]
    dependencies_inherit_configuration: Option<bool>,
    #[serde(default)]
    dependencies: Option<toml::Table>,
    /// `[component.<id>.profile.<name>]`: `spin up --profile` overrides.
    #[serde(default)]
    profile: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: RawCommand,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    One(String),
    Many(Vec<String>),
}

impl RawManifest {
    fn validate(self, dir: PathBuf, path: &Path) -> Result<Manifest, String> {
        if self.spin_manifest_version != toml::Value::Integer(2) {
            return Err(format!(
                "spin_manifest_version must be 2 (found {})",
                self.spin_manifest_version
            ));
        }

        for (name, decl) in &self.variables {
            validate_name(name).map_err(|why| format!("variable '{name}': {why}"))?;
            match (&decl.default, decl.required) {
                (Some(_), true) => {
                    return Err(format!(
                        "variable '{name}' cannot both be required and have a default"
                    ));
                }
                (None, false) => {
                    return Err(format!(
                        "variable '{name}' must either be required or have a default"
                    ));
                }
                _ => {}
            }
        }

        let mut warnings = Vec::new();
        if self.application.targets.is_some() {
            warnings.push("[application] targets: ignored (a spin build check)".to_string());
        }
        for kind in self.application.trigger.other.keys() {
            warnings.push(format!(
                "[application.trigger.{kind}]: ignored (this host serves only http triggers)"
            ));
        }

        let mut components = BTreeMap::new();
        for (id, raw) in self.component {
            validate_component_id(&id).map_err(|why| format!("component '{id}': {why}"))?;
            let component = raw.validate(&id, &self.variables, &mut warnings)?;
            components.insert(id, component);
        }

        let mut http_triggers = Vec::new();
        for (kind, entries) in self.trigger {
            if kind != "http" {
                warnings.push(format!(
                    "{} [[trigger.{kind}]] entr{}: ignored (this host serves only http triggers)",
                    entries.len(),
                    if entries.len() == 1 { "y" } else { "ies" }
                ));
                continue;
            }
            for entry in entries {
                let raw: RawHttpTrigger =
                    toml::Value::Table(entry)
                        .try_into()
                        .map_err(|e: toml::de::Error| {
                            format!("[[trigger.http]]: {}", one_line(e.message()))
                        })?;
                http_triggers.push(raw.validate(&components)?);
            }
        }
        if http_triggers.is_empty() {
            return Err(
                "no [[trigger.http]] entries (this host serves only http triggers)".to_string(),
            );
        }
        for (i, t) in http_triggers.iter().enumerate() {
            if http_triggers[..i].iter().any(|o| o.route == t.route) {
                return Err(format!("duplicate route '{}'", t.route));
            }
        }

        let base = self
            .application
            .trigger
            .http
            .as_ref()
            .and_then(|h| h.base.as_deref())
            .unwrap_or("/");
        if !base.starts_with('/') {
            return Err(format!(
                "application.trigger.http.base '{base}' must start with '/'"
            ));
        }

        Ok(Manifest {
            dir,
            path: path.to_path_buf(),
            application: self.application,
            variables: self.variables,
            http_triggers,
            components,
            warnings,
        })
    }
}

impl RawHttpTrigger {
    fn validate(self, components: &BTreeMap<String, ComponentDecl>) -> Result<HttpTrigger, String> {
        if self.static_response.is_some() {
            return Err(
                "[[trigger.http]] static_response is not supported by this host (serve it from a component)"
                    .to_string(),
            );
        }
        if self.components.is_some() {
            return Err(
                "[[trigger.http]] components (middleware chains) are not supported by this host"
                    .to_string(),
            );
        }
        let component = match self.component {
            Some(toml::Value::String(id)) => id,
            Some(_) => {
                return Err(
                    "[[trigger.http]] component must be the id of a [component.<id>] table (inline components are not supported by this host)"
                        .to_string(),
                );
            }
            None => return Err("[[trigger.http]] needs a component".to_string()),
        };
        if !components.contains_key(&component) {
            return Err(format!(
                "[[trigger.http]] refers to component '{component}', which has no [component.{component}] table"
            ));
        }
        if let Some(executor) = &self.executor {
            match executor.get("type").and_then(|t| t.as_str()) {
                Some("http" | "spin") => {}
                other => {
                    return Err(format!(
                        "[[trigger.http]] executor {} is not supported by this host (only http)",
                        other.unwrap_or("without type")
                    ));
                }
            }
        }
        let route = match self.route {
            RawRoute::Path(route) => route,
            RawRoute::Private { .. } => {
                return Err(format!(
                    "component '{component}': private routes are not supported by this host"
                ));
            }
        };
        if !route.starts_with('/') {
            return Err(format!("route '{route}' must start with '/'"));
        }
        if route.starts_with("/.well-known/spin") {
            return Err(format!(
                "route '{route}' is reserved (/.well-known/spin/...)"
            ));
        }
        Ok(HttpTrigger { route, component })
    }
}

impl RawComponent {
    fn validate(
        self,
        id: &str,
        app_vars: &BTreeMap<String, VariableDecl>,
        warnings: &mut Vec<String>,
    ) -> Result<ComponentDecl, String> {
        let source = match self.source {
            toml::Value::String(s) if !s.is_empty() => s,
            toml::Value::String(_) => return Err(format!("component '{id}': source is empty")),
            _ => {
                return Err(format!(
                    "component '{id}': source must be a local file path (url and registry sources are not supported by this host)"
                ));
            }
        };
        if self.dependencies.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(format!(
                "component '{id}': dependencies (component composition) are not supported by this host"
            ));
        }
        let mut ignored = |field: &str, why: &str| {
            warnings.push(format!("component '{id}': {field}: ignored ({why})"));
        };
        if !self.files.is_empty() || !self.exclude_files.is_empty() {
            ignored("files", "this host mounts no files into the guest");
        }
        if !self.allowed_http_hosts.is_empty() {
            ignored(
                "allowed_http_hosts",
                "deprecated in Spin; list the hosts in allowed_outbound_hosts",
            );
        }
        if !self.key_value_stores.is_empty() {
            ignored("key_value_stores", "this host has no key-value store");
        }
        if !self.ai_models.is_empty() {
            ignored("ai_models", "this host has no LLM interface");
        }
        if self.targets.is_some() {
            ignored("targets", "a spin build check");
        }
        if self.profile.is_some() {
            ignored("profile", "this host serves the default profile only");
        }
        let _ = (self.tool, self.dependencies_inherit_configuration);

        let mut variables = BTreeMap::new();
        for (name, text) in self.variables {
            validate_name(&name)
                .map_err(|why| format!("component '{id}': variable '{name}': {why}"))?;
            let template = Template::parse(&text)
                .map_err(|why| format!("component '{id}': variable '{name}': {why}"))?;
            for reference in template.references() {
                if !app_vars.contains_key(reference) {
                    return Err(format!(
                        "component '{id}': variable '{name}' refers to '{reference}', which is not declared in [variables]"
                    ));
                }
            }
            variables.insert(name, template);
        }

        for label in &self.sqlite_databases {
            if label.is_empty() {
                return Err(format!("component '{id}': empty sqlite_databases label"));
            }
        }

        // As in Spin: a literal entry is checked now, a templated one (`"{{ origin }}"`) once
        // the application variables are resolved at start-up.
        for host in &self.allowed_outbound_hosts {
            let bad = |why: String| format!("component '{id}': allowed_outbound_hosts: {why}");
            let template = Template::parse(host).map_err(bad)?;
            let mut references = template.references().peekable();
            if references.peek().is_none() {
                crate::outbound::AllowedHost::parse(host).map_err(bad)?;
            }
            for reference in references {
                if !app_vars.contains_key(reference) {
                    return Err(bad(format!(
                        "'{host}' refers to '{reference}', which is not declared in [variables]"
                    )));
                }
            }
        }

        let build = match self.build {
            None => None,
            Some(raw) => {
                let command = match raw.command {
                    RawCommand::One(c) => vec![c],
                    RawCommand::Many(cs) => cs,
                };
                if command.iter().all(|c| c.trim().is_empty()) {
                    return Err(format!("component '{id}': build.command is empty"));
                }
                Some(BuildDecl {
                    command,
                    workdir: raw.workdir,
                    watch: raw.watch,
                })
            }
        };

        Ok(ComponentDecl {
            id: id.to_string(),
            source,
            description: self.description,
            sqlite_databases: self.sqlite_databases,
            allowed_outbound_hosts: self.allowed_outbound_hosts,
            variables,
            environment: self.environment,
            build,
        })
    }
}

/// Spin's component ids: kebab-case words of lowercase letters and digits.
fn validate_component_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && id.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(())
    } else {
        Err("ids must be kebab-case (lowercase letters, digits, single dashes), starting with a letter".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2

[application]
name = "demo"
version = "0.1.0"

[variables]
secret = { default = "", secret = true }
issuer = { required = true }

[[trigger.http]]
route = "/..."
component = "api"

[[trigger.http]]
route = "/health"
component = "api"

[component.api]
source = "target/api.wasm"
sqlite_databases = ["default"]
allowed_outbound_hosts = []

[component.api.variables]
secret = "{{ secret }}"
issuer_url = "https://{{issuer}}/"

[component.api.build]
command = "cargo build --target wasm32-wasip1 --release"
watch = ["src/**/*.rs"]
"#;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(text, Path::new("/app/spin.toml")).map_err(|e| e.to_string())
    }

    fn with(replace: &str, by: &str) -> String {
        assert!(GOOD.contains(replace), "test fixture lacks {replace:?}");
        GOOD.replace(replace, by)
    }

    #[test]
    fn parses_the_supported_subset() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.dir, Path::new("/app"));
        assert_eq!(m.application.name, "demo");
        assert_eq!(m.variables.len(), 2);
        assert!(m.variables["secret"].secret);
        assert!(m.variables["issuer"].required);
        assert_eq!(m.http_triggers.len(), 2);
        assert_eq!(m.http_triggers[0].route, "/...");
        let c = &m.components["api"];
        assert_eq!(c.source, "target/api.wasm");
        assert_eq!(m.source_path(c), Path::new("/app/target/api.wasm"));
        assert_eq!(c.sqlite_databases, vec!["default"]);
        assert_eq!(
            c.variables["issuer_url"].references().collect::<Vec<_>>(),
            vec!["issuer"]
        );
        assert_eq!(
            c.build.as_ref().unwrap().command,
            vec!["cargo build --target wasm32-wasip1 --release"]
        );
        assert_eq!(m.http_base(), "/");
    }

    #[test]
    fn the_project_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml");
        let m = Manifest::load(&path).unwrap();
        assert!(m.components.contains_key("task-api"));
    }

    #[test]
    fn toml_syntax_error_is_one_line_with_file_and_line() {
        let e = parse(&with("name = \"demo\"", "name = \"demo")).unwrap_err();
        assert!(e.starts_with("invalid manifest /app/spin.toml: "), "{e}");
        assert!(e.contains("(line "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn undeclared_template_variable_is_rejected() {
        let e = parse(&with("{{ secret }}", "{{ not_declared }}")).unwrap_err();
        assert!(e.contains("'not_declared'"), "{e}");
        assert!(e.contains("not declared in [variables]"), "{e}");
    }

    #[test]
    fn bad_variable_names_are_rejected() {
        let e = parse(&with(
            "issuer = { required = true }",
            "Issuer = { required = true }",
        ))
        .unwrap_err();
        assert!(e.contains("variable 'Issuer'"), "{e}");
        let e = parse(&with("issuer_url =", "9url =")).unwrap_err();
        assert!(e.contains("variable '9url'"), "{e}");
    }

    #[test]
    fn variable_needs_exactly_one_of_default_and_required() {
        let e = parse(&with("{ required = true }", "{ secret = true }")).unwrap_err();
        assert!(
            e.contains("must either be required or have a default"),
            "{e}"
        );
        let e = parse(&with(
            "{ required = true }",
            "{ required = true, default = \"x\" }",
        ))
        .unwrap_err();
        assert!(
            e.contains("cannot both be required and have a default"),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_and_bad_references_are_rejected() {
        let e = parse(&with("sqlite_databases", "sqlite_database")).unwrap_err();
        assert!(e.contains("sqlite_database"), "{e}");
        let e = parse(&with(
            "component = \"api\"\n\n[[",
            "component = \"nope\"\n\n[[",
        ))
        .unwrap_err();
        assert!(e.contains("'nope'"), "{e}");
        let e = parse(&with(
            "spin_manifest_version = 2",
            "spin_manifest_version = 1",
        ))
        .unwrap_err();
        assert!(e.contains("spin_manifest_version must be 2"), "{e}");
        let e = parse(&with("route = \"/health\"", "route = \"/...\"")).unwrap_err();
        assert!(e.contains("duplicate route"), "{e}");
        let e = parse(&with("route = \"/health\"", "route = \"health\"")).unwrap_err();
        assert!(e.contains("must start with '/'"), "{e}");
        let e = parse(&with("{{issuer}}", "{{issuer")).unwrap_err();
        assert!(e.contains("issuer_url"), "{e}");
    }

    #[test]
    fn allowed_outbound_hosts_may_be_templates_of_declared_variables() {
        let m = parse(&with(
            "allowed_outbound_hosts = []",
            r#"allowed_outbound_hosts = ["{{ issuer }}", "http://localhost:3001"]"#,
        ))
        .unwrap();
        assert_eq!(m.components["api"].allowed_outbound_hosts.len(), 2);
        let e = parse(&with(
            "allowed_outbound_hosts = []",
            r#"allowed_outbound_hosts = ["{{ nope }}"]"#,
        ))
        .unwrap_err();
        assert!(e.contains("'nope'") && e.contains("not declared"), "{e}");
        let e = parse(&with(
            "allowed_outbound_hosts = []",
            r#"allowed_outbound_hosts = ["{{ issuer"]"#,
        ))
        .unwrap_err();
        assert!(e.contains("allowed_outbound_hosts"), "{e}");
        // Literal entries are still checked at load.
        let e = parse(&with(
            "allowed_outbound_hosts = []",
            r#"allowed_outbound_hosts = ["example.com"]"#,
        ))
        .unwrap_err();
        assert!(e.contains("allowed_outbound_hosts"), "{e}");
    }

    /// Fields a Spin manifest v2 may carry and this host does not serve: the file is accepted,
    /// and each one is named in a warning.
    #[test]
    fn spin_fields_the_host_ignores_are_warnings_not_errors() {
        let text = with(
            "allowed_outbound_hosts = []",
            r#"allowed_outbound_hosts = []
files = ["static/**"]
key_value_stores = ["default"]
ai_models = ["llama2-chat"]
allowed_http_hosts = ["https://example.com"]"#,
        )
        .replace(
            "[component.api.build]",
            "[component.api.tool.spin-test]\nsource = \"tests.wasm\"\n\n[component.api.build]",
        )
        .replace(
            "[application]\nname = \"demo\"",
            "[application]\nname = \"demo\"\ntargets = [\"spin-up:3.3\"]",
        ) + "\n[application.tool.other]\nx = 1\n\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"api\"\n";
        let m = parse(&text).unwrap();
        let warnings = m.warnings.join("\n");
        for field in [
            "files",
            "key_value_stores",
            "ai_models",
            "allowed_http_hosts",
            "targets",
            "trigger.redis",
        ] {
            assert!(
                warnings.contains(field),
                "no warning for {field}:\n{warnings}"
            );
        }
        assert!(
            !warnings.contains("tool"),
            "tool tables are for other tools:\n{warnings}"
        );
        assert_eq!(m.http_triggers.len(), 2);
        // What it cannot serve at all is still an error.
        let e = parse(&with(
            "source = \"target/api.wasm\"",
            "source = { url = \"https://example.com/a.wasm\", digest = \"sha256:00\" }",
        ))
        .unwrap_err();
        assert!(e.contains("url and registry sources"), "{e}");
        assert!(parse(GOOD).unwrap().warnings.is_empty());
    }

    #[test]
    fn missing_manifest_is_one_line() {
        let e = Manifest::load(Path::new("/definitely/not/here/spin.toml")).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("cannot read manifest /definitely/not/here/spin.toml: "),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
