//! The upgrade task (kind `scaffolder.upgrade`): one step per service, each rendering the
//! service's version and the target version with its recorded answers and opening the change
//! request (the upgrade engine, `super::super::upgrade`). Steps are paced, so that a fleet-wide
//! upgrade does not flood the git server, and idempotent: a service whose record already holds a
//! change request for the target version is passed over, and the engine finds its own branch
//! again. A service that cannot be upgraded (not in the catalog any more, its version never
//! stored, a conflict with the rules) is recorded as failed with the reason and the task goes on
//! with the next; only a failure that may pass (the database, the git server unreachable) stops
//! the step for the runner to retry.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::records::{Attempt, UpgradeState};
use super::{Scaffolder, answers, short};
use crate::Error;
use crate::audit::{Entry, Outcome};
use crate::scaffolder::upgrade::{UpgradeOutcome, UpgradeRequest, UpgradeStatus};
use crate::tasks::TaskStatus;
use crate::tasks::runner::{Context, Handler, StepError};

/// The task kind of upgrades.
pub const UPGRADE: &str = "scaffolder.upgrade";

impl Scaffolder {
    /// The handler the task runner uses for upgrades.
    pub fn upgrade_handlers(&self) -> BTreeMap<String, Arc<dyn Handler>> {
        BTreeMap::from([(
            UPGRADE.to_owned(),
            Arc::new(UpgradeTask {
                scaffolder: self.clone(),
                started: Mutex::default(),
            }) as Arc<dyn Handler>,
        )])
    }

    /// Upgrades one service from `from` to `to` of `template` for `requester`.
    async fn upgrade_one(
        &self,
        service: &str,
        template: &str,
        from: &str,
        to: &str,
        requester: &str,
        values: &serde_json::Map<String, Value>,
    ) -> crate::Result<UpgradeOutcome> {
        let services = self.services()?;
        let catalog = self
            .catalog
            .as_ref()
            .ok_or_else(|| Error::NotFound(service.to_owned()))?;
        let entity = {
            let index = catalog.index();
            let stored = index
                .by_ref(service)
                .ok_or_else(|| Error::NotFound(format!("{service} is no longer in the catalog")))?;
            index.body_value(stored)
        };
        let versions = self.versions()?;
        let stored = |version: &str| {
            let versions = versions.clone();
            let version = version.to_owned();
            async move {
                versions.get(template, &version).await?.ok_or_else(|| {
                    Error::NotFound(format!(
                        "version {} of {template} is not stored; it was used before Causeway kept template versions",
                        short(&version)
                    ))
                })
            }
        };
        let base = stored(from).await?;
        let target = stored(to).await?;
        // The answers the service was created with, and those given with the upgrade for
        // parameters the new version adds.
        let mut given = answers(&entity);
        if let Value::Object(map) = &mut given {
            for (name, value) in values {
                map.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        let request = UpgradeRequest {
            answers: given,
            service: entity,
            base: versions.template(&base)?,
            base_version: from.to_owned(),
            target: versions.template(&target)?,
            target_version: to.to_owned(),
            requester: services.directory.principal(requester).await?,
            request_id: None,
        };
        self.upgrade_service(&request).await
    }
}

struct UpgradeTask {
    scaffolder: Scaffolder,
    /// When each running task of this worker last started a service, for the pace: the pause
    /// makes up only what is left of it, so a service that takes longer than the pace adds no
    /// wait. A task resumed by another worker starts without a pause.
    started: Mutex<HashMap<String, Instant>>,
}

impl UpgradeTask {
    /// Waits until the pace has passed since this task last started a service here, then
    /// records this start.
    async fn pace(&self, task: &str) {
        let pace = self.scaffolder.upgrade_pace;
        let last = self
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task)
            .copied();
        if let Some(last) = last {
            let left = pace.saturating_sub(last.elapsed());
            if !left.is_zero() {
                tokio::time::sleep(left).await;
            }
        }
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task.to_owned(), Instant::now());
    }

    async fn step(&self, context: &Context, step: &str) -> Result<(), StepError> {
        let services = self
            .scaffolder
            .services()
            .map_err(|e| StepError::permanent(e.to_string()))?;
        let upgrades = self
            .scaffolder
            .upgrades()
            .map_err(|e| StepError::permanent(e.to_string()))?;
        let service = step
            .strip_prefix("upgrade ")
            .ok_or_else(|| StepError::permanent(format!("unknown step {step:?}")))?;
        let input = &context.input;
        let text = |name: &str| input.get(name).and_then(Value::as_str).unwrap_or_default();
        let (template, to) = (text("template"), text("to_version"));
        let values = input
            .get("values")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let from = input
            .get("services")
            .and_then(Value::as_array)
            .and_then(|list| list.iter().find(|s| s["service"] == service))
            .and_then(|s| s["from_version"].as_str())
            .ok_or_else(|| StepError::permanent(format!("the task does not list {service}")))?;
        self.pace(&context.id).await;
        let record = upgrades
            .get(service, to)
            .await
            .map_err(|e| StepError::transient(e.to_string()))?;
        if let Some(record) = record.as_ref().filter(|r| r.status.settled()) {
            context
                .log(
                    step,
                    format!(
                        "{service} is already {}; passed over",
                        record.status.as_str()
                    ),
                )
                .await;
            return Ok(());
        }
        if !context.holds().await {
            return Err(StepError::transient(
                "this worker no longer holds the upgrade",
            ));
        }
        let (status, attempt, outcome) = match self
            .scaffolder
            .upgrade_one(service, template, from, to, &context.requester, &values)
            .await
        {
            Ok(done) => {
                let status = match done.status {
                    UpgradeStatus::Current => UpgradeState::Current,
                    UpgradeStatus::Open => UpgradeState::Open,
                    UpgradeStatus::Conflict => UpgradeState::Conflict,
                };
                let attempt = Attempt {
                        branch: done.branch.clone(),
                        change_url: done.change_url.clone(),
                        change_number: done.change_number,
                        conflicts: done.conflicts.clone(),
                        notes: done.kept_deleted
                            .iter()
                            .map(|path| format!("{path}: deleted by the team, changed by the template; it stays deleted"))
                            .chain(done.notes.iter().cloned())
                            .collect(),
                        message: None,
                    };
                (status, attempt, Outcome::Success)
            }
            // The database, or a git server that did not answer: worth another try.
            Err(error @ (Error::Database(_) | Error::Cluster(_))) => {
                return Err(StepError::transient(error.to_string()));
            }
            Err(error) => {
                let attempt = Attempt {
                    message: Some(error.to_string()),
                    ..Attempt::default()
                };
                let outcome = match error {
                    Error::Forbidden(_) | Error::PolicyDenied(_) => Outcome::Denied,
                    _ => Outcome::Failed,
                };
                (UpgradeState::Failed, attempt, outcome)
            }
        };
        let written = upgrades
            .finish(service, to, status, &attempt, &context.fence())
            .await
            .map_err(|e| StepError::transient(e.to_string()))?;
        if !written {
            return Err(StepError::transient(
                "this worker no longer holds the upgrade",
            ));
        }
        let line = match (&attempt.change_url, &attempt.branch, &attempt.message) {
            (_, _, Some(message)) => format!("{service}: not upgraded: {message}"),
            (Some(url), _, _) => format!("{service}: {} — {url}", status.as_str()),
            (None, Some(branch), _) => format!("{service}: {} on branch {branch}", status.as_str()),
            _ => format!("{service}: {}", status.as_str()),
        };
        if status == UpgradeState::Failed {
            context.warn(step, &line).await;
        } else {
            context.log(step, &line).await;
        }
        for path in &attempt.conflicts {
            context.warn(step, format!("conflict in {path}")).await;
        }
        let entry = Entry {
            actor: &context.requester,
            action: "scaffolder.upgrade",
            target: service,
            outcome,
            detail: json!({
                "task": context.id, "template": template, "from_version": from, "to_version": to,
                "status": status.as_str(), "branch": attempt.branch, "change": attempt.change_url,
                "conflicts": attempt.conflicts, "error": attempt.message,
            }),
            request_id: None,
        };
        if let Err(error) = services.audit.record(entry).await {
            tracing::warn!(%error, "could not audit an upgrade");
        }
        Ok(())
    }
}

impl Handler for UpgradeTask {
    fn run_step<'a>(
        &'a self,
        context: &'a Context,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(self.step(context, step))
    }

    fn finished<'a>(
        &'a self,
        context: &'a Context,
        status: TaskStatus,
        _error: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&context.id);
            let Ok(upgrades) = self.scaffolder.upgrades() else {
                return;
            };
            let to = context
                .input
                .get("to_version")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
            let listed = context
                .input
                .get("services")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for entry in &listed {
                let Some(service) = entry["service"].as_str() else {
                    continue;
                };
                if let Ok(Some(record)) = upgrades.get(service, to).await {
                    *counts.entry(record.status.as_str()).or_default() += 1;
                }
            }
            context.set_output(json!({ "status": status.as_str(), "services": counts }));
        })
    }
}
