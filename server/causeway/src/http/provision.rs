//! The provisioning API under `/api/provision`: plan, apply and destroy a service's environment.
//! Everyone signed in may plan; only members of the owning team (and platform admins) may apply
//! or destroy. Applies and destroys run as durable tasks, which audit how they ended.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causeway_platform::identity::Principal;
use causeway_platform::provision::approvals::Submission;
use causeway_platform::provision::{Request, Requester};

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::approvals::Approval;
pub use super::dto::provision::Target;
use super::dto::provision::{Environment, EnvironmentStatus, Extend, Kubeconfig, Plan};
use super::dto::tasks::Task;
use super::error::ApiError;

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
    super::error::json_body(target)
}

#[utoipa::path(post, path = "/api/provision/plan", tag = "provision", request_body = Target,
    responses((status = 200, description = "What an apply would change, object by object", body = Plan),
        (status = 400, description = "Malformed body, unknown service or environment, bad parameter", body = ErrorEnvelope),
        (status = 403, description = "The platform team's policies refuse the request: each denial in `errors` with its field (`path`), message, `policy` and `fix`", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The cluster or the database is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/plan`: what an apply would change; changes nothing.
pub async fn plan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Plan>, ApiError> {
    let request = request(body(target)?, &headers, &principal);
    Ok(Json(Plan::from(&state.provisioner.plan(&request).await?)))
}

#[utoipa::path(post, path = "/api/provision/apply", tag = "provision", request_body = Target,
    responses((status = 201, description = "The environment needs an approval: the request waits, bound to its plan, at the approval (`Location: /api/approvals/{id}`); an approver's approve starts the apply", body = Approval,
            headers(("Location" = String, description = "The approval's address")),
            links(("GetApproval" = (operation_id = "get_approval", parameters(("id" = "$response.body#/id")))))),
        (status = 202, description = "The task that applies the request; follow it at `/api/tasks/{id}` or `/api/tasks/{id}/events`", body = Task,
            links(("GetTask" = (operation_id = "get", parameters(("id" = "$response.body#/id")))),
                ("TaskEvents" = (operation_id = "events", parameters(("id" = "$response.body#/id")))),
                ("CancelTask" = (operation_id = "cancel", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "Malformed body, unknown service or environment, bad parameter", body = ErrorEnvelope),
        (status = 403, description = "Not a member of the owning team, `adopt` from someone other than a platform admin, or refused by the platform team's policies (each denial in `errors` with its field, message, `policy` and `fix`)", body = ErrorEnvelope),
        (status = 409, description = "The namespace exists and is not Causeway's environment of this service (adopt it as a platform admin), holds another service's environment, or has an unfinished task", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The cluster or the database is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/apply`: checks the request and starts a task that creates or updates the
/// environment, or, for an environment that needs an approval, stops at a pending approval.
pub async fn apply(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let request = request(body(target)?, &headers, &principal);
    state
        .provisioner
        .authorize_request(&principal, &request)
        .map_err(ApiError::from)?;
    let submitted = state
        .provisioner
        .request_apply(&state.platform.tasks, &request)
        .await?;
    Ok(match submitted {
        Submission::Task(task) => (StatusCode::ACCEPTED, Json(Task::from(&*task))).into_response(),
        Submission::Approval(approval) => (
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/approvals/{}", approval.id))],
            Json(super::approvals::view(&state, &principal, &approval)),
        )
            .into_response(),
    })
}

#[utoipa::path(post, path = "/api/provision/destroy", tag = "provision", request_body = Target,
    responses((status = 202, description = "The task that destroys the environment (see apply)", body = Task,
            links(("GetTask" = (operation_id = "get", parameters(("id" = "$response.body#/id")))),
                ("TaskEvents" = (operation_id = "events", parameters(("id" = "$response.body#/id")))),
                ("CancelTask" = (operation_id = "cancel", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "Malformed body, unknown service or environment", body = ErrorEnvelope),
        (status = 403, description = "Not a member of the owning team, or a protected environment", body = ErrorEnvelope),
        (status = 409, description = "The namespace exists and is not Causeway's environment of this service, or has an unfinished task", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The cluster or the database is unreachable", body = ErrorEnvelope)))]
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
    Ok((StatusCode::ACCEPTED, Json(Task::from(&task))))
}

#[utoipa::path(get, path = "/api/provision/environments", tag = "provision",
    responses((status = 200, description = "The provisioned environments the caller may see: every one for platform admins, those of their teams' services for everyone else", body = Vec<Environment>),
        (status = 401, description = "Nobody is signed in", body = ErrorEnvelope)))]
/// `GET /api/provision/environments`: the environments Causeway has provisioned that the caller
/// may see (`Provisioner::environments_for`).
pub async fn environments(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<Environment>>, ApiError> {
    let records = state.provisioner.environments_for(&principal).await?;
    Ok(Json(records.iter().map(Environment::from).collect()))
}

#[utoipa::path(post, path = "/api/provision/status", tag = "provision", request_body = Target,
    responses((status = 200, description = "The record, how every live object compares with it, and the newest drift", body = EnvironmentStatus),
        (status = 400, description = "Malformed body, unknown service or environment", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The cluster or the database is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/status`: one environment's record, live comparison and drift.
pub async fn status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    target: Result<Json<Target>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<EnvironmentStatus>, ApiError> {
    let request = request(body(target)?, &headers, &principal);
    Ok(Json(EnvironmentStatus::from(
        &state.provisioner.status(&request).await?,
    )))
}

#[utoipa::path(post, path = "/api/provision/extend", tag = "provision", request_body = Extend,
    responses((status = 200, description = "The environment with its new expiry", body = Environment),
        (status = 400, description = "Malformed body, unknown service or environment, an environment that does not expire, `ttl_seconds` beyond the environment's maximum or before the current expiry", body = ErrorEnvelope),
        (status = 403, description = "Not a member of the owning team", body = ErrorEnvelope),
        (status = 404, description = "The environment is not provisioned", body = ErrorEnvelope),
        (status = 409, description = "The environment has expired (the reaper destroys it), is being destroyed, has no expiry yet, or its namespace holds another service's environment", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 503, description = "The database is unreachable", body = ErrorEnvelope)))]
/// `POST /api/provision/extend`: moves an ephemeral environment's expiry to `ttl_seconds` from
/// now (owning team and platform admins; audited).
pub async fn extend(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<Extend>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Environment>, ApiError> {
    let body = super::error::json_body(body)?;
    state
        .provisioner
        .authorize_extend(&principal, &body.service)
        .map_err(ApiError::from)?;
    let record = state
        .provisioner
        .extend(&causeway_platform::provision::expiry::Extension {
            service: body.service,
            environment: body.environment,
            ttl_seconds: body.ttl_seconds,
            request_id: request_id(&headers).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            requester: Requester::of(&principal),
        })
        .await?;
    Ok(Json(Environment::from(&record)))
}

/// `GET /api/provision/kubeconfig` query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KubeconfigQuery {
    /// The component, e.g. `payments-api` or `component:default/payments-api`.
    pub service: String,
    pub environment: String,
}

#[utoipa::path(get, path = "/api/provision/kubeconfig", tag = "provision", params(KubeconfigQuery),
    responses((status = 200, description = "A kubeconfig for the environment's namespace that signs in with the organisation's OpenID Connect provider (kubectl's oidc-login plugin)", content_type = "application/yaml", body = Kubeconfig),
        (status = 400, description = "Unknown service or environment, an environment delivered through GitOps, or no OpenID Connect provider configured", body = ErrorEnvelope),
        (status = 403, description = "Not a member of the owning team", body = ErrorEnvelope),
        (status = 503, description = "The cluster's connection settings cannot be read", body = ErrorEnvelope)))]
/// `GET /api/provision/kubeconfig?service=&environment=`: the kubectl configuration for one of
/// the caller's team's environments, as a download.
pub async fn kubeconfig(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<axum::extract::Query<KubeconfigQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let query = super::error::query(query)?;
    let login = (state.config.auth_mode == crate::config::AuthMode::Oidc)
        .then(|| state.config.oidc.issuer.as_ref())
        .flatten()
        .map(|issuer| causeway_platform::provision::kubeconfig::Login {
            issuer: issuer.to_string().trim_end_matches('/').to_owned(),
            client_id: state.config.oidc.client_id.clone(),
        });
    let request = Request {
        service: query.service,
        environment: query.environment,
        requester: Requester::of(&principal),
        ..Request::default()
    };
    let text = state
        .provisioner
        .kubeconfig_for(&principal, &request, login.as_ref())
        .await?;
    let file = format!(
        "attachment; filename=\"{}-{}.kubeconfig.yaml\"",
        request.service.rsplit('/').next().unwrap_or("service"),
        request.environment
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        text,
    )
        .into_response())
}
