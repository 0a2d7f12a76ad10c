-- Named leases among replicas: background work that must run in one process at a time (the drift
-- reconciler) is done by whoever holds its lease. Timestamps are milliseconds since the Unix epoch.

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
