-- Rows that no longer matter are deleted in the background (Prune): each
-- kind needs to be found by the time it stops mattering. Rate-limit rows
-- and counters record until when they do; rows from before this
-- migration keep theirs for the longest window (a day for counters, an
-- hour for rate limits). Rate-limit rows are not indexed by it: every send
-- rewrites it, and an index on it would turn those updates from
-- in-place (HOT, on PostgreSQL) into ones that touch an index each time;
-- pruning scans the table instead, once a minute.
ALTER TABLE rate_limits ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE rate_limits SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + 3600000000;
ALTER TABLE counters ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE counters SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + 2 * 86400000000;
CREATE INDEX counters_by_expiry ON counters (expires_at);
CREATE INDEX challenges_by_created ON challenges (created_at);
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'queued';
CREATE INDEX sessions_by_seen ON sessions (seen_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX setup_links_by_user ON admin_setup_links (user_id);
CREATE INDEX setup_links_by_expiry ON admin_setup_links (expires_at);
CREATE INDEX lockouts_cleared ON lockouts (locked_until) WHERE failures = 0;
CREATE INDEX daily_stats_by_day ON daily_stats (day);
