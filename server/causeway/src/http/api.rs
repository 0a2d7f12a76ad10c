//! Causeway's own REST endpoints for identity: who am I, my API tokens, the audit log.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::identity::{Principal, Role};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::request_id;
use super::error::ApiError;
use super::openapi::ErrorEnvelope;

#[utoipa::path(get, path = "/api/me", tag = "identity", responses((status = 200, description = "The caller: entity_ref, display_name, email, teams, role", body = serde_json::Value), (status = 401, description = "Not signed in", body = ErrorEnvelope)))]
/// `GET /api/me`: the caller.
pub async fn me(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Platform admins may list everyone's tokens with `all=true`.
    #[serde(default)]
    all: bool,
}

#[utoipa::path(get, path = "/api/tokens", tag = "identity", params(("all" = Option<bool>, Query, description = "Every user's tokens (platform admins)")),
    responses((status = 200, description = "`{items: [token]}`, never with secrets", body = serde_json::Value)))]
/// `GET /api/tokens`: the caller's tokens (everyone's for an admin with `all=true`), without secrets.
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let query = super::error::query(query)?;
    if query.all && principal.role != Role::PlatformAdmin {
        return Err(ApiError::forbidden(
            "only platform admins may list every user's tokens",
        ));
    }
    let owner = (!query.all).then_some(principal.entity_ref.as_str());
    let tokens = state.platform.tokens.list(owner).await?;
    Ok(Json(json!({ "items": tokens })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
}

#[utoipa::path(post, path = "/api/tokens", tag = "identity", request_body(content = serde_json::Value, description = "`{name}`"),
    responses((status = 201, description = "`{token, secret}`; the secret is shown only here", body = serde_json::Value), (status = 400, description = "Invalid name", body = ErrorEnvelope)))]
/// `POST /api/tokens` with `{"name": …}`: creates a token for the caller; the secret is in this
/// response only.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<CreateToken>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) = body.map_err(|e| {
        // Backstage answers every malformed body with 400 InputError; only size keeps its own status.
        let message = format!("request body: {}", e.body_text());
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(e.status(), "PayloadTooLargeError", message)
        } else {
            ApiError::input(message)
        }
    })?;
    let created = state
        .platform
        .tokens
        .create(&principal.entity_ref, &body.name)
        .await?;
    state
        .record(Entry {
            actor: &principal.entity_ref,
            action: "token.create",
            target: &created.token.id,
            outcome: Outcome::Success,
            detail: json!({ "name": created.token.name, "user": created.token.user_ref }),
            request_id: request_id(&headers).as_deref(),
        })
        .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": created.token, "secret": created.secret })),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "identity", params(("id" = String, Path)),
    responses((status = 200, description = "`{token}`, now revoked", body = serde_json::Value), (status = 404, description = "No such token of yours", body = ErrorEnvelope)))]
/// `DELETE /api/tokens/{id}`: revokes one of the caller's tokens (any token for an admin).
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let owned = state
        .platform
        .tokens
        .list(Some(&principal.entity_ref))
        .await?
        .iter()
        .any(|t| t.id == id);
    let entry = |outcome| Entry {
        actor: &principal.entity_ref,
        action: "token.revoke",
        target: &id,
        outcome,
        detail: json!({}),
        request_id: None,
    };
    if !owned && principal.role != Role::PlatformAdmin {
        let request = request_id(&headers);
        state
            .record(Entry {
                request_id: request.as_deref(),
                ..entry(Outcome::Denied)
            })
            .await;
        // The same answer as for an unknown id, so tokens of others cannot be probed.
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("token {id} was not found"),
        ));
    }
    let token = state.platform.tokens.revoke(&id).await?;
    let request = request_id(&headers);
    state
        .record(Entry {
            request_id: request.as_deref(),
            ..entry(Outcome::Success)
        })
        .await;
    Ok(Json(json!({ "token": token })))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "identity", params(("limit" = Option<i64>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "`{items: [record]}`, newest first", body = serde_json::Value), (status = 403, description = "Platform admins only", body = ErrorEnvelope)))]
/// `GET /api/audit`: the most recent audit records; platform admins only.
pub async fn audit_log(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let query = super::error::query(query)?;
    if principal.role != Role::PlatformAdmin {
        return Err(ApiError::forbidden(
            "only platform admins may read the audit log",
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::input("limit: must be between 1 and 1000"));
    }
    let records = state.platform.audit.recent(limit).await?;
    Ok(Json(json!({ "items": records })))
}
