-- The admin console's accounts, set-up links and sessions, the hosted
-- page's token per challenge, and the daily counts behind the activity
-- chart.

CREATE TABLE admin_accounts (
    user_id       TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    company_id    TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    email         TEXT    NOT NULL UNIQUE, -- lower case: the sign-in name
    password_hash TEXT    NOT NULL DEFAULT '', -- argon2id, PHC string; '' until set up
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE admin_setup_links (
    token_hash TEXT    NOT NULL PRIMARY KEY, -- SHA-256 of the link's token
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A session is pending between the password and the code, and grants
-- nothing but the code page; a full session is a signed-in admin.
CREATE TABLE sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY, -- SHA-256 of the cookie's token
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id   TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    stage        TEXT    NOT NULL CHECK (stage IN ('pending', 'full')),
    challenge_id TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    seen_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id);

ALTER TABLE challenges ADD COLUMN verify_token_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX challenges_by_verify_token ON challenges (verify_token_hash) WHERE verify_token_hash <> '';

CREATE TABLE daily_stats (
    company_id TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    day        TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    sent       INTEGER NOT NULL DEFAULT 0,
    approved   INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    locked     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, day)
) STRICT;
