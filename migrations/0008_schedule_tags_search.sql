-- Tags, due dates and recurrence. Every ADD COLUMN has a default, so existing tasks read back
-- as before: no tags, no due date, not recurring, UTC.
--
-- As first released, this migration also created triggers, a search index over a view and an
-- index by task id; 0009 drops the first two and makes the index (tests/fixtures/
-- 0008_released_extras.sql holds that part).
-- They are left out here so that a database that is not yet at 0008 never creates them:
-- replicas migrating one database at once then never race one creating what another drops.

-- Tags as a JSON object from the case-folded tag to the tag as typed, in key order (the API
-- shows the values). The store writes it, and `task_tags` below from it.
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
-- Due date and reminder, microseconds since the epoch (UTC), or NULL.
ALTER TABLE tasks ADD COLUMN due_at INTEGER;
ALTER TABLE tasks ADD COLUMN remind_at INTEGER;
-- The recurrence rule as JSON ({"frequency", "interval", "until", "anchor", "index"}), NULL
-- for a task that does not repeat; its IANA time zone.
ALTER TABLE tasks ADD COLUMN recurrence TEXT;
ALTER TABLE tasks ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
-- The occurrence a recurring task was created from, and the one its completion created.
-- `recurs_from` is unique per user: whatever races, a task has at most one next occurrence.
ALTER TABLE tasks ADD COLUMN recurs_from INTEGER;
ALTER TABLE tasks ADD COLUMN next_task_id INTEGER;

CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_user_recurs_from
ON tasks (user_id, recurs_from) WHERE recurs_from IS NOT NULL;

-- sort=due: tasks without a due date last in both orders. Ascending reads the first index
-- forwards; descending reads the second one backwards (its NULL group comes first, so read
-- from the end it comes last). Ties by id in the sort's direction.
CREATE INDEX IF NOT EXISTS tasks_by_user_due ON tasks (user_id, due_at IS NULL, due_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_user_due_desc
ON tasks (user_id, due_at IS NULL DESC, due_at, id);

-- The user's tags, one row per (tag, task), so that `tag=` is an index search and `GET /tags`
-- a grouped read of one user's rows. The store derives them from `tasks.tags` (see 0009).
CREATE TABLE IF NOT EXISTS task_tags (
    user_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, tag, task_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (8, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
