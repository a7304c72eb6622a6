-- Per-user request counts in fixed one-minute windows, for rate_limit_per_minute. One row per
-- user, bumped by a single upsert, so the limit holds across replicas sharing the database.

CREATE TABLE IF NOT EXISTS rate_limits (
    user_id TEXT PRIMARY KEY NOT NULL,
    -- Unix time in whole minutes.
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (4, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
