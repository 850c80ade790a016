-- Events: what happened, for the pull feed and the event endpoints. An
-- event commits with its change (audit events and approvals write one in
-- the same transaction). n is the order of insertion; seq, the feed's
-- position, is the order of commit: the sequencer gives committed events
-- their seq in batches, under the one row of event_sequence, so a reader
-- that has seen seq s has seen every event before it. Rows inserted by a
-- transaction still open get a later seq when it commits.
CREATE TABLE events (
    n          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq        BIGINT, -- NULL until sequenced
    id         TEXT   NOT NULL, -- the public id, and the webhook-id
    company_id TEXT   NOT NULL,
    type       TEXT   NOT NULL,
    time       BIGINT NOT NULL,
    data       TEXT   NOT NULL
);
-- The feed's indexes hold sequenced rows only: a new row enters them
-- once, when the sequencer numbers it, not also as a NULL at insert.
CREATE UNIQUE INDEX events_by_seq ON events (seq) WHERE seq IS NOT NULL;
CREATE INDEX events_unsequenced ON events (n) WHERE seq IS NULL;
CREATE INDEX events_by_company ON events (company_id, seq) WHERE seq IS NOT NULL;

CREATE TABLE event_sequence (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT  NOT NULL
);
INSERT INTO event_sequence (id, last_seq) VALUES (1, 0);

-- An operator's event endpoint. Its signing secret is sealed (AES-GCM with
-- a key from the secret file): it is needed in clear to sign. after_seq is
-- how far the feed has been queued for it; one instance at a time holds
-- its lease and delivers.
CREATE TABLE event_endpoints (
    id            TEXT   NOT NULL PRIMARY KEY,
    url           TEXT   NOT NULL,
    company_id    TEXT   NOT NULL DEFAULT '', -- '' for every company
    types         TEXT   NOT NULL DEFAULT '', -- space-separated event types; '' for all
    sealed_secret TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    after_seq     BIGINT NOT NULL,
    lease_owner   TEXT   NOT NULL DEFAULT '',
    lease_until   BIGINT NOT NULL DEFAULT 0
);

-- One event's delivery to one endpoint, and its log. Deliveries of one
-- company to one endpoint go in seq order: while the oldest pending one
-- waits to be tried again, the rest of that company's wait behind it.
CREATE TABLE event_deliveries (
    endpoint_id      TEXT   NOT NULL REFERENCES event_endpoints (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    event_id         TEXT   NOT NULL,
    company_id       TEXT   NOT NULL,
    type             TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    first_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_status_code BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT   NOT NULL DEFAULT '',
    latency_ms       BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, seq)
);
CREATE INDEX event_deliveries_pending ON event_deliveries (endpoint_id, seq) WHERE status = 'pending';
-- The pending deliveries that wait for a retry, soonest first: few, even
-- behind a dead endpoint with a long backlog.
CREATE INDEX event_deliveries_waiting ON event_deliveries (endpoint_id, next_attempt_at, company_id) WHERE status = 'pending';
CREATE INDEX event_deliveries_finished ON event_deliveries (last_attempt_at) WHERE status <> 'pending';

-- Notifications ride in the outbox as messages of kind 'notice'; notice
-- holds what the email says (JSON, no secret). Companies choose whether
-- their responsible person hears of failures and locks.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('code', 'setup_link', 'reset_link', 'notice'));
ALTER TABLE outbox ADD COLUMN notice TEXT NOT NULL DEFAULT '';
ALTER TABLE companies ADD COLUMN notify_failed_attempts BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE companies ADD COLUMN notify_locked BOOLEAN NOT NULL DEFAULT TRUE;
