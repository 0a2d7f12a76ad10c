//! An environment's approval on its card: the plan it is bound to, its decision or why it is
//! void, and for an approver a form with a comment and two buttons. Rendered on the server only,
//! like the rest of the environments tab.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::environments::PlanTable;
use crate::api::DecideApproval;
use crate::model::ApprovalView;

#[component]
pub fn ApprovalPanel(approval: ApprovalView) -> impl IntoView {
    let ApprovalView {
        id,
        status,
        requested_by,
        requested_at,
        approvers,
        parameters,
        plan_hash,
        steps,
        decided_by,
        decided_at,
        comment,
        reason,
        changes,
        task_href,
        can_decide,
        refused,
    } = approval;
    let pending = status == "pending";
    let heading = match status.as_str() {
        "pending" => "Waiting for approval",
        "approved" => "Approved",
        "rejected" => "Rejected",
        _ => "Approval void",
    };
    let comment_id = format!("approval-comment-{id}");
    let parameters = if parameters.is_empty() {
        "the environment's defaults".to_owned()
    } else {
        parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <section class="approval" data-testid="approval" data-status=status.clone() aria-label="Approval">
            <h3 class="subheading">
                {heading} " "
                <span class=format!("status status--{status}") data-testid="approval-status">{status.clone()}</span>
            </h3>
            <dl class="pairs">
                <div class="pairs__item"><dt>"Requested"</dt><dd>{requested_at} " by " {requested_by}</dd></div>
                <div class="pairs__item"><dt>"Parameters"</dt><dd>{parameters}</dd></div>
                <div class="pairs__item"><dt>"Approvers"</dt><dd>{approvers} " (or platform admins; never the requester)"</dd></div>
                <div class="pairs__item"><dt>"Plan"</dt><dd><code data-testid="approval-plan-hash">{plan_hash}</code></dd></div>
                {decided_by.map(|by| view! {
                    <div class="pairs__item"><dt>"Decided"</dt><dd>{decided_at.unwrap_or_default()} " by " {by}</dd></div>
                })}
                {comment.map(|c| view! {
                    <div class="pairs__item"><dt>"Comment"</dt><dd data-testid="approval-comment">{c}</dd></div>
                })}
            </dl>
            {reason.map(|r| view! {
                <div class="error-box" role="alert" data-testid="approval-void">
                    <p>{r}</p>
                    {(!changes.is_empty()).then(|| view! {
                        <ul>{changes.into_iter().map(|(part, detail)| view! { <li><strong>{part}</strong> ": " {detail}</li> }).collect_view()}</ul>
                    })}
                    <p>"Request the change again to get a new plan approved."</p>
                </div>
            })}
            {task_href.map(|href| view! { <p><a href=href data-testid="approval-task">"The apply this approval started"</a></p> })}
            <details open=pending>
                <summary>"The plan this approval is bound to"</summary>
                <PlanTable steps />
            </details>
            {if can_decide {
                view! {
                    <form method="post" action=DecideApproval::url() class="form" data-testid="approval-form">
                        <input type="hidden" name="id" value=id />
                        <label for=comment_id.clone()>"Comment (required to reject)"</label>
                        <textarea id=comment_id name="comment" rows="3" maxlength="2000"></textarea>
                        <div class="form__actions">
                            <button type="submit" name="decision" value="approve" class="button button--primary">"Approve and apply"</button>
                            <button type="submit" name="decision" value="reject" class="button button--danger">"Reject"</button>
                        </div>
                    </form>
                }
                    .into_any()
            } else {
                refused.map(|r| view! { <p class="notice" data-testid="approval-refused">{r}</p> }).into_any()
            }}
        </section>
    }
}
