-- Task priorities: 0 none, 1 low, 2 medium, 3 high (the API shows the names). Existing tasks
-- get `none`. SQLite's ADD COLUMN has no IF NOT EXISTS: a replica that finds the column
-- already added by another has nothing left to do, and the migrator treats that answer
-- ("duplicate column name") as done (src/migrations.rs).
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3);

-- sort=priority, with and without a status filter, in index order (ties by rowid = id).
CREATE INDEX IF NOT EXISTS tasks_by_user_priority ON tasks (user_id, priority);
CREATE INDEX IF NOT EXISTS tasks_by_user_status_priority ON tasks (user_id, completed, priority);

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (7, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
