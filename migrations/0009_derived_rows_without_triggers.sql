-- Tag rows and the search index without triggers. SQLite parses every trigger in the schema on
-- a connection's first statement, and Spin opens a connection per request: migration 0008's
-- seven triggers (as first released) made every request, reads included, pay for them, and
-- every write run them (bench/README.md, "Tags, due dates and search").
--
-- Instead a write marks the task `derived_stale` in its own single statement, and the reads that
-- need the derived rows (`q=`, `tag=`, `GET /tags`) first bring the caller's stale tasks up to
-- date, in one transaction (src/store.rs, `refresh_derived`). Every read of derived rows joins
-- `tasks` again, so a derived row of a deleted task is never an answer.

ALTER TABLE tasks ADD COLUMN derived_stale INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS tasks_stale ON tasks (user_id) WHERE derived_stale = 1;

-- The search index: contentless (the text stays in `tasks`), rows deleted by rowid. Same
-- columns and tokenizer as before: `owner` is the user id in hex, one token, required by
-- every query the store builds.
CREATE VIRTUAL TABLE IF NOT EXISTS task_search USING fts5 (
    owner, title, description,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- A task's tag rows, found when it is brought up to date or deleted.
CREATE INDEX IF NOT EXISTS task_tags_by_task ON task_tags (task_id);

DROP TRIGGER IF EXISTS tasks_record_user;
DROP TRIGGER IF EXISTS tasks_complete_recurring;
DROP TRIGGER IF EXISTS tasks_tags_insert;
DROP TRIGGER IF EXISTS tasks_tags_update;
DROP TRIGGER IF EXISTS tasks_tags_delete;
DROP TRIGGER IF EXISTS tasks_fts_insert;
DROP TRIGGER IF EXISTS tasks_fts_update;
DROP TRIGGER IF EXISTS tasks_fts_delete;
DROP TABLE IF EXISTS tasks_fts;
DROP VIEW IF EXISTS tasks_search_source;

-- Every task is indexed once more here, after the triggers are gone, so that a write made
-- meanwhile by an older instance is included; tag rows likewise. Both converge when replicas
-- race.
INSERT OR REPLACE INTO task_search (rowid, owner, title, description)
SELECT id, hex(user_id), title, description FROM tasks;
INSERT OR IGNORE INTO task_tags (user_id, tag, task_id, name)
SELECT t.user_id, j.key, t.id, j.value FROM tasks t, json_each(t.tags) j WHERE t.tags <> '{}';

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (9, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
