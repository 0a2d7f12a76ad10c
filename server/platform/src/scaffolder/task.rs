//! Template runs as durable tasks (kind `scaffolder.run`): one task step per template step, so a
//! run's progress, retries, cancellation and resumption after a crash are the task runner's.
//! Each step loads the state the previous step saved (`runs.rs`), runs through the engine, and
//! saves what it left under the task's lease; a step that fails or is interrupted leaves the
//! saved state untouched, so running it again starts from exactly the same workspace.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::engine::{Run, StepStatus};
use super::versions::ORIGIN_RUN;
use super::{Request, Scaffolder};
use crate::audit::{Entry, Outcome};
use crate::identity::Principal;
use crate::tasks::runner::{Context, Handler, StepError};
use crate::tasks::{NewTask, Task, TaskStatus};
use crate::{Error, Result};

/// The task kind of template runs.
pub const RUN: &str = "scaffolder.run";

/// What a run's task stores as its input: never its secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Input {
    /// The template entity as it was when the run was requested.
    pub template: Value,
    pub template_ref: String,
    pub version: String,
    /// The answers, secret fields removed.
    pub values: Value,
    #[serde(default)]
    pub user_entity: Value,
}

impl Scaffolder {
    /// The handler the task runner uses for template runs.
    pub fn task_handlers(&self) -> BTreeMap<String, Arc<dyn Handler>> {
        BTreeMap::from([(
            RUN.to_owned(),
            Arc::new(RunTask(self.clone())) as Arc<dyn Handler>,
        )])
    }

    /// Checks a request to run the catalog template `template_ref` and stores it as a task; the
    /// answers are validated first, so a wrong request stores nothing.
    pub async fn submit(
        &self,
        template_ref: &str,
        mut request: Request,
        principal: &Principal,
    ) -> Result<Task> {
        let services = self.services()?;
        let entity_ref = crate::catalog::refs::parse(template_ref.trim(), "template", "default")
            .map_err(|e| Error::invalid("templateRef", e))?;
        if !entity_ref.starts_with("template:") {
            return Err(Error::invalid(
                "templateRef",
                format!("{template_ref:?} is not a template; only kind Template can be run"),
            ));
        }
        let template = self.catalog_template(&entity_ref)?;
        self.prepare_answers(&template, &mut request, principal)?;
        self.check_policies(&template, &request.values, principal)
            .await?;
        // The version is stored before the run, so every run's version can be rendered again
        // (upgrades) and the run's steps read exactly the files it names.
        let version = self
            .versions()?
            .capture(&template, &principal.entity_ref, ORIGIN_RUN)
            .await?
            .version;
        let input = Input {
            template: template.entity.clone(),
            template_ref: template.entity_ref.clone(),
            version: version.clone(),
            values: request.values.clone(),
            user_entity: self.user_entity(principal),
        };
        let task = services
            .tasks
            .create(NewTask {
                kind: RUN.to_owned(),
                title: format!("Create from {}", template.title),
                input: serde_json::to_value(&input).unwrap_or_default(),
                requester: principal.entity_ref.clone(),
                owner: None,
                subject: None,
                steps: template
                    .steps
                    .iter()
                    .map(|s| (s.id.clone(), s.name.clone()))
                    .collect(),
            })
            .await?;
        services
            .runs
            .create(&task.id, &template.entity_ref, &version, &request.secrets)
            .await?;
        Ok(task)
    }
}

impl Scaffolder {
    /// Runs a failed or cancelled run again from its first unfinished step, with `secrets` for
    /// the steps still to come (a run's secrets are removed when it ends).
    pub async fn retry(
        &self,
        task_id: &str,
        secrets: &serde_json::Map<String, Value>,
        principal: &Principal,
        request_id: Option<&str>,
    ) -> Result<Task> {
        let services = self.services()?;
        let task = services
            .tasks
            .get(task_id)
            .await?
            .filter(|t| t.kind == RUN)
            .ok_or_else(|| Error::NotFound(format!("task {task_id}")))?;
        if !task.cancellable_by(principal) {
            return Err(Error::Forbidden(format!(
                "task {task_id} was requested by {}; only they and platform admins may retry it",
                task.requester
            )));
        }
        services.runs.set_secrets(task_id, secrets).await?;
        services
            .tasks
            .retry_as(principal, task_id, request_id)
            .await
    }
}

/// Runs a template's steps as a task's steps.
struct RunTask(Scaffolder);

/// How long a step waits for a new run's state to be recorded: 200 looks 5 ms apart.
const STATE_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(5);
const STATE_WAIT_TRIES: u32 = 200;

fn permanent(message: impl Into<String>) -> StepError {
    StepError::permanent(message)
}

impl RunTask {
    async fn step(&self, context: &Context, step: &str) -> std::result::Result<(), StepError> {
        let scaffolder = &self.0;
        let services = scaffolder
            .services()
            .map_err(|e| permanent(e.to_string()))?;
        let input: Input = serde_json::from_value(context.input.clone())
            .map_err(|e| permanent(format!("the task's input cannot be read: {e}")))?;
        let template = run_template(scaffolder, &input).await?;
        let index = template
            .steps
            .iter()
            .position(|s| s.id == step)
            .ok_or_else(|| permanent(format!("the template has no step {step:?}")))?;
        // The state is recorded right after the task, so a worker woken by the task's creation
        // usually finds it missing for a few milliseconds: it looks again for up to a second
        // before leaving it to the runner's retries (half a second or more each).
        let mut waited = 0;
        let (mut state, secrets) = loop {
            let loaded = services
                .runs
                .load(&context.id)
                .await
                .map_err(|e| StepError::transient(e.to_string()))?;
            match loaded {
                Some(found) => break found,
                None if waited < STATE_WAIT_TRIES => {
                    waited += 1;
                    tokio::time::sleep(STATE_WAIT_STEP).await;
                }
                None => return Err(StepError::transient("the run's state is not recorded yet")),
            }
        };
        let last = index + 1 == template.steps.len();
        let run = Run {
            template: Arc::new(template),
            values: input.values.clone(),
            secrets,
            user_ref: context.requester.clone(),
            user_entity: input.user_entity.clone(),
            task_id: context.id.clone(),
            dry_run: false,
            template_version: input.version.clone(),
        };
        let result = scaffolder
            .engine
            .step(&run, index, &mut state.steps, &mut state.workspace)
            .await;
        let report = match result {
            Ok(report) => report,
            Err(failure) => {
                for line in &failure.logs {
                    context.log(step, line).await;
                }
                return Err(StepError {
                    transient: failure.error.transient,
                    message: failure.error.message,
                });
            }
        };
        for line in &report.logs {
            context.log(step, line).await;
        }
        state.created.extend(report.created);
        if last {
            let output = scaffolder
                .engine
                .output(&run, &state.steps)
                .map_err(permanent)?;
            context.set_output(output);
        }
        if !services
            .runs
            .save(&context.id, &state, &context.fence())
            .await
            .map_err(|e| StepError::transient(e.to_string()))?
        {
            return Err(StepError::transient(
                "this worker no longer holds the task; the one that does carries on",
            ));
        }
        if report.status == StepStatus::Skipped {
            context.log(step, "Skipped").await;
        }
        Ok(())
    }
}

/// The template a run's steps use: the version captured when it was submitted, so that every
/// step (and a retry days later) reads the same files whatever changed on disk since. A run
/// submitted before versions were kept, and a template that reads above its own directory (which
/// a version does not hold), read the template's location as the catalog holds it now.
async fn run_template(
    scaffolder: &Scaffolder,
    input: &Input,
) -> std::result::Result<super::Template, StepError> {
    let stored = scaffolder
        .versions()
        .map_err(|e| permanent(e.to_string()))?
        .load(&input.template_ref, &input.version)
        .await
        .map_err(|e| match e {
            Error::Database(_) => StepError::transient(e.to_string()),
            other => permanent(other.to_string()),
        })?;
    match stored {
        Some(template) if !super::versions::content::reads_outside(&template) => Ok(template),
        _ => scaffolder
            .load(
                &input.template,
                scaffolder.stored_source(&input.template_ref),
            )
            .map_err(|e| permanent(e.to_string())),
    }
}

impl Handler for RunTask {
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
            // The secrets are needed only while steps run.
            if let Err(e) = services.runs.forget_secrets(&context.id).await {
                tracing::warn!(error = %e, task = %context.id, "could not remove a run's secrets");
            }
            let template = context
                .input
                .get("template_ref")
                .and_then(Value::as_str)
                .unwrap_or("");
            let created = services.runs.created(&context.id).await.unwrap_or_default();
            let entry = Entry {
                actor: &context.requester,
                action: "scaffolder.run",
                target: template,
                outcome: if status == TaskStatus::Completed {
                    Outcome::Success
                } else {
                    Outcome::Failed
                },
                detail: json!({ "task": context.id, "status": status.as_str(), "error": error, "created": created }),
                request_id: None,
            };
            if let Err(e) = services.audit.record(entry).await {
                tracing::warn!(error = %e, "could not audit a template run");
            }
        })
    }
}
