-- Stronger second steps: authenticator apps (and, later, passkeys) and
-- recovery codes, the enrolment links of the hosted enrolment page, the
-- company's policy over them, and the method each challenge expects.

-- A challenge that starts on an authenticator app sends nothing: its
-- channel stays '' until a code is sent. method is what it expects now
-- ('' in rows from before: their channel says it).
ALTER TABLE challenges DROP CONSTRAINT challenges_channel_check;
ALTER TABLE challenges ADD CONSTRAINT challenges_channel_check CHECK (channel IN ('sms', 'email', ''));
ALTER TABLE challenges ADD COLUMN method TEXT NOT NULL DEFAULT '';
-- The console's own sign-in of an admin: the company's strong-authentication
-- policy for its apps does not lock admins out of the console.
ALTER TABLE challenges ADD COLUMN console BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE challenges ADD COLUMN enrollment_required BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE companies ADD COLUMN authenticators_totp BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE companies ADD COLUMN authenticators_webauthn BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE companies ADD COLUMN strong_web BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE companies ADD COLUMN strong_manager BOOLEAN NOT NULL DEFAULT FALSE;
-- When strong authentication first applied per app: a user's grace
-- period runs from then (or from the user's creation, if later).
ALTER TABLE companies ADD COLUMN strong_web_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN strong_manager_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN enrollment_grace_days INTEGER NOT NULL DEFAULT 14
    CHECK (enrollment_grace_days BETWEEN 0 AND 365);

-- A hint on the user: whether they may have an authenticator or recovery
-- codes. Set with the first, recomputed (with the user row held) when one
-- goes; never false while they have one, so that a sign-in of a user
-- without reads nothing more.
ALTER TABLE users ADD COLUMN has_factors BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE authenticators (
    id            TEXT    NOT NULL PRIMARY KEY,
    company_id    TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          TEXT    NOT NULL CHECK (type IN ('totp', 'webauthn')),
    name          TEXT    NOT NULL,
    sealed_secret TEXT    NOT NULL, -- AES-GCM with a key from the secret file
    confirmed_at  BIGINT  NOT NULL DEFAULT 0, -- 0 until the first code proves it
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT  NOT NULL DEFAULT 0,
    -- The last 30-second step whose code was accepted: a code is taken
    -- only for a later step, by a conditional UPDATE.
    last_step     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX authenticators_by_user ON authenticators (user_id, created_at);
CREATE INDEX authenticators_unconfirmed ON authenticators (created_at) WHERE confirmed_at = 0;

CREATE TABLE recovery_codes (
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id TEXT   NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    hash       TEXT   NOT NULL, -- HMAC of the code with the code key
    created_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE enrollments (
    token_hash   TEXT   NOT NULL PRIMARY KEY,
    company_id   TEXT   NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The challenge whose hosted page sent the user here, if one did: the
    -- page returns to it. '' for an enrolment the platform asked for.
    challenge_id TEXT   NOT NULL DEFAULT '',
    return_url   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NOT NULL DEFAULT 0 -- finished: a link works to its end once
);
CREATE INDEX enrollments_by_expiry ON enrollments (expires_at);
-- One enrolment per sign-in: the result it hands back is minted once.
CREATE UNIQUE INDEX enrollments_by_challenge ON enrollments (challenge_id) WHERE challenge_id <> '';
