//! Cleaning up after a run that failed or was cancelled: a task (kind `scaffolder.cleanup`) with
//! one step per thing the run created, newest first, each reversed by the action that created it
//! — which checks, live, that it is still that run's own before removing it — and audited.
//! Backstage has no such thing; a half-made service otherwise stays behind for someone to find.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::Scaffolder;
use super::task::RUN;
use crate::audit::{Entry, Outcome};
use crate::identity::Principal;
use crate::tasks::runner::{Context, Handler, StepError};
use crate::tasks::{NewTask, Task, TaskStatus};
use crate::{Error, Result};

/// The task kind of clean-ups.
pub const CLEANUP: &str = "scaffolder.cleanup";

impl Scaffolder {
    /// The handler the task runner uses for clean-ups.
    pub fn cleanup_handlers(&self) -> BTreeMap<String, Arc<dyn Handler>> {
        BTreeMap::from([(
            CLEANUP.to_owned(),
            Arc::new(CleanupTask(self.clone())) as Arc<dyn Handler>,
        )])
    }

    /// Starts cleaning up after run `run_id`, which must have failed or been cancelled; for its
    /// requester and platform admins.
    pub async fn clean_up(&self, run_id: &str, principal: &Principal) -> Result<Task> {
        let services = self.services()?;
        let run = services
            .tasks
            .get(run_id)
            .await?
            .filter(|t| t.kind == RUN && t.readable_by(principal))
            .ok_or_else(|| Error::NotFound(format!("task {run_id}")))?;
        if !run.cancellable_by(principal) {
            return Err(Error::Forbidden(format!(
                "run {run_id} was requested by {}; only they and platform admins may clean it up",
                run.requester
            )));
        }
        if !matches!(run.status, TaskStatus::Failed | TaskStatus::Cancelled) {
            return Err(Error::Conflict(format!(
                "run {run_id} is {}; only a failed or cancelled run is cleaned up",
                run.status.as_str()
            )));
        }
        let created = services.runs.created(run_id).await?;
        if created.is_empty() {
            return Err(Error::Conflict(format!(
                "run {run_id} created nothing outside its workspace; there is nothing to clean up"
            )));
        }
        let steps = created
            .iter()
            .enumerate()
            .rev()
            .map(|(i, c)| {
                (
                    format!("undo-{i}"),
                    format!("Remove the {} {}", c.kind, c.id),
                )
            })
            .collect();
        services
            .tasks
            .create(NewTask {
                kind: CLEANUP.to_owned(),
                title: format!("Clean up after {}", run.title),
                input: json!({ "run": run_id }),
                requester: principal.entity_ref.clone(),
                owner: None,
                subject: Some(format!("cleanup:{run_id}")),
                steps,
            })
            .await
    }
}

struct CleanupTask(Scaffolder);

impl CleanupTask {
    async fn step(&self, context: &Context, step: &str) -> std::result::Result<(), StepError> {
        let services = self
            .0
            .services()
            .map_err(|e| StepError::permanent(e.to_string()))?;
        let run = context
            .input
            .get("run")
            .and_then(Value::as_str)
            .ok_or_else(|| StepError::permanent("the clean-up names no run"))?;
        let index: usize = step
            .strip_prefix("undo-")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| StepError::permanent(format!("unknown step {step:?}")))?;
        let created = services
            .runs
            .created(run)
            .await
            .map_err(|e| StepError::transient(e.to_string()))?;
        let item = created
            .get(index)
            .ok_or_else(|| StepError::permanent(format!("run {run} has no item {index}")))?;
        let action = self.0.engine.actions.get(&item.action).ok_or_else(|| {
            StepError::permanent(format!(
                "the action {:?} that created {} {} is not available",
                item.action, item.kind, item.id
            ))
        })?;
        if !context.holds().await {
            return Err(StepError::transient(
                "this worker no longer holds the clean-up",
            ));
        }
        let done = action.undo(item, run).await.map_err(|e| StepError {
            transient: e.transient,
            message: e.message,
        })?;
        context.log(step, done).await;
        Ok(())
    }
}

impl Handler for CleanupTask {
    fn run_step<'a>(
        &'a self,
        context: &'a Context,
        step: &'a str,
    ) -> BoxFuture<'a, std::result::Result<(), StepError>> {
        Box::pin(self.step(context, step))
    }

    fn finished<'a>(
        &'a self,
        context: &'a Context,
        status: TaskStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(services) = self.0.services() else {
                return;
            };
            let run = context
                .input
                .get("run")
                .and_then(Value::as_str)
                .unwrap_or("");
            let entry = Entry {
                actor: &context.requester,
                action: "scaffolder.cleanup",
                target: run,
                outcome: if status == TaskStatus::Completed {
                    Outcome::Success
                } else {
                    Outcome::Failed
                },
                detail: json!({ "task": context.id, "run": run, "status": status.as_str(), "error": error }),
                request_id: None,
            };
            if let Err(e) = services.audit.record(entry).await {
                tracing::warn!(error = %e, "could not audit a clean-up");
            }
        })
    }
}
