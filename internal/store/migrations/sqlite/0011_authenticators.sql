-- Stronger second steps: authenticator apps (and, later, passkeys) and
-- recovery codes, the enrolment links of the hosted enrolment page, the
-- company's policy over them, and the method each challenge expects.

-- A challenge that starts on an authenticator app sends nothing: its
-- channel stays '' until a code is sent. method is what it expects now
-- ('' in rows from before: their channel says it).
ALTER TABLE challenges ADD COLUMN method TEXT NOT NULL DEFAULT '';
-- The console's own sign-in of an admin: the company's strong-authentication
-- policy for its apps does not lock admins out of the console.
ALTER TABLE challenges ADD COLUMN console INTEGER NOT NULL DEFAULT 0 CHECK (console IN (0, 1));
ALTER TABLE challenges ADD COLUMN enrollment_required INTEGER NOT NULL DEFAULT 0 CHECK (enrollment_required IN (0, 1));

-- SQLite cannot change a CHECK in place, and copying the table would
-- cascade into the outbox rows that reference it. Its documented way to
-- drop or loosen a CHECK is to edit the table's stored SQL
-- (https://sqlite.org/lang_altertable.html#otheralter, the "simpler
-- procedure"): rows stay as they are, only what later writes must
-- satisfy changes. The new schema_version makes every connection read
-- the schema again.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (channel IN (''sms'', ''email''))', 'CHECK (channel IN (''sms'', ''email'', ''''))')
WHERE type = 'table' AND name = 'challenges';
PRAGMA writable_schema = OFF;
PRAGMA schema_version = 1100000;

ALTER TABLE companies ADD COLUMN authenticators_totp INTEGER NOT NULL DEFAULT 1 CHECK (authenticators_totp IN (0, 1));
ALTER TABLE companies ADD COLUMN authenticators_webauthn INTEGER NOT NULL DEFAULT 1 CHECK (authenticators_webauthn IN (0, 1));
ALTER TABLE companies ADD COLUMN strong_web INTEGER NOT NULL DEFAULT 0 CHECK (strong_web IN (0, 1));
ALTER TABLE companies ADD COLUMN strong_manager INTEGER NOT NULL DEFAULT 0 CHECK (strong_manager IN (0, 1));
-- When strong authentication first applied per app: a user's grace
-- period runs from then (or from the user's creation, if later).
ALTER TABLE companies ADD COLUMN strong_web_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN strong_manager_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN enrollment_grace_days INTEGER NOT NULL DEFAULT 14
    CHECK (enrollment_grace_days BETWEEN 0 AND 365);

-- A hint on the user: whether they may have an authenticator or recovery
-- codes. Set with the first, recomputed (with the user row held) when one
-- goes; never false while they have one, so that a sign-in of a user
-- without reads nothing more.
ALTER TABLE users ADD COLUMN has_factors INTEGER NOT NULL DEFAULT 0 CHECK (has_factors IN (0, 1));

CREATE TABLE authenticators (
    id            TEXT    NOT NULL PRIMARY KEY,
    company_id    TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          TEXT    NOT NULL CHECK (type IN ('totp', 'webauthn')),
    name          TEXT    NOT NULL,
    sealed_secret TEXT    NOT NULL, -- AES-GCM with a key from the secret file
    confirmed_at  INTEGER NOT NULL DEFAULT 0, -- 0 until the first code proves it
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL DEFAULT 0,
    -- The last 30-second step whose code was accepted: a code is taken
    -- only for a later step, by a conditional UPDATE.
    last_step     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX authenticators_by_user ON authenticators (user_id, created_at);
CREATE INDEX authenticators_unconfirmed ON authenticators (created_at) WHERE confirmed_at = 0;

CREATE TABLE recovery_codes (
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id TEXT   NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    hash       TEXT   NOT NULL, -- HMAC of the code with the code key
    created_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, hash)
) STRICT;

CREATE TABLE enrollments (
    token_hash   TEXT   NOT NULL PRIMARY KEY,
    company_id   TEXT   NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The challenge whose hosted page sent the user here, if one did: the
    -- page returns to it. '' for an enrolment the platform asked for.
    challenge_id TEXT   NOT NULL DEFAULT '',
    return_url   TEXT   NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER NOT NULL DEFAULT 0 -- finished: a link works to its end once
) STRICT;
CREATE INDEX enrollments_by_expiry ON enrollments (expires_at);
-- One enrolment per sign-in: the result it hands back is minted once.
CREATE UNIQUE INDEX enrollments_by_challenge ON enrollments (challenge_id) WHERE challenge_id <> '';
