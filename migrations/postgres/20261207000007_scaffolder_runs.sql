-- A template run's state between steps: the outputs of the steps so far, the workspace (JSON,
-- zstd-compressed, base64) and what the run created, so that a worker that takes the task over
-- resumes with exactly what the last finished step left. Secrets live beside it only until the
-- run ends, never in the task's input.
CREATE TABLE scaffolder_runs (
    task_id TEXT PRIMARY KEY,
    template_ref TEXT NOT NULL,
    template_version TEXT NOT NULL,
    state TEXT NOT NULL,
    secrets TEXT,
    updated_at BIGINT NOT NULL
);
