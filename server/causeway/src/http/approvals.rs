//! The approvals API under `/api/approvals`: applies to environments that need an approval wait
//! here, bound to their plan, until an approver decides. Everyone signed in may read them; who
//! may decide is the domain's rule (`provision/approvals.rs`), which these handlers only call.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use causeway_platform::identity::Principal;
use causeway_platform::provision::approvals::{self, ApprovalFilter, ApprovalStatus, Decision};
use serde::Deserialize;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::approvals::{Approval, Approved, DecisionBody};
use super::dto::tasks::Task;
use super::error::ApiError;

/// `GET /api/approvals` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `approved`, `rejected` or `void`.
    #[param(nullable = false)]
    pub status: Option<String>,
    /// The component, e.g. `payments-api` or `component:default/payments-api`.
    #[param(nullable = false)]
    pub service: Option<String>,
    #[param(nullable = false)]
    pub environment: Option<String>,
    /// At most this many, newest first (default 100; brought into 1 to 500).
    #[param(nullable = false)]
    pub limit: Option<i64>,
}

/// The approval as `principal` sees it.
pub fn view(state: &AppState, principal: &Principal, approval: &approvals::Approval) -> Approval {
    let can_decide = approval.status == ApprovalStatus::Pending
        && state.provisioner.may_decide(principal, approval).is_ok();
    Approval::new(approval, can_decide)
}

#[utoipa::path(get, path = "/api/approvals", operation_id = "list_approvals", tag = "approvals", params(ListQuery),
    responses((status = 200, description = "Approvals, newest first", body = Vec<Approval>),
        (status = 400, description = "Unknown status, a malformed service reference or query string", body = ErrorEnvelope)))]
/// `GET /api/approvals`
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Approval>>, ApiError> {
    let query = super::error::query(query)?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(ApprovalStatus::named(text).ok_or_else(|| {
            ApiError::from(causeway_platform::Error::invalid(
                "status",
                format!("{text:?} is not a status; expected pending, approved, rejected or void"),
            ))
        })?),
    };
    let filter = ApprovalFilter {
        status,
        service: query.service.filter(|s| !s.is_empty()),
        environment: query.environment.filter(|e| !e.is_empty()),
        namespace: None,
        limit: query.limit.unwrap_or(100),
    };
    let found = state.provisioner.approvals(&filter).await?;
    Ok(Json(
        found.iter().map(|a| view(&state, &principal, a)).collect(),
    ))
}

#[utoipa::path(get, path = "/api/approvals/{id}", operation_id = "get_approval", tag = "approvals", params(("id" = String, Path)),
    responses((status = 200, description = "The approval with its plan, its decision, and why it is void if it is", body = Approval),
        (status = 404, description = "No such approval", body = ErrorEnvelope)))]
/// `GET /api/approvals/{id}`
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Approval>, ApiError> {
    let approval = state.provisioner.approval(&id).await?;
    Ok(Json(view(&state, &principal, &approval)))
}

fn body(
    body: Result<Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<DecisionBody, ApiError> {
    super::error::json_body(body)
}

#[utoipa::path(post, path = "/api/approvals/{id}/approve", operation_id = "approve", tag = "approvals", params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, description = "Approved: the plan recomputed had the approved hash, and its apply task started; follow it at `/api/tasks/{id}`", body = Approved),
        (status = 400, description = "Malformed body, or a comment that is too long", body = ErrorEnvelope),
        (status = 403, description = "The requester, or neither an approver nor a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such approval", body = ErrorEnvelope),
        (status = 409, description = "Already decided, or the plan changed (the approval is now void and the message says which part changed), or the namespace has an unfinished task", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The cluster or the database is unreachable; the approval still waits", body = ErrorEnvelope)))]
/// `POST /api/approvals/{id}/approve`
pub async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    decision: Result<Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Approved>, ApiError> {
    let decision = body(decision)?;
    let (approval, task) = state
        .provisioner
        .decide(
            &state.platform.tasks,
            &principal,
            &id,
            Decision::Approve,
            &decision.comment,
            request_id(&headers).as_deref(),
        )
        .await?;
    let task = task.ok_or_else(|| {
        ApiError::from(causeway_platform::Error::Conflict(format!(
            "approval {id} started no apply"
        )))
    })?;
    Ok(Json(Approved {
        approval: view(&state, &principal, &approval),
        task: Task::from(&task),
    }))
}

#[utoipa::path(post, path = "/api/approvals/{id}/reject", operation_id = "reject", tag = "approvals", params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, description = "Rejected; nothing is applied", body = Approval),
        (status = 400, description = "Malformed body, or no comment (a rejection says why), or one that is too long", body = ErrorEnvelope),
        (status = 403, description = "The requester, or neither an approver nor a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such approval", body = ErrorEnvelope),
        (status = 409, description = "Already decided", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/approvals/{id}/reject`
pub async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    decision: Result<Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Approval>, ApiError> {
    let decision = body(decision)?;
    let (approval, _) = state
        .provisioner
        .decide(
            &state.platform.tasks,
            &principal,
            &id,
            Decision::Reject,
            &decision.comment,
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok(Json(view(&state, &principal, &approval)))
}
