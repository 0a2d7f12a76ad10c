-- A person's standing with the identity provider, rechecked while they hold sessions and API
-- tokens (issue 14, "Tokens": a person's tokens stop working when the provider disables them).
--
-- One row per person (`user_ref`: a catalog User, or a guest's reference), written by every
-- OpenID Connect sign-in. `refresh_token` is the provider's refresh token from that sign-in (the
-- `offline_access` scope), replaced by the rotated one after each successful recheck; it is the
-- only credential Causeway stores as is, because it must be sent back to the provider. It is not
-- encrypted: Causeway has no server-wide key to encrypt with, and the provider redeems it only
-- together with the client secret, which is not in the database.
--
-- `checked_at` is when the provider last answered a recheck (or the sign-in), `attempt_at` when a
-- replica last claimed one (claims are conditional on the value read, so one replica and one
-- request at a time refresh a token: a rotated token used twice would be refused). `disabled_at`
-- and `reason` are set when the provider refused the refresh token; the person's sessions end and
-- their API tokens are refused until they sign in through the provider again, which clears both.
CREATE TABLE oidc_accounts (
    user_ref      TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    refresh_token TEXT,
    signed_in_at  BIGINT NOT NULL,
    checked_at    BIGINT NOT NULL,
    attempt_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    reason        TEXT
);
CREATE INDEX oidc_accounts_due ON oidc_accounts (checked_at);
