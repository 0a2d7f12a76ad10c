-- Template upgrades: one row per service and target template version, the outcome of the last
-- attempt to move that service to that version (see `scaffolder/fleet/`). A row is written when
-- an upgrade is asked for (`pending`), and by the upgrade task when it has opened the change:
-- `current` (nothing to change), `open` (a clean change request), `conflict` (a change request
-- with conflicts marked), `failed` (the attempt failed; `message` says why); later `merged` or
-- `closed` as the git server reports the change request. Timestamps are milliseconds since the
-- Unix epoch.
CREATE TABLE template_upgrades (
    service        TEXT NOT NULL,            -- the service's normalised entity reference
    to_version     TEXT NOT NULL,            -- the template version the upgrade moves it to
    template       TEXT NOT NULL,            -- the template's normalised entity reference
    from_version   TEXT NOT NULL,
    status         TEXT NOT NULL,            -- pending | current | open | conflict | failed | merged | closed
    branch         TEXT,
    change_url     TEXT,
    change_number  BIGINT,
    conflicts      TEXT NOT NULL,            -- JSON array of paths
    notes          TEXT NOT NULL,            -- JSON array of sentences (files kept deleted, …)
    message        TEXT,                     -- why a failed attempt failed
    task_id        TEXT,                     -- the task that made (or makes) the attempt
    requested_by   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (service, to_version)
);
CREATE INDEX template_upgrades_template ON template_upgrades (template, status);
