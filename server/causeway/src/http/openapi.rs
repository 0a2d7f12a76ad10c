//! The OpenAPI document of the REST API, served at `/api/openapi.json`. It is generated from the
//! handlers' annotations, so it cannot drift from the routes it describes.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{api, catalog, provision, tasks};

/// Backstage's error envelope, used by every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// `{name, message}`: `name` is e.g. `InputError`, `NotFoundError`, `AuthenticationError`.
    error: ErrorBody,
    /// `{method, url}` of the request that failed.
    request: RequestInfo,
    /// `{statusCode}`.
    response: ResponseInfo,
}

#[derive(Debug, Serialize, ToSchema)]
struct ErrorBody {
    name: String,
    message: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct RequestInfo {
    method: String,
    url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ResponseInfo {
    status_code: u16,
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`causeway token create` or a portal session cookie"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Causeway API", description = "Causeway's REST API. The catalog part follows Backstage's catalog backend (paths, parameters, JSON shapes, error envelope)."),
    paths(
        api::me, api::list_tokens, api::create_token, api::revoke_token, api::audit_log,
        catalog::by_query, catalog::list, catalog::by_name, catalog::by_uid, catalog::delete_by_uid, catalog::by_refs,
        catalog::facets, catalog::validate_entity, catalog::locations, catalog::location, catalog::add_location,
        catalog::delete_location, catalog::refresh, catalog::import,
        provision::plan, provision::apply, provision::destroy, provision::status, provision::environments, tasks::list, tasks::get, tasks::events, tasks::cancel,
    ),
    components(schemas(ErrorEnvelope, provision::Target)),
    modifiers(&BearerToken),
    security(("token" = [])),
    tags((name = "catalog", description = "Backstage-compatible software catalog"), (name = "identity", description = "The caller, API tokens, audit log"), (name = "provision", description = "A service's environments on Kubernetes"), (name = "tasks", description = "Durable tasks with live progress")),
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
