//! `--runtime-config-file`: the SQLite part of Spin's runtime configuration.
//!
//! ```toml
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/tasks.db"
//! ```
//!
//! Parsed as Spin 3.x parses it (`spin-sqlite`'s `RuntimeConfigResolver`): `type = "spin"` takes
//! only `path` (none = an in-memory database), `type = "libsql"` takes exactly `url` (http or
//! https) and `token`, and any other type is an error. A relative `path` is resolved against the
//! current working directory, not the file's directory: Spin's CLI hands its SQLite resolver
//! `std::env::current_dir()` (only key-value stores are resolved against the file's directory).
//!
//! Everything parses so that a configuration written for real Spin can be checked here; the host
//! then refuses at start what it cannot serve (libSQL, see [`crate::host::start`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `[sqlite_database.<label>]` table.
#[derive(Clone, PartialEq, Eq)]
pub enum SqliteDatabaseConfig {
    /// `type = "spin"`: a local file, already resolved to where it will be opened; `None` is an
    /// in-memory database, as Spin makes for a `spin` entry without `path`.
    Spin { path: Option<PathBuf> },
    /// `type = "libsql"`: a remote libSQL server (Turso, `sqld`) over HTTP(S).
    LibSql { url: String, token: String },
}

impl SqliteDatabaseConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SqliteDatabaseConfig::Spin { .. } => "spin",
            SqliteDatabaseConfig::LibSql { .. } => "libsql",
        }
    }
}

impl std::fmt::Debug for SqliteDatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqliteDatabaseConfig::Spin { path } => {
                f.debug_struct("Spin").field("path", path).finish()
            }
            // The token is a credential: never in a debug print or an error message.
            SqliteDatabaseConfig::LibSql { url, .. } => f
                .debug_struct("LibSql")
                .field("url", url)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// A parsed runtime configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The file, as given, for messages.
    pub file: PathBuf,
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
}

impl RuntimeConfig {
    /// Reads and parses `file`, resolving relative database paths as Spin does (against the
    /// current working directory). Errors are one line naming the file.
    pub fn load(file: &Path) -> anyhow::Result<RuntimeConfig> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            anyhow::anyhow!(
                "cannot read runtime config file {}: {}",
                file.display(),
                crate::messages::io_message(&e)
            )
        })?;
        let cwd = std::env::current_dir()
            .map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))?;
        Self::parse(&text, file, &cwd).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Parses the text of `file`; relative `path`s are joined to `base_dir`.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<RuntimeConfig, String> {
        let shown = file.display();
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            format!(
                "invalid runtime config file {shown}: {}{at}",
                one_line(e.message())
            )
        })?;
        let mut sqlite_databases = BTreeMap::new();
        for (key, value) in &table {
            if key != "sqlite_database" {
                return Err(format!(
                    "runtime config file {shown}: `{key}` is not supported by this host, which \
                     reads only [sqlite_database.<label>] tables; use Spin for the rest of its \
                     runtime configuration"
                ));
            }
            let Some(labels) = value.as_table() else {
                return Err(format!(
                    "runtime config file {shown}: sqlite_database must be a table of \
                     [sqlite_database.<label>] tables"
                ));
            };
            for (label, entry) in labels {
                let config = parse_database(entry, base_dir).map_err(|why| {
                    format!("runtime config file {shown}: [sqlite_database.{label}]: {why}")
                })?;
                sqlite_databases.insert(label.clone(), config);
            }
        }
        Ok(RuntimeConfig {
            file: file.to_path_buf(),
            sqlite_databases,
        })
    }

    /// `[sqlite_database.default: spin]`-style summaries, as Spin prints at start-up.
    pub fn summary(&self) -> String {
        self.sqlite_databases
            .iter()
            .map(|(label, config)| format!("[sqlite_database.{label}: {}]", config.kind()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn string_field<'a>(entry: &'a toml::Table, key: &str) -> Result<Option<&'a str>, String> {
    match entry.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn only_keys(entry: &toml::Table, kind: &str, allowed: &[&str]) -> Result<(), String> {
    match entry
        .keys()
        .find(|k| *k != "type" && !allowed.contains(&k.as_str()))
    {
        Some(unknown) => Err(format!(
            "unknown field `{unknown}` for type \"{kind}\" (expected {})",
            allowed
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Ok(()),
    }
}

fn parse_database(entry: &toml::Value, base_dir: &Path) -> Result<SqliteDatabaseConfig, String> {
    let Some(entry) = entry.as_table() else {
        return Err("must be a table with a `type`".to_string());
    };
    let kind = string_field(entry, "type")?.ok_or("missing `type` (\"spin\" or \"libsql\")")?;
    match kind {
        "spin" => {
            only_keys(entry, kind, &["path"])?;
            let path = match string_field(entry, "path")? {
                None => None,
                Some("") => return Err("`path` is empty".to_string()),
                Some(p) => Some(base_dir.join(p)),
            };
            Ok(SqliteDatabaseConfig::Spin { path })
        }
        "libsql" => {
            only_keys(entry, kind, &["url", "token"])?;
            let url = string_field(entry, "url")?.ok_or("missing `url`")?;
            let token = string_field(entry, "token")?.ok_or("missing `token`")?;
            // Spin talks to libSQL over HTTP only; Turso prints `libsql://` URLs.
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                let hint = match url.strip_prefix("libsql://") {
                    Some(rest) => format!(" (write https://{rest})"),
                    None => String::new(),
                };
                return Err(format!(
                    "url '{url}' must start with https:// or http://, as Spin talks to libSQL \
                     over HTTP only{hint}"
                ));
            }
            Ok(SqliteDatabaseConfig::LibSql {
                url: url.to_string(),
                token: token.to_string(),
            })
        }
        other => Err(format!(
            "unknown type \"{other}\" (Spin knows \"spin\", a local file, and \"libsql\", a \
             remote libSQL server)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, String> {
        RuntimeConfig::parse(text, Path::new("conf/rc.toml"), Path::new("/work/dir"))
    }

    #[test]
    fn spin_entries_resolve_relative_paths_against_the_base_dir() {
        let rc = parse(
            r#"
[sqlite_database.default]
type = "spin"
path = "data/tasks.db"

[sqlite_database.abs]
type = "spin"
path = "/var/lib/tasks.db"

[sqlite_database.mem]
type = "spin"
"#,
        )
        .unwrap();
        assert_eq!(
            rc.sqlite_databases["default"],
            SqliteDatabaseConfig::Spin {
                path: Some("/work/dir/data/tasks.db".into())
            }
        );
        assert_eq!(
            rc.sqlite_databases["abs"],
            SqliteDatabaseConfig::Spin {
                path: Some("/var/lib/tasks.db".into())
            }
        );
        assert_eq!(
            rc.sqlite_databases["mem"],
            SqliteDatabaseConfig::Spin { path: None }
        );
        assert_eq!(
            rc.summary(),
            "[sqlite_database.abs: spin], [sqlite_database.default: spin], [sqlite_database.mem: spin]"
        );
        assert!(parse("").unwrap().sqlite_databases.is_empty());
    }

    #[test]
    fn libsql_entries_parse_and_never_show_their_token() {
        let rc = parse(
            r#"
[sqlite_database.default]
type = "libsql"
url = "https://tasks-me.turso.io"
token = "sekrit-token"
"#,
        )
        .unwrap();
        let db = &rc.sqlite_databases["default"];
        assert_eq!(
            db,
            &SqliteDatabaseConfig::LibSql {
                url: "https://tasks-me.turso.io".into(),
                token: "sekrit-token".into()
            }
        );
        assert!(!format!("{rc:?}").contains("sekrit"));
    }

    #[test]
    fn mistakes_are_one_line_errors_naming_file_and_label() {
        for (text, expected) in [
            (
                "[sqlite_database.default]\ntype = \"postgres\"",
                "[sqlite_database.default]: unknown type \"postgres\"",
            ),
            (
                "[sqlite_database.default]\npath = \"x.db\"",
                "[sqlite_database.default]: missing `type`",
            ),
            (
                "[sqlite_database.x]\ntype = \"spin\"\npath = \"a.db\"\nurl = \"https://a\"",
                "[sqlite_database.x]: unknown field `url` for type \"spin\"",
            ),
            (
                "[sqlite_database.x]\ntype = \"spin\"\npath = 3",
                "`path` must be a string",
            ),
            (
                "[sqlite_database.x]\ntype = \"spin\"\npath = \"\"",
                "`path` is empty",
            ),
            (
                "[sqlite_database.d]\ntype = \"libsql\"\nurl = \"https://a\"",
                "[sqlite_database.d]: missing `token`",
            ),
            (
                "[sqlite_database.d]\ntype = \"libsql\"\nurl = \"libsql://db-me.turso.io\"\ntoken = \"t\"",
                "(write https://db-me.turso.io)",
            ),
            (
                "[key_value_store.default]\ntype = \"spin\"",
                "`key_value_store` is not supported by this host",
            ),
            ("sqlite_database = 1", "sqlite_database must be a table"),
            (
                "[sqlite_database]\ndefault = 1",
                "[sqlite_database.default]: must be a table",
            ),
            (
                "[sqlite_database.default\n",
                "invalid runtime config file conf/rc.toml: ",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(expected), "{text:?}: {e}");
            assert!(e.contains("conf/rc.toml"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn load_reports_a_missing_file_and_resolves_against_the_working_directory() {
        let e = RuntimeConfig::load(Path::new("/no/such/rc.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cannot read runtime config file /no/such/rc.toml: not found"
        );

        let dir = std::env::temp_dir().join(format!("task-api-rc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rc.toml");
        std::fs::write(
            &file,
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"t.db\"",
        )
        .unwrap();
        let rc = RuntimeConfig::load(&file).unwrap();
        assert_eq!(
            rc.sqlite_databases["default"],
            SqliteDatabaseConfig::Spin {
                path: Some(std::env::current_dir().unwrap().join("t.db"))
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
