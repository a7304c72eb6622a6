-- Tags, due dates, recurrence and keyword search. Every ADD COLUMN has a default, so existing
-- tasks read back as before: no tags, no due date, not recurring, UTC.

-- Tags as a JSON object from the case-folded tag to the tag as typed, in key order (the API
-- shows the values). The store writes it; `task_tags` below is derived from it by triggers.
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

-- Completing a recurring task is one statement, the insert of its next occurrence; this
-- trigger completes the task it recurs from in the same statement, so neither happens
-- without the other.
CREATE TRIGGER IF NOT EXISTS tasks_complete_recurring AFTER INSERT ON tasks
WHEN NEW.recurs_from IS NOT NULL
BEGIN
    UPDATE tasks SET completed = 1, next_task_id = NEW.id,
        updated_at = max(NEW.created_at, updated_at + 1)
    WHERE id = NEW.recurs_from AND user_id = NEW.user_id;
END;

-- sort=due: tasks without a due date last in both orders. Ascending reads the first index
-- forwards; descending reads the second one backwards (its NULL group comes first, so read
-- from the end it comes last). Ties by id in the sort's direction.
CREATE INDEX IF NOT EXISTS tasks_by_user_due ON tasks (user_id, due_at IS NULL, due_at, id);
CREATE INDEX IF NOT EXISTS tasks_by_user_due_desc
ON tasks (user_id, due_at IS NULL DESC, due_at, id);

-- The user's tags, one row per (tag, task), kept by the triggers below so that `tag=` is an
-- index search and `GET /tags` a grouped read of one user's rows.
CREATE TABLE IF NOT EXISTS task_tags (
    user_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, tag, task_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_tags_by_task ON task_tags (task_id);

CREATE TRIGGER IF NOT EXISTS tasks_tags_insert AFTER INSERT ON tasks
WHEN NEW.tags <> '{}'
BEGIN
    INSERT OR IGNORE INTO task_tags (user_id, tag, task_id, name)
    SELECT NEW.user_id, key, NEW.id, value FROM json_each(NEW.tags);
END;

CREATE TRIGGER IF NOT EXISTS tasks_tags_update AFTER UPDATE OF tags ON tasks
WHEN NEW.tags IS NOT OLD.tags
BEGIN
    DELETE FROM task_tags WHERE task_id = OLD.id;
    INSERT OR IGNORE INTO task_tags (user_id, tag, task_id, name)
    SELECT NEW.user_id, key, NEW.id, value FROM json_each(NEW.tags);
END;

CREATE TRIGGER IF NOT EXISTS tasks_tags_delete AFTER DELETE ON tasks
WHEN OLD.tags <> '{}'
BEGIN
    DELETE FROM task_tags WHERE task_id = OLD.id;
END;

-- Keyword search over title and description. One FTS5 index for all users; every document
-- carries its owner as a token of its own (`owner`: the user id in hex, a single token), and
-- every query the store builds requires it, so a search only ever reaches the caller's rows
-- (and the outer query checks user_id again). External content: the text stays in `tasks`.
CREATE VIEW IF NOT EXISTS tasks_search_source AS
SELECT id, hex(user_id) AS owner, title, coalesce(description, '') AS description FROM tasks;

CREATE VIRTUAL TABLE IF NOT EXISTS tasks_fts USING fts5 (
    owner, title, description,
    content = 'tasks_search_source', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS tasks_fts_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO tasks_fts (rowid, owner, title, description)
    VALUES (NEW.id, hex(NEW.user_id), NEW.title, coalesce(NEW.description, ''));
END;

CREATE TRIGGER IF NOT EXISTS tasks_fts_update AFTER UPDATE OF title, description ON tasks
WHEN NEW.title IS NOT OLD.title OR NEW.description IS NOT OLD.description
BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, owner, title, description)
    VALUES ('delete', OLD.id, hex(OLD.user_id), OLD.title, coalesce(OLD.description, ''));
    INSERT INTO tasks_fts (rowid, owner, title, description)
    VALUES (NEW.id, hex(NEW.user_id), NEW.title, coalesce(NEW.description, ''));
END;

CREATE TRIGGER IF NOT EXISTS tasks_fts_delete AFTER DELETE ON tasks
BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, owner, title, description)
    VALUES ('delete', OLD.id, hex(OLD.user_id), OLD.title, coalesce(OLD.description, ''));
END;

-- Tasks that existed before this migration: index them once. 'rebuild' reads the whole
-- content view again, so a second applier racing the first ends with the same index.
INSERT INTO tasks_fts (tasks_fts) VALUES ('rebuild');

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (8, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
