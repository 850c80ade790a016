-- Sign-in challenges, each user's lockout per app, the outbox of codes to
-- send, and the counters behind the send limits.

CREATE TABLE challenges (
    id              TEXT    NOT NULL PRIMARY KEY,
    company_id      TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app             TEXT    NOT NULL CHECK (app IN ('web', 'manager')),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'approved')),
    channel         TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    destination     TEXT    NOT NULL,
    code_hash       TEXT    NOT NULL, -- HMAC of the live code; '' once used or void
    code_attempts   INTEGER NOT NULL DEFAULT 0,
    code_expires_at INTEGER NOT NULL,
    last_sent_at    INTEGER NOT NULL,
    sends           INTEGER NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    sms_failed      INTEGER NOT NULL DEFAULT 0 CHECK (sms_failed IN (0, 1)),
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    return_url      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    approved_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX challenges_by_user ON challenges (user_id, created_at);

CREATE TABLE lockouts (
    company_id   TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app          TEXT    NOT NULL CHECK (app IN ('web', 'manager')),
    failures     INTEGER NOT NULL DEFAULT 0, -- consecutive wrong codes
    locked_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, app)
) STRICT;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_id    TEXT    NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    company_id      TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    app             TEXT    NOT NULL,
    send            INTEGER NOT NULL,
    channel         TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    destination     TEXT    NOT NULL,
    company_name    TEXT    NOT NULL,
    sealed_code     TEXT    NOT NULL, -- AES-GCM with a key from the secret file; '' once done
    code_expires_at INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0, -- a worker holds it until then
    last_error      TEXT    NOT NULL DEFAULT '',
    provider_id     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX outbox_by_challenge ON outbox (challenge_id, id);

-- Sliding-window logs of recent sends, per user, destination and IP.
CREATE TABLE rate_limits (
    key  TEXT NOT NULL PRIMARY KEY,
    hits TEXT NOT NULL DEFAULT '' -- comma-separated times, oldest first
) STRICT;

-- Plain counters, such as a company's SMS count for one day.
CREATE TABLE counters (
    key   TEXT    NOT NULL PRIMARY KEY,
    count INTEGER NOT NULL
) STRICT;
