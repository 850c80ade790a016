-- A company's statistics for a day are spread over a few rows (shards),
-- each send or verify adding to one of them at random: one row per day
-- would be locked by every sign-in of the company until its commit, so
-- that a whole company signing in at once would queue on it. Readers add
-- the shards up.
CREATE TABLE daily_stats_sharded (
    company_id TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    day        TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    shard      INTEGER NOT NULL,
    sent       INTEGER NOT NULL DEFAULT 0,
    approved   INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    locked     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, day, shard)
) STRICT;
INSERT INTO daily_stats_sharded (company_id, day, shard, sent, approved, failed, locked)
    SELECT company_id, day, 0, sent, approved, failed, locked FROM daily_stats;
DROP TABLE daily_stats;
ALTER TABLE daily_stats_sharded RENAME TO daily_stats;
