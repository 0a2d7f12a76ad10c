-- The task that last took an environment's record (an apply's or a destroy's): how a task that
-- ends tells its own record from one a later task has taken since, and what fences its writes.
ALTER TABLE environments ADD COLUMN task_id TEXT;
