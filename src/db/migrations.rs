//! Schema migrations, applied by the component itself: Spin clouds, SpinKube and Turso have no
//! migration step. Each file is idempotent and records its own version in `schema_migrations`.

use crate::db::{Database, DbError};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_create_tasks.sql",
        sql: include_str!("../../migrations/0001_create_tasks.sql"),
    },
    Migration {
        version: 2,
        name: "0002_idempotency.sql",
        sql: include_str!("../../migrations/0002_idempotency.sql"),
    },
    Migration {
        version: 3,
        name: "0003_jwks_cache.sql",
        sql: include_str!("../../migrations/0003_jwks_cache.sql"),
    },
    Migration {
        version: 4,
        name: "0004_rate_limits.sql",
        sql: include_str!("../../migrations/0004_rate_limits.sql"),
    },
    Migration {
        version: 5,
        name: "0005_wal_journal.sql",
        sql: include_str!("../../migrations/0005_wal_journal.sql"),
    },
    Migration {
        version: 6,
        name: "0006_record_users.sql",
        sql: include_str!("../../migrations/0006_record_users.sql"),
    },
    Migration {
        version: 7,
        name: "0007_priority.sql",
        sql: include_str!("../../migrations/0007_priority.sql"),
    },
    Migration {
        version: 8,
        name: "0008_schedule_tags_search.sql",
        sql: include_str!("../../migrations/0008_schedule_tags_search.sql"),
    },
    Migration {
        version: 9,
        name: "0009_derived_rows_without_triggers.sql",
        sql: include_str!("../../migrations/0009_derived_rows_without_triggers.sql"),
    },
    Migration {
        version: 10,
        name: "0010_cursor_key.sql",
        sql: include_str!("../../migrations/0010_cursor_key.sql"),
    },
    Migration {
        version: 11,
        name: "0011_changes_and_trash.sql",
        sql: include_str!("../../migrations/0011_changes_and_trash.sql"),
    },
    Migration {
        version: 12,
        name: "0012_search_entry_mark.sql",
        sql: include_str!("../../migrations/0012_search_entry_mark.sql"),
    },
    Migration {
        version: 13,
        name: "0013_event_streams.sql",
        sql: include_str!("../../migrations/0013_event_streams.sql"),
    },
];

/// The schema version this build expects.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Applies every migration newer than `current`. A migration is not one transaction (Spin
/// runs one statement per call, and a remote libSQL database may not hold a transaction across
/// calls); it is safe because every statement is idempotent, and concurrent appliers converge.
/// The one statement SQLite cannot write idempotently, `ALTER TABLE … ADD COLUMN`, counts as
/// done when the column is already there (another applier added it).
///
/// A `PRAGMA` is a setting, not schema, and its failure is not fatal: a remote libSQL server
/// may refuse to change its journal, and a replica racing another one for the lock that
/// switching to WAL needs finds the file already switched by the winner.
pub async fn apply(db: &dyn Database, current: i64) -> Result<(), DbError> {
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in statements(migration.sql) {
            match execute_racing(db, statement).await {
                Err(_) if is_setting(statement) => {}
                Err(DbError::Io(message))
                    if is_add_column(statement) && message.contains("duplicate column name") => {}
                outcome => {
                    outcome?;
                }
            }
        }
    }
    Ok(())
}

/// Runs a migration statement, again if it met a virtual table that a concurrent applier is
/// creating in that moment (SQLite: "vtable constructor failed"; seen with 60 requests
/// migrating a new database at once). The second try finds the table complete.
async fn execute_racing(db: &dyn Database, statement: &str) -> Result<(), DbError> {
    let mut tries = 0;
    loop {
        match db.execute(statement, &[]).await {
            Err(DbError::Io(message))
                if message.contains("vtable constructor failed") && tries < 3 =>
            {
                tries += 1;
            }
            outcome => return outcome.map(drop),
        }
    }
}

fn is_add_column(statement: &str) -> bool {
    let words: Vec<String> = code_words(statement).take(5).collect();
    words.len() == 5
        && words[0] == "ALTER"
        && words[1] == "TABLE"
        && words[3] == "ADD"
        && words[4] == "COLUMN"
}

/// The upper-cased words of a statement, comments skipped.
fn code_words(statement: &str) -> impl Iterator<Item = String> + '_ {
    statement
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .map(str::to_ascii_uppercase)
}

fn is_setting(statement: &str) -> bool {
    statement
        .lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with("--"))
        .is_some_and(|line| {
            line.get(..6)
                .is_some_and(|w| w.eq_ignore_ascii_case("pragma"))
        })
}

/// Splits a migration into statements at `;` outside quotes, comments and the `BEGIN … END`
/// body of a `CREATE TRIGGER`. Comment-only fragments are dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut has_code = false;
    // Words of the current statement so far (only the first two matter), and whether we are
    // inside a trigger's body, where `;` ends the trigger's own statements.
    let mut words: Vec<&str> = Vec::new();
    let mut in_body = false;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'\'' | b'"') => {
                has_code = true;
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b';' if !in_body => {
                if has_code {
                    out.push(sql[start..=i].trim());
                }
                start = i + 1;
                has_code = false;
                words.clear();
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                has_code = true;
                let word_start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &sql[word_start..i];
                let trigger = words.len() >= 2
                    && words[0].eq_ignore_ascii_case("create")
                    && words.iter().any(|w| w.eq_ignore_ascii_case("trigger"));
                if trigger && word.eq_ignore_ascii_case("begin") {
                    in_body = true;
                } else if in_body && word.eq_ignore_ascii_case("end") {
                    in_body = false;
                }
                if words.len() < 8 {
                    words.push(word);
                }
                continue;
            }
            c if !c.is_ascii_whitespace() => has_code = true,
            _ => {}
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start..].trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Now;

    #[test]
    fn splits_statements_outside_quotes_and_comments() {
        let sql = "-- a; comment\nCREATE TABLE t (x TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('a;b'); -- tail;\n";
        assert_eq!(
            statements(sql),
            [
                "-- a; comment\nCREATE TABLE t (x TEXT DEFAULT ';');",
                "INSERT INTO t VALUES ('a;b');"
            ]
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement() {
        let sql = "CREATE TRIGGER IF NOT EXISTS t AFTER INSERT ON a\nBEGIN\n  INSERT INTO b VALUES (1);\n  \
                   UPDATE c SET x = 'end;';\nEND;\nINSERT INTO d VALUES ('begin');";
        assert_eq!(
            statements(sql),
            [
                "CREATE TRIGGER IF NOT EXISTS t AFTER INSERT ON a\nBEGIN\n  INSERT INTO b VALUES (1);\n  \
                 UPDATE c SET x = 'end;';\nEND;",
                "INSERT INTO d VALUES ('begin');"
            ]
        );
    }

    fn assert_at_latest(db: &dyn Database) {
        let version = db
            .execute("SELECT max(version) FROM schema_migrations", &[])
            .now()
            .unwrap();
        assert_eq!(version, vec![vec![crate::db::Value::Integer(LATEST)]]);
    }

    /// Two appliers that both start from nothing (racing replicas) converge: every statement,
    /// the column that only one of them can add included, is done once and harmless twice.
    #[test]
    fn applying_everything_twice_converges() {
        let db = crate::db::sqlite::SqliteDb::in_memory();
        apply(&db, 0).now().unwrap();
        apply(&db, 0).now().unwrap();
        assert_at_latest(&db);
        assert!(is_add_column(
            "-- why\nALTER TABLE tasks ADD COLUMN x INTEGER; -- tail"
        ));
        assert!(!is_add_column("ALTER TABLE tasks RENAME COLUMN a TO b"));
        assert!(!is_add_column(
            "-- ALTER TABLE t ADD COLUMN x\nCREATE TABLE t (x)"
        ));
    }

    #[test]
    fn only_pragmas_are_settings() {
        assert!(is_setting("-- why\n\nPRAGMA journal_mode = WAL;"));
        assert!(is_setting("pragma journal_mode=wal"));
        assert!(!is_setting("-- PRAGMA in a comment\nCREATE TABLE t (x);"));
        assert!(!is_setting("INSERT INTO t VALUES ('PRAGMA');"));
    }

    /// A database that refuses a setting still gets its schema; one that refuses schema fails.
    #[test]
    fn a_refused_setting_does_not_stop_the_schema() {
        /// An in-memory database that fails the statements its test picks.
        struct Refusing(crate::db::sqlite::SqliteDb, fn(&str) -> bool);
        impl Database for Refusing {
            fn execute<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [crate::db::Value],
            ) -> crate::db::Rows<'a> {
                if (self.1)(sql) {
                    return Box::pin(std::future::ready(Err(DbError::Io(
                        "statement refused".into(),
                    ))));
                }
                self.0.execute(sql, params)
            }
        }
        let in_memory = crate::db::sqlite::SqliteDb::in_memory;
        let refuses_pragmas = Refusing(in_memory(), is_setting);
        apply(&refuses_pragmas, 0).now().unwrap();
        assert_at_latest(&refuses_pragmas);
        let refuses_tables = Refusing(in_memory(), |sql| sql.contains("CREATE TABLE"));
        assert!(apply(&refuses_tables, 0).now().is_err());
    }

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
            assert!(
                migration
                    .name
                    .starts_with(&format!("{:04}_", migration.version))
            );
            let record = format!("VALUES ({}, ", migration.version);
            assert!(
                migration.sql.contains(&record),
                "{} must record its version",
                migration.name
            );
        }
    }
}
