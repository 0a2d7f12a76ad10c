//! The OpenAPI document of the REST API, served at `/api/openapi.json`. It is generated from the
//! handlers' annotations and the transfer objects they answer with (`dto/`), so it cannot drift
//! from the routes it describes; `tests/api/schemathesis.sh` fuzzes the server against it.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

pub use super::dto::ErrorEnvelope;
use super::{
    api, approvals, catalog, events, fleet, guardrails, provision, scaffolder, scorecards, tasks,
    template_versions, webhooks,
};

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

/// The answers every operation can give, whatever the handler: 401 from the authentication
/// middleware, and 503 when the database (or the cluster) cannot be reached.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let common = [
            ("401", "No session cookie or API token, or an invalid one"),
            ("503", "The database is unreachable; try again shortly"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content(
                                        "application/json",
                                        ContentBuilder::new()
                                            .schema(Some(Ref::from_schema_name(
                                                ErrorEnvelope::name(),
                                            )))
                                            .build(),
                                    )
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Causeway API", description = "Causeway's REST API. The catalog part follows Backstage's catalog backend (paths, parameters, JSON shapes, error envelope). Every error is answered in Backstage's error envelope."),
    paths(
        api::me, api::list_tokens, api::create_token, api::revoke_token, api::audit_log,
        catalog::by_query, catalog::list, catalog::by_name, catalog::by_uid, catalog::delete_by_uid, catalog::by_refs,
        catalog::facets, catalog::validate_entity, catalog::locations, catalog::location, catalog::add_location,
        catalog::delete_location, catalog::refresh, catalog::import,
        provision::plan, provision::apply, provision::destroy, provision::extend, provision::status, provision::environments, provision::kubeconfig, tasks::list, tasks::get, tasks::events, tasks::cancel,
        approvals::list, approvals::get, approvals::approve, approvals::reject,
        guardrails::config, guardrails::reload, guardrails::export, guardrails::policies, guardrails::test,
        guardrails::list_waivers, guardrails::grant_waiver, guardrails::revoke_waiver,
        scaffolder::actions, scaffolder::parameter_schema, scaffolder::dry_run, scaffolder::create_task, scaffolder::list_tasks,
        scaffolder::get_task, scaffolder::task_events, scaffolder::task_eventstream, scaffolder::cancel_task, scaffolder::retry_task, scaffolder::cleanup_task,
        template_versions::list, template_versions::diff, fleet::fleet, fleet::upgrade, fleet::refresh,
        events::ingest, events::dora,
        scorecards::definitions, scorecards::results, scorecards::evaluate,
        webhooks::alertmanager, webhooks::gitea, webhooks::github,
    ),
    components(schemas(ErrorEnvelope, super::dto::tasks::TaskEvent, super::dto::tasks::TaskEnd)),
    modifiers(&BearerToken, &CommonResponses),
    security(("token" = [])),
    tags((name = "catalog", description = "Backstage-compatible software catalog"), (name = "identity", description = "The caller, API tokens, audit log"), (name = "provision", description = "A service's environments on Kubernetes"), (name = "approvals", description = "Applies waiting for an approver, bound to their exact plan"), (name = "guardrails", description = "The platform configuration, its policies and waivers"), (name = "delivery", description = "Deployments, changes and incidents per service, and DORA's measures"), (name = "scorecards", description = "Scorecards the platform team defines, and every entity's results with their history"), (name = "tasks", description = "Durable tasks with live progress"), (name = "scaffolder", description = "Software templates (Backstage's scaffolder API)")),
)]
pub struct ApiDoc;

/// The document as served: utoipa 5 writes the members of a response's link objects in snake
/// case (`operation_id`), which OpenAPI tools ignore; they are renamed to OpenAPI's names.
pub fn json() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let links = document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|links| links.values_mut())
        .filter_map(serde_json::Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(from) {
                link.insert(to.to_owned(), value);
            }
        }
    }
    document
}

/// `GET /api/openapi.json`
pub async fn document() -> Json<serde_json::Value> {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOCUMENT.get_or_init(json).clone())
}
