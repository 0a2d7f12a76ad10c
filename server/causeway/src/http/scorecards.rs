//! Scorecards: their definitions (`GET /api/scorecards`), results per entity or team with their
//! history (`GET /api/scorecards/results`), and an evaluation on demand
//! (`POST /api/scorecards/evaluate`, platform admins). The rules are the domain's
//! (`causeway_platform::scorecards`).

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use causeway_platform::identity::Principal;
use serde::Deserialize;

use super::AppState;
use super::dto::ErrorEnvelope;
use super::dto::scorecards::{
    EntityScorecards, EvaluationPass, ScorecardDefinition, ScorecardResults,
};
use super::error::ApiError;

#[utoipa::path(get, path = "/api/scorecards", tag = "scorecards",
    responses((status = 200, description = "The scorecards of the platform configuration in force", body = Vec<ScorecardDefinition>)))]
/// `GET /api/scorecards`: the scorecards in force; anyone signed in may read them.
pub async fn definitions(State(state): State<AppState>) -> Json<Vec<ScorecardDefinition>> {
    Json(
        state
            .platform
            .scorecards
            .definitions()
            .iter()
            .map(ScorecardDefinition::from)
            .collect(),
    )
}

/// `GET /api/scorecards/results`' query.
#[derive(Debug, Deserialize)]
pub struct ResultsQuery {
    entity: Option<String>,
    team: Option<String>,
}

#[utoipa::path(get, path = "/api/scorecards/results", tag = "scorecards",
    params(("entity" = Option<String>, Query, description = "An entity's reference (`payments-api` is `component:default/payments-api`); scored now, a changed result recorded"),
        ("team" = Option<String>, Query, description = "A group's reference: the recorded results of every entity it owns")),
    responses((status = 200, description = "Each scorecard's current result (level, every check with its fix) and its history, newest first", body = ScorecardResults),
        (status = 400, description = "Neither or both of entity and team, or a malformed reference", body = ErrorEnvelope),
        (status = 404, description = "The entity or team is not in the catalog", body = ErrorEnvelope)))]
/// `GET /api/scorecards/results?entity=…` or `?team=…`: anyone signed in may read results.
pub async fn results(
    State(state): State<AppState>,
    query: Result<Query<ResultsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ScorecardResults>, ApiError> {
    let query = super::error::query(query)?;
    let scorecards = &state.platform.scorecards;
    let answer = match (query.entity, query.team) {
        (Some(entity), None) => ScorecardResults {
            team: None,
            entities: vec![EntityScorecards::from(
                &scorecards.for_entity(&entity).await?,
            )],
        },
        (None, Some(team)) => {
            let results = scorecards.for_team(&team).await?;
            ScorecardResults {
                team: Some(results.team.clone()),
                entities: results
                    .entities
                    .iter()
                    .map(EntityScorecards::from)
                    .collect(),
            }
        }
        (Some(_), Some(_)) => {
            return Err(causeway_platform::Error::invalid(
                "team",
                "is given with entity; ask for one entity or one team",
            )
            .into());
        }
        (None, None) => {
            return Err(causeway_platform::Error::invalid(
                "entity",
                "is missing; give entity or team",
            )
            .into());
        }
    };
    Ok(Json(answer))
}

/// `POST /api/scorecards/evaluate`'s query.
#[derive(Debug, Deserialize)]
pub struct EvaluateQuery {
    entity: Option<String>,
}

#[utoipa::path(post, path = "/api/scorecards/evaluate", tag = "scorecards",
    params(("entity" = Option<String>, Query, description = "Score only this entity; absent, every entity of the catalog")),
    responses((status = 200, description = "The entities scored and the results that changed (and were recorded)", body = EvaluationPass),
        (status = 400, description = "A malformed entity reference", body = ErrorEnvelope),
        (status = 403, description = "Not a platform admin, or a token without the admin scope", body = ErrorEnvelope),
        (status = 404, description = "The entity is not in the catalog", body = ErrorEnvelope)))]
/// `POST /api/scorecards/evaluate`: scores now what the schedule would; platform admins only.
pub async fn evaluate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<EvaluateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EvaluationPass>, ApiError> {
    let query = super::error::query(query)?;
    let pass = state
        .platform
        .scorecards
        .evaluate_by(&principal, query.entity.as_deref())
        .await?;
    Ok(Json(EvaluationPass::from(&pass)))
}
