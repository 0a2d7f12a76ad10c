-- API tokens get scopes and an expiry (issue 14, "Tokens").
--
-- `scopes` is a comma-separated list of `read`, `write` and `admin`. Existing tokens acted with
-- every right of their user, so they become `admin`: a token acts with its user's current rights
-- only, which makes `admin` exactly what these tokens could do before (for someone who is not a
-- platform admin it means `write`), so no script breaks on upgrade and nothing new is granted.
-- The column's default is the narrowest scope, so a row written without it can only read.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read';
UPDATE api_tokens SET scopes = 'admin';

-- Existing tokens expire 90 days (the default lifetime) after this migration; the column's
-- default (0, the epoch) makes a row written without an expiry already expired.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE api_tokens SET expires_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + 7776000000;
