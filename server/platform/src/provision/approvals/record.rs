//! What an approval leaves behind besides its row: an audit record for every request, decision
//! and refusal, and a notification to the configured webhooks for every request and decision.

use serde_json::{Value, json};

use super::Approval;
use crate::Result;
use crate::audit::{Entry, Outcome};
use crate::notify::Notification;
use crate::provision::Provisioner;

impl Provisioner {
    pub(super) async fn audit_approval(
        &self,
        actor: &str,
        action: &str,
        approval: &Approval,
        outcome: Outcome,
        extra: Value,
        request_id: &str,
    ) -> Result<()> {
        let mut detail = json!({
            "approval": approval.id,
            "service": approval.service,
            "environment": approval.environment,
            "set": approval.parameters,
            "plan_hash": approval.plan_hash,
            "requested_by": approval.requester.entity_ref,
            "status": approval.status.as_str(),
            "comment": approval.comment,
            "reason": approval.reason,
            "task": approval.task_id,
        });
        if let (Some(detail), Value::Object(extra)) = (detail.as_object_mut(), extra) {
            detail.extend(extra);
        }
        self.audit
            .record(Entry {
                actor,
                action,
                target: &approval.namespace,
                outcome,
                detail,
                request_id: Some(request_id),
            })
            .await
    }

    /// Tells the configured webhooks; a receiver that is down is logged and changes nothing.
    pub(super) async fn notify(&self, kind: &str, approval: &Approval) {
        let webhooks = self.config().notifications.webhooks.clone();
        if webhooks.is_empty() {
            return;
        }
        let data = json!({
            "id": approval.id,
            "rule": approval.rule,
            "approvers": approval.approvers,
            "service": approval.service,
            "environment": approval.environment,
            "namespace": approval.namespace,
            "parameters": approval.parameters,
            "requested_by": approval.requester.entity_ref,
            "plan_hash": approval.plan_hash,
            "status": approval.status.as_str(),
            "decided_by": approval.decided_by,
            "comment": approval.comment,
            "reason": approval.reason,
            "task": approval.task_id,
        });
        let notification = Notification::new(kind, &approval.id, data);
        self.notifier.send(&webhooks, &notification).await;
    }
}
