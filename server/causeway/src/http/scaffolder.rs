//! The scaffolder API under `/api/scaffolder/v2`, shaped like Backstage's so that its clients
//! work unchanged: the actions, a template's parameter pages, and dry runs. Every rule lives in
//! `causeway_platform::scaffolder`; this module only translates.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use causeway_platform::identity::Principal;
use causeway_platform::scaffolder::{Request, Source};

use super::AppState;
use super::dto::ErrorEnvelope;
use super::dto::scaffolder::{Action, DryRunRequest, DryRunResponse, ParameterSchema};
use super::error::ApiError;

#[utoipa::path(get, path = "/api/scaffolder/v2/actions", tag = "scaffolder",
    responses((status = 200, description = "Every action a template step may name, sorted by id", body = [Action])))]
/// `GET /api/scaffolder/v2/actions`
pub async fn actions(State(state): State<AppState>) -> Json<Vec<Action>> {
    Json(
        state
            .platform
            .scaffolder
            .actions()
            .into_iter()
            .map(Action::from)
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema", tag = "scaffolder",
    params(("namespace" = String, Path), ("kind" = String, Path, description = "Always `template`"), ("name" = String, Path)),
    responses((status = 200, description = "The template's parameter pages", body = ParameterSchema),
        (status = 400, description = "The template cannot run here (an unknown action or filter, an invalid schema); every problem is listed", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema`
pub async fn parameter_schema(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Json<ParameterSchema>, ApiError> {
    if !kind.eq_ignore_ascii_case("template") {
        return Err(ApiError::input(format!(
            "kind: {kind:?} is not a template kind; only Template is supported"
        )));
    }
    let entity_ref = format!("template:{namespace}/{name}").to_lowercase();
    let template = state.platform.scaffolder.catalog_template(&entity_ref)?;
    Ok(Json(ParameterSchema::from(&template)))
}

#[utoipa::path(post, path = "/api/scaffolder/v2/dry-run", tag = "scaffolder", request_body = DryRunRequest,
    responses((status = 200, description = "The files, log, steps and output the template produces; actions that cannot dry-run are skipped with their example output", body = DryRunResponse),
        (status = 400, description = "Not a runnable template, invalid values (every bad property listed), or a step failed", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/dry-run`: renders a template sent with its files, changing nothing.
pub async fn dry_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<DryRunRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DryRunResponse>, ApiError> {
    let body = super::error::json_body(body)?;
    let files = body.files().map_err(ApiError::input)?;
    let scaffolder = &state.platform.scaffolder;
    let template = scaffolder.load(&body.template, Source::Files(Arc::new(files)))?;
    let request = Request {
        values: body.values,
        secrets: body.secrets,
    };
    let run = scaffolder.dry_run(template, request, &principal).await?;
    if let Some(error) = &run.error {
        return Err(ApiError::input(error.clone()));
    }
    Ok(Json(DryRunResponse::from(&run)))
}
