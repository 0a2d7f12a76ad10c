//! The REST API's error type and Backstage's error envelope:
//! `{"error":{"name","message"},"request":{"method","url"},"response":{"statusCode"}}`.
//!
//! Handlers return [`ApiError`], which travels in the response's extensions; the [`envelope`]
//! middleware, which knows the request, writes the body. That keeps request details out of every
//! handler's signature.

use axum::Json;
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::dto::ErrorEnvelope;
use super::dto::error::FieldError;

/// An error answered by the REST API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Backstage's error name, e.g. `NotFoundError`, `InputError`.
    pub name: &'static str,
    pub message: String,
    /// One entry per broken rule, when there were several.
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationError", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "NotAllowedError", message)
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InputError", message)
    }

    /// The full envelope for a request.
    pub fn to_response(&self, method: &Method, uri: &Uri) -> Response {
        let mut body = ErrorEnvelope::new(
            self.name,
            &self.message,
            method.as_str(),
            &uri.to_string(),
            self.status.as_u16(),
        );
        body.errors = self.errors.clone();
        (self.status, Json(body)).into_response()
    }
}

/// A JSON request body that could not be read, as a 400 in the envelope (Backstage answers every
/// malformed body with `InputError`); a body over the size limit keeps its 413.
pub fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|axum::Json(b)| b).map_err(|e| {
        let message = format!("request body: {}", e.body_text());
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(message)
        } else {
            ApiError::input(message)
        }
    })
}

/// A request body over the configured limit.
pub fn too_large(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLargeError",
        message,
    )
}

/// Writes the envelope for the REST API's 413s that the body limit answers before any handler
/// runs (its own body is plain text).
pub async fn body_limit(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.extensions().get::<ApiError>().is_none()
        && (uri.path() == "/api" || uri.path().starts_with("/api/"))
        && !uri.path().starts_with("/api/portal/")
        && !is_json(&response)
    {
        return too_large("request body: larger than the configured body_limit_bytes")
            .to_response(&method, &uri);
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A query string that could not be read, as a 400 in the envelope naming the parameter (axum's
/// own rejection would answer in plain text).
pub fn query<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|axum::extract::Query(q)| q)
        .map_err(|e| ApiError::input(format!("query string: {}", e.body_text())))
}

impl From<causeway_platform::Error> for ApiError {
    fn from(error: causeway_platform::Error) -> Self {
        use causeway_platform::Error as E;
        match &error {
            E::InvalidInput { .. } => Self::input(error.to_string()),
            E::Rejected(problems) => {
                let mut api = Self::input(error.to_string());
                api.errors = problems
                    .iter()
                    .map(|p| FieldError::new(&p.field, &p.message))
                    .collect();
                api
            }
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "NotFoundError", error.to_string()),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "ConflictError", error.to_string()),
            E::Forbidden(_) => Self::forbidden(error.to_string()),
            E::PolicyDenied(verdicts) => {
                let mut api = Self::forbidden(error.to_string());
                api.errors = verdicts.iter().map(FieldError::denied).collect();
                api
            }
            E::Cluster(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                error.to_string(),
            ),
            E::Database(_) | E::Migration(_) => {
                tracing::error!(%error, "store error while serving an API call");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableError",
                    "the database is unavailable; try again shortly",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the envelope for responses that carry an [`ApiError`].
pub async fn envelope(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    match response.extensions().get::<ApiError>() {
        Some(error) => error.to_response(&method, &uri),
        None => response,
    }
}

/// Largest server-function error body inspected by [`portal_status`].
const PORTAL_ERROR_BYTES: usize = 64 * 1024;

/// Gives a failed server function's answer the status its error carries. Leptos answers every
/// server-function error with 500; the portal's error type (`causeway_app::error::PortalError`)
/// holds the status its cause stands for — 400 for arguments that do not decode, 403 for a
/// refusal — and that is what the caller must see. The body, which the portal's own client
/// decodes, is kept as it is.
pub async fn portal_status(request: Request, next: Next) -> Response {
    let portal = request.uri().path().starts_with("/api/portal/");
    let response = next.run(request).await;
    if !portal || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, PORTAL_ERROR_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "server function failed").into_response();
    };
    if let Some(status) = serde_json::from_slice::<causeway_app::error::PortalError>(&bytes)
        .ok()
        .and_then(|error| StatusCode::from_u16(error.status).ok())
        .filter(|status| status.is_client_error() || status.is_server_error())
    {
        parts.status = status;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
