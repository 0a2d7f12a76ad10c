//! `causeway:provision`: requests a service's environment through the provisioning engine, as the
//! requester — the same checks as any other door (the owning team or a platform admin, the
//! guardrails, a namespace that is not someone else's) — and waits for the apply to finish.
//! Applying is idempotent, so a run resumed after a crash simply applies again.
//!
//! The apply is the provisioning engine's own task (audited, fenced, one at a time per
//! namespace). The step runs that task itself when no other worker has claimed it yet, rather
//! than waiting for one: a run waiting on a task that only a busy pool of workers could run
//! would otherwise starve when every worker is a run waiting in the same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::super::runs::Created;
use super::{Action, ActionContext, ActionError, ActionSpec};
use crate::identity::Directory;
use crate::provision::approvals::Submission;
use crate::provision::{Provisioner, Request, Requester};
use crate::tasks::runner::{Runner, Settings};
use crate::tasks::{Task, TaskStatus, Tasks};

/// How long a run waits for its environment.
const WAIT: Duration = Duration::from_secs(15 * 60);
/// How long it waits for another unfinished task on the same namespace to end.
const BUSY: Duration = Duration::from_secs(120);
/// The longest pause between two looks at the apply task being waited for.
const POLL: Duration = Duration::from_millis(300);

pub fn actions(
    provisioner: Provisioner,
    tasks: Tasks,
    directory: Directory,
) -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Provision {
        provisioner,
        tasks,
        directory,
        spec: ActionSpec {
            id: "causeway:provision",
            description: "Requests a service's environment (namespace, pipeline, dashboards) through Causeway's provisioning engine, as the requester, and waits until it is ready; an environment that needs an approval ends the step at the pending approval.",
            input: json!({
                "type": "object",
                "required": ["service", "environment"],
                "properties": {
                    "service": { "type": "string", "description": "The component, e.g. component:default/ledger" },
                    "environment": { "type": "string", "description": "dev, staging, prod or preview with the default configuration" },
                    "set": { "type": "object", "additionalProperties": { "type": ["string", "number"] }, "description": "Parameters: cpu, memory, pods" }
                }
            }),
            output: json!({
                "type": "object",
                "properties": {
                    "namespace": { "type": "string" },
                    "environment": { "type": "string" },
                    "task": { "type": "string" },
                    "approval": { "type": "string", "description": "When the environment needs an approval: the pending approval's id (no task is started until it is approved)" }
                }
            }),
            examples: vec![(
                "The new service's dev environment",
                "steps:\n  - id: environment\n    action: causeway:provision\n    input:\n      service: ${{ steps.register.output.entityRef }}\n      environment: dev\n",
            )],
            dry_run: false,
            example_output: json!({ "namespace": "<example>", "environment": "<example>", "task": "<example>" }),
        },
    })]
}

struct Provision {
    provisioner: Provisioner,
    tasks: Tasks,
    directory: Directory,
    spec: ActionSpec,
}

impl Action for Provision {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn run<'a>(&'a self, cx: &'a mut ActionContext<'_>) -> BoxFuture<'a, Result<(), ActionError>> {
        async move { self.provision(cx).await }.boxed()
    }

    fn undo<'a>(
        &'a self,
        created: &'a Created,
        task: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        async move { self.remove(created, task).await }.boxed()
    }
}

fn domain(error: crate::Error) -> ActionError {
    match error {
        crate::Error::Database(_) | crate::Error::Cluster(_) => {
            ActionError::transient(error.to_string())
        }
        other => ActionError::input(other.to_string()),
    }
}

impl Provision {
    /// Destroys the environment when its record still holds this run's request (a later apply
    /// by anyone else makes it theirs), through the provisioning engine's own destroy task.
    async fn remove(&self, created: &Created, task: &str) -> Result<String, ActionError> {
        let namespace = &created.id;
        let Some(record) = self
            .provisioner
            .records()
            .get(namespace)
            .await
            .map_err(|e| ActionError::transient(e.to_string()))?
        else {
            return Ok(format!("The environment {namespace} is already gone"));
        };
        if record.request_id != task {
            return Err(ActionError::input(format!(
                "the environment {namespace} was applied again since this run; it is left in place"
            )));
        }
        let principal = self
            .directory
            .principal(&record.requested_by)
            .await
            .map_err(|e| ActionError::input(format!("the environment's requester: {e}")))?;
        let request = Request {
            service: record.service.clone(),
            environment: record.environment.clone(),
            set: BTreeMap::new(),
            request_id: task.to_owned(),
            requester: Requester::of(&principal),
            adopt: false,
        };
        let destroy = self
            .provisioner
            .submit_destroy(&self.tasks, &request)
            .await
            .map_err(domain)?;
        let ended = self
            .run_and_wait(&destroy.id, &format!("cleanup:{task}"))
            .await?;
        match ended.status {
            TaskStatus::Completed => Ok(format!("Destroyed the environment {namespace}")),
            _ => Err(ActionError::input(format!(
                "the environment {namespace} could not be destroyed: {}",
                ended
                    .error
                    .unwrap_or_else(|| ended.status.as_str().to_owned())
            ))),
        }
    }

    /// Runs task `id` here unless another worker already has it, then waits for it to end.
    /// Usually another worker of this server took the task as it was created and finishes it
    /// within a few hundred milliseconds: it is looked at often at first, then every 300 ms.
    async fn run_and_wait(&self, id: &str, worker: &str) -> Result<Task, ActionError> {
        let runner = Runner::new(
            self.tasks.clone(),
            self.provisioner.task_handlers(),
            worker.to_owned(),
            Settings::default(),
        );
        runner
            .run_task(id)
            .await
            .map_err(|e| ActionError::transient(e.to_string()))?;
        let deadline = Instant::now() + WAIT;
        let mut poll = Duration::from_millis(10);
        loop {
            let current = self
                .tasks
                .get(id)
                .await
                .map_err(|e| ActionError::transient(e.to_string()))?
                .ok_or_else(|| ActionError::input(format!("task {id} disappeared")))?;
            if current.status.is_final() {
                return Ok(current);
            }
            if Instant::now() > deadline {
                return Err(ActionError::transient(format!(
                    "task {id} is still running after {} minutes",
                    WAIT.as_secs() / 60
                )));
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(POLL);
        }
    }

    async fn provision(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let principal = self
            .directory
            .principal(&cx.run.user_ref)
            .await
            .map_err(|e| ActionError::input(format!("the requester: {e}")))?;
        let set: BTreeMap<String, String> = cx
            .input
            .get("set")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let text = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let request = Request {
            service: cx.string("service").unwrap_or_default(),
            environment: cx.string("environment").unwrap_or_default(),
            set,
            request_id: cx.run.task_id.clone(),
            requester: Requester::of(&principal),
            adopt: false,
        };
        self.provisioner
            .authorize_request(&principal, &request)
            .map_err(domain)?;
        let started = Instant::now();
        let task = loop {
            match self.provisioner.request_apply(&self.tasks, &request).await {
                Ok(Submission::Task(task)) => break *task,
                // The environment needs an approval: the run ends here with the approval's id,
                // and the apply starts when an approver approves the unchanged plan.
                Ok(Submission::Approval(approval)) => {
                    cx.log(format!(
                        "{} of {} waits for approval {} by {}; it is applied once approved",
                        request.environment,
                        request.service,
                        approval.id,
                        approval.approvers.join(", ")
                    ));
                    for (key, value) in [
                        ("namespace", approval.namespace),
                        ("environment", approval.environment),
                        ("approval", approval.id),
                    ] {
                        cx.output.insert(key.into(), Value::String(value));
                    }
                    return Ok(());
                }
                // Another apply or destroy of this namespace has not finished: wait for it.
                Err(crate::Error::Conflict(message))
                    if message.contains("has not finished") && started.elapsed() < BUSY =>
                {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(domain(e)),
            }
        };
        cx.log(format!(
            "Requested {} of {} (task {})",
            request.environment, request.service, task.id
        ));
        let namespace = task
            .input
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        cx.created.push(Created {
            action: String::new(),
            kind: "environment".to_owned(),
            id: namespace.clone(),
            detail: json!({ "service": request.service, "environment": request.environment, "task": task.id }),
        });
        let ended = self
            .run_and_wait(&task.id, &format!("{}:{}", cx.run.task_id, cx.step_id))
            .await?;
        if ended.status != TaskStatus::Completed {
            return Err(ActionError::input(format!(
                "the environment could not be provisioned (task {}): {}",
                task.id,
                ended
                    .error
                    .unwrap_or_else(|| ended.status.as_str().to_owned())
            )));
        }
        cx.log(format!("{namespace} is ready"));
        cx.output
            .insert("namespace".into(), Value::String(namespace));
        cx.output.insert(
            "environment".into(),
            Value::String(request.environment.clone()),
        );
        cx.output.insert("task".into(), Value::String(task.id));
        Ok(())
    }
}
