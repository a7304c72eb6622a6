//! Spin variables: application variables resolved once at start-up, and component variables
//! rendered from their templates. (`guest.rs` answers the component's `variables.get`.)

use std::collections::{BTreeMap, HashMap};

use crate::manifest::{ComponentDecl, Manifest};
use crate::template::validate_name;

/// The environment variable Spin reads for an application variable.
pub fn env_var_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Resolves every application variable, highest precedence first: `env` (the
/// `SPIN_VARIABLE_<NAME>` lookup), `explicit` (`--variable name=value`, the last one wins), the
/// manifest default. A required variable without a value is an error naming it.
pub fn resolve_app_variables(
    manifest: &Manifest,
    explicit: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<HashMap<String, String>> {
    let mut values = HashMap::new();
    for (name, decl) in &manifest.variables {
        let from_env = env(&env_var_name(name));
        let from_explicit = explicit
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        let value = from_env.or(from_explicit).or_else(|| decl.default.clone());
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => anyhow::bail!(
                "variable '{name}' is required but not set (set {} or pass --variable {name}=…)",
                env_var_name(name)
            ),
        }
    }
    Ok(values)
}

/// Looks an environment variable up in the process environment, then in a `.env` file beside the
/// manifest (Spin's environment provider reads both, the process first).
pub fn process_env_lookup(manifest_dir: &std::path::Path) -> impl Fn(&str) -> Option<String> {
    let dotenv = read_dotenv(&manifest_dir.join(".env"));
    move |key| std::env::var(key).ok().or_else(|| dotenv.get(key).cloned())
}

fn read_dotenv(path: &std::path::Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// A component's variables, rendered once at start-up.
#[derive(Debug, Default)]
pub struct ComponentVariables {
    values: BTreeMap<String, String>,
}

impl ComponentVariables {
    /// The rendered values by variable name.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.values
    }

    pub fn render(
        component: &ComponentDecl,
        app_values: &HashMap<String, String>,
    ) -> anyhow::Result<ComponentVariables> {
        let mut values = BTreeMap::new();
        for (name, template) in &component.variables {
            let value = template.render(app_values).map_err(|why| {
                anyhow::anyhow!("component '{}': variable '{name}': {why}", component.id)
            })?;
            values.insert(name.clone(), value);
        }
        Ok(ComponentVariables { values })
    }

    /// The semantics of `fermyon:spin/variables.get`.
    pub fn get(&self, name: &str) -> Result<String, VariableError> {
        validate_name(name)
            .map_err(|why| VariableError::InvalidName(format!("{name:?}: {why}")))?;
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| VariableError::Undefined(format!("no variable for {name:?}")))
    }
}

/// Why `variables.get` failed, as the interface reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableError {
    InvalidName(String),
    Undefined(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
better_auth_secret = { required = true, secret = true }
mode = { default = "auto" }
issuer = { default = "" }
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.variables]
secret = "{{ better_auth_secret }}"
mode = "{{mode}}"
url = "https://{{ issuer }}/x/{{mode}}"
"#,
            Path::new("spin.toml"),
        )
        .unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn precedence_is_env_then_explicit_then_default() {
        let m = manifest();
        let explicit = vec![
            ("better_auth_secret".to_string(), "s".to_string()),
            ("mode".to_string(), "first".to_string()),
            ("mode".to_string(), "cli".to_string()),
        ];
        let v = resolve_app_variables(&m, &explicit, &no_env).unwrap();
        assert_eq!(
            v["mode"], "cli",
            "the last --variable wins over the default"
        );
        assert_eq!(v["issuer"], "", "default applies");
        assert_eq!(v["better_auth_secret"], "s");

        let env = |k: &str| (k == "SPIN_VARIABLE_MODE").then(|| "env".to_string());
        let v = resolve_app_variables(&m, &explicit, &env).unwrap();
        assert_eq!(v["mode"], "env", "environment beats --variable");
        assert_eq!(v["better_auth_secret"], "s");
    }

    #[test]
    fn missing_required_variable_names_it_in_one_line() {
        let e = resolve_app_variables(&manifest(), &[], &no_env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "variable 'better_auth_secret' is required but not set (set SPIN_VARIABLE_BETTER_AUTH_SECRET or pass --variable better_auth_secret=…)"
        );
        let env = |k: &str| (k == "SPIN_VARIABLE_BETTER_AUTH_SECRET").then(|| "e".to_string());
        assert!(resolve_app_variables(&manifest(), &[], &env).is_ok());
    }

    #[test]
    fn component_get_semantics() {
        let m = manifest();
        let explicit = vec![
            ("better_auth_secret".to_string(), "s3cret".to_string()),
            ("issuer".to_string(), "idp.example".to_string()),
        ];
        let app = resolve_app_variables(&m, &explicit, &no_env).unwrap();
        let vars = ComponentVariables::render(&m.components["c"], &app).unwrap();
        assert_eq!(vars.get("secret").unwrap(), "s3cret");
        assert_eq!(vars.get("url").unwrap(), "https://idp.example/x/auto");
        assert!(matches!(
            vars.get("Secret"),
            Err(VariableError::InvalidName(_))
        ));
        assert!(matches!(
            vars.get("mode-x"),
            Err(VariableError::InvalidName(_))
        ));
        // Application variables are invisible unless the component maps them.
        assert!(matches!(
            vars.get("better_auth_secret"),
            Err(VariableError::Undefined(_))
        ));
        assert!(matches!(
            vars.get("issuer"),
            Err(VariableError::Undefined(_))
        ));
    }

    #[test]
    fn dotenv_is_read_below_the_process_environment() {
        let dir = std::env::temp_dir().join(format!("task-api-host-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".env"),
            "# comment\nSPIN_VARIABLE_DOTENV_ONLY=\"from file\"\nexport SPIN_VARIABLE_OTHER=x\n",
        )
        .unwrap();
        let lookup = process_env_lookup(&dir);
        assert_eq!(
            lookup("SPIN_VARIABLE_DOTENV_ONLY").as_deref(),
            Some("from file")
        );
        assert_eq!(lookup("SPIN_VARIABLE_OTHER").as_deref(), Some("x"));
        assert_eq!(lookup("SPIN_VARIABLE_SURELY_UNSET_12345"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
