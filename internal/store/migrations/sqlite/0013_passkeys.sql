-- Passkeys and security keys (WebAuthn): a credential is an authenticator
-- of type webauthn, with its id (base64url, unique) and the credential as
-- go-webauthn keeps it (public key, sign counter, flags) in JSON. Public
-- keys are not secrets: nothing here is sealed.
ALTER TABLE authenticators ADD COLUMN credential_id TEXT NOT NULL DEFAULT '';
ALTER TABLE authenticators ADD COLUMN credential TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX authenticators_by_credential ON authenticators (credential_id) WHERE credential_id <> '';

-- The state of a WebAuthn ceremony between its two requests, bound to the
-- challenge ('ch:' id) or enrolment link ('en:' token hash) it belongs to,
-- never to a cookie; taken (deleted) by the request that finishes it, so
-- each ceremony's challenge is used once.
CREATE TABLE ceremonies (
    id         TEXT   NOT NULL PRIMARY KEY,
    data       TEXT   NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);
