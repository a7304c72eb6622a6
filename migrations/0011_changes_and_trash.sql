-- The changes feed and the trash (issue 17).
--
-- `seq` orders every change of one user's tasks: each write stamps the task with one more than
-- the user's highest `seq` (here or in `deleted_tasks`), in its own statement and so under
-- SQLite's write lock: monotonic across every replica sharing the database, and persistent.
-- `GET /tasks/changes?since=N` reads both tables by (user_id, seq). Existing tasks start at
-- their id (each user's are distinct and below any later stamp).
ALTER TABLE tasks ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET seq = id WHERE seq = 0;
CREATE INDEX IF NOT EXISTS tasks_by_user_seq ON tasks (user_id, seq);

-- A deleted task, out of `tasks` (so no list, count or index of live tasks ever steps over
-- it): `task` holds its columns as JSON while it can be restored (the trash), NULL once the
-- retention has passed or it was deleted with no retention. The row stays as the tombstone the
-- changes feed reports. Ids are never reused (`tasks` is AUTOINCREMENT), so a restore brings
-- the task back under its own id.
CREATE TABLE IF NOT EXISTS deleted_tasks (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    task TEXT
);
CREATE INDEX IF NOT EXISTS deleted_tasks_by_user_seq ON deleted_tasks (user_id, seq);
-- The trash of one user, newest deletion first, and its lazy purge.
CREATE INDEX IF NOT EXISTS deleted_tasks_trash ON deleted_tasks (user_id, deleted_at)
WHERE task IS NOT NULL;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (11, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
