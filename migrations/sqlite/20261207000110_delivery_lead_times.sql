-- DORA's change lead time per commit (see `delivery/dora.rs`): when the commit was authored (the
-- earliest report) and when it was first shipped, the finish of the first successful production
-- deployment (environment `prod`) that contains it. Ingestion keeps these rows in the same
-- transaction as the deployments, commits and changes they are drawn from (`delivery/storage.rs`),
-- so that the measures read the commits shipped in a range from one index instead of joining
-- every production deployment with its commits and their authored times.
CREATE TABLE delivery_lead_times (
    service      TEXT NOT NULL,
    sha          TEXT NOT NULL,
    authored_at  BIGINT,                     -- unknown until a change or a deployment reports it
    shipped_at   BIGINT,                     -- not shipped to production yet
    PRIMARY KEY (service, sha)
);
CREATE INDEX delivery_lead_times_shipped ON delivery_lead_times (shipped_at, service, authored_at);

-- The events recorded before this table.
INSERT INTO delivery_lead_times (service, sha, authored_at)
SELECT service, sha, authored_at FROM delivery_changes;
INSERT INTO delivery_lead_times (service, sha, shipped_at)
SELECT c.service, c.sha, MIN(d.finished_at)
FROM delivery_deployment_commits c
JOIN delivery_deployments d ON d.service = c.service AND d.id = c.deployment
WHERE d.environment = 'prod' AND d.status = 'succeeded'
GROUP BY c.service, c.sha
ON CONFLICT (service, sha) DO UPDATE SET shipped_at = excluded.shipped_at;
