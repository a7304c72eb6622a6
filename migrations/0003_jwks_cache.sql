-- The live JWKS fetched from better_auth_url. Every request runs in a fresh component instance,
-- so the cache lives here: one row per JWKS URL, shared by all instances (and replicas, with a
-- shared database).

CREATE TABLE IF NOT EXISTS jwks_cache (
    url TEXT PRIMARY KEY,
    -- The last document that parsed as a JWKS; NULL until one has.
    jwks TEXT,
    -- When `jwks` was fetched (µs since the epoch); it is trusted for a limited time after that.
    fetched_at INTEGER,
    -- The last fetch attempt, successful or not (µs): at most one per minute.
    attempted_at INTEGER NOT NULL
);

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (3, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
