//! Delivery events (`POST /api/events`) and DORA's measures (`GET /api/delivery/dora`). The body
//! is read and checked by the domain (`delivery::events`), which also decides who may post for a
//! service (its owning team, platform admins) and audits what was recorded.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use causeway_platform::delivery::{dora, events};
use causeway_platform::identity::Principal;
use serde::Deserialize;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::events::{Dora, EventRequest, EventsIngested};
use super::error::ApiError;

#[utoipa::path(post, path = "/api/events", tag = "delivery", request_body = EventRequest,
    responses((status = 200, description = "The events recorded now and those recorded before (the same source and id), which changed nothing", body = EventsIngested),
        (status = 400, description = "Malformed JSON, or events breaking a rule: every problem with its field (`[2].data.status`) and rule; a service not in the catalog. Nothing is recorded", body = ErrorEnvelope),
        (status = 401, description = "No session cookie or API token, or an invalid one", body = ErrorEnvelope),
        (status = 403, description = "A read-only token, or a service whose owning team the caller is not in (platform admins post for every service)", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/events`: records delivery events (deployments, changes, incidents) sent as
/// CloudEvents 1.0 in structured JSON mode or in the plain form, one or a batch.
pub async fn ingest(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<EventsIngested>, ApiError> {
    let body = super::error::json_body(body)?;
    let events = events::parse(&body)?;
    let ingested = state
        .platform
        .delivery
        .ingest(&principal, &events, request_id(&headers).as_deref())
        .await?;
    Ok(Json(EventsIngested::from(&ingested)))
}

/// `GET /api/delivery/dora`'s query.
#[derive(Debug, Deserialize)]
pub struct DoraQuery {
    service: Option<String>,
    team: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/delivery/dora", tag = "delivery",
    params(("service" = Option<String>, Query, description = "A component's reference (at most one of service or team; neither: the organisation, every component in the catalog pooled)"),
        ("team" = Option<String>, Query, description = "A group's reference: the components it owns, pooled"),
        ("from" = Option<String>, Query, description = "First day, `YYYY-MM-DD` (UTC); by default 89 days before `to`"),
        ("to" = Option<String>, Query, description = "Last day, included, `YYYY-MM-DD` (UTC); by default today")),
    responses((status = 200, description = "DORA's measures over the range and per ISO week", body = Dora),
        (status = 400, description = "Both service and team, one not in the catalog, a malformed day, `from` after `to`, or a range over 731 days", body = ErrorEnvelope)))]
/// `GET /api/delivery/dora`: the measures of a service, a team or the organisation; anyone signed
/// in may read them.
pub async fn dora(
    State(state): State<AppState>,
    query: Result<Query<DoraQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Dora>, ApiError> {
    let query = super::error::query(query)?;
    let answer = state
        .platform
        .delivery
        .dora(&dora::Query {
            service: query.service,
            team: query.team,
            from: query.from,
            to: query.to,
        })
        .await?;
    Ok(Json(Dora::from(&answer)))
}
