//! Causeway's own REST endpoints for identity: who am I, my API tokens, the audit log.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::identity::{Issuer, Principal, TokenGrant, TokenRequest};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::identity::{
    AuditList, AuditRecord, CreatedToken, Me, NewToken, RevokedToken, Token, TokenList,
};
use super::error::ApiError;

#[utoipa::path(get, path = "/api/me", tag = "identity", responses((status = 200, description = "The caller", body = Me)))]
/// `GET /api/me`: the caller.
pub async fn me(Extension(principal): Extension<Principal>) -> Json<Me> {
    Json(Me::from(&principal))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Platform admins may list everyone's tokens with `all=true`.
    #[serde(default)]
    all: bool,
}

#[utoipa::path(get, path = "/api/tokens", tag = "identity", params(("all" = Option<bool>, Query, description = "Every user's tokens (platform admins)")),
    responses((status = 200, description = "Tokens, never with secrets", body = TokenList),
        (status = 400, description = "Malformed query string", body = ErrorEnvelope),
        (status = 403, description = "`all=true` from someone other than a platform admin", body = ErrorEnvelope)))]
/// `GET /api/tokens`: the caller's tokens (everyone's for an admin with `all=true`), without secrets.
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TokenList>, ApiError> {
    let query = super::error::query(query)?;
    let tokens = state
        .platform
        .tokens
        .list_for(&principal, query.all)
        .await?;
    Ok(Json(TokenList {
        items: tokens.iter().map(Token::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/tokens", tag = "identity", request_body = NewToken,
    responses((status = 201, description = "The token and its secret, shown only here", body = CreatedToken,
            links(("RevokeToken" = (operation_id = "revoke_token", parameters(("id" = "$response.body#/token/id")))))),
        (status = 400, description = "Malformed body, invalid name, unknown scope, or `expiresInDays` outside 1 to `token_max_days`", body = ErrorEnvelope),
        (status = 403, description = "`admin` from someone other than a platform admin, or a token asking for a token broader or longer-lived than itself", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/tokens` with `{"name": …, "scopes"?: […], "expiresInDays"?: n}`: creates a token
/// for the caller; the secret is in this response only. A session may create any token its user
/// may hold; a token nothing broader or longer-lived than itself.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    grant: Option<Extension<TokenGrant>>,
    headers: HeaderMap,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = super::error::json_body(body)?;
    let issuer = match &grant {
        Some(Extension(grant)) => Issuer::Token(grant),
        None => Issuer::Session,
    };
    let request = TokenRequest {
        name: body.name,
        scopes: body.scopes,
        expires_in_days: body.expires_in_days,
    };
    let created = state
        .platform
        .tokens
        .issue(&principal, issuer, &request)
        .await?;
    state
        .record(Entry {
            actor: &principal.entity_ref,
            action: "token.create",
            target: &created.token.id,
            outcome: Outcome::Success,
            detail: json!({
                "name": created.token.name,
                "user": created.token.user_ref,
                "scopes": created.token.scopes,
                "expiresAt": created.token.expires_at_millis,
                "by": grant.as_ref().map_or("session", |_| "token"),
            }),
            request_id: request_id(&headers).as_deref(),
        })
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: Token::from(&created.token),
            secret: created.secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "identity", params(("id" = String, Path)),
    responses((status = 200, description = "The token, now revoked", body = RevokedToken), (status = 404, description = "No such token of yours", body = ErrorEnvelope)))]
/// `DELETE /api/tokens/{id}`: revokes one of the caller's tokens (any token for an admin).
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RevokedToken>, ApiError> {
    let token = state
        .platform
        .tokens
        .revoke_by(
            &principal,
            &id,
            &state.platform.audit,
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok(Json(RevokedToken {
        token: Token::from(&token),
    }))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "identity", params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, description = "Audit records, newest first", body = AuditList),
        (status = 400, description = "Malformed query string, or `limit` out of range", body = ErrorEnvelope),
        (status = 403, description = "Platform admins only", body = ErrorEnvelope)))]
/// `GET /api/audit`: the most recent audit records; platform admins only.
pub async fn audit_log(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    let query = super::error::query(query)?;
    let records = state
        .platform
        .audit
        .recent_for(&principal, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(AuditList {
        items: records.iter().map(AuditRecord::from).collect(),
    }))
}
