-- Delivery events (see `delivery/`): deployments, changes (commits) and incidents per service, as
-- sent to `POST /api/events`. Timestamps are milliseconds since the Unix epoch.
--
-- `delivery_events` is the ledger that makes ingestion idempotent: an event is recorded once per
-- (source, id), as CloudEvents identifies an event, and a repeated event changes nothing else.
CREATE TABLE delivery_events (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,              -- deployment | change | incident
    service      TEXT NOT NULL,              -- the service's normalised entity reference
    received_at  BIGINT NOT NULL,
    received_by  TEXT NOT NULL,              -- who posted it (an entity reference)
    PRIMARY KEY (source, id)
);

-- One row per deployment; a deployment is named by its event's id within its service.
CREATE TABLE delivery_deployments (
    service      TEXT NOT NULL,
    id           TEXT NOT NULL,
    environment  TEXT NOT NULL,
    version      TEXT NOT NULL,              -- the version or commit deployed
    status       TEXT NOT NULL,              -- succeeded | failed | rolled_back
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL,
    PRIMARY KEY (service, id)
);
CREATE INDEX delivery_deployments_finished ON delivery_deployments (service, environment, finished_at);

-- The commits a deployment contains. A commit may be in several deployments (a redeploy, a
-- rollback, each environment); the metrics count it once, at the first successful production
-- deployment that contains it.
CREATE TABLE delivery_deployment_commits (
    service      TEXT NOT NULL,
    deployment   TEXT NOT NULL,
    sha          TEXT NOT NULL,
    PRIMARY KEY (service, deployment, sha)
);

-- One row per commit of a service: when it was authored, the start of its lead time.
CREATE TABLE delivery_changes (
    service      TEXT NOT NULL,
    sha          TEXT NOT NULL,
    authored_at  BIGINT NOT NULL,
    PRIMARY KEY (service, sha)
);

-- One row per incident of a service, named by the sender's incident id; a later event for the
-- same incident fills in its resolution.
CREATE TABLE delivery_incidents (
    service      TEXT NOT NULL,
    id           TEXT NOT NULL,
    opened_at    BIGINT NOT NULL,
    resolved_at  BIGINT,
    severity     TEXT NOT NULL,
    caused_by    TEXT,                       -- the deployment (of the same service) that caused it
    PRIMARY KEY (service, id)
);
