-- A page of one user's events that also filters by action or time walks
-- the user's index and skips events that do not match. With action and
-- time in the index it skips them there, without reading each skipped
-- event's row: a sparse combination (an action the user never did, in
-- the last 90 days of a million-event log) reads a few index pages
-- instead of thousands of rows.
DROP INDEX audit_events_by_target;
CREATE INDEX audit_events_by_target ON audit_events (company_id, target_id, seq, action, time);
DROP INDEX audit_events_by_actor;
CREATE INDEX audit_events_by_actor ON audit_events (company_id, actor_id, seq, action, time);
-- On a large log this rebuilds two indexes and blocks writes to
-- audit_events until they are built: run `twostep migrate` at a quiet
-- time.
