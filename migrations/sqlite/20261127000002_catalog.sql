-- The catalog: entity versions and provenance, registered locations, and a version counter that
-- tells other replicas their in-memory index is stale.

ALTER TABLE entities ADD COLUMN etag TEXT NOT NULL DEFAULT '';
ALTER TABLE entities ADD COLUMN generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE entities ADD COLUMN location_key TEXT NOT NULL DEFAULT '';
ALTER TABLE entities ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX entities_location ON entities (location_key);

CREATE TABLE locations (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,               -- file | url | git
    target       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    refreshed_at BIGINT,
    last_error   TEXT,
    UNIQUE (type, target)
);

CREATE TABLE catalog_meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_meta (id, version) VALUES (1, 0);
