//! The approvals API's transfer objects: an approval with the plan it is bound to, a decision's
//! body, and what an approve answers.

use std::collections::BTreeMap;

use causeway_platform::provision::approvals;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::provision::PlanStep;
use super::tasks::Task;

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    /// Waiting for an approver.
    Pending,
    /// Approved with the plan unchanged; `task_id` is the apply.
    Approved,
    /// Rejected; `comment` says why.
    Rejected,
    /// The plan changed before it was approved, or a newer request superseded it; `reason` says
    /// why and `changes` lists each part that changed.
    Void,
}

impl From<approvals::ApprovalStatus> for ApprovalState {
    fn from(status: approvals::ApprovalStatus) -> Self {
        match status {
            approvals::ApprovalStatus::Pending => Self::Pending,
            approvals::ApprovalStatus::Approved => Self::Approved,
            approvals::ApprovalStatus::Rejected => Self::Rejected,
            approvals::ApprovalStatus::Void => Self::Void,
        }
    }
}

/// One part of a plan that changed between the request and the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlanChange {
    /// `request` (the request no longer passes its checks), `parameters`, `objects` (the
    /// rendering changed: the catalog entity or the configuration) or `live` (the cluster or the
    /// GitOps repository changed).
    pub part: String,
    /// The object concerned (`Kind/name`), if any.
    pub object: Option<String>,
    pub detail: String,
}

impl From<&approvals::PlanChange> for PlanChange {
    fn from(change: &approvals::PlanChange) -> Self {
        Self {
            part: change.part.clone(),
            object: change.object.clone(),
            detail: change.detail.clone(),
        }
    }
}

/// An apply that waits for (or has had) a decision, with the plan it is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Approval {
    pub id: String,
    /// The approval rule that required it.
    pub rule: String,
    /// Groups whose members may decide (platform admins may too; never the requester).
    pub approvers: Vec<String>,
    /// The component's entity reference.
    pub service: String,
    pub environment: String,
    pub namespace: String,
    /// The request's parameters, as asked.
    pub parameters: BTreeMap<String, String>,
    /// What those parameters resolve to (`cpu_millis`, `memory_mib`, `pods`, `availability`).
    pub resolved: BTreeMap<String, String>,
    pub adopt: bool,
    pub request_id: String,
    pub requested_by: String,
    /// SHA-256 over the rendered objects, the parameters and the plan's steps against the live
    /// target; the apply runs only while the plan recomputed has this hash.
    pub plan_hash: String,
    /// The plan as it was when requested: what would happen to each object.
    pub steps: Vec<PlanStep>,
    pub status: ApprovalState,
    pub reason: Option<String>,
    pub changes: Vec<PlanChange>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    /// The apply task an approval started.
    pub task_id: Option<String>,
    pub created_at_millis: i64,
    pub decided_at_millis: Option<i64>,
    /// Whether the caller may approve or reject it now.
    pub can_decide: bool,
}

impl Approval {
    /// `approval` as the caller sees it; `can_decide` comes from the domain's rule.
    pub fn new(approval: &approvals::Approval, can_decide: bool) -> Self {
        Self {
            id: approval.id.clone(),
            rule: approval.rule.clone(),
            approvers: approval.approvers.clone(),
            service: approval.service.clone(),
            environment: approval.environment.clone(),
            namespace: approval.namespace.clone(),
            parameters: approval.parameters.clone(),
            resolved: approval.plan.parameters.clone(),
            adopt: approval.adopt,
            request_id: approval.request_id.clone(),
            requested_by: approval.requester.entity_ref.clone(),
            plan_hash: approval.plan_hash.clone(),
            steps: approval.plan.steps.iter().map(PlanStep::from).collect(),
            status: approval.status.into(),
            reason: approval.reason.clone(),
            changes: approval.changes.iter().map(PlanChange::from).collect(),
            decided_by: approval.decided_by.clone(),
            comment: approval.comment.clone(),
            task_id: approval.task_id.clone(),
            created_at_millis: approval.created_at_millis,
            decided_at_millis: approval.decided_at_millis,
            can_decide,
        }
    }
}

/// The body of an approve or a reject.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why; required to reject, at most 2000 characters.
    #[serde(default)]
    pub comment: String,
}

/// What an approve answers: the approval and the apply task it started.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Approved {
    pub approval: Approval,
    pub task: Task,
}
