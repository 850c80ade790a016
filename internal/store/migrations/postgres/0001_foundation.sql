-- Companies, their 2FA settings, users, API keys and the audit log.
-- Times are microseconds since the Unix epoch, UTC, as in the SQLite schema,
-- so that both stores share their queries.

CREATE TABLE companies (
    id                     TEXT    NOT NULL PRIMARY KEY,
    name                   TEXT    NOT NULL,
    created_at             BIGINT  NOT NULL,
    delivery_method        TEXT    NOT NULL CHECK (delivery_method IN ('sms_then_email', 'email_only')),
    contact_name           TEXT    NOT NULL DEFAULT '',
    contact_email          TEXT    NOT NULL DEFAULT '',
    contact_phone          TEXT    NOT NULL DEFAULT '',
    default_web            BOOLEAN NOT NULL DEFAULT FALSE,
    default_manager        BOOLEAN NOT NULL DEFAULT FALSE,
    sms_daily_cap          INTEGER NOT NULL CHECK (sms_daily_cap >= 0),
    allowed_return_origins TEXT    NOT NULL DEFAULT '[]',
    settings_updated_at    BIGINT  NOT NULL,
    -- The head of the company's audit hash chain.
    audit_seq              BIGINT  NOT NULL DEFAULT 0,
    audit_head             TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    company_id    TEXT    NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    external_id   TEXT,   -- NULL when the platform gave none
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    phone         TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('member', 'admin')),
    twofa_web     BOOLEAN NOT NULL,
    twofa_manager BOOLEAN NOT NULL,
    -- Byte order, as SQLite sorts, so both stores page alike.
    sort_name     TEXT    COLLATE "C" NOT NULL,
    search        TEXT    NOT NULL, -- lower-case name, email, external id, phone
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE UNIQUE INDEX users_external_id ON users (company_id, external_id);
CREATE INDEX users_by_name ON users (company_id, sort_name, id);

CREATE TABLE api_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    company_id TEXT   REFERENCES companies (id) ON DELETE CASCADE, -- NULL: every company
    hash       TEXT   NOT NULL UNIQUE,                              -- SHA-256 of the key
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_events (
    company_id  TEXT   NOT NULL REFERENCES companies (id),
    seq         BIGINT NOT NULL, -- 1, 2, 3… per company
    id          TEXT   NOT NULL UNIQUE,
    time        BIGINT NOT NULL,
    actor_type  TEXT   NOT NULL,
    actor_id    TEXT   NOT NULL,
    actor_name  TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target_id   TEXT   NOT NULL DEFAULT '',
    target_name TEXT   NOT NULL DEFAULT '',
    app         TEXT   NOT NULL DEFAULT '',
    details     TEXT   NOT NULL DEFAULT '', -- JSON, kept byte for byte for the hash
    ip          TEXT   NOT NULL DEFAULT '',
    user_agent  TEXT   NOT NULL DEFAULT '',
    hash        TEXT   NOT NULL, -- HMAC chained to the previous event's hash
    PRIMARY KEY (company_id, seq)
);

CREATE INDEX audit_events_by_action ON audit_events (company_id, action, seq);
CREATE INDEX audit_events_by_target ON audit_events (company_id, target_id, seq);
CREATE INDEX audit_events_by_actor ON audit_events (company_id, actor_id, seq);
