//! What the portal shows of an approval: an apply waiting for an approver, bound to its plan.

use serde::{Deserialize, Serialize};

use super::PlanStep;

/// An environment's latest approval, as its card shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub id: String,
    /// `pending`, `approved`, `rejected` or `void`.
    pub status: String,
    pub requested_by: String,
    pub requested_at: String,
    /// The groups whose members may decide, joined for reading.
    pub approvers: String,
    /// The request's parameters, as asked.
    pub parameters: Vec<(String, String)>,
    /// The hash the apply is bound to.
    pub plan_hash: String,
    /// The plan as it was when requested.
    pub steps: Vec<PlanStep>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: Option<String>,
    /// Why a void approval is void, and each part of the plan that changed (part, detail).
    pub reason: Option<String>,
    pub changes: Vec<(String, String)>,
    /// The apply an approval started.
    pub task_href: Option<String>,
    /// Whether the signed-in user may approve or reject it now.
    pub can_decide: bool,
    /// Why the signed-in user may not, when it is pending and they may not.
    pub refused: Option<String>,
}
