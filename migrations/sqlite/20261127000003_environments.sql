-- Provisioned environments: the last accepted request for each service and environment, which the
-- drift reconciler renders again, and the drift it has seen. Timestamps are milliseconds since the
-- Unix epoch.

CREATE TABLE environments (
    namespace    TEXT PRIMARY KEY,
    service      TEXT NOT NULL,               -- the component's normalised entity reference
    environment  TEXT NOT NULL,
    target       TEXT NOT NULL,               -- cluster name, or git:<cluster> for a GitOps target
    parameters   TEXT NOT NULL,               -- JSON object of the request's --set values
    request_id   TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL,               -- applying | ready | failed | committed | destroying
    message      TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (service, environment)
);

CREATE TABLE drift_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    object    TEXT NOT NULL,                  -- Kind/name
    change    TEXT NOT NULL,                  -- modified | deleted | conflict
    detail    TEXT NOT NULL,                  -- JSON: the fields that differ, or the server's message
    action    TEXT NOT NULL,                  -- restored | reported | failed
    at        BIGINT NOT NULL
);
CREATE INDEX drift_events_namespace ON drift_events (namespace, id);
