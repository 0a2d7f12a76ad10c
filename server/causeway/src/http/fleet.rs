//! A template's fleet under `/api/scaffolder/v2/templates/{namespace}/{kind}/{name}`: the
//! services created from it with their versions and upgrades, upgrading them (a task), and asking
//! the git server about their change requests now. Every rule lives in
//! `causeway_platform::scaffolder::fleet`; this module only translates.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use causeway_platform::identity::Principal;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::fleet::{Fleet, FleetRefresh, UpgradeRequest};
use super::dto::tasks::Task;
use super::error::ApiError;

/// `template:<namespace>/<name>`, or a 400 for another kind.
fn template_ref(namespace: &str, kind: &str, name: &str) -> Result<String, ApiError> {
    if !kind.eq_ignore_ascii_case("template") {
        return Err(ApiError::input(format!(
            "kind: {kind:?} is not template; only templates have a fleet"
        )));
    }
    Ok(format!("template:{namespace}/{name}").to_lowercase())
}

#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet", operation_id = "scaffolder_fleet", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path)),
    responses((status = 200, description = "The services created from the template, the version each is on, and their upgrades", body = Fleet),
        (status = 400, description = "`kind` is not `template`", body = ErrorEnvelope),
        (status = 401, description = "Nobody is signed in", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope)))]
/// `GET …/fleet`
pub async fn fleet(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Json<Fleet>, ApiError> {
    let template = template_ref(&namespace, &kind, &name)?;
    let fleet = state.platform.scaffolder.fleet(&template).await?;
    Ok(Json(Fleet::from(&fleet)))
}

#[utoipa::path(post, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/upgrades", operation_id = "scaffolder_upgrade", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path)),
    request_body = UpgradeRequest,
    responses((status = 202, description = "The task upgrading the services (one step per service), followed at `/api/tasks/{id}`", body = Task),
        (status = 400, description = "`kind` is not `template`, an unknown version, a service not created from this template, or a malformed body", body = ErrorEnvelope),
        (status = 401, description = "Nobody is signed in", body = ErrorEnvelope),
        (status = 403, description = "A whole fleet by someone who is not a platform admin, or a service none of the caller's teams owns", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope),
        (status = 409, description = "Every selected service is on the version or has its change request already", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST …/upgrades`: upgrades the selected services (all, for platform admins) as one task.
pub async fn upgrade(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path((namespace, kind, name)): Path<(String, String, String)>,
    body: Result<Json<UpgradeRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let template = template_ref(&namespace, &kind, &name)?;
    let body = super::error::json_body(body)?;
    let task = state
        .platform
        .scaffolder
        .start_upgrades(
            &principal,
            &template,
            &body.into(),
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Task::from(&task))))
}

#[utoipa::path(post, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet/refresh", operation_id = "scaffolder_fleet_refresh", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path)),
    responses((status = 200, description = "How many of the template's change requests were found merged or closed (the server also asks about all of them every minute)", body = FleetRefresh),
        (status = 400, description = "`kind` is not `template`", body = ErrorEnvelope),
        (status = 401, description = "Nobody is signed in", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope)))]
/// `POST …/fleet/refresh`: asks the git server about open change requests now.
pub async fn refresh(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Json<FleetRefresh>, ApiError> {
    let template = template_ref(&namespace, &kind, &name)?;
    // A 404 for a template that does not exist, before asking anything.
    state.platform.scaffolder.fleet(&template).await?;
    let changed = state
        .platform
        .scaffolder
        .follow_changes(
            &state.read_policy(),
            Some(&template),
            causeway_platform::scaffolder::fleet::changes::PASS,
        )
        .await?;
    Ok(Json(FleetRefresh { changed }))
}
