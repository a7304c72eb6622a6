-- Users, tasks and their indexes. Idempotent: safe to run again, and on its own with
-- `spin up --sqlite @migrations/0001_create_tasks.sql`.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
);

-- Users recorded from their first valid token (user_source = auto).
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT,
    name TEXT,
    created_at INTEGER NOT NULL
);

-- Times are microseconds since the Unix epoch. AUTOINCREMENT so that a deleted task's id is
-- never handed out again.
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description TEXT CHECK (description IS NULL OR length(description) <= 1000),
    completed INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The Idempotency-Key of the create that made the task, and a hash of its request, so a
    -- retried create is answered from the row it made (see 0002). Here rather than in 0002
    -- because SQLite's ADD COLUMN cannot be written idempotently.
    idempotency_key TEXT,
    request_hash TEXT
);

-- One index per (status filter, sort key): every list query is an index range scan in order.
-- Each index ends with the rowid, which breaks ties by id.
CREATE INDEX IF NOT EXISTS tasks_by_user_created ON tasks (user_id, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_user_updated ON tasks (user_id, updated_at);
CREATE INDEX IF NOT EXISTS tasks_by_user_title ON tasks (user_id, title COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS tasks_by_user_status_created ON tasks (user_id, completed, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_user_status_updated ON tasks (user_id, completed, updated_at);
CREATE INDEX IF NOT EXISTS tasks_by_user_status_title ON tasks (user_id, completed, title COLLATE NOCASE);

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
