-- The platform's nonce for a sign-in, echoed in its signed result.
ALTER TABLE challenges ADD COLUMN nonce TEXT NOT NULL DEFAULT '';
