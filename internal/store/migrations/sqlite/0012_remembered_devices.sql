-- Remembered devices: after a sign-in the user asked to be remembered, a
-- device token (kept only as its hash) lets the next sign-ins of that
-- user and app in that browser skip the second step until it ends.
ALTER TABLE companies ADD COLUMN remember_web_days INTEGER NOT NULL DEFAULT 0 CHECK (remember_web_days BETWEEN 0 AND 90);
ALTER TABLE companies ADD COLUMN remember_manager_days INTEGER NOT NULL DEFAULT 0 CHECK (remember_manager_days BETWEEN 0 AND 90);

-- The token of an approved challenge, sealed with the secret file's key,
-- until the platform reads it once; '' before and after.
ALTER TABLE challenges ADD COLUMN device_token_sealed TEXT NOT NULL DEFAULT '';

CREATE TABLE devices (
    token_hash   TEXT   NOT NULL PRIMARY KEY,
    company_id   TEXT   NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app          TEXT   NOT NULL CHECK (app IN ('web', 'manager')),
    user_agent   TEXT   NOT NULL DEFAULT '',
    method       TEXT   NOT NULL DEFAULT '', -- what proved the approval that made it
    auth_time    INTEGER NOT NULL, -- the approval that made it
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_by_user ON devices (user_id, app);
CREATE INDEX devices_by_expiry ON devices (expires_at);
