-- The changes feed and the trash (issue 17).
--
-- `seq` orders every change of one user's tasks: each write stamps the task with one more than
-- the user's highest `seq`, live or deleted, in its own statement and so under SQLite's write
-- lock: monotonic across every replica sharing the database, and persistent.
-- `GET /tasks/changes?since=N` reads the user's rows by (user_id, seq). Existing tasks start at
-- their id (each user's are distinct and below any later stamp).
ALTER TABLE tasks ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET seq = id WHERE seq = 0;
CREATE INDEX IF NOT EXISTS tasks_by_user_seq ON tasks (user_id, seq);

-- A deleted task stays in `tasks` under its owner's trash id, `char(1) || user_id` (no user id
-- can hold a control character), so the delete is one statement, and every statement bound to
-- the owner's id (lists, counts, gets, writes) no longer sees it, through the same indexes and
-- without a filter. `deleted_at` says when; while the retention lasts the row can be restored
-- (its owner set back); after it, its content is wiped (`purged`) and it stays as the
-- tombstone the changes feed reports. Ids are never reused (`tasks` is AUTOINCREMENT).
ALTER TABLE tasks ADD COLUMN deleted_at INTEGER;
ALTER TABLE tasks ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
-- The trash not yet purged, oldest first: the lazy purge's probe and the trash list.
CREATE INDEX IF NOT EXISTS tasks_trash ON tasks (user_id, deleted_at)
WHERE deleted_at IS NOT NULL AND purged = 0;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (11, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
