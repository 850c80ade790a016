-- Events: what happened, for the pull feed and the event endpoints. An
-- event commits with its change (audit events and approvals write one in
-- the same transaction). SQLite has one writer, so the order of insertion
-- is the order of commit and seq is the row id (AUTOINCREMENT: never
-- reused, so a webhook receiver's position stays good). PostgreSQL's
-- schema sequences events after commit instead.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL, -- the public id, and the webhook-id
    company_id TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    time       INTEGER NOT NULL,
    data       TEXT    NOT NULL
) STRICT;
CREATE INDEX events_by_company ON events (company_id, seq);

-- An operator's event endpoint. Its signing secret is sealed (AES-GCM with
-- a key from the secret file): it is needed in clear to sign. after_seq is
-- how far the feed has been queued for it; one instance at a time holds
-- its lease and delivers.
CREATE TABLE event_endpoints (
    id            TEXT    NOT NULL PRIMARY KEY,
    url           TEXT    NOT NULL,
    company_id    TEXT    NOT NULL DEFAULT '', -- '' for every company
    types         TEXT    NOT NULL DEFAULT '', -- space-separated event types; '' for all
    sealed_secret TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    after_seq     INTEGER NOT NULL,
    lease_owner   TEXT    NOT NULL DEFAULT '',
    lease_until   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One event's delivery to one endpoint, and its log. Deliveries of one
-- company to one endpoint go in seq order: while the oldest pending one
-- waits to be tried again, the rest of that company's wait behind it.
CREATE TABLE event_deliveries (
    endpoint_id      TEXT    NOT NULL REFERENCES event_endpoints (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    event_id         TEXT    NOT NULL,
    company_id       TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    latency_ms       INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, seq)
) STRICT;
CREATE INDEX event_deliveries_pending ON event_deliveries (endpoint_id, seq) WHERE status = 'pending';
-- The pending deliveries that wait for a retry, soonest first: few, even
-- behind a dead endpoint with a long backlog.
CREATE INDEX event_deliveries_waiting ON event_deliveries (endpoint_id, next_attempt_at, company_id) WHERE status = 'pending';
CREATE INDEX event_deliveries_finished ON event_deliveries (last_attempt_at) WHERE status <> 'pending';

-- Notifications ride in the outbox as messages of kind 'notice'; notice
-- holds what the email says (JSON, no secret). The kind's CHECK is
-- loosened in the table's stored SQL, as 0011 did for challenges.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (kind IN (''code'', ''setup_link'', ''reset_link''))', 'CHECK (kind IN (''code'', ''setup_link'', ''reset_link'', ''notice''))')
WHERE type = 'table' AND name = 'outbox';
PRAGMA writable_schema = OFF;
PRAGMA schema_version = 1400000;
ALTER TABLE outbox ADD COLUMN notice TEXT NOT NULL DEFAULT '';

-- Companies choose whether their responsible person hears of failures
-- and locks.
ALTER TABLE companies ADD COLUMN notify_failed_attempts INTEGER NOT NULL DEFAULT 1 CHECK (notify_failed_attempts IN (0, 1));
ALTER TABLE companies ADD COLUMN notify_locked INTEGER NOT NULL DEFAULT 1 CHECK (notify_locked IN (0, 1));
