//! The portal's approval decision: one form on an environment's card with a comment and two
//! buttons (approve, reject). It posts like any form, so it works without JavaScript; an error
//! (not an approver, the plan changed and the approval is void) comes back to the page in its
//! address.

use leptos::prelude::*;

use crate::error::PortalError;

/// Approves (then shows the apply task it started) or rejects (then shows the environments) the
/// approval `id`, as the signed-in user; the domain decides whether they may.
#[server(prefix = "/api/portal", endpoint = "approval-decide")]
pub async fn decide_approval(
    id: String,
    decision: String,
    comment: String,
) -> Result<(), PortalError> {
    use causeway_platform::provision::approvals::Decision;

    use crate::model::ref_path;
    use crate::server::environments as view;
    use crate::server::{domain_error, platform, request_id, require_principal};

    let principal = require_principal()?;
    let provisioner = view::provisioner()?;
    let decision = match decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return Err(crate::server::failed(PortalError::invalid(format!(
                "decision: {other:?} is neither approve nor reject"
            ))));
        }
    };
    let decided = provisioner
        .decide(
            &platform()?.tasks,
            &principal,
            &id,
            decision,
            &comment,
            request_id().as_deref(),
        )
        .await;
    let (approval, task) = match decided {
        Ok(decided) => decided,
        Err(error @ causeway_platform::Error::Forbidden(_)) => {
            return Err(crate::server::domain_error(error));
        }
        Err(error) => return Err(domain_error(error)),
    };
    match task {
        Some(task) => leptos_axum::redirect(&format!("/tasks/{}", task.id)),
        None => leptos_axum::redirect(&format!(
            "{}/environments#environment-{}",
            ref_path(&approval.service),
            approval.environment
        )),
    }
    Ok(())
}
