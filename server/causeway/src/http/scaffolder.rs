//! The scaffolder API under `/api/scaffolder/v2`, shaped like Backstage's so that its clients
//! work unchanged: the actions, a template's parameter pages, dry runs, and runs (start, list,
//! read, follow as events or Server-Sent Events, cancel, retry). Every rule lives in
//! `causeway_platform::scaffolder`; this module only translates.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use causeway_platform::identity::Principal;
use causeway_platform::scaffolder::{Request, Source};
use futures::{Stream, StreamExt as _};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::scaffolder::{
    Action, CancelResponse, DryRunRequest, DryRunResponse, ParameterSchema, ScaffolderEvent,
    ScaffolderTask, TaskId, TaskList, TaskRequest,
};
use super::error::ApiError;

const POLL: Duration = Duration::from_millis(200);

#[utoipa::path(get, path = "/api/scaffolder/v2/actions", operation_id = "scaffolder_actions", tag = "scaffolder",
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

#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema", operation_id = "scaffolder_parameter_schema", tag = "scaffolder",
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

#[utoipa::path(post, path = "/api/scaffolder/v2/dry-run", operation_id = "scaffolder_dry_run", tag = "scaffolder", request_body = DryRunRequest,
    responses((status = 200, description = "The files, log, steps and output the template produces; actions that cannot dry-run are skipped with their example output", body = DryRunResponse),
        (status = 400, description = "Not a runnable template, invalid values (every bad property listed), or a step failed", body = ErrorEnvelope),
        (status = 401, description = "Nobody is signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform admin (authoring templates is theirs), or the platform team's template policies refuse the run (each denial in `errors` with its field, message, `policy` and `fix`)", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/dry-run`: renders a template sent with its files, changing nothing
/// (platform admins: see `Scaffolder::authorize_authoring`).
pub async fn dry_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<DryRunRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DryRunResponse>, ApiError> {
    let body = super::error::json_body(body)?;
    let files = body.files().map_err(ApiError::input)?;
    let scaffolder = &state.platform.scaffolder;
    let template =
        scaffolder.load_sent(&principal, &body.template, Source::Files(Arc::new(files)))?;
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

/// A run the caller may see: their own, or any for platform admins (answers may hold answers
/// to the template's questions, so they are not public to everyone signed in).
async fn visible_run(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<causeway_platform::tasks::Task, ApiError> {
    let task = state.platform.scaffolder.run_for(principal, id).await?;
    Ok(task)
}

#[utoipa::path(post, path = "/api/scaffolder/v2/tasks", operation_id = "scaffolder_create_task", tag = "scaffolder", request_body = TaskRequest,
    responses((status = 201, description = "The run was stored; follow it at `/api/scaffolder/v2/tasks/{id}/eventstream`", body = TaskId),
        (status = 400, description = "Not a template, a template that cannot run here, or invalid values (every bad property in `errors`)", body = ErrorEnvelope),
        (status = 403, description = "The platform team's template policies refuse the run (each denial in `errors` with its field, message, `policy` and `fix`)", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/tasks`: validates the answers and starts a run.
pub async fn create_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<TaskRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<TaskId>), ApiError> {
    let body = super::error::json_body(body)?;
    let request = Request {
        values: body.values,
        secrets: body.secrets,
    };
    let task = state
        .platform
        .scaffolder
        .submit(&body.template_ref, request, &principal)
        .await?;
    Ok((StatusCode::CREATED, Json(TaskId { id: task.id })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct TaskListQuery {
    /// Only runs requested by this user (platform admins may name anyone).
    #[param(nullable = false)]
    pub created_by: Option<String>,
    /// `open`, `processing`, `completed`, `failed` or `cancelled`.
    #[param(nullable = false)]
    pub status: Option<String>,
    #[param(nullable = false, minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(nullable = false, minimum = 0)]
    pub offset: Option<usize>,
}

#[utoipa::path(get, path = "/api/scaffolder/v2/tasks", operation_id = "scaffolder_list_tasks", tag = "scaffolder", params(TaskListQuery),
    responses((status = 200, description = "Template runs, newest first: the caller's own, or anyone's for platform admins", body = TaskList),
        (status = 400, description = "Unknown status, limit out of range, or a malformed query string", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/tasks`
pub async fn list_tasks(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<TaskListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TaskList>, ApiError> {
    let query = super::error::query(query)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::input("limit: must be between 1 and 500"));
    }
    let status = query
        .status
        .filter(|s| !s.is_empty())
        .map(|s| causeway_platform::tasks::TaskStatus::parse(&s))
        .transpose()?;
    let runs = state
        .platform
        .scaffolder
        .runs_for(&principal, query.created_by, status)
        .await?;
    let total = runs.len();
    let offset = query.offset.unwrap_or(0);
    Ok(Json(TaskList {
        tasks: runs
            .iter()
            .skip(offset)
            .take(usize::try_from(limit).unwrap_or(100))
            .map(ScaffolderTask::from)
            .collect(),
        total_tasks: total,
    }))
}

#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}", operation_id = "scaffolder_get_task", tag = "scaffolder", params(("id" = String, Path)),
    responses((status = 200, description = "The run", body = ScaffolderTask),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/tasks/{id}`
pub async fn get_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ScaffolderTask>, ApiError> {
    let task = visible_run(&state, &principal, &id).await?;
    Ok(Json(ScaffolderTask::from(&task)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// The last event id seen.
    #[param(nullable = false)]
    pub after: Option<i64>,
}

/// The events after `after`, with the completion when the run has ended.
async fn events_after(
    state: &AppState,
    id: &str,
    after: i64,
) -> Result<(Vec<ScaffolderEvent>, bool), causeway_platform::Error> {
    // The status is read first, so no event written before the end can be missed.
    let task = state
        .platform
        .tasks
        .get(id)
        .await?
        .ok_or_else(|| causeway_platform::Error::NotFound(format!("task {id}")))?;
    let events = state.platform.tasks.events(id, after, 500).await?;
    let mut out: Vec<ScaffolderEvent> = events.iter().map(ScaffolderEvent::from).collect();
    let ended = task.status.is_final() && events.len() < 500;
    if ended {
        let last = out.last().map_or(after, |e| e.id);
        out.push(ScaffolderEvent::completion(&task, last + 1));
    }
    Ok((out, ended))
}

#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}/events", operation_id = "scaffolder_task_events", tag = "scaffolder", params(("id" = String, Path), AfterQuery),
    responses((status = 200, description = "The events after `after` (waiting up to 30 s for one), ending with a `completion` event once the run has ended", body = [ScaffolderEvent]),
        (status = 400, description = "Malformed query string", body = ErrorEnvelope),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/tasks/{id}/events`: long-polls for the next events.
pub async fn task_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ScaffolderEvent>>, ApiError> {
    let query = super::error::query(query)?;
    visible_run(&state, &principal, &id).await?;
    let after = query.after.unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (events, _) = events_after(&state, &id, after).await?;
        if !events.is_empty() || tokio::time::Instant::now() > deadline {
            return Ok(Json(events));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}/eventstream", operation_id = "scaffolder_task_eventstream", tag = "scaffolder", params(("id" = String, Path), AfterQuery),
    responses((status = 200, description = "Server-Sent Events: `log` events, then one `completion` event, each `data:` a ScaffolderEvent", content_type = "text/event-stream", body = ScaffolderEvent),
        (status = 400, description = "Malformed query string", body = ErrorEnvelope),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope)))]
/// `GET /api/scaffolder/v2/tasks/{id}/eventstream`
pub async fn task_eventstream(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let query = super::error::query(query)?;
    visible_run(&state, &principal, &id).await?;
    let start = query.after.unwrap_or(0);
    let stream = futures::stream::unfold(Some(start), move |after| {
        let state = state.clone();
        let id = id.clone();
        async move {
            let after = after?;
            loop {
                match events_after(&state, &id, after).await {
                    Ok((events, ended)) if !events.is_empty() => {
                        let next = (!ended).then(|| events.last().map_or(after, |e| e.id));
                        let batch: Vec<Result<SseEvent, Infallible>> = events
                            .iter()
                            .map(|e| {
                                Ok(SseEvent::default()
                                    .event(e.kind.clone())
                                    .id(e.id.to_string())
                                    .json_data(e)
                                    .unwrap_or_default())
                            })
                            .collect();
                        return Some((futures::stream::iter(batch), next));
                    }
                    Ok(_) => tokio::time::sleep(POLL).await,
                    Err(error) => {
                        tracing::warn!(task = %id, %error, "could not read a run's events; retrying");
                        tokio::time::sleep(POLL * 5).await;
                    }
                }
            }
        }
    })
    .flatten();
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[utoipa::path(post, path = "/api/scaffolder/v2/tasks/{id}/cancel", operation_id = "scaffolder_cancel_task", tag = "scaffolder", params(("id" = String, Path)),
    responses((status = 200, description = "The run stops before its next step", body = CancelResponse),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope),
        (status = 409, description = "The run has already ended", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/tasks/{id}/cancel`
pub async fn cancel_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<CancelResponse>, ApiError> {
    visible_run(&state, &principal, &id).await?;
    state
        .platform
        .tasks
        .cancel_as(&principal, &id, request_id(&headers).as_deref())
        .await?;
    Ok(Json(CancelResponse {
        status: "cancelled".to_owned(),
    }))
}

/// `POST /api/scaffolder/v2/tasks/{id}/retry`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RetryRequest {
    /// Secrets for the steps still to run (a run's secrets are removed when it ends).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: serde_json::Map<String, serde_json::Value>,
}

#[utoipa::path(post, path = "/api/scaffolder/v2/tasks/{id}/retry", operation_id = "scaffolder_retry_task", tag = "scaffolder", params(("id" = String, Path)), request_body = RetryRequest,
    responses((status = 201, description = "The run goes on from its first unfinished step", body = TaskId),
        (status = 400, description = "Malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope),
        (status = 409, description = "The run has not failed or been cancelled", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/tasks/{id}/retry`
pub async fn retry_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<TaskId>), ApiError> {
    // The body is optional (Backstage's clients send none), so it is read by hand: empty is no
    // secrets, anything else must be the documented object.
    let secrets = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        serde_json::from_slice::<RetryRequest>(&body)
            .map_err(|e| ApiError::input(format!("request body: {e}")))?
            .secrets
    };
    visible_run(&state, &principal, &id).await?;
    let task = state
        .platform
        .scaffolder
        .retry(&id, &secrets, &principal, request_id(&headers).as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(TaskId { id: task.id })))
}

#[utoipa::path(post, path = "/api/scaffolder/v2/tasks/{id}/cleanup", operation_id = "scaffolder_cleanup_task", tag = "scaffolder", params(("id" = String, Path)),
    responses((status = 202, description = "The clean-up task: it reverses, newest first, what the run created (its repository, its catalog location, its environment), each only if still the run's own; follow it at `/api/tasks/{id}`", body = TaskId),
        (status = 403, description = "Not the run's requester or a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such run (or not the caller's)", body = ErrorEnvelope),
        (status = 409, description = "The run has not failed or been cancelled, created nothing, or is being cleaned up", body = ErrorEnvelope)))]
/// `POST /api/scaffolder/v2/tasks/{id}/cleanup`: reverses what a failed or cancelled run created.
pub async fn cleanup_task(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<TaskId>), ApiError> {
    let task = state.platform.scaffolder.clean_up(&id, &principal).await?;
    Ok((StatusCode::ACCEPTED, Json(TaskId { id: task.id })))
}
