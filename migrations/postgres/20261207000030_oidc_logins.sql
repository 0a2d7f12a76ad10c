-- OpenID Connect sign-in (issue 14).
--
-- A sign-in in progress, from `GET /auth/oidc/start` until its callback takes it (deletes it) once.
-- The `state` and the browser binding are stored as SHA-256 hashes; the nonce and the PKCE
-- verifier never leave the server. Rows live for minutes; expired ones are deleted as new
-- sign-ins start.
CREATE TABLE oidc_logins (
    state_hash    TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

-- What an OpenID Connect sign-in adds to a portal session, keyed like `sessions` by the SHA-256
-- of the session cookie. For a person the catalog knows there is also a `sessions` row; a person
-- admitted without a catalog User (`oidc_unknown_users = admit`) has only this row (`guest` = 1),
-- because `sessions.user_ref` must name a catalog user. `teams` is a JSON list of
-- `[entity_ref, display_name]` pairs added by groups the catalog maps with the annotation
-- `causeway.dev/oidc-group`. `id_token` is kept only when the provider offers RP-initiated
-- logout, as its `id_token_hint`.
CREATE TABLE oidc_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_ref     TEXT NOT NULL,
    guest        BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    email        TEXT,
    teams        TEXT NOT NULL,
    id_token     TEXT,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX oidc_sessions_expiry ON oidc_sessions (expires_at);
