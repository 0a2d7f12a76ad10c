//! The tasks API under `/api/tasks`: lists (mine, my teams', all for platform admins), one task
//! with its steps and the events after a given one (the polling variant), the same events as
//! Server-Sent Events that resume from `Last-Event-ID`, and cancellation.

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use causeway_platform::identity::Principal;
use causeway_platform::tasks::Filter;
use futures::Stream;
use serde::Deserialize;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::tasks::{Task, TaskEnd, TaskEvent, TaskStreamEvent, TaskWithEvents};
use super::error::ApiError;

/// How often a stream looks for new events.
const POLL: Duration = Duration::from_millis(200);

/// `GET /api/tasks` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `mine` (default), `teams` (mine and my teams'), or `all` (platform admins).
    #[param(nullable = false)]
    pub scope: Option<String>,
    /// `open`, `processing`, `completed`, `failed` or `cancelled`.
    #[param(nullable = false)]
    pub status: Option<String>,
    /// At most this many, newest first (default 100; values outside 1 to 500 are brought into
    /// that range).
    #[param(nullable = false)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/tasks", operation_id = "list_tasks", tag = "tasks", params(ListQuery),
    responses((status = 200, description = "Tasks, newest first, without steps", body = Vec<Task>),
        (status = 400, description = "Unknown scope or status, limit out of range, or a malformed query string", body = ErrorEnvelope),
        (status = 403, description = "scope=all without being a platform admin", body = ErrorEnvelope)))]
/// `GET /api/tasks`
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let query = super::error::query(query)?;
    let filter = Filter::scoped(
        &principal,
        query.scope.as_deref().unwrap_or("mine"),
        query.status.as_deref().unwrap_or(""),
        query.limit.unwrap_or(100),
    )?;
    let tasks = state.platform.tasks.list(&filter).await?;
    Ok(Json(tasks.iter().map(Task::from).collect()))
}

/// `GET /api/tasks/{id}` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AfterQuery {
    /// Only events after this event id (0, the default, for all).
    #[param(nullable = false)]
    pub after: Option<i64>,
}

/// The task, if the caller may read it: a template run only by its requester and platform
/// admins (its answers are theirs), any other task by anyone signed in.
async fn find(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<causeway_platform::tasks::Task, ApiError> {
    state
        .platform
        .tasks
        .get(id)
        .await?
        .filter(|t| t.readable_by(principal))
        .ok_or_else(|| ApiError::from(causeway_platform::Error::NotFound(format!("task {id}"))))
}

#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = String, Path), AfterQuery),
    responses((status = 200, description = "The task with its steps and the events after `after`: poll with the last event id seen", body = TaskWithEvents),
        (status = 400, description = "Malformed query string", body = ErrorEnvelope),
        (status = 404, description = "No such task", body = ErrorEnvelope)))]
/// `GET /api/tasks/{id}`: the polling variant of the event stream.
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TaskWithEvents>, ApiError> {
    let query = super::error::query(query)?;
    let task = find(&state, &principal, &id).await?;
    let events = state
        .platform
        .tasks
        .events(&id, query.after.unwrap_or(0), 1000)
        .await?;
    Ok(Json(TaskWithEvents {
        task: Task::from(&task),
        events: events.iter().map(TaskEvent::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/tasks/{id}/events", tag = "tasks", params(("id" = String, Path), AfterQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The last event id seen; replaces `after` when it is a number")),
    responses((status = 200, description = "Server-Sent Events: `log` events in order (`id:` the event id, `data:` a TaskEvent as JSON), resumable with `Last-Event-ID` or `?after`; a final `end` event whose data is a TaskEnd", content_type = "text/event-stream", body = TaskStreamEvent),
        (status = 400, description = "Malformed query string", body = ErrorEnvelope),
        (status = 404, description = "No such task", body = ErrorEnvelope)))]
/// `GET /api/tasks/{id}/events`: the task's log as Server-Sent Events.
pub async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let query = super::error::query(query)?;
    find(&state, &principal, &id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = resume.or(query.after).unwrap_or(0);
    Ok(Sse::new(stream(state, id, after)).keep_alive(KeepAlive::default()))
}

/// What the stream does next.
enum Phase {
    Running { after: i64 },
    Ended,
}

fn stream(
    state: AppState,
    id: String,
    after: i64,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let batches = futures::stream::unfold(Phase::Running { after }, move |phase| {
        let state = state.clone();
        let id = id.clone();
        async move {
            let Phase::Running { after } = phase else {
                return None;
            };
            loop {
                // The status is read before the events, so that no event written before the task
                // ended can be missed once the status says it has. A read that fails is tried
                // again rather than taken for "no more events".
                let (task, events) = match (
                    state.platform.tasks.get(&id).await,
                    state.platform.tasks.events(&id, after, 500).await,
                ) {
                    (Ok(task), Ok(events)) => (task, events),
                    (Err(error), _) | (_, Err(error)) => {
                        tracing::warn!(task = %id, %error, "could not read a task's events; retrying");
                        tokio::time::sleep(POLL * 5).await;
                        continue;
                    }
                };
                if let Some(last) = events.last() {
                    let next = Phase::Running { after: last.id };
                    let items: Vec<SseEvent> = events.iter().map(log_event).collect();
                    return Some((items, next));
                }
                match task {
                    Some(task) if task.status.is_final() => {
                        let end = TaskEnd {
                            status: task.status.into(),
                            error: task.error,
                        };
                        let end = SseEvent::default()
                            .event("end")
                            .data(serde_json::to_string(&end).unwrap_or_default());
                        return Some((vec![end], Phase::Ended));
                    }
                    None => return None,
                    Some(_) => tokio::time::sleep(POLL).await,
                }
            }
        }
    });
    futures::StreamExt::flat_map(batches, |items| {
        futures::stream::iter(items.into_iter().map(Ok))
    })
}

fn log_event(event: &causeway_platform::tasks::Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event("log")
        .data(serde_json::to_string(&TaskEvent::from(event)).unwrap_or_default())
}

#[utoipa::path(post, path = "/api/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, description = "The task: cancelled if it had not started, else marked to stop before its next step", body = Task),
        (status = 403, description = "Neither its requester, a member of its team, nor a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such task", body = ErrorEnvelope),
        (status = 409, description = "The task has already ended", body = ErrorEnvelope)))]
/// `POST /api/tasks/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .platform
        .tasks
        .cancel_as(&principal, &id, request_id(&headers).as_deref())
        .await?;
    Ok(Json(Task::from(&task)))
}
