-- Write-ahead logging instead of SQLite's default rollback journal. Spin opens its database
-- with SQLite's defaults (journal DELETE, synchronous FULL): every commit then writes and syncs
-- a journal, the database and the directory. In WAL mode a commit appends to one file and syncs
-- it once, and readers no longer wait for writers. synchronous stays FULL (Spin's default,
-- per connection), so an acknowledged write survives a process crash and a power cut alike.
--
-- The mode persists in the database file, so this runs once. It is a setting, not schema: a
-- database that keeps its own journal (in memory, or a remote libSQL/Turso server) answers or
-- refuses it, and either way the migration goes on (see migrations::apply).

PRAGMA journal_mode = WAL;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (5, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
