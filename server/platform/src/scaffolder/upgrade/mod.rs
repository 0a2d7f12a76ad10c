//! Upgrading one service to a newer version of its template, as a reviewed change.
//!
//! The service's descriptor records the template, the version and the answers it was created
//! with (`catalog:write` stamps them). The engine renders that version (A) with those answers —
//! the files the repository received, the merge base — and the target version (B) with the same
//! answers (`render.rs`; parameters new in B take their defaults, `answers.rs`), then three-way
//! merges B's changes into the repository as it is now (`merge.rs`): the team's edits are kept,
//! files the team deleted stay deleted, and conflicts are marked in the files and listed. The
//! result is a branch on the service's git host (`repository.rs`), with a pull request on Gitea
//! (`change.rs`); the default branch is never written to.

mod access;
mod answers;
mod change;
mod merge;
mod naming;
mod render;
mod repository;
mod scratch;

use serde::Serialize;
use serde_json::{Value, json};

use super::Scaffolder;
use super::actions::{SOURCE_TEMPLATE, TEMPLATE_ANSWERS, TEMPLATE_TASK, TEMPLATE_VERSION};
use super::template::Template;
use crate::audit::{Entry, Outcome};
use crate::identity::Principal;
use crate::{Error, Result};

pub use naming::{branch_name, trailer};

use naming::{author, short, summary};
use repository::Repository;

/// What upgrading a service is asked with.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    /// The service's entity, as the catalog holds it.
    pub service: Value,
    /// The version the service was created from (A).
    pub base: Template,
    pub base_version: String,
    /// The version to move it to (B).
    pub target: Template,
    pub target_version: String,
    /// The answers the service was created with; the caller may add values for parameters that
    /// are new in B and have no default.
    pub answers: Value,
    pub requester: Principal,
    pub request_id: Option<String>,
}

/// How an upgrade ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpgradeStatus {
    /// The repository already holds everything B changes; nothing was pushed.
    Current,
    /// A change that merges cleanly is waiting for review.
    Open,
    /// A change with conflicts, marked in the files, is waiting for the team to resolve them.
    Conflict,
}

impl UpgradeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Open => "open",
            Self::Conflict => "conflict",
        }
    }
}

/// What an upgrade did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeOutcome {
    pub status: UpgradeStatus,
    /// The upgrade's branch, unless nothing needed changing.
    pub branch: Option<String>,
    /// The commit at the head of the branch.
    pub commit: Option<String>,
    /// The pull request's page on Gitea; `None` on hosts without change requests (the embedded
    /// `local` host, plain git hosts), where the branch is the change.
    pub change_url: Option<String>,
    pub change_number: Option<i64>,
    /// Files with conflicts, marked in the branch.
    pub conflicts: Vec<String>,
    /// Files the team deleted and the template changed: they stay deleted.
    pub kept_deleted: Vec<String>,
    /// Anything else the reviewers should know, one sentence each (new parameters given their
    /// defaults, a branch found from an earlier run).
    pub notes: Vec<String>,
}

/// Where a change request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeState {
    Open,
    Merged,
    Closed,
}

impl ChangeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }
}

/// The field of an annotation, as errors name it.
fn annotation_field(name: &str) -> String {
    format!("metadata.annotations[\"{name}\"]")
}

/// An annotation of `entity`, or an error naming it.
fn annotation<'a>(entity: &'a Value, name: &str) -> Result<&'a str> {
    entity
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                annotation_field(name),
                "is missing: the service was not created from a template by Causeway, so there is nothing to upgrade from",
            )
        })
}

/// The entity's normalised reference.
fn entity_ref(entity: &Value) -> String {
    let text = |pointer: &str, default: &str| {
        entity
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_lowercase()
    };
    format!(
        "{}:{}/{}",
        text("/kind", "component"),
        text("/metadata/namespace", "default"),
        text("/metadata/name", "")
    )
}

impl Scaffolder {
    /// Upgrades the service from version A to version B of its template: a branch (and, on
    /// Gitea, a pull request) with B's changes merged into the repository as it is now. The
    /// service's owning team and platform admins may; the default branch is never written to.
    /// Run again with the same versions, it finds its own branch and change request.
    pub async fn upgrade_service(&self, request: &UpgradeRequest) -> Result<UpgradeOutcome> {
        let service = self.catalog_copy(&request.service)?;
        let service_ref = entity_ref(&service);
        self.authorize_upgrade(&request.requester, &service_ref, &service)?;
        let recorded_version = annotation(&service, TEMPLATE_VERSION)?;
        let template_ref = annotation(&service, SOURCE_TEMPLATE)?.to_lowercase();
        let task_id = annotation(&service, TEMPLATE_TASK)?.to_owned();
        if recorded_version != request.base_version {
            return Err(Error::invalid(
                "base_version",
                format!(
                    "{service_ref} is on version {recorded_version} of {template_ref}, not {}; upgrade it from the version its descriptor records",
                    request.base_version
                ),
            ));
        }
        for (field, template) in [("base", &request.base), ("target", &request.target)] {
            if template.entity_ref != template_ref {
                return Err(Error::invalid(
                    field,
                    format!(
                        "is {}, but {service_ref} was created from {template_ref}",
                        template.entity_ref
                    ),
                ));
            }
        }
        if request.target_version == request.base_version {
            return Err(Error::invalid(
                "target_version",
                format!("{service_ref} is on {} already", request.target_version),
            ));
        }
        let settings = self.git.as_ref().ok_or_else(|| {
            Error::invalid(
                "git_dir",
                "this Causeway is not set up with git hosts, so it cannot upgrade services",
            )
        })?;
        let repository = Repository::of(&service, settings)?;
        // The base is what the repository received: the answers its descriptor records, not
        // the request's, which may add values for B's new parameters.
        let recorded: Value = serde_json::from_str(annotation(&service, TEMPLATE_ANSWERS)?)
            .map_err(|e| {
                Error::invalid(
                    annotation_field(TEMPLATE_ANSWERS),
                    format!("is not JSON: {e}"),
                )
            })?;
        let creator = self.creator(&task_id, &request.requester).await?;
        let owners = self.owners(&service_ref, &service);
        let target_answers = self.target_answers(request, &owners, &creator.user_ref)?;
        self.check_policies(&request.target, &target_answers.values, &request.requester)
            .await?;
        let base = self
            .render_version(
                "base",
                &request.base,
                recorded,
                Default::default(),
                &task_id,
                &request.base_version,
                &creator,
            )
            .await?;
        let target = self
            .render_version(
                "target",
                &request.target,
                target_answers.values,
                target_answers.secrets,
                &task_id,
                &request.target_version,
                &creator,
            )
            .await?;
        let plan = merge::Plan {
            remote: repository.url.clone(),
            auth: repository.git_header()?,
            default_branch: repository.branch.clone().or(target.default_branch),
            branch: branch_name(&request.target.name, &request.target_version),
            trailer: trailer(&template_ref, &request.target_version),
            title: format!(
                "Upgrade to {} {}",
                request.target.title,
                short(&request.target_version)
            ),
            author: author(&request.requester),
            base: base.files,
            target: target.files,
            notes: target_answers.notes,
        };
        let merged = tokio::task::spawn_blocking(move || merge::run(&plan))
            .await
            .map_err(|e| Error::Cluster(format!("the upgrade stopped: {e}")))?
            .map_err(|e| repository.error(e))?;
        let mut outcome = UpgradeOutcome {
            status: merged.status,
            branch: merged.commit.as_ref().map(|_| merged.branch.clone()),
            commit: merged.commit.clone(),
            change_url: None,
            change_number: None,
            conflicts: merged.conflicts,
            kept_deleted: merged.kept_deleted,
            notes: merged.notes,
        };
        let mut opened = false;
        if outcome.status != UpgradeStatus::Current && repository.is_gitea() {
            let body = summary(&outcome.conflicts, &outcome.kept_deleted, &outcome.notes);
            let change = repository
                .open_change(
                    &merged.branch,
                    &merged.default_branch,
                    &merged.title,
                    &body,
                    merged.pushed,
                )
                .await?;
            opened = change.created;
            outcome.change_url = Some(change.url);
            outcome.change_number = Some(change.number);
        }
        // Only what changed on the git server is recorded: a run that found its branch and its
        // pull request as they were wrote nothing.
        if merged.pushed || opened {
            self.audit_upgrade(request, &service_ref, &outcome).await;
        }
        Ok(outcome)
    }

    /// Where an upgrade's change stands: on Gitea its pull request (`number`, or the newest for
    /// `branch`), merged, closed or open; elsewhere whether the default branch contains the
    /// branch's head (merged), the branch is gone (closed), or neither (open).
    pub async fn change_state(
        &self,
        service: &Value,
        branch: &str,
        number: Option<i64>,
    ) -> Result<ChangeState> {
        let service = self.catalog_copy(service)?;
        let settings = self.git.as_ref().ok_or_else(|| {
            Error::invalid(
                "git_dir",
                "this Causeway is not set up with git hosts, so it cannot follow changes",
            )
        })?;
        let repository = Repository::of(&service, settings)?;
        if repository.is_gitea() {
            return repository.change_state(branch, number).await;
        }
        let remote = repository.url.clone();
        let auth = repository.git_header()?;
        let default_branch = repository.branch.clone();
        let branch = branch.to_owned();
        tokio::task::spawn_blocking(move || {
            merge::state(&remote, auth.as_deref(), default_branch, &branch)
        })
        .await
        .map_err(|e| Error::Cluster(format!("reading the change stopped: {e}")))?
        .map_err(|e| repository.error(e))
    }

    /// Records what the upgrade wrote to the git server: the branch, its commit and the change
    /// request. A record that cannot be written is logged rather than failing the upgrade, as for
    /// template runs: the change exists on the git server either way, and reporting a failure
    /// would have the caller try again and find it, with nothing left to record.
    async fn audit_upgrade(
        &self,
        request: &UpgradeRequest,
        service_ref: &str,
        outcome: &UpgradeOutcome,
    ) {
        let Some(services) = &self.services else {
            return;
        };
        let recorded = services
            .audit
            .record(Entry {
                actor: &request.requester.entity_ref,
                action: "scaffolder.upgrade.change",
                target: service_ref,
                outcome: Outcome::Success,
                detail: json!({
                    "template": request.target.entity_ref,
                    "from_version": request.base_version,
                    "to_version": request.target_version,
                    "status": outcome.status.as_str(),
                    "branch": outcome.branch,
                    "commit": outcome.commit,
                    "change_url": outcome.change_url,
                    "conflicts": outcome.conflicts,
                }),
                request_id: request.request_id.as_deref(),
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, service = %service_ref, "could not audit a template upgrade");
        }
    }
}
