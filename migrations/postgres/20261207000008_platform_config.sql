-- Every valid revision of the platform configuration any replica loaded, by content hash: the
-- first replica to load a revision records it (and audits its diff); the others find it here.
CREATE TABLE platform_config_revisions (
    hash TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    previous_hash TEXT
);
CREATE INDEX platform_config_revisions_loaded ON platform_config_revisions (loaded_at);

-- Waivers a platform admin granted: one policy set aside for one service, with a reason, until
-- it expires (an expired waiver stops applying by itself) or is revoked.
CREATE TABLE policy_waivers (
    id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    service TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX policy_waivers_service ON policy_waivers (service, policy);
