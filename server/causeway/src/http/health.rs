//! `/healthz` (the process runs), `/readyz` (it can serve: migrations applied, the database
//! answers, and it is not stopping) and `/metrics` (Prometheus text format, for whom
//! `metrics_public` and `metrics_token_file` allow).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // First, so that a load balancer takes a stopping server out while it still serves.
    if state.draining.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "draining", "reason": "the server is stopping; requests are still served until it does" }),
            ),
        );
    }
    if !state.migrated.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "reason": "database migrations have not been applied yet" }),
            ),
        );
    }
    match state.platform.store.ping(Duration::from_secs(2)).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            // The error's text can name hosts, users and database names; anyone may read
            // `/readyz`, so the text stays in the log.
            tracing::warn!(%error, "readiness check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database unreachable" })),
            )
        }
    }
}

/// `GET /metrics`: open when `metrics_public` is set, else only with the bearer secret of
/// `metrics_token_file` (compared in constant time). The authentication middleware lets this path
/// through untouched, since that secret is not an API token.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.config.metrics_public && !metrics_credential_ok(&state, &headers) {
        return super::error::ApiError::unauthorized(
            "/metrics needs `Authorization: Bearer <the secret in metrics_token_file>` (or metrics_public = true)",
        )
        .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

fn metrics_credential_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = state.config.metrics_token() else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    presented.is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()))
}

/// Equal contents, in a time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_by_content() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"abcd"));
    }
}
