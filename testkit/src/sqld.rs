//! A real libSQL server (`sqld`, Turso's engine) for a test: a free port, a fresh data directory,
//! token auth on (an Ed25519 key made for this server), stopped when dropped. Spin reaches it
//! through a runtime config `[sqlite_database.default] type = "libsql"`; tests read and write it
//! over Hrana's HTTP pipeline, as any client would.

use crate::client::Request;
use crate::process::free_port;
use jwt_simple::prelude::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where an sqld binary is, if anywhere: `SQLD_BIN`, `sqld` on `PATH`, `../shared/bin/sqld`.
pub fn sqld_binary() -> Option<PathBuf> {
    crate::runtime::find_binary("sqld", "SQLD_BIN")
}

/// A running sqld.
pub struct Sqld {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// A read-write token (`{"a": "rw"}`) signed by this server's key.
    pub token: String,
    data: PathBuf,
    binary: PathBuf,
    key: Ed25519KeyPair,
}

impl Sqld {
    /// Starts sqld on `dir` (its data and key live there; a directory an earlier sqld used
    /// keeps its database). Panics with sqld's log when it does not come up.
    pub fn start(dir: &Path) -> Sqld {
        Self::start_seeded(dir, None)
    }

    /// [`Sqld::start`] on a copy of the SQLite file `seed` (sqld serves a plain SQLite file
    /// placed as its `default` namespace's data): how the benchmarks give it their seeded rows.
    pub fn start_seeded(dir: &Path, seed: Option<&Path>) -> Sqld {
        if let Some(seed) = seed {
            let namespace = dir.join("data/dbs/default");
            std::fs::create_dir_all(&namespace).expect("sqld's namespace directory");
            std::fs::copy(seed, namespace.join("data"))
                .unwrap_or_else(|e| panic!("copying {}: {e}", seed.display()));
        }
        let binary = sqld_binary().expect(
            "no sqld found: set SQLD_BIN, put `sqld` on PATH, or place it at ../shared/bin/sqld",
        );
        std::fs::create_dir_all(dir).expect("sqld's directory");
        let key = Ed25519KeyPair::generate();
        let public = dir.join("auth.pem");
        std::fs::write(&public, key.public_key().to_pem()).expect("writing sqld's key");
        let claims = Claims::with_custom_claims(
            serde_json::json!({ "a": "rw" }),
            jwt_simple::prelude::Duration::from_days(7),
        );
        let token = key.sign(claims).expect("signing sqld's token");
        let mut sqld = Sqld {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token,
            data: dir.to_owned(),
            binary,
            key,
        };
        sqld.spawn();
        sqld
    }

    fn spawn(&mut self) {
        // A port free a moment ago may be taken by the time sqld binds it: try a few.
        for _ in 0..5 {
            if self.launch(SocketAddr::from(([127, 0, 0, 1], free_port()))) {
                return;
            }
        }
        panic!("sqld did not come up: {}", self.log());
    }

    /// Starts sqld on `addr` and waits for its `/health`; false (and no process) when it exits
    /// or does not answer within 20 s.
    fn launch(&mut self, addr: SocketAddr) -> bool {
        let log = std::fs::File::options()
            .append(true)
            .create(true)
            .open(self.data.join("sqld.log"))
            .expect("sqld's log");
        let child = Command::new(&self.binary)
            .arg("--http-listen-addr")
            .arg(addr.to_string())
            .arg("--db-path")
            .arg(self.data.join("data"))
            .arg("--auth-jwt-key-file")
            .arg(self.data.join("auth.pem"))
            .arg("--disable-metrics")
            // Room for Spin's many instances and their streams (deploy/replicas-on-sqld passes
            // the same; sqld's default is 128).
            .args(["--max-concurrent-connections", "1024"])
            // More flags for sqld (SQLD_ARGS, split at whitespace), as an operator would pass.
            .args(
                std::env::var("SQLD_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sqld's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        self.child = Some(child);
        self.addr = addr;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                break;
            }
            if let Ok(response) = Request::new("GET", "/health").try_send(addr)
                && response.status == 200
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("sqld.log")).unwrap_or_default()
    }

    /// A read-write token signed by this server's key that expired an hour ago.
    pub fn expired_token(&self) -> String {
        let mut claims = Claims::with_custom_claims(
            serde_json::json!({ "a": "rw" }),
            jwt_simple::prelude::Duration::from_hours(1),
        );
        let past = Clock::now_since_epoch() - jwt_simple::prelude::Duration::from_hours(1);
        claims.issued_at = Some(past - jwt_simple::prelude::Duration::from_hours(1));
        claims.expires_at = Some(past);
        self.key.sign(claims).expect("signing")
    }

    /// A read-write token signed by a key this server does not know.
    pub fn foreign_token() -> String {
        Ed25519KeyPair::generate()
            .sign(Claims::with_custom_claims(
                serde_json::json!({ "a": "rw" }),
                jwt_simple::prelude::Duration::from_hours(1),
            ))
            .expect("signing")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A Spin runtime config that puts the `default` database on this server, written to `path`.
    pub fn write_runtime_config(&self, path: &Path) {
        self.write_runtime_config_with_token(path, &self.token);
    }

    /// The same with another token (a wrong or expired one, say).
    pub fn write_runtime_config_with_token(&self, path: &Path, token: &str) {
        std::fs::write(
            path,
            format!(
                "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"{}\"\ntoken = \"{token}\"\n",
                self.url()
            ),
        )
        .expect("writing a runtime config");
    }

    /// SIGKILL, then the same server again on the same data and port when it is still free
    /// (an outage and a recovery, as an operator's restart looks to Spin).
    pub fn restart(&mut self) {
        self.kill();
        let addr = self.addr;
        // sqld may need a moment before the port can be bound again.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.launch(addr) {
            assert!(
                Instant::now() < deadline,
                "sqld did not come back: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: sqld gone, its data left as a crash leaves it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs one statement over Hrana's HTTP pipeline and returns its rows, each value as JSON
    /// (integers as numbers, text as strings, NULL as null). Panics on an SQL error.
    pub fn query(&self, sql: &str) -> Vec<Vec<serde_json::Value>> {
        self.try_query(sql)
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// [`Sqld::query`], or sqld's error.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<serde_json::Value>>, String> {
        let body = serde_json::json!({
            "requests": [
                { "type": "execute", "stmt": { "sql": sql } },
                { "type": "close" }
            ]
        });
        let response = Request::new("POST", "/v2/pipeline")
            .bearer(&self.token)
            .json(&body)
            .send(self.addr);
        if response.status != 200 {
            return Err(format!(
                "sqld answered {}: {}",
                response.status,
                response.text()
            ));
        }
        let answer = response.json();
        let result = &answer["results"][0];
        if result["type"] != "ok" {
            return Err(result["error"].to_string());
        }
        Ok(result["response"]["result"]["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|values| values.iter().map(hrana_value).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Runs an SQL file (a migration of an older release, say) statement by statement, as the
    /// component's migrations do: a `PRAGMA` sqld refuses (it takes none that sets a value) is
    /// skipped, any other failure panics.
    pub fn run_file(&self, path: &Path) {
        let sql =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for statement in task_api::db::migrations::statements(&sql) {
            if let Err(error) = self.try_query(statement) {
                let setting = statement
                    .lines()
                    .map(str::trim)
                    .find(|line| !line.is_empty() && !line.starts_with("--"))
                    .is_some_and(|line| line.to_ascii_uppercase().starts_with("PRAGMA"));
                assert!(setting, "{}: {statement}: {error}", path.display());
            }
        }
    }
}

/// Hrana's JSON value (`{"type": "integer", "value": "7"}`) as plain JSON.
fn hrana_value(value: &serde_json::Value) -> serde_json::Value {
    match value["type"].as_str() {
        Some("integer") => value["value"]
            .as_str()
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(serde_json::Value::Null, serde_json::Value::from),
        Some("float") | Some("text") => value["value"].clone(),
        Some("blob") => value["base64"].clone(),
        _ => serde_json::Value::Null,
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        self.kill();
    }
}
