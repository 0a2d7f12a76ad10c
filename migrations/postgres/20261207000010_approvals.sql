-- Approvals bound to the exact plan: an apply to an environment that needs approval stops here
-- until an approver decides. `plan_hash` is the SHA-256 over the rendered objects, the parameters
-- and the plan's steps against the live target when the request was made; an approval is only
-- carried out while the plan recomputed at decision time has the same hash. `plan` keeps what
-- the hash was computed from (JSON: the steps, one hash per object, the catalog entity's and the
-- environment configuration's hashes), so that a void approval can say which part changed.
-- Timestamps are milliseconds since the Unix epoch.
CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,            -- the approval rule's name in the configuration
    approvers       TEXT NOT NULL,            -- JSON array of group references
    service         TEXT NOT NULL,            -- the component's normalised entity reference
    environment     TEXT NOT NULL,
    namespace       TEXT NOT NULL,
    parameters      TEXT NOT NULL,            -- JSON object of the request's --set values
    adopt           BIGINT NOT NULL,          -- 1 when the request adopts a foreign namespace
    request_id      TEXT NOT NULL,
    requested_by    TEXT NOT NULL,            -- entity reference of the requester
    requester_name  TEXT NOT NULL,
    requester_email TEXT NOT NULL,
    plan_hash       TEXT NOT NULL,
    plan            TEXT NOT NULL,
    status          TEXT NOT NULL,            -- pending | approved | rejected | void
    reason          TEXT,                     -- why a void approval is void
    changes         TEXT,                     -- JSON array: the parts of the plan that changed
    decided_by      TEXT,
    comment         TEXT,
    task_id         TEXT,                     -- the apply task an approval started
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT
);
CREATE INDEX approvals_namespace ON approvals (namespace, created_at);
CREATE INDEX approvals_status ON approvals (status, created_at);
