-- The outbox carries the console's emails too: set-up links for invited
-- admins and password reset links, which belong to no challenge. Their
-- challenge_id is NULL and their kind says what they are; the link's
-- token is sealed in sealed_code as a code is. SQLite cannot loosen a
-- column or add a CHECK in place, so the table is copied.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_id    TEXT    REFERENCES challenges (id) ON DELETE CASCADE, -- NULL for a console email
    kind            TEXT    NOT NULL DEFAULT 'code' CHECK (kind IN ('code', 'setup_link', 'reset_link')),
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

INSERT INTO outbox_new (id, challenge_id, company_id, user_id, app, send, channel, destination, company_name,
    sealed_code, code_expires_at, status, attempts, next_attempt_at, lease_until, last_error, provider_id,
    created_at, finished_at)
SELECT id, challenge_id, company_id, user_id, app, send, channel, destination, company_name,
    sealed_code, code_expires_at, status, attempts, next_attempt_at, lease_until, last_error, provider_id,
    created_at, finished_at
FROM outbox;

DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX outbox_by_challenge ON outbox (challenge_id, id);
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'queued';

-- Where a console session signed in from, for the admin's own list.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
