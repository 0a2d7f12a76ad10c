//! Provisioning as durable tasks: an apply or a destroy is checked when it is submitted (so a
//! wrong request is answered at once, field by field, and stores nothing), then stored as a task
//! whose steps a worker runs. Every step is idempotent (server-side apply by name, deletes that
//! accept "already gone", an upserted record), so a task resumed after a crash converges.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, join_all};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::apply::{Change, adopt_one, apply_one};
use super::config::Target;
use super::ownership::LiveNamespace;
use super::plan::Step;
use super::records::Status;
use super::{Prepared, Provisioner, Request, Requester};
use crate::audit::{Entry, Outcome};
use crate::tasks::runner::{Context, Handler, StepError};
use crate::tasks::{NewTask, Task, TaskStatus, Tasks};
use crate::{Error, Result};

/// Task kinds.
pub const APPLY: &str = "provision.apply";
pub const DESTROY: &str = "provision.destroy";

/// A request as stored in a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Input {
    service: String,
    environment: String,
    #[serde(default)]
    set: BTreeMap<String, String>,
    request_id: String,
    requester: (String, String, String),
    namespace: String,
    /// Adopt an existing namespace (a platform admin's request, checked when it was submitted).
    #[serde(default)]
    adopt: bool,
    /// The approved plan's hash, for an apply an approval started: checked again before
    /// anything is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan_hash: Option<String>,
}

impl Input {
    fn of(request: &Request, namespace: &str) -> Self {
        Self {
            service: request.service.clone(),
            environment: request.environment.clone(),
            set: request.set.clone(),
            request_id: request.request_id.clone(),
            requester: (
                request.requester.entity_ref.clone(),
                request.requester.name.clone(),
                request.requester.email.clone(),
            ),
            namespace: namespace.to_owned(),
            adopt: request.adopt,
            plan_hash: None,
        }
    }

    fn request(&self) -> Request {
        Request {
            service: self.service.clone(),
            environment: self.environment.clone(),
            set: self.set.clone(),
            request_id: self.request_id.clone(),
            requester: Requester {
                entity_ref: self.requester.0.clone(),
                name: self.requester.1.clone(),
                email: self.requester.2.clone(),
            },
            adopt: self.adopt,
        }
    }
}

fn step_error(error: Error) -> StepError {
    match error {
        // The cluster, the repository or the database was unavailable: worth another try.
        Error::Cluster(message) => StepError::transient(message),
        Error::Database(e) => StepError::transient(e.to_string()),
        other => StepError::permanent(other.to_string()),
    }
}

/// What a step answers when its claim no longer holds the task: it stops without writing, and
/// the runner leaves the task to the worker that took it over.
fn lease_lost() -> StepError {
    StepError::permanent("this worker no longer holds the task; it wrote nothing more")
}

/// Stops a step before a write that cannot be made conditional on the lease (a call to a
/// cluster, a commit) when the lease is already gone.
async fn still_holding(context: &Context) -> std::result::Result<(), StepError> {
    if context.holds().await {
        Ok(())
    } else {
        Err(lease_lost())
    }
}

/// The client for `prepared`'s cluster, once its live namespace has proved Causeway's and the
/// lease is still held: what a step checks right before it writes into the namespace.
async fn ours_and_held(
    engine: &Provisioner,
    context: &Context,
    prepared: &Prepared,
) -> std::result::Result<kube::Client, StepError> {
    let client = engine
        .client_for(&prepared.environment)
        .await
        .map_err(step_error)?;
    engine
        .live_namespace_of(&client, prepared)
        .await
        .map_err(step_error)?
        .require_ours(&prepared.instance.namespace, &prepared.instance.service_ref)
        .map_err(step_error)?;
    still_holding(context).await?;
    Ok(client)
}

/// Stops a step whose fenced database write found the lease gone.
fn written(done: bool) -> std::result::Result<(), StepError> {
    if done { Ok(()) } else { Err(lease_lost()) }
}

fn steps(names: &[(&str, &str)]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|(name, title)| ((*name).to_owned(), (*title).to_owned()))
        .collect()
}

impl Provisioner {
    /// Checks `request` and stores a task that applies it. An environment that needs an
    /// approval is refused here: doors call [`Provisioner::request_apply`], which stops at one.
    pub async fn submit_apply(&self, tasks: &Tasks, request: &Request) -> Result<Task> {
        if let Some(rule) = self.config().approval_for(&request.environment) {
            return Err(Error::Forbidden(format!(
                "{} needs an approval from {} (rule {:?}); request it instead of applying directly",
                request.environment,
                rule.approvers.join(", "),
                rule.name
            )));
        }
        self.start_apply(tasks, request, None).await
    }

    /// Checks `request` and stores a task that applies it, bound to `plan_hash` when an approval
    /// started it.
    pub(crate) async fn start_apply(
        &self,
        tasks: &Tasks,
        request: &Request,
        plan_hash: Option<&str>,
    ) -> Result<Task> {
        let prepared = self.prepare(request)?;
        // Policies are asked again when an approved apply starts: one changed since the request
        // was made still has its say.
        self.check_policies(request, &prepared).await?;
        self.guard_namespace(
            &prepared.instance.namespace,
            &self.service_ref(&request.service)?,
        )
        .await?;
        self.check_target(&prepared).await?;
        let plan = match prepared.environment.target {
            Target::Cluster { .. } => steps(&[
                ("check", "Check the request against the guardrails"),
                ("record", "Record the request"),
                ("namespace", "Apply the namespace"),
                ("objects", "Apply the environment's objects"),
                ("prune", "Remove objects no longer rendered"),
                ("verify", "Verify every object is as desired"),
            ]),
            Target::Gitops { .. } => steps(&[
                ("check", "Check the request against the guardrails"),
                ("record", "Record the request"),
                ("commit", "Commit the manifests to the GitOps repository"),
            ]),
        };
        let mut input = Input::of(request, &prepared.instance.namespace);
        input.plan_hash = plan_hash.map(str::to_owned);
        self.submit(tasks, APPLY, "Provision", &prepared, input, plan)
            .await
    }

    /// Checks `request` (protected environments and other services' namespaces are refused now)
    /// and stores a task that destroys the environment.
    pub async fn submit_destroy(&self, tasks: &Tasks, request: &Request) -> Result<Task> {
        let located = self.locate_for_removal(request).await?;
        let plan = match located.environment.target {
            Target::Cluster { .. } => steps(&[
                ("check", "Check the request"),
                ("mark", "Stop drift correction for the environment"),
                ("delete", "Delete the namespace and wait until it is gone"),
                ("forget", "Forget the environment"),
            ]),
            Target::Gitops { .. } => steps(&[
                ("check", "Check the request"),
                ("mark", "Stop drift correction for the environment"),
                ("commit", "Commit the removal to the GitOps repository"),
                ("forget", "Forget the environment"),
            ]),
        };
        let owner = self.prepare(request).ok().map(|p| p.owner);
        let namespace = &located.namespace;
        tasks
            .create(NewTask {
                kind: DESTROY.to_owned(),
                title: format!(
                    "Destroy {} in {} ({namespace})",
                    located.service, located.environment.name
                ),
                input: serde_json::to_value(Input::of(request, namespace)).unwrap_or_default(),
                requester: request.requester.entity_ref.clone(),
                owner,
                subject: Some(namespace.clone()),
                steps: plan,
            })
            .await
    }

    async fn submit(
        &self,
        tasks: &Tasks,
        kind: &str,
        verb: &str,
        prepared: &Prepared,
        input: Input,
        steps: Vec<(String, String)>,
    ) -> Result<Task> {
        let namespace = &prepared.instance.namespace;
        let requester = input.requester.0.clone();
        tasks
            .create(NewTask {
                kind: kind.to_owned(),
                title: format!(
                    "{verb} {} in {} ({namespace})",
                    prepared.instance.service, prepared.environment.name
                ),
                input: serde_json::to_value(input).unwrap_or_default(),
                requester,
                owner: Some(prepared.owner.clone()),
                subject: Some(namespace.clone()),
                steps,
            })
            .await
    }

    /// The handlers a task runner needs for provisioning.
    pub fn task_handlers(&self) -> BTreeMap<String, Arc<dyn Handler>> {
        BTreeMap::from([
            (
                APPLY.to_owned(),
                Arc::new(ApplyTask(self.clone())) as Arc<dyn Handler>,
            ),
            (
                DESTROY.to_owned(),
                Arc::new(DestroyTask(self.clone())) as Arc<dyn Handler>,
            ),
        ])
    }
}

fn input(context: &Context) -> std::result::Result<Input, StepError> {
    serde_json::from_value(context.input.clone())
        .map_err(|e| StepError::permanent(format!("the task's input is unreadable: {e}")))
}

/// Applies an environment.
struct ApplyTask(Provisioner);

impl ApplyTask {
    async fn step(&self, context: &Context, step: &str) -> std::result::Result<(), StepError> {
        let engine = &self.0;
        let input = input(context)?;
        let request = input.request();
        let prepared = engine.prepare(&request).map_err(step_error)?;
        match step {
            "check" => {
                engine.check_target(&prepared).await.map_err(step_error)?;
                if let Some(plan_hash) = &input.plan_hash {
                    engine
                        .check_plan(&prepared, &request, plan_hash)
                        .await
                        .map_err(step_error)?;
                    context
                        .log(step, format!("the approved plan {plan_hash} is unchanged"))
                        .await;
                }
                context
                    .log(
                        step,
                        format!(
                            "{} objects for namespace {} in {}",
                            prepared.bundle.len(),
                            prepared.instance.namespace,
                            prepared.environment.name
                        ),
                    )
                    .await;
            }
            "record" => {
                let record = engine.record_of(&prepared, &request).map_err(step_error)?;
                engine
                    .guard_namespace(&record.namespace, &record.service)
                    .await
                    .map_err(step_error)?;
                let fence = context.fence();
                written(
                    engine
                        .records
                        .begin(&record, Some(&fence))
                        .await
                        .map_err(step_error)?,
                )?;
            }
            "namespace" => {
                let client = engine
                    .client_for(&prepared.environment)
                    .await
                    .map_err(step_error)?;
                let Some(namespace) = prepared.bundle.first() else {
                    return Err(StepError::permanent("the bundle is empty"));
                };
                let live = engine
                    .check_live(&client, &prepared)
                    .await
                    .map_err(step_error)?;
                still_holding(context).await?;
                let applied = if matches!(live, LiveNamespace::Foreign { .. }) {
                    engine
                        .audit_adoption(&request, &prepared.instance.namespace, &live)
                        .await
                        .map_err(step_error)?;
                    context
                        .warn(step, format!("adopting {}", prepared.instance.namespace))
                        .await;
                    adopt_one(&client, namespace).await.map_err(failure)?
                } else {
                    apply_one(&client, namespace).await.map_err(failure)?
                };
                context.log(step, describe(&applied)).await;
            }
            "objects" => {
                let client = ours_and_held(engine, context, &prepared).await?;
                let results = join_all(
                    prepared
                        .bundle
                        .iter()
                        .skip(1)
                        .map(|d| apply_one(&client, d)),
                )
                .await;
                let mut failures = Vec::new();
                for result in results {
                    match result {
                        Ok(applied) => context.log(step, describe(&applied)).await,
                        Err(failed) => {
                            context
                                .warn(step, format!("{}: {}", failed.object, failed.message))
                                .await;
                            failures.push(failed);
                        }
                    }
                }
                if let Some(conflict) = failures.iter().find(|f| f.conflict) {
                    return Err(StepError::permanent(format!(
                        "{}: {}",
                        conflict.object, conflict.message
                    )));
                }
                if !failures.is_empty() {
                    return Err(StepError::transient(format!(
                        "{} object(s) could not be applied",
                        failures.len()
                    )));
                }
            }
            "prune" => {
                let client = ours_and_held(engine, context, &prepared).await?;
                let (deleted, failed) =
                    engine.prune(&client, &prepared).await.map_err(step_error)?;
                for object in &deleted {
                    context.log(step, format!("deleted {object}")).await;
                }
                if deleted.is_empty() {
                    context.log(step, "nothing to remove").await;
                }
                if let Some(failure) = failed.first() {
                    return Err(StepError::transient(format!(
                        "{}: {}",
                        failure.object, failure.message
                    )));
                }
            }
            "verify" => {
                let plan = engine.plan_prepared(&prepared).await.map_err(step_error)?;
                let pending: Vec<String> = plan
                    .steps
                    .iter()
                    .filter(|s| !matches!(s, Step::Unchanged { .. }))
                    .map(|s| serde_json::to_string(s).unwrap_or_default())
                    .collect();
                if !pending.is_empty() {
                    return Err(StepError::transient(format!(
                        "not yet as desired: {}",
                        pending.join("; ")
                    )));
                }
                let fence = context.fence();
                written(
                    engine
                        .records
                        .set_status(
                            &prepared.instance.namespace,
                            Status::Ready,
                            None,
                            Some(&fence),
                        )
                        .await
                        .map_err(step_error)?,
                )?;
                context
                    .log(step, format!("{} objects as desired", plan.steps.len()))
                    .await;
                context.set_output(json!({ "namespace": prepared.instance.namespace, "objects": plan.steps.len() }));
            }
            "commit" => {
                let Target::Gitops {
                    repository,
                    cluster,
                } = &prepared.environment.target
                else {
                    return Err(StepError::permanent("not a GitOps environment"));
                };
                still_holding(context).await?;
                let report = engine
                    .commit(&prepared, &request, repository, cluster)
                    .await
                    .map_err(step_error)?;
                match &report.commit {
                    Some(commit) => context.log(step, format!("committed {commit}")).await,
                    None => context.log(step, "nothing changed; no commit").await,
                }
                let fence = context.fence();
                written(
                    engine
                        .records
                        .set_status(
                            &prepared.instance.namespace,
                            Status::Committed,
                            None,
                            Some(&fence),
                        )
                        .await
                        .map_err(step_error)?,
                )?;
                context.set_output(
                    json!({ "namespace": prepared.instance.namespace, "commit": report.commit }),
                );
            }
            other => return Err(StepError::permanent(format!("unknown step {other:?}"))),
        }
        Ok(())
    }
}

fn describe(applied: &super::apply::Applied) -> String {
    let change = match applied.change {
        Change::Created => "created",
        Change::Updated => "updated",
        Change::Unchanged => "unchanged",
    };
    format!("{change} {}", applied.object)
}

fn failure(failed: super::apply::Failure) -> StepError {
    let message = format!("{}: {}", failed.object, failed.message);
    if failed.conflict {
        StepError::permanent(message)
    } else {
        StepError::transient(message)
    }
}

impl Handler for ApplyTask {
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
            let Ok(input) = input(context) else {
                return;
            };
            // Only the record this task took is marked: a task stopped before it recorded
            // anything, or whose record a later task has taken, leaves the environment as it is.
            if status != TaskStatus::Completed
                && let Err(e) = self
                    .0
                    .records
                    .set_status_if_taken_by(
                        &input.namespace,
                        &context.id,
                        Status::Failed,
                        Some(error.unwrap_or("cancelled")),
                        &context.fence(),
                    )
                    .await
            {
                tracing::warn!(error = %e, "could not record a failed apply");
            }
            finish_audit(&self.0, context, APPLY, &input, status, error).await;
        })
    }
}

/// Destroys an environment.
struct DestroyTask(Provisioner);

impl DestroyTask {
    async fn step(&self, context: &Context, step: &str) -> std::result::Result<(), StepError> {
        let engine = &self.0;
        let input = input(context)?;
        let request = input.request();
        let located = engine.locate(&request).map_err(step_error)?;
        let namespace = &located.namespace;
        match step {
            "check" => {
                engine
                    .locate_for_removal(&request)
                    .await
                    .map_err(step_error)?;
                context.log(step, format!("namespace {namespace}")).await;
            }
            "mark" => written(
                engine
                    .mark_destroying(&located, Some(&context.fence()))
                    .await
                    .map_err(step_error)?,
            )?,
            "delete" | "commit" => {
                still_holding(context).await?;
                match engine
                    .remove_objects(&located, &request)
                    .await
                    .map_err(step_error)?
                {
                    Some(commit) => context.log(step, format!("committed {commit}")).await,
                    None if step == "commit" => context.log(step, "nothing to remove").await,
                    None => context.log(step, format!("{namespace} is gone")).await,
                }
            }
            "forget" => {
                written(
                    engine
                        .records
                        .remove(namespace, Some(&context.fence()))
                        .await
                        .map_err(step_error)?,
                )?;
                context.set_output(json!({ "namespace": namespace }));
            }
            other => return Err(StepError::permanent(format!("unknown step {other:?}"))),
        }
        Ok(())
    }
}

impl Handler for DestroyTask {
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
            let Ok(input) = input(context) else {
                return;
            };
            // Only a record this destroy took (its `mark` step ran) is marked failed: a destroy
            // refused or cancelled before that leaves a healthy environment as it was, drift
            // correction included.
            if status != TaskStatus::Completed
                && let Err(e) = self
                    .0
                    .records
                    .set_status_if_taken_by(
                        &input.namespace,
                        &context.id,
                        Status::Failed,
                        Some(error.unwrap_or("cancelled")),
                        &context.fence(),
                    )
                    .await
            {
                tracing::warn!(error = %e, "could not record a failed destroy");
            }
            finish_audit(&self.0, context, DESTROY, &input, status, error).await;
        })
    }
}

/// Records how a provisioning task ended, as its requester.
async fn finish_audit(
    engine: &Provisioner,
    context: &Context,
    action: &str,
    input: &Input,
    status: TaskStatus,
    error: Option<&str>,
) {
    let entry = Entry {
        actor: &input.requester.0,
        action,
        target: &input.namespace,
        outcome: if status == TaskStatus::Completed {
            Outcome::Success
        } else {
            Outcome::Failed
        },
        detail: json!({ "service": input.service, "environment": input.environment, "set": input.set, "task": context.id, "status": status.as_str(), "error": error }),
        request_id: Some(&input.request_id),
    };
    if let Err(e) = engine.audit.record(entry).await {
        tracing::warn!(error = %e, "could not audit a provisioning task");
    }
}
