-- Durable tasks: long actions (provisioning, destroying, golden-path runs) stored so that a
-- worker that dies mid-way is replaced by another once its lease expires. Timestamps are
-- milliseconds since the Unix epoch.

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,               -- e.g. provision.apply
    title            TEXT NOT NULL,
    input            TEXT NOT NULL,               -- JSON
    requester        TEXT NOT NULL,               -- entity reference of the user
    owner            TEXT,                        -- the team the task acts for
    subject          TEXT,                        -- what it changes (a namespace); one active task each
    status           TEXT NOT NULL,               -- open | processing | completed | failed | cancelled
    attempts         BIGINT NOT NULL DEFAULT 0,  -- how often a worker has claimed it
    lease_owner      TEXT,                        -- the claim holding it: worker and claim token
    lease_expires_at BIGINT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    output           TEXT,                        -- JSON
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX tasks_claim ON tasks (status, created_at);
CREATE INDEX tasks_requester ON tasks (requester, created_at);
-- Two tasks never change one thing at once: an apply and a destroy of one environment, say.
CREATE UNIQUE INDEX tasks_one_active_per_subject ON tasks (subject)
    WHERE subject IS NOT NULL AND status IN ('open', 'processing');

CREATE TABLE task_steps (
    task_id     TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,                    -- pending | running | completed | failed | cancelled
    attempts    BIGINT NOT NULL DEFAULT 0,
    started_at  BIGINT,
    finished_at BIGINT,
    message     TEXT,
    PRIMARY KEY (task_id, position)
);

CREATE TABLE task_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    step    TEXT,
    level   TEXT NOT NULL,                        -- info | warn | error
    message TEXT NOT NULL,
    worker  TEXT                                  -- the worker that wrote it
);
CREATE INDEX task_events_task ON task_events (task_id, id);
