-- The time of each company's newest audit event, so that an event is
-- never stamped before the one it follows (instances' clocks may differ
-- by a little); with time in seq order, a time range of the log is a seq
-- range, which the page queries find through audit_events_by_time.
ALTER TABLE companies ADD COLUMN audit_time BIGINT NOT NULL DEFAULT 0;
UPDATE companies SET audit_time = COALESCE(
    (SELECT max(time) FROM audit_events WHERE audit_events.company_id = companies.id), 0);
CREATE INDEX audit_events_by_time ON audit_events (company_id, time, seq);
