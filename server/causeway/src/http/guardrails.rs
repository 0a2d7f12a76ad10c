//! The guardrails API: the platform configuration in force and its revisions
//! (`/api/platform/config`), the policies and their test bench (`/api/policies`), and waivers
//! (`/api/policies/waivers`). Who may do what is the domain's rule (`guardrails`), which these
//! handlers only call.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causeway_platform::guardrails::{Reloaded, waivers};
use causeway_platform::identity::Principal;
use causeway_platform::provision::{Request, Requester};

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::guardrails::{
    ConfigProblem, NewWaiver, PlatformConfigStatus, PlatformDocuments, PolicySummary, PolicyTest,
    PolicyTestResult, PolicyVerdict, Rejected, Reload, Revision, Waiver,
};
use super::error::ApiError;

#[utoipa::path(get, path = "/api/platform/config", tag = "guardrails",
    responses((status = 200, description = "The revision in force, the recorded history, and (for platform admins) why the newest read was refused", body = PlatformConfigStatus),
        (status = 503, description = "The database is unreachable", body = ErrorEnvelope)))]
/// `GET /api/platform/config`: the platform configuration's active revision and history.
pub async fn config(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<PlatformConfigStatus>, ApiError> {
    let guardrails = &state.platform.guardrails;
    Ok(Json(PlatformConfigStatus {
        active: Revision::from(&guardrails.current().summary()),
        rejected: guardrails
            .failure_for(&principal)
            .as_ref()
            .map(Rejected::from),
        history: guardrails
            .history(20)
            .await?
            .iter()
            .map(Revision::from)
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/platform/config/reload", tag = "guardrails",
    responses((status = 200, description = "`unchanged`, `loaded` with the new revision, or `rejected` with every problem (the active revision keeps serving)", body = Reload),
        (status = 403, description = "Not a platform admin", body = ErrorEnvelope)))]
/// `POST /api/platform/config/reload`: reads the configuration's source now.
pub async fn reload(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Reload>, ApiError> {
    let outcome = state.platform.guardrails.reload_by(&principal).await?;
    Ok(Json(match outcome {
        Reloaded::Unchanged => Reload {
            outcome: "unchanged".to_owned(),
            revision: None,
            problems: Vec::new(),
        },
        Reloaded::Loaded(summary) => Reload {
            outcome: "loaded".to_owned(),
            revision: Some(Revision::from(&summary)),
            problems: Vec::new(),
        },
        Reloaded::Rejected(problems) => Reload {
            outcome: "rejected".to_owned(),
            revision: None,
            problems: problems.iter().map(ConfigProblem::from).collect(),
        },
    }))
}

#[utoipa::path(get, path = "/api/platform/config/export", tag = "guardrails",
    responses((status = 200, description = "The active configuration as `causeway.dev/v1alpha1` documents", content_type = "application/yaml", body = PlatformDocuments),
        (status = 403, description = "Not a platform admin", body = ErrorEnvelope)))]
/// `GET /api/platform/config/export`: the active configuration as documents.
pub async fn export(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let text = state.platform.guardrails.export_for(&principal)?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], text).into_response())
}

#[utoipa::path(get, path = "/api/policies", tag = "guardrails",
    responses((status = 200, description = "The policies of the active configuration", body = [PolicySummary])))]
/// `GET /api/policies`: every policy in force.
pub async fn policies(State(state): State<AppState>) -> Json<Vec<PolicySummary>> {
    let revision = state.platform.guardrails.current();
    Json(
        revision
            .config
            .policies
            .iter()
            .map(|p| PolicySummary::from(&p.policy))
            .collect(),
    )
}

#[utoipa::path(post, path = "/api/policies/test", tag = "guardrails", request_body = PolicyTest,
    responses((status = 200, description = "Every policy's verdict on the request, and the input they saw", body = PolicyTestResult),
        (status = 400, description = "Unknown service or environment, bad parameter", body = ErrorEnvelope),
        (status = 403, description = "Not a platform admin", body = ErrorEnvelope),
        (status = 404, description = "The requester is not a user of the catalog", body = ErrorEnvelope)))]
/// `POST /api/policies/test`: the policy test bench.
pub async fn test(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<PolicyTest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PolicyTestResult>, ApiError> {
    let test = super::error::json_body(body)?;
    let requester = match &test.requester {
        Some(user) => Requester::of(
            &state
                .platform
                .directory
                .find_user(user, "requester")
                .await?,
        ),
        None => Requester::of(&principal),
    };
    let request = Request {
        service: test.service,
        environment: test.environment,
        set: test.set,
        request_id: request_id(&headers).unwrap_or_default(),
        requester,
        adopt: false,
    };
    let (decision, input) = state
        .provisioner
        .test_policies(&principal, &request)
        .await?;
    Ok(Json(PolicyTestResult {
        allowed: decision.allowed(),
        verdicts: decision.verdicts.iter().map(PolicyVerdict::from).collect(),
        input,
    }))
}

fn waivers_of(state: &AppState) -> Result<&waivers::Waivers, ApiError> {
    state
        .platform
        .guardrails
        .waivers()
        .ok_or_else(|| ApiError::from(causeway_platform::Error::NotFound("waivers".to_owned())))
}

#[utoipa::path(get, path = "/api/policies/waivers", tag = "guardrails",
    responses((status = 200, description = "The waivers in force (granted ones and those in the configuration)", body = [Waiver])))]
/// `GET /api/policies/waivers`: the waivers in force.
pub async fn list_waivers(State(state): State<AppState>) -> Result<Json<Vec<Waiver>>, ApiError> {
    let mut all: Vec<Waiver> = state
        .platform
        .guardrails
        .current()
        .config
        .waivers
        .iter()
        .map(Waiver::from)
        .collect();
    all.extend(
        waivers_of(&state)?
            .active(None)
            .await?
            .iter()
            .map(Waiver::from),
    );
    Ok(Json(all))
}

#[utoipa::path(post, path = "/api/policies/waivers", tag = "guardrails", request_body = NewWaiver,
    responses((status = 201, description = "The waiver, in force until it expires", body = Waiver),
        (status = 400, description = "Unknown policy, bad service reference, no reason, expiry past or beyond a year", body = ErrorEnvelope),
        (status = 403, description = "Not a platform admin", body = ErrorEnvelope)))]
/// `POST /api/policies/waivers`: waives one policy for one service.
pub async fn grant_waiver(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<NewWaiver>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Waiver>), ApiError> {
    let body = super::error::json_body(body)?;
    let expires = body
        .expires
        .parse::<k8s_openapi::jiff::Timestamp>()
        .map_err(|_| {
            causeway_platform::Error::invalid(
                "expires",
                format!(
                    "{:?} is not an RFC 3339 time; expected e.g. 2027-01-31T00:00:00Z",
                    body.expires
                ),
            )
        })?
        .as_millisecond();
    let granted = waivers_of(&state)?
        .grant(
            &principal,
            waivers::NewWaiver {
                policy: body.policy,
                service: body.service,
                reason: body.reason,
                expires_at_millis: expires,
            },
            &state.platform.guardrails.policy_ids(),
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Waiver::from(&granted))))
}

#[utoipa::path(delete, path = "/api/policies/waivers/{id}", tag = "guardrails",
    params(("id" = String, Path, description = "The waiver's id")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "Not a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such waiver in force", body = ErrorEnvelope)))]
/// `DELETE /api/policies/waivers/{id}`: revokes a waiver now.
pub async fn revoke_waiver(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    waivers_of(&state)?
        .revoke(&principal, &id, request_id(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
