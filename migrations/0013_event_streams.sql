-- Open event streams (`GET /api/{user_id}/events`), one row each: a lease the stream renews
-- with every heartbeat and gives back when it ends. Counting a user's unexpired leases is how
-- the per-user stream limit holds across instances and replicas; a stream whose instance died
-- stops counting when its lease runs out. Not task data: no content, no foreign key.
CREATE TABLE IF NOT EXISTS event_streams (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS event_streams_by_user ON event_streams (user_id, lease_until);

INSERT OR IGNORE INTO schema_migrations (version, applied_at)
VALUES (13, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
