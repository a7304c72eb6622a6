-- Whether the task may have an entry in `task_search`: set by the refresh that writes one
-- (in the same transaction), 0 for a new task. A delete reads it from its own row instead of
-- asking the FTS5 table, which would connect the virtual table on the request's new
-- connection (its configuration read, its tokenizer built) for a task that never had an
-- entry: 181k instructions per delete under Spin (bench/README.md, "Release 14"). Every task
-- from before this migration counts as possibly indexed (DEFAULT 1): a wrong 1 costs a delete
-- that finds nothing to remove, a wrong 0 would leave the task's text in the index.
ALTER TABLE tasks ADD COLUMN search_entry INTEGER NOT NULL DEFAULT 1;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (12, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
