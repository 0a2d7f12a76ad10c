//! The provisioning API under `/api/provision`: plan, apply and destroy a service's environment.
//! Everyone signed in may plan; only members of the owning team (and platform admins) may apply
//! or destroy. Applies and destroys run as durable tasks, which audit how they ended.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use causeway_platform::identity::Principal;
use causeway_platform::provision::records::Record;
use causeway_platform::provision::{EnvironmentStatus, Plan, Request, Requester};
use causeway_platform::tasks::Task;
use serde::Deserialize;

use super::AppState;
use super::auth::request_id;
use super::error::ApiError;
use super::openapi::ErrorEnvelope;

/// The body of every provisioning call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The component, e.g. `payments-api` or `component:default/payments-api`.
    pub service: String,
    /// The environment (`dev`, `staging`, `prod` by default).
    pub environment: String,
    /// Parameters overriding the environment's defaults: `cpu`, `memory`, `pods`.
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, String>,
    /// Apply only: take over an existing namespace that Causeway did not create. Platform admins
    /// only; the adoption is audited.
    #[serde(default)]
    pub adopt: bool,
}

fn request(target: Target, headers: &HeaderMap, principal: &Principal) -> Request {
    Request {
        service: target.service,
        environment: target.environment,
        set: target.set,
        request_id: request_id(headers).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        requester: Requester::of(principal),
        adopt: target.adopt,
    }
}

fn body(
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Target, ApiError> {
    target
        .map(|Json(t)| t)
        .map_err(|e| ApiError::input(format!("request body: {}", e.body_text())))
}

#[utoipa::path(post, path = "/api/provision/plan", tag = "provision", request_body = Target,
    responses((status = 200, description = "`{namespace, environment, steps: [{action: create|update|unchanged|delete|conflict, object, fields?, message?}]}`", body = Value),
        (status = 400, description = "Unknown service or environment, bad parameter, above a ceiling", body = ErrorEnvelope),
        (status = 503, description = "The cluster is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/plan`: what an apply would change; changes nothing.
pub async fn plan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Plan>, ApiError> {
    let request = request(body(target)?, &headers, &principal);
    Ok(Json(state.provisioner.plan(&request).await?))
}

#[utoipa::path(post, path = "/api/provision/apply", tag = "provision", request_body = Target,
    responses((status = 202, description = "The task that applies the request: `{id, kind, title, status, steps: [{name, title, status}], …}`; follow it at `/api/tasks/{id}` or `/api/tasks/{id}/events`", body = Value),
        (status = 400, description = "Unknown service or environment, bad parameter, above a ceiling", body = ErrorEnvelope),
        (status = 403, description = "Not a member of the owning team, or `adopt` from someone other than a platform admin", body = ErrorEnvelope),
        (status = 409, description = "The namespace exists and is not Causeway's environment of this service (adopt it as a platform admin), or holds another service's environment", body = ErrorEnvelope)))]
/// `POST /api/provision/apply`: checks the request and starts a task that creates or updates the
/// environment.
pub async fn apply(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let request = request(body(target)?, &headers, &principal);
    state
        .provisioner
        .authorize_request(&principal, &request)
        .map_err(ApiError::from)?;
    let task = state
        .provisioner
        .submit_apply(&state.platform.tasks, &request)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(task)))
}

#[utoipa::path(post, path = "/api/provision/destroy", tag = "provision", request_body = Target,
    responses((status = 202, description = "The task that destroys the environment (see apply)", body = Value),
        (status = 403, description = "Not a member of the owning team, or a protected environment", body = ErrorEnvelope),
        (status = 409, description = "The namespace exists and is not Causeway's environment of this service", body = ErrorEnvelope)))]
/// `POST /api/provision/destroy`: starts a task that removes the environment.
pub async fn destroy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let target = body(target)?;
    state
        .provisioner
        .authorize_destroy(&principal, &target.service)
        .map_err(ApiError::from)?;
    let request = request(target, &headers, &principal);
    let task = state
        .provisioner
        .submit_destroy(&state.platform.tasks, &request)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(task)))
}

#[utoipa::path(get, path = "/api/provision/environments", tag = "provision",
    responses((status = 200, description = "Every provisioned environment: `[{namespace, service, environment, target, parameters, request_id, requested_by, status, message, created_at_millis, updated_at_millis}]`", body = Value)))]
/// `GET /api/provision/environments`: every environment Causeway has provisioned.
pub async fn environments(State(state): State<AppState>) -> Result<Json<Vec<Record>>, ApiError> {
    Ok(Json(state.provisioner.records().list().await?))
}

#[utoipa::path(post, path = "/api/provision/status", tag = "provision", request_body = Target,
    responses((status = 200, description = "`{record, plan, drift: [{object, change: modified|deleted|conflict, detail, action: restored|reported|failed, at_millis}]}`: the record, how every live object compares with it, and the newest drift", body = Value),
        (status = 400, description = "Unknown service or environment", body = ErrorEnvelope),
        (status = 503, description = "The cluster is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/status`: one environment's record, live comparison and drift.
pub async fn status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<EnvironmentStatus>, ApiError> {
    let request = request(body(target)?, &headers, &principal);
    Ok(Json(state.provisioner.status(&request).await?))
}
