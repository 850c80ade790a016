-- A company's statistics for a day are spread over a few rows (shards),
-- each send or verify adding to one of them at random: one row per day
-- would be locked by every sign-in of the company until its commit, so
-- that a whole company signing in at once would queue on it. Readers add
-- the shards up.
ALTER TABLE daily_stats ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE daily_stats DROP CONSTRAINT daily_stats_pkey;
ALTER TABLE daily_stats ADD PRIMARY KEY (company_id, day, shard);
