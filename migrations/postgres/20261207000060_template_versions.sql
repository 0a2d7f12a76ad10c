-- Template versions: every version of a template that a run used, the catalog stored or a
-- platform admin published, kept whole so that a service can be rendered again from exactly the
-- template it was created from (see `scaffolder/versions/`). A row is inserted once, by whoever
-- captures the version first, and never updated or deleted. `version` is `sha256:` and the hash
-- of the canonical entity and every file; `entity` is the entity's canonical JSON (without what
-- the catalog adds); `files` holds every file as the runs' saved state does: a JSON object of
-- path to {content (base64), executable}, zstd-compressed, then base64, so that both engines
-- store text. `file_count` and `bytes` (the files' total size) let lists skip `files`.
-- `created_at` is milliseconds since the Unix epoch.
CREATE TABLE template_versions (
    template_ref  TEXT NOT NULL,             -- the template's normalised entity reference
    version       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    author        TEXT NOT NULL,             -- a person's entity reference, or what the catalog was doing
    origin        TEXT NOT NULL,             -- catalog | run | authoring
    entity        TEXT NOT NULL,
    files         TEXT NOT NULL,
    file_count    BIGINT NOT NULL,
    bytes         BIGINT NOT NULL,
    PRIMARY KEY (template_ref, version)
);
CREATE INDEX template_versions_newest ON template_versions (template_ref, created_at);
