-- The outbox carries the console's emails too: set-up links for invited
-- admins and password reset links, which belong to no challenge. Their
-- challenge_id is NULL and their kind says what they are; the link's
-- token is sealed in sealed_code as a code is.
ALTER TABLE outbox ALTER COLUMN challenge_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'code' CHECK (kind IN ('code', 'setup_link', 'reset_link'));

-- Where a console session signed in from, for the admin's own list.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
