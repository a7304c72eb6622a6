-- The key that seals keyset-pagination cursors (src/domain/cursor.rs): random, made once per
-- database, so that every replica sharing the database accepts every other's cursors, across
-- restarts, and no configuration is needed. The list statement reads it in the same
-- statement as the page. WITHOUT ROWID: one b-tree, the least for every connection to parse.
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO api_keys (name, value) VALUES ('cursor', randomblob(32));

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (10, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
