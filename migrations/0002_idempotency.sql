-- Idempotent creates: at most one task per (user, Idempotency-Key), so a keyed create is one
-- atomic `INSERT … ON CONFLICT DO NOTHING RETURNING` even when retries race each other.

CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_user_idempotency_key
    ON tasks (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (2, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
