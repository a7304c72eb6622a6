//! The database a test server keeps its tasks in, as a test reads it behind the API's back:
//! a local SQLite file (the default), or a libSQL server (`TASK_API_DATABASE=sqld`, real Spin
//! only). A handle keeps an sqld running after its Spin server has stopped.

use crate::sqld::Sqld;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Which database this test run's servers use: `TASK_API_DATABASE` = `sqlite` (default: the
/// `default` database is a file in the server's state directory) or `sqld` (a libSQL server
/// per test server, started by the test kit; needs `TASK_API_RUNTIME=spin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    File,
    Sqld,
}

impl Backend {
    pub fn current() -> Backend {
        match std::env::var("TASK_API_DATABASE").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::File,
            Ok("sqld") => Backend::Sqld,
            Ok(other) => panic!("TASK_API_DATABASE={other:?}: expected \"sqlite\" or \"sqld\""),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::File => "sqlite",
            Backend::Sqld => "sqld",
        }
    }
}

/// A server's database, readable while the server runs and after it stopped.
#[derive(Clone)]
pub enum StoredDatabase {
    File(PathBuf),
    Sqld(Arc<Mutex<Sqld>>),
}

impl StoredDatabase {
    /// The `default` database of a server whose state directory is `state`, under this run's
    /// [`Backend`]: the file Spin and the host put there, or an sqld keeping its data beside it
    /// (`<state>.sqld`), started unless it runs already.
    pub fn for_state(state: &std::path::Path) -> StoredDatabase {
        match Backend::current() {
            Backend::File => StoredDatabase::File(state.join("sqlite_db.db")),
            Backend::Sqld => StoredDatabase::Sqld(sqld_for(&state.with_extension("sqld"))),
        }
    }

    /// For an sqld: writes the runtime config that points Spin's `default` database at it to
    /// `file` and returns it. For a file: none is needed.
    pub fn runtime_config(&self, file: &std::path::Path) -> Option<PathBuf> {
        let sqld = self.sqld()?;
        lock(sqld).write_runtime_config(file);
        Some(file.to_owned())
    }

    /// The rows one statement answers, each value as JSON (integer, real, text, null).
    pub fn query(&self, sql: &str) -> Vec<Vec<serde_json::Value>> {
        match self {
            StoredDatabase::File(path) => {
                let connection = rusqlite::Connection::open(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let mut statement = connection
                    .prepare(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let columns = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..columns)
                            .map(|i| row.get::<_, rusqlite::types::Value>(i).map(json_value))
                            .collect()
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .map(|row| row.unwrap_or_else(|e| panic!("{sql}: {e}")))
                    .collect()
            }
            StoredDatabase::Sqld(sqld) => lock(sqld).query(sql),
        }
    }

    /// The one integer a statement answers.
    pub fn integer(&self, sql: &str) -> i64 {
        let rows = self.query(sql);
        rows.first()
            .and_then(|row| row.first())
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(|| panic!("{sql}: not one integer but {rows:?}"))
    }

    /// Runs a statement for its effect.
    pub fn execute(&self, sql: &str) {
        self.query(sql);
    }

    /// No table in it (for a file: no file at all).
    pub fn is_empty(&self) -> bool {
        match self {
            StoredDatabase::File(path) if !path.exists() => true,
            _ => self.integer("SELECT count(*) FROM sqlite_master") == 0,
        }
    }

    /// The libSQL server behind it, for tests that stop or restart it.
    pub fn sqld(&self) -> Option<&Arc<Mutex<Sqld>>> {
        match self {
            StoredDatabase::Sqld(sqld) => Some(sqld),
            StoredDatabase::File(_) => None,
        }
    }
}

fn json_value(value: rusqlite::types::Value) -> serde_json::Value {
    use rusqlite::types::Value;
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(r) => r.into(),
        Value::Text(t) => t.into(),
        Value::Blob(b) => String::from_utf8_lossy(&b).into_owned().into(),
    }
}

/// A poisoned lock only means another test thread panicked; the server is still there.
pub fn lock(sqld: &Mutex<Sqld>) -> std::sync::MutexGuard<'_, Sqld> {
    sqld.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sqld serving `dir`: the running one when a handle still keeps it, else a new one on its
/// data (two sqld processes must never share a data directory).
pub fn sqld_for(dir: &std::path::Path) -> Arc<Mutex<Sqld>> {
    use std::collections::HashMap;
    use std::sync::{OnceLock, Weak};
    static RUNNING: OnceLock<Mutex<HashMap<PathBuf, Weak<Mutex<Sqld>>>>> = OnceLock::new();
    let mut running = RUNNING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    running.retain(|_, weak| weak.strong_count() > 0);
    if let Some(sqld) = running.get(dir).and_then(Weak::upgrade) {
        return sqld;
    }
    let sqld = Arc::new(Mutex::new(Sqld::start(dir)));
    running.insert(dir.to_owned(), Arc::downgrade(&sqld));
    sqld
}
