//! Building the approval part of an environment's card from the provisioning engine. Who may
//! decide is the domain's rule (`Provisioner::may_decide`); the card only shows its answer.

use causeway_platform::Error;
use causeway_platform::identity::Principal;
use causeway_platform::provision::Provisioner;
use causeway_platform::provision::approvals::{Approval, ApprovalFilter, ApprovalStatus};
use causeway_platform::time::display;

use crate::model::ApprovalView;

/// The newest approval of `namespace`, if it ever needed one.
pub async fn latest(
    provisioner: &Provisioner,
    principal: &Principal,
    namespace: &str,
) -> Result<Option<ApprovalView>, Error> {
    let found = provisioner
        .approvals(&ApprovalFilter {
            namespace: Some(namespace.to_owned()),
            limit: 1,
            ..ApprovalFilter::default()
        })
        .await?;
    Ok(found.first().map(|a| view(provisioner, principal, a)))
}

/// `approval` as `principal` sees it.
pub fn view(provisioner: &Provisioner, principal: &Principal, approval: &Approval) -> ApprovalView {
    let pending = approval.status == ApprovalStatus::Pending;
    let refused = if pending {
        provisioner
            .may_decide(principal, approval)
            .err()
            .map(|e| e.to_string())
    } else {
        None
    };
    ApprovalView {
        id: approval.id.clone(),
        status: approval.status.as_str().to_owned(),
        requested_by: approval.requester.entity_ref.clone(),
        requested_at: display(approval.created_at_millis),
        approvers: approval.approvers.join(", "),
        parameters: approval
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        plan_hash: approval.plan_hash.clone(),
        steps: super::environments::plan_steps(&approval.plan.steps),
        decided_by: approval.decided_by.clone(),
        decided_at: approval.decided_at_millis.map(display),
        comment: approval.comment.clone(),
        reason: approval.reason.clone(),
        changes: approval
            .changes
            .iter()
            .map(|c| (c.part.clone(), c.detail.clone()))
            .collect(),
        task_href: approval.task_id.as_ref().map(|id| format!("/tasks/{id}")),
        can_decide: pending && refused.is_none(),
        refused,
    }
}
