//! The delivery adapters' webhooks: Alertmanager (`POST /api/events/alertmanager`), Gitea
//! (`POST /api/events/gitea`) and GitHub (`POST /api/events/github`). Each body is read and
//! recorded by the domain (`delivery::adapters`), which applies the rules of `POST /api/events`:
//! who may post for which service, idempotency, audit.
//!
//! Authentication: Alertmanager sends an API token (`http_config.authorization`), so its endpoint
//! is behind the usual authentication. The push endpoints take an API token too (Gitea can send an
//! Authorization header) or, since GitHub cannot send one, the webhook's HMAC-SHA256 signature of
//! the body with the secret of `github_webhook_secret_file` / `gitea_webhook_secret_file`; a
//! signed push is recorded by the platform itself (`system:github`, `system:gitea`). The
//! authentication middleware lets unauthenticated requests to those two paths through to here,
//! where a missing or wrong signature is a 401.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use causeway_platform::delivery::adapters::push::{Forge, verify_signature};
use causeway_platform::delivery::adapters::system_principal;
use causeway_platform::identity::Principal;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::webhooks::{AlertmanagerNotification, PushPayload, WebhookReceived};
use super::error::ApiError;

/// The paths the authentication middleware lets through without a credential, since a signature
/// may stand for one.
pub const SIGNED_PATHS: &[&str] = &["/api/events/gitea", "/api/events/github"];

#[utoipa::path(post, path = "/api/events/alertmanager", tag = "delivery", request_body = AlertmanagerNotification,
    responses((status = 200, description = "Incidents opened and resolved from Causeway's burn-rate alerts; other alerts are counted as skipped", body = WebhookReceived),
        (status = 400, description = "Malformed JSON, not version 4, or one of Causeway's alerts without its fingerprint, status or times: every problem with its field (`alerts[1].startsAt`). Nothing is recorded", body = ErrorEnvelope),
        (status = 401, description = "No API token or session, or an invalid one", body = ErrorEnvelope),
        (status = 403, description = "A read-only token, or an alert of a service whose owning team the token's owner is not in (platform admins' tokens post for every service)", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/events/alertmanager`: Alertmanager's webhook.
pub async fn alertmanager(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<WebhookReceived>, ApiError> {
    let body = super::error::json_body(body)?;
    let received = state
        .platform
        .delivery
        .alertmanager(&principal, &body, request_id(&headers).as_deref())
        .await?;
    Ok(Json(WebhookReceived::from(&received)))
}

#[utoipa::path(post, path = "/api/events/gitea", tag = "delivery", request_body = PushPayload,
    params(("X-Gitea-Event" = String, Header, description = "`push`; other events are refused"),
        ("X-Gitea-Signature" = Option<String>, Header, description = "HMAC-SHA256 of the body with the secret of gitea_webhook_secret_file, in hexadecimal; stands for an API token")),
    responses((status = 200, description = "The pushed commits recorded as changes of the components built from the repository; a repository no component is built from counts its commits as skipped", body = WebhookReceived),
        (status = 400, description = "Malformed JSON, an event other than push, or a payload without its ref, repository address or commits' ids and timestamps: every problem with its field", body = ErrorEnvelope),
        (status = 401, description = "Neither an API token nor a valid signature", body = ErrorEnvelope),
        (status = 403, description = "A read-only token, or a repository of a component whose owning team the token's owner is not in", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/events/gitea`: Gitea's push webhook.
pub async fn gitea(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookReceived>, ApiError> {
    push(state, principal, headers, body, Forge::Gitea).await
}

#[utoipa::path(post, path = "/api/events/github", tag = "delivery", request_body = PushPayload,
    params(("X-GitHub-Event" = String, Header, description = "`push` (`ping`, sent when the webhook is made, is answered with nothing recorded); other events are refused"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "`sha256=` and the HMAC-SHA256 of the body with the secret of github_webhook_secret_file; stands for an API token")),
    responses((status = 200, description = "The pushed commits recorded as changes of the components built from the repository; a repository no component is built from counts its commits as skipped", body = WebhookReceived),
        (status = 400, description = "Malformed JSON, an event other than push, or a payload without its ref, repository address or commits' ids and timestamps: every problem with its field", body = ErrorEnvelope),
        (status = 401, description = "Neither an API token nor a valid signature", body = ErrorEnvelope),
        (status = 403, description = "A read-only token, or a repository of a component whose owning team the token's owner is not in", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /api/events/github`: GitHub's push webhook.
pub async fn github(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookReceived>, ApiError> {
    push(state, principal, headers, body, Forge::GitHub).await
}

async fn push(
    state: AppState,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    forge: Forge,
) -> Result<Json<WebhookReceived>, ApiError> {
    let body = body.map_err(|e| {
        let message = format!("request body: {}", e.body_text());
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            super::error::too_large(message)
        } else {
            ApiError::input(message)
        }
    })?;
    let (event_header, signature_header, secret) = match forge {
        Forge::Gitea => (
            "X-Gitea-Event",
            "X-Gitea-Signature",
            state.config.gitea_webhook_secret(),
        ),
        Forge::GitHub => (
            "X-GitHub-Event",
            "X-Hub-Signature-256",
            state.config.github_webhook_secret(),
        ),
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Who sends it comes first, so that nobody learns more than "401" without a credential.
    let principal = match principal {
        Some(Extension(principal)) => principal,
        None => {
            let signed = match (header(signature_header), secret) {
                (Some(signature), Some(secret)) => {
                    verify_signature(secret.as_bytes(), &body, signature)
                }
                _ => false,
            };
            if !signed {
                return Err(ApiError::unauthorized(format!(
                    "send `Authorization: Bearer <token>` with scope write, or sign the body with the webhook secret ({signature_header}){}",
                    if secret.is_none() {
                        format!("; no {}_webhook_secret_file is configured", forge.name())
                    } else {
                        String::new()
                    }
                )));
            }
            system_principal(&format!("system:{}", forge.name()))
        }
    };
    match header(event_header) {
        Some("push") => {}
        Some("ping") if forge == Forge::GitHub => {
            return Ok(Json(WebhookReceived {
                accepted: 0,
                duplicates: 0,
                skipped: 0,
            }));
        }
        other => {
            return Err(ApiError::input(format!(
                "{event_header}: {} is not a push; Causeway reads push events only (configure the webhook to send pushes)",
                other.unwrap_or("(missing)")
            )));
        }
    }
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::input(format!("request body: not JSON: {e}")))?;
    let received = state
        .platform
        .delivery
        .push(&principal, forge, &body, request_id(&headers).as_deref())
        .await?;
    Ok(Json(WebhookReceived::from(&received)))
}
