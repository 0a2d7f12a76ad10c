//! Approvals bound to the exact plan. An apply to an environment that an approval rule covers
//! (`ProvisionConfig::approvals`; `prod` by default) does not start a task: it stops at a pending
//! approval that holds the plan — a SHA-256 over the rendered objects, the parameters and the
//! plan's steps against the live target (`fingerprint.rs`). An approver (a member of one of the
//! rule's groups, or a platform admin, but never the requester) approves or rejects it with a
//! comment. Approving computes the plan again and starts the apply only when its hash is the
//! same; otherwise the approval becomes void and says which part changed. The apply task carries
//! the hash too and checks it once more before it writes anything.
//!
//! Who may decide is decided here, not in the doors; every request and decision is audited and
//! sent to the configured webhooks (`approvals/record.rs`, `notify.rs`).

pub mod fingerprint;
mod record;
mod store;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

pub use self::fingerprint::{Fingerprint, PlanChange};
pub use self::store::ApprovalFilter;
pub(crate) use self::store::Table;
use super::config::ApprovalRule;
use super::{Prepared, Provisioner, Request, Requester};
use crate::audit::Outcome;
use crate::identity::{Principal, Role};
use crate::tasks::{Task, Tasks};
use crate::time::now_millis;
use crate::{Error, Result};

/// The longest comment a decision may carry, in characters.
pub const COMMENT_MAX: usize = 2000;

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    /// Waiting for an approver.
    Pending,
    /// Approved with the plan unchanged; its apply task was started.
    Approved,
    /// Rejected by an approver.
    Rejected,
    /// The plan changed before it was approved, or a newer request superseded it.
    Void,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Void => "void",
        }
    }

    /// The status named `text`, for filters; `None` for anything else.
    pub fn named(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            "void" => Some(Self::Void),
            _ => None,
        }
    }

    fn parse(text: &str) -> Self {
        Self::named(text).unwrap_or(Self::Void)
    }
}

/// An apply waiting for (or past) a decision, with the plan it is bound to.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: String,
    /// The approval rule that required it.
    pub rule: String,
    /// The groups whose members may decide (as configured when it was requested).
    pub approvers: Vec<String>,
    /// The component's normalised entity reference.
    pub service: String,
    pub environment: String,
    pub namespace: String,
    /// The request's parameters, as asked.
    pub parameters: BTreeMap<String, String>,
    pub adopt: bool,
    pub request_id: String,
    pub requester: Requester,
    /// The hash the apply is bound to.
    pub plan_hash: String,
    /// What the hash was computed from, steps included.
    pub plan: Fingerprint,
    pub status: ApprovalStatus,
    /// Why a void approval is void.
    pub reason: Option<String>,
    /// For a void approval, each part of the plan that changed.
    pub changes: Vec<PlanChange>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    /// The apply task an approval started.
    pub task_id: Option<String>,
    pub created_at_millis: i64,
    pub decided_at_millis: Option<i64>,
}

impl Approval {
    /// The request that is applied once approved: the one that was asked, with its request id.
    pub fn request(&self) -> Request {
        Request {
            service: self.service.clone(),
            environment: self.environment.clone(),
            set: self.parameters.clone(),
            request_id: self.request_id.clone(),
            requester: self.requester.clone(),
            adopt: self.adopt,
        }
    }
}

/// What a door gets for an apply: the task that applies it, or the approval it waits for.
#[derive(Debug, Clone)]
pub enum Submission {
    Task(Box<Task>),
    Approval(Box<Approval>),
}

/// An approve or a reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Provisioner {
    /// Every door's apply: the apply task, or — when an approval rule covers the environment —
    /// a pending approval bound to the plan. The request is checked exactly as for an apply
    /// (guardrails, the namespace's owner), so a request that could not be applied never waits
    /// for a decision.
    pub async fn request_apply(&self, tasks: &Tasks, request: &Request) -> Result<Submission> {
        let rule = self.config().approval_for(&request.environment).cloned();
        match rule {
            Some(rule) => Ok(Submission::Approval(Box::new(
                self.request_approval(&rule, request).await?,
            ))),
            None => Ok(Submission::Task(Box::new(
                self.start_apply(tasks, request, None).await?,
            ))),
        }
    }

    async fn request_approval(&self, rule: &ApprovalRule, request: &Request) -> Result<Approval> {
        let prepared = self.prepare(request)?;
        // A request the policies deny never waits for a decision.
        self.check_policies(request, &prepared).await?;
        let namespace = prepared.instance.namespace.clone();
        let service = self.service_ref(&request.service)?;
        self.guard_namespace(&namespace, &service).await?;
        self.check_target(&prepared).await?;
        let plan = self.fingerprint(&prepared).await?;
        let plan_hash = plan.hash(&prepared, request);
        // Asking again for the same plan is answered with the approval already waiting.
        let waiting = self
            .approvals
            .list(&ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                namespace: Some(namespace.clone()),
                limit: 10,
                ..ApprovalFilter::default()
            })
            .await?;
        if let Some(same) = waiting.into_iter().find(|a| {
            a.plan_hash == plan_hash && a.requester.entity_ref == request.requester.entity_ref
        }) {
            return Ok(same);
        }
        let approval = Approval {
            id: uuid::Uuid::new_v4().to_string(),
            rule: rule.name.clone(),
            approvers: rule.approvers.clone(),
            service,
            environment: prepared.environment.name.clone(),
            namespace: namespace.clone(),
            parameters: request.set.clone(),
            adopt: request.adopt,
            request_id: request.request_id.clone(),
            requester: request.requester.clone(),
            plan_hash,
            plan,
            status: ApprovalStatus::Pending,
            reason: None,
            changes: Vec::new(),
            decided_by: None,
            comment: None,
            task_id: None,
            created_at_millis: now_millis(),
            decided_at_millis: None,
        };
        let superseded = self.approvals.insert_superseding(&approval).await?;
        self.audit_approval(
            &approval.requester.entity_ref,
            "approval.request",
            &approval,
            Outcome::Success,
            json!({ "superseded": superseded }),
            &approval.request_id,
        )
        .await?;
        self.notify("approval.requested", &approval).await;
        Ok(approval)
    }

    /// The approval `id`, or [`Error::NotFound`].
    pub async fn approval(&self, id: &str) -> Result<Approval> {
        self.approvals
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("approval {id}")))
    }

    /// Approvals, newest first; `filter.service` may be a short reference (`payments-api`).
    pub async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        let mut filter = filter.clone();
        filter.service = filter
            .service
            .as_deref()
            .map(|s| self.service_ref(s))
            .transpose()?;
        self.approvals.list(&filter).await
    }

    /// Whether `principal` may decide `approval`: never its requester; members of the groups the
    /// rule names now (or, when no rule covers the environment any more, the groups named when it
    /// was requested); and platform admins, who run the clusters and could change the rule anyway.
    pub fn may_decide(&self, principal: &Principal, approval: &Approval) -> Result<()> {
        if principal.entity_ref == approval.requester.entity_ref {
            return Err(Error::Forbidden(format!(
                "you requested this change; another approver ({}) must decide it",
                approval.approvers.join(", ")
            )));
        }
        let approvers = self
            .config()
            .approval_for(&approval.environment)
            .map_or_else(|| approval.approvers.clone(), |rule| rule.approvers.clone());
        if principal.role == Role::PlatformAdmin
            || approvers.iter().any(|group| principal.is_member_of(group))
        {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "only members of {} (or platform admins) decide changes to {}",
                approvers.join(", "),
                approval.environment
            )))
        }
    }

    /// Approves (the plan is computed again and applied only if its hash is unchanged, answering
    /// the started task) or rejects approval `id`. A changed plan makes the approval void and
    /// answers [`Error::Conflict`] with the reason.
    pub async fn decide(
        &self,
        tasks: &Tasks,
        principal: &Principal,
        id: &str,
        decision: Decision,
        comment: &str,
        request_id: Option<&str>,
    ) -> Result<(Approval, Option<Task>)> {
        let comment = comment.trim();
        if comment.chars().count() > COMMENT_MAX {
            return Err(Error::invalid(
                "comment",
                format!("at most {COMMENT_MAX} characters"),
            ));
        }
        if decision == Decision::Reject && comment.is_empty() {
            return Err(Error::invalid(
                "comment",
                "a rejection says why; the requester reads it",
            ));
        }
        let approval = self.approval(id).await?;
        let request_id = request_id.unwrap_or(&approval.request_id).to_owned();
        let action = match decision {
            Decision::Approve => "approval.approve",
            Decision::Reject => "approval.reject",
        };
        if let Err(refused) = self.may_decide(principal, &approval) {
            self.audit_approval(
                &principal.entity_ref,
                action,
                &approval,
                Outcome::Denied,
                json!({ "error": refused.to_string() }),
                &request_id,
            )
            .await?;
            return Err(refused);
        }
        if approval.status != ApprovalStatus::Pending {
            return Err(already(&approval));
        }
        let comment = (!comment.is_empty()).then_some(comment);
        let by = principal.entity_ref.as_str();
        if decision == Decision::Reject {
            return self
                .reject(&approval, by, comment, &request_id)
                .await
                .map(|a| (a, None));
        }
        let changes = self.changes_since(&approval).await?;
        if !changes.is_empty() {
            let reason = fingerprint::reason(&changes);
            if !self
                .approvals
                .decide(
                    id,
                    ApprovalStatus::Void,
                    by,
                    comment,
                    Some(&reason),
                    &changes,
                )
                .await?
            {
                return Err(already(&self.approval(id).await?));
            }
            let void = self.approval(id).await?;
            self.audit_approval(
                by,
                "approval.void",
                &void,
                Outcome::Failed,
                json!({ "changes": changes }),
                &request_id,
            )
            .await?;
            self.notify("approval.void", &void).await;
            return Err(Error::Conflict(format!("approval {id} is void: {reason}")));
        }
        if !self
            .approvals
            .decide(id, ApprovalStatus::Approved, by, comment, None, &[])
            .await?
        {
            return Err(already(&self.approval(id).await?));
        }
        // The approval is taken first, so that a second approver cannot start a second apply;
        // if the task cannot be started it waits again rather than stay approved with no apply.
        let task = match self
            .start_apply(tasks, &approval.request(), Some(&approval.plan_hash))
            .await
        {
            Ok(task) => task,
            Err(error) => {
                self.approvals.reopen(id).await?;
                return Err(error);
            }
        };
        self.approvals.set_task(id, &task.id).await?;
        let approved = self.approval(id).await?;
        self.audit_approval(
            by,
            "approval.approve",
            &approved,
            Outcome::Success,
            json!({}),
            &request_id,
        )
        .await?;
        self.notify("approval.approved", &approved).await;
        Ok((approved, Some(task)))
    }

    /// Rejects the pending `approval`; nothing is applied.
    async fn reject(
        &self,
        approval: &Approval,
        by: &str,
        comment: Option<&str>,
        request_id: &str,
    ) -> Result<Approval> {
        if !self
            .approvals
            .decide(
                &approval.id,
                ApprovalStatus::Rejected,
                by,
                comment,
                None,
                &[],
            )
            .await?
        {
            return Err(already(&self.approval(&approval.id).await?));
        }
        let rejected = self.approval(&approval.id).await?;
        self.audit_approval(
            by,
            "approval.reject",
            &rejected,
            Outcome::Success,
            json!({}),
            request_id,
        )
        .await?;
        self.notify("approval.rejected", &rejected).await;
        Ok(rejected)
    }

    /// What changed in `approval`'s plan since it was requested; empty when the plan recomputed
    /// now has the same hash. A request that no longer passes its checks (the entity is gone, a
    /// guardrail now refuses it, the namespace became someone else's) is a change too; a cluster
    /// or database that cannot be reached is an error, and the approval stays pending.
    async fn changes_since(&self, approval: &Approval) -> Result<Vec<PlanChange>> {
        let request = approval.request();
        let now = async {
            let prepared = self.prepare(&request)?;
            self.guard_namespace(&prepared.instance.namespace, &approval.service)
                .await?;
            self.check_target(&prepared).await?;
            let fingerprint = self.fingerprint(&prepared).await?;
            Ok::<_, Error>((fingerprint.hash(&prepared, &request), fingerprint))
        };
        match now.await {
            Ok((hash, _)) if hash == approval.plan_hash => Ok(Vec::new()),
            Ok((_, now)) => {
                let mut changes = approval.plan.changes(&now, &approval.environment);
                if changes.is_empty() {
                    changes.push(PlanChange::new(
                        "objects",
                        None,
                        "the rendered plan differs from the approved one",
                    ));
                }
                Ok(changes)
            }
            Err(error @ (Error::Cluster(_) | Error::Database(_))) => Err(error),
            Err(Error::Conflict(message)) => Ok(vec![PlanChange::new("live", None, message)]),
            Err(error) => Ok(vec![PlanChange::new(
                "request",
                None,
                format!("the request no longer passes its checks: {error}"),
            )]),
        }
    }

    /// The fingerprint of `prepared` against the live target now.
    pub(crate) async fn fingerprint(&self, prepared: &Prepared) -> Result<Fingerprint> {
        let plan = self.plan_prepared(prepared).await?;
        let entity = {
            let index = self.catalog.index();
            index
                .by_ref(&prepared.instance.service_ref)
                .map(|e| index.body_value(e).to_string())
                .unwrap_or_default()
        };
        // Ceilings are policies now (crate::guardrails): they refuse a request before it
        // reaches an approval, so only the environment's own settings shape the plan here.
        let environment = json!({
            "environment": prepared.environment,
        });
        Ok(Fingerprint::of(
            prepared,
            plan.steps,
            fingerprint::sha256(entity.as_bytes()),
            fingerprint::sha256(environment.to_string().as_bytes()),
        ))
    }

    /// Checks, right before an approved apply writes anything, that its plan still has the
    /// approved hash.
    pub(crate) async fn check_plan(
        &self,
        prepared: &Prepared,
        request: &Request,
        plan_hash: &str,
    ) -> Result<()> {
        let now = self.fingerprint(prepared).await?;
        if now.hash(prepared, request) == plan_hash {
            Ok(())
        } else {
            Err(Error::Conflict(
                "the plan changed after it was approved; nothing was applied — request the change again"
                    .to_owned(),
            ))
        }
    }
}

/// The answer to deciding an approval that is no longer pending.
fn already(approval: &Approval) -> Error {
    Error::Conflict(format!(
        "approval {} is already {}{}",
        approval.id,
        approval.status.as_str(),
        approval
            .decided_by
            .as_deref()
            .map(|by| format!(" (by {by})"))
            .unwrap_or_default()
    ))
}
