-- Identity, sessions, API tokens, audit log, and the entity table the catalog builds on.
-- Timestamps are milliseconds since the Unix epoch (BIGINT) on both engines.

CREATE TABLE users (
    entity_ref   TEXT PRIMARY KEY,            -- normalised, e.g. user:default/ada
    display_name TEXT NOT NULL,
    email        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE teams (
    entity_ref   TEXT PRIMARY KEY,            -- normalised, e.g. group:default/payments
    display_name TEXT NOT NULL,
    parent_ref   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_ref TEXT NOT NULL REFERENCES users (entity_ref) ON DELETE CASCADE,
    team_ref TEXT NOT NULL REFERENCES teams (entity_ref) ON DELETE CASCADE,
    PRIMARY KEY (user_ref, team_ref)
);
CREATE INDEX memberships_team ON memberships (team_ref);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,            -- SHA-256 of the cookie value; the value is never stored
    user_ref     TEXT NOT NULL REFERENCES users (entity_ref) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_ref     TEXT NOT NULL REFERENCES users (entity_ref) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,        -- SHA-256 of the secret; the secret is never stored
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_ref);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,                 -- JSON object
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE entities (
    uid        TEXT PRIMARY KEY,
    entity_ref TEXT NOT NULL UNIQUE,          -- normalised kind:namespace/name
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    owner_ref  TEXT,                          -- normalised spec.owner, when the kind has one
    body       TEXT NOT NULL,                 -- the entity as JSON
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX entities_owner ON entities (owner_ref);
