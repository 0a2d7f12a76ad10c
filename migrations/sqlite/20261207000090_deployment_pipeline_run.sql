-- The PipelineRun that made a deployment, as "namespace/name", when the sender knows it (the
-- Tekton adapter always does; other senders may give `pipelineRun` in the event). The portal links
-- a recent deployment to its run with it. Existing rows have none.
ALTER TABLE delivery_deployments ADD COLUMN pipeline_run TEXT;
