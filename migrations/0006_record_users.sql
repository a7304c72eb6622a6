-- Writes no longer check the user first (the guard rides on the write itself, see store.rs),
-- so a user whose first request is a create is recorded here, in the same statement.
CREATE TRIGGER IF NOT EXISTS tasks_record_user AFTER INSERT ON tasks
BEGIN
    INSERT INTO users (id, created_at) VALUES (NEW.user_id, NEW.created_at)
    ON CONFLICT (id) DO NOTHING;
END;

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (6, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
