//! `spin:sqlite/sqlite@3.1.0` and `fermyon:spin/sqlite@2.0.0` with the semantics of Spin
//! 4.0.2's local SQLite (`factor-sqlite` + `sqlite-inproc`): every guest `open` is a connection
//! of its own, which opens the file (with rusqlite's defaults, including its 5 s busy timeout)
//! on its first statement and closes it when the guest drops it or the instance ends. Every
//! statement runs on tokio's blocking pool, one statement per `execute`. So a `BEGIN … COMMIT`
//! across calls on one connection is a real transaction on it, exactly as under Spin. An
//! instance holds at most 256 connections at once ([`ConnectionTable`]); a reused (WASIp3)
//! instance keeps the ones its guest has not dropped from one request to the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::types::{Value as SqlValue, ValueRef};

/// A SQLite value as both interfaces type it (`guest.rs` converts to and from the bindings).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// An error as both interfaces report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NoSuchDatabase,
    AccessDenied,
    InvalidConnection,
    DatabaseFull,
    Io(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowResult {
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<RowResult>,
}

/// The label every Spin application gets without runtime configuration.
pub const DEFAULT_LABEL: &str = "default";

/// Caps on one `execute` result, so a runaway query becomes an `io` error for the guest instead
/// of exhausting the host's memory.
#[derive(Debug, Clone, Copy)]
pub struct ResultLimits {
    pub max_rows: usize,
    pub max_bytes: usize,
}

impl Default for ResultLimits {
    fn default() -> Self {
        ResultLimits {
            max_rows: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Where a label's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// A `type = "spin"` runtime-config entry without `path`. As in Spin, every connection to
    /// it is a new, empty in-memory database.
    Memory,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Memory => f.write_str("a temporary in-memory database"),
        }
    }
}

/// The databases of one running host: where each label lives.
pub struct Databases {
    locations: HashMap<String, Location>,
    limits: ResultLimits,
}

/// A component's view of the databases: only the labels its manifest entry lists.
pub struct SqliteAccess {
    allowed: Vec<String>,
    databases: Arc<Databases>,
}

/// What a guest's `connection` resource is: one connection, opened on its first statement.
pub struct Connection {
    location: Location,
    limits: ResultLimits,
    opened: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
}

/// The resource type the bindings map `fermyon:spin/sqlite.connection` to.
pub type ConnectionHandle = Arc<Connection>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection itself intact; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

impl Databases {
    /// Without runtime configuration: only `default`, at `<state_dir>/sqlite_db.db`, as in Spin.
    pub fn new(state_dir: &Path, limits: ResultLimits) -> Databases {
        Self::with_locations(state_dir, HashMap::new(), limits)
    }

    /// Runtime-configured labels; `default` stays in the state directory unless configured.
    pub fn with_locations(
        state_dir: &Path,
        mut locations: HashMap<String, Location>,
        limits: ResultLimits,
    ) -> Databases {
        locations
            .entry(DEFAULT_LABEL.to_string())
            .or_insert_with(|| Location::File(state_dir.join("sqlite_db.db")));
        Databases { locations, limits }
    }

    pub fn location(&self, label: &str) -> Option<&Location> {
        self.locations.get(label)
    }

    /// A new, not yet opened connection to `label`.
    pub fn connect(&self, label: &str) -> Result<Connection, Error> {
        let location = self.locations.get(label).ok_or(Error::NoSuchDatabase)?;
        Ok(Connection {
            location: location.clone(),
            limits: self.limits,
            opened: OnceLock::new(),
        })
    }

    /// `spin up --sqlite`: `@file` (a batch: every statement in it runs) or one statement, run
    /// against `default` on a connection of its own. As in Spin 4.0.2, which prepares a raw
    /// argument as one query, only the first statement of a raw argument runs; the host says
    /// so on stderr instead of staying silent.
    pub fn run_startup_sql(&self, arg: &str) -> anyhow::Result<()> {
        let (what, sql) = match arg.strip_prefix('@') {
            Some(file) => {
                let sql = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!(
                        "--sqlite @{file}: cannot read file: {}",
                        crate::messages::io_message(&e)
                    )
                })?;
                (format!("--sqlite @{file}"), sql)
            }
            None => {
                let statements = task_api::db::migrations::statements(arg);
                if statements.len() > 1 {
                    eprintln!(
                        "warning: --sqlite runs only the first of the {} statements given in one \
                         argument, as Spin does; pass each statement as its own --sqlite, or use \
                         --sqlite @FILE",
                        statements.len()
                    );
                }
                let first = statements.first().copied().unwrap_or("").to_string();
                ("--sqlite statement".to_string(), first)
            }
        };
        let connection = self
            .connect(DEFAULT_LABEL)
            .and_then(|c| c.open())
            .map_err(|e| {
                anyhow::anyhow!("{what}: cannot open the default database: {}", describe(&e))
            })?;
        lock(&connection)
            .execute_batch(&sql)
            .map_err(|e| anyhow::anyhow!("{what} failed: {}", one_line(&e.to_string())))
    }

    pub fn limits(&self) -> ResultLimits {
        self.limits
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A readable rendering of a guest-facing error, for host messages.
pub fn describe(e: &Error) -> String {
    match e {
        Error::NoSuchDatabase => "no such database".to_string(),
        Error::AccessDenied => "access denied".to_string(),
        Error::InvalidConnection => "invalid connection".to_string(),
        Error::DatabaseFull => "database full".to_string(),
        Error::Io(m) => m.clone(),
    }
}

impl SqliteAccess {
    pub fn new(allowed: Vec<String>, databases: Arc<Databases>) -> SqliteAccess {
        SqliteAccess { allowed, databases }
    }

    /// `connection.open`: labels the component did not declare are denied before anything else,
    /// so a component cannot probe which databases exist. No file is touched yet.
    pub fn open(&self, label: &str) -> Result<Connection, Error> {
        if !self.allowed.iter().any(|l| l == label) {
            return Err(Error::AccessDenied);
        }
        self.databases.connect(label)
    }
}

impl Connection {
    /// The SQLite connection, opened now if this is its first use.
    fn open(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, Error> {
        if let Some(open) = self.opened.get() {
            return Ok(open.clone());
        }
        let connection = match &self.location {
            Location::File(path) => rusqlite::Connection::open(path),
            Location::Memory => rusqlite::Connection::open_in_memory(),
        }
        .map_err(io)?;
        Ok(self
            .opened
            .get_or_init(|| Arc::new(Mutex::new(connection)))
            .clone())
    }

    /// `connection.execute`: exactly one statement, parameters bound positionally, the whole
    /// result collected. Blocks while SQLite waits for a lock (up to the busy timeout) or for
    /// the disk.
    pub fn execute(&self, statement: &str, parameters: Vec<Value>) -> Result<QueryResult, Error> {
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        self.stream(
            statement,
            parameters,
            |names| {
                columns = names;
                Ok(())
            },
            |row| {
                rows.push(row);
                Ok(())
            },
        )?;
        Ok(QueryResult { columns, rows })
    }

    /// `connection.execute-async`'s work: one statement, its column names handed to `columns`
    /// once it is prepared, then each row to `row` as SQLite steps to it (a callback's error
    /// stops the statement and is returned). The connection stays locked until the statement
    /// is done, so statements on one connection never interleave. Blocks like [`execute`].
    ///
    /// [`execute`]: Connection::execute
    pub fn stream(
        &self,
        statement: &str,
        parameters: Vec<Value>,
        columns: impl FnOnce(Vec<String>) -> Result<(), Error>,
        mut row: impl FnMut(RowResult) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let connection = self.open()?;
        let connection = lock(&connection);
        let mut stmt = connection.prepare_cached(statement).map_err(io)?;
        let names: Vec<String> = stmt.column_names().map(String::from).collect();
        let ncols = names.len();
        let mut bytes: usize = names.iter().map(String::len).sum();
        columns(names)?;
        let params = parameters.into_iter().map(to_sql);
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io)?;
        let mut count = 0;
        while let Some(next) = rows.next().map_err(io)? {
            if count >= self.limits.max_rows {
                return Err(Error::Io(format!(
                    "query result too large: more than {} rows",
                    self.limits.max_rows
                )));
            }
            let mut values = Vec::with_capacity(ncols);
            for i in 0..ncols {
                let value = from_sql(next.get_ref(i).map_err(io)?);
                bytes = bytes.saturating_add(value_size(&value));
                values.push(value);
            }
            if bytes > self.limits.max_bytes {
                return Err(Error::Io(format!(
                    "query result too large: more than {} bytes",
                    self.limits.max_bytes
                )));
            }
            count += 1;
            row(RowResult { values })?;
        }
        Ok(())
    }

    /// `connection.changes`: rows changed by the connection's last completed write.
    pub fn changes(&self) -> Result<u64, Error> {
        let connection = self.open()?;
        let changes = lock(&connection).changes();
        Ok(changes)
    }

    /// `connection.last-insert-rowid`: 0 before the connection's first insert.
    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        let connection = self.open()?;
        let rowid = lock(&connection).last_insert_rowid();
        Ok(rowid)
    }
}

/// The SQLite connections one instance holds, by the number the guest's handle carries. As in
/// Spin 4.0.2, an instance holds at most [`ConnectionTable::CAPACITY`] at once: a guest that
/// opens one per request and never drops it gets `io("too many connections opened")` once a
/// reused instance has served that many. `fermyon:spin/sqlite@2.0.0` and
/// `spin:sqlite/sqlite@3.1.0` connections share the table.
#[derive(Default)]
pub struct ConnectionTable {
    next: u32,
    entries: HashMap<u32, ConnectionHandle>,
}

impl ConnectionTable {
    pub const CAPACITY: usize = 256;

    /// Adds a connection and returns its number; numbers of dropped connections are reused
    /// only after the counter wraps.
    pub fn push(&mut self, connection: ConnectionHandle) -> Result<u32, Error> {
        if self.entries.len() >= Self::CAPACITY {
            return Err(Error::Io("too many connections opened".to_string()));
        }
        loop {
            let key = self.next;
            self.next = self.next.wrapping_add(1);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(key) {
                slot.insert(connection);
                return Ok(key);
            }
        }
    }

    pub fn get(&self, key: u32) -> Option<ConnectionHandle> {
        self.entries.get(&key).cloned()
    }

    /// Forgets a connection; its SQLite connection closes once no statement uses it.
    pub fn remove(&mut self, key: u32) -> Option<ConnectionHandle> {
        self.entries.remove(&key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len(),
        Value::Blob(b) => b.len(),
        Value::Integer(_) | Value::Real(_) | Value::Null => 8,
    }
}

pub fn to_sql(v: Value) -> SqlValue {
    match v {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

pub fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        // SQLite does not enforce UTF-8 in TEXT; a guest must still receive a valid string.
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("task-api-host-sqlite-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn access(tag: &str, labels: &[&str], limits: ResultLimits) -> (SqliteAccess, PathBuf) {
        let dir = temp_dir(tag);
        let dbs = Arc::new(Databases::new(&dir, limits));
        (
            SqliteAccess::new(labels.iter().map(|s| s.to_string()).collect(), dbs),
            dir,
        )
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        match c.execute(sql, vec![]).unwrap().rows[0].values[0] {
            Value::Integer(n) => n,
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn undeclared_label_is_access_denied_and_unknown_label_no_such_database() {
        let (none, d1) = access("denied", &[], ResultLimits::default());
        assert!(matches!(none.open("default"), Err(Error::AccessDenied)));
        assert!(matches!(none.open("other"), Err(Error::AccessDenied)));
        let (some, d2) = access("nosuch", &["default", "other"], ResultLimits::default());
        assert_eq!(
            some.databases.location("default"),
            Some(&Location::File(d2.join("sqlite_db.db")))
        );
        assert!(matches!(some.open("other"), Err(Error::NoSuchDatabase)));
        let default = some.open("default").unwrap();
        assert!(
            !d2.join("sqlite_db.db").exists(),
            "open alone touches no file, as in Spin"
        );
        default.execute("SELECT 1", vec![]).unwrap();
        assert!(
            d2.join("sqlite_db.db").exists(),
            "the first statement creates it"
        );
        assert!(!d1.join("sqlite_db.db").exists());
        std::fs::remove_dir_all(d1).unwrap();
        std::fs::remove_dir_all(d2).unwrap();
    }

    /// Spin 4.0.2 gives every `open` its own connection: a temp table or an open transaction
    /// belongs to one connection, and another connection sees only what was committed.
    #[test]
    fn every_open_is_a_connection_of_its_own() {
        let (a, dir) = access("own", &["default"], ResultLimits::default());
        let x = a.open("default").unwrap();
        let y = a.open("default").unwrap();
        x.execute("CREATE TEMP TABLE scratch (v)", vec![]).unwrap();
        assert!(y.execute("INSERT INTO scratch VALUES (1)", vec![]).is_err());

        x.execute("CREATE TABLE t (v)", vec![]).unwrap();
        x.execute("BEGIN", vec![]).unwrap();
        x.execute("INSERT INTO t VALUES (1)", vec![]).unwrap();
        assert_eq!(count(&x, "SELECT count(*) FROM t"), 1);
        assert_eq!(count(&y, "SELECT count(*) FROM t"), 0, "not committed yet");
        x.execute("ROLLBACK", vec![]).unwrap();
        assert_eq!(count(&x, "SELECT count(*) FROM t"), 0, "rolled back");

        x.execute("BEGIN", vec![]).unwrap();
        x.execute("INSERT INTO t VALUES (2)", vec![]).unwrap();
        drop(x);
        // A connection closed mid-transaction rolls back, as when an instance ends.
        assert_eq!(count(&y, "SELECT count(*) FROM t"), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn values_round_trip_in_both_directions() {
        let (a, dir) = access("values", &["default"], ResultLimits::default());
        let db = a.open("default").unwrap();
        db.execute("CREATE TABLE v (i, r, t, b, n)", vec![])
            .unwrap();
        let inserted = db
            .execute(
                "INSERT INTO v VALUES (?, ?, ?, ?, ?) RETURNING i, r, t, b, n, typeof(n)",
                vec![
                    Value::Integer(i64::MIN),
                    Value::Real(1.5),
                    Value::Text("héllo".into()),
                    Value::Blob(vec![0, 255, 7]),
                    Value::Null,
                ],
            )
            .unwrap();
        assert_eq!(inserted.columns, vec!["i", "r", "t", "b", "n", "typeof(n)"]);
        assert_eq!(inserted.rows.len(), 1);
        let v = &inserted.rows[0].values;
        assert!(matches!(v[0], Value::Integer(i64::MIN)));
        assert!(matches!(v[1], Value::Real(r) if r == 1.5));
        assert!(matches!(&v[2], Value::Text(s) if s == "héllo"));
        assert!(matches!(&v[3], Value::Blob(b) if b == &[0, 255, 7]));
        assert!(matches!(v[4], Value::Null));
        assert!(matches!(&v[5], Value::Text(s) if s == "null"));

        let empty = db
            .execute("SELECT * FROM v WHERE i = ?", vec![Value::Integer(3)])
            .unwrap();
        assert_eq!(empty.columns.len(), 5);
        assert!(empty.rows.is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sqlite_errors_become_io_and_one_statement_per_execute() {
        let (a, dir) = access("errors", &["default"], ResultLimits::default());
        let db = a.open("default").unwrap();
        match db.execute("SELEKT 1", vec![]) {
            Err(Error::Io(m)) => assert!(m.contains("syntax error"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            db.execute("SELECT 1; SELECT 2", vec![]),
            Err(Error::Io(_))
        ));
        assert!(matches!(db.execute("SELECT ?", vec![]), Err(Error::Io(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// As in Spin 4.0.2: 256 connections per instance at once; a dropped one frees its place,
    /// and numbers are not handed out again soon.
    #[test]
    fn an_instance_holds_at_most_256_connections() {
        let (a, dir) = access("table", &["default"], ResultLimits::default());
        let mut table = ConnectionTable::default();
        let keys: Vec<u32> = (0..ConnectionTable::CAPACITY)
            .map(|_| table.push(Arc::new(a.open("default").unwrap())).unwrap())
            .collect();
        assert_eq!(table.len(), 256);
        assert_eq!(
            table
                .push(Arc::new(a.open("default").unwrap()))
                .unwrap_err(),
            Error::Io("too many connections opened".to_string())
        );
        assert!(table.remove(keys[7]).is_some());
        assert!(table.get(keys[7]).is_none());
        let again = table.push(Arc::new(a.open("default").unwrap())).unwrap();
        assert_eq!(again, 256, "a fresh number, not the freed one");
        assert!(table.get(again).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// `execute-async`'s work: the columns once prepared, then the rows one by one; a failing
    /// callback stops the statement; changes and last-insert-rowid are the connection's.
    #[test]
    fn statements_stream_their_rows_and_report_changes() {
        let (a, dir) = access("stream", &["default"], ResultLimits::default());
        let db = a.open("default").unwrap();
        assert_eq!(db.changes().unwrap(), 0);
        assert_eq!(db.last_insert_rowid().unwrap(), 0);
        db.execute("CREATE TABLE s (x)", vec![]).unwrap();
        db.execute("INSERT INTO s VALUES (1), (2), (3)", vec![])
            .unwrap();
        assert_eq!(db.changes().unwrap(), 3);
        assert_eq!(db.last_insert_rowid().unwrap(), 3);
        let mut seen = Vec::new();
        let mut columns = Vec::new();
        db.stream(
            "SELECT x, x * 10 AS y FROM s ORDER BY x",
            vec![],
            |c| {
                columns = c;
                Ok(())
            },
            |row| {
                seen.push(row.values);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(columns, ["x", "y"]);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2], vec![Value::Integer(3), Value::Integer(30)]);
        let mut n = 0;
        let stopped = db.stream(
            "SELECT x FROM s",
            vec![],
            |_| Ok(()),
            |_| {
                n += 1;
                Err(Error::Io("row send error".to_string()))
            },
        );
        assert_eq!(stopped, Err(Error::Io("row send error".to_string())));
        assert_eq!(n, 1);
        let mut prepared = false;
        assert!(matches!(
            db.stream(
                "SELEKT",
                vec![],
                |_| {
                    prepared = true;
                    Ok(())
                },
                |_| Ok(())
            ),
            Err(Error::Io(_))
        ));
        assert!(
            !prepared,
            "no columns for a statement that does not prepare"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn result_size_limits_give_io_errors() {
        let limits = ResultLimits {
            max_rows: 10,
            max_bytes: 1000,
        };
        let (a, dir) = access("limits", &["default"], limits);
        let db = a.open("default").unwrap();
        let rows = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) SELECT x FROM n";
        assert_eq!(
            db.execute(rows, vec![Value::Integer(10)])
                .unwrap()
                .rows
                .len(),
            10
        );
        match db.execute(rows, vec![Value::Integer(11)]) {
            Err(Error::Io(m)) => assert!(m.contains("more than 10 rows"), "{m}"),
            other => panic!("{other:?}"),
        }
        match db.execute("SELECT zeroblob(2000)", vec![]) {
            Err(Error::Io(m)) => assert!(m.contains("more than 1000 bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn startup_sql_runs_files_whole_raw_arguments_as_one_statement_and_reports_failures() {
        let dir = temp_dir("startup");
        let dbs = Databases::new(&dir, ResultLimits::default());
        // As in Spin: of a raw argument only the first statement runs.
        dbs.run_startup_sql("CREATE TABLE a (x); INSERT INTO a VALUES (0);")
            .unwrap();
        dbs.run_startup_sql("INSERT INTO a VALUES (1)").unwrap();
        let file = dir.join("init.sql");
        std::fs::write(
            &file,
            "INSERT INTO a VALUES (2);\nINSERT INTO a VALUES (3);",
        )
        .unwrap();
        dbs.run_startup_sql(&format!("@{}", file.display()))
            .unwrap();
        let db = dbs.connect(DEFAULT_LABEL).unwrap();
        assert_eq!(count(&db, "SELECT count(*) FROM a"), 3);

        let e = dbs
            .run_startup_sql("CREATE TABLE a (x)")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--sqlite statement failed: "), "{e}");
        assert!(e.contains("already exists"), "{e}");
        let e = dbs
            .run_startup_sql("@/no/such/file.sql")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--sqlite @/no/such/file.sql: cannot read file"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_labels_open_their_own_files_and_memory() {
        let dir = temp_dir("configured");
        let shared = dir.join("shared.db");
        let locations = HashMap::from([
            ("default".to_string(), Location::File(shared.clone())),
            ("scratch".to_string(), Location::Memory),
        ]);
        let dbs = Arc::new(Databases::with_locations(
            &dir,
            locations,
            ResultLimits::default(),
        ));
        let a = SqliteAccess::new(vec!["default".into(), "scratch".into()], dbs.clone());
        a.open("default")
            .unwrap()
            .execute("CREATE TABLE t (x)", vec![])
            .unwrap();
        let scratch = a.open("scratch").unwrap();
        scratch.execute("CREATE TABLE m (x)", vec![]).unwrap();
        assert_eq!(count(&scratch, "SELECT count(*) FROM m"), 0);
        assert!(
            a.open("scratch")
                .unwrap()
                .execute("SELECT count(*) FROM m", vec![])
                .is_err(),
            "as in Spin, every connection to an in-memory database is a new database"
        );
        assert!(shared.exists());
        assert!(
            !dir.join("sqlite_db.db").exists(),
            "default moved by configuration"
        );
        assert!(matches!(a.open("other"), Err(Error::AccessDenied)));
        assert!(matches!(dbs.connect("other"), Err(Error::NoSuchDatabase)));

        // A second connection to the same file (another replica) sees the table and waits
        // out a writer instead of failing at once.
        let other = rusqlite::Connection::open(&shared).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        a.open("default")
            .unwrap()
            .execute("INSERT INTO t VALUES (2)", vec![])
            .unwrap();
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        release.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
