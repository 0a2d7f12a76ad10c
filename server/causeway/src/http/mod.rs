//! The HTTP server: one axum router for the portal (Leptos SSR and server functions), the REST API,
//! authentication endpoints, health and metrics, wrapped in the production middleware stack.

pub mod api;
pub mod approvals;
pub mod auth;
pub mod catalog;
pub mod correlation;
pub mod dto;
pub mod entity_list;
pub mod error;
pub mod events;
pub mod fleet;
pub mod guardrails;
pub mod health;
pub mod host;
pub mod oidc;
pub mod openapi;
pub mod posted_errors;
pub mod provision;
pub mod scaffolder;
pub mod scorecards;
pub mod tasks;
pub mod template_versions;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware;
use axum::routing::{delete, get, post};
use causeway_app::server::PortalConfig;
use causeway_app::{App, shell};
use causeway_platform::Platform;
use causeway_platform::audit::Entry;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::{AuthMode, Config};
use correlation::{CORRELATION_ID, REQUEST_ID};

/// Everything a handler may need, behind one `Arc`: axum clones the state for every handler and
/// every middleware of every request, and the services hold dozens of handles between them, so
/// cloning the parts themselves took a few percent of a short request's time.
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

impl std::ops::Deref for AppState {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

impl From<Handles> for AppState {
    fn from(handles: Handles) -> Self {
        Self(Arc::new(handles))
    }
}

/// The parts of [`AppState`].
pub struct Handles {
    pub platform: Platform,
    /// The provisioning engine, configured from `kubeconfig` and `gitops_dir`.
    pub provisioner: causeway_platform::provision::Provisioner,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub metrics: PrometheusHandle,
    /// Set once migrations have been applied; `/readyz` stays 503 until then.
    pub migrated: Arc<AtomicBool>,
    /// Set when the server starts to stop; `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// The OpenID Connect relying party, when `auth_mode = "oidc"`.
    pub oidc: Option<Arc<oidc::Oidc>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// What the catalog may read, from the configuration.
    pub fn read_policy(&self) -> causeway_platform::catalog::locations::ReadPolicy {
        // The repositories templates publish to configured git hosts are read back too.
        let mut allowed_hosts = self.config.catalog_allowed_hosts.clone();
        allowed_hosts.extend(
            self.config
                .git_integrations
                .iter()
                .filter_map(|i| i.clone_host()),
        );
        causeway_platform::catalog::locations::ReadPolicy {
            allowed_hosts,
            delete_orphans: self.config.catalog_delete_orphans,
        }
    }

    /// Appends an audit record. A failure to audit is logged loudly but does not undo the action,
    /// which has already happened by the time it is recorded.
    pub async fn record(&self, entry: Entry<'_>) {
        let action = entry.action.to_owned();
        if let Err(error) = self.platform.audit.record(entry).await {
            tracing::error!(%error, %action, "could not write an audit record");
        }
    }
}

/// The Leptos options for a site directory: the bundle is `pkg/causeway.js` + `pkg/causeway_bg.wasm`.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("causeway")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

/// ` <origin>` of the OpenID Connect issuer, for the policy's form-action, or nothing.
fn provider_origin(config: &Config) -> String {
    match (&config.auth_mode, &config.oidc.issuer) {
        (AuthMode::Oidc, Some(issuer)) => format!(" {}", issuer.origin().ascii_serialization()),
        _ => String::new(),
    }
}

/// Builds the complete application.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let platform = state.platform.clone();
    let provisioner = state.provisioner.clone();
    let portal = PortalConfig {
        dev_sign_in: state.config.auth_mode == AuthMode::Dev,
        oidc_provider: state
            .oidc
            .as_ref()
            .map(|o| o.relying.provider_name().to_owned()),
    };
    let read_policy = state.read_policy();
    let context = move || {
        provide_context(platform.clone());
        provide_context(provisioner.clone());
        provide_context(portal.clone());
        // The fleet page's "check the change requests now" reads merged services' locations.
        provide_context(read_policy.clone());
    };
    let leptos = state.leptos.clone();

    let api = Router::new()
        .route("/api/me", get(api::me))
        .route("/api/tokens", get(api::list_tokens).post(api::create_token))
        .route("/api/tokens/{id}", delete(api::revoke_token))
        .route("/api/audit", get(api::audit_log))
        .route("/api/catalog/entities", get(catalog::list))
        .route("/api/catalog/entities/by-query", get(catalog::by_query))
        .route(
            "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
            get(catalog::by_name),
        )
        .route(
            "/api/catalog/entities/by-uid/{uid}",
            get(catalog::by_uid).delete(catalog::delete_by_uid),
        )
        .route("/api/catalog/entities/by-refs", post(catalog::by_refs))
        .route("/api/catalog/entity-facets", get(catalog::facets))
        .route(
            "/api/catalog/validate-entity",
            post(catalog::validate_entity),
        )
        .route(
            "/api/catalog/locations",
            get(catalog::locations).post(catalog::add_location),
        )
        .route(
            "/api/catalog/locations/{id}",
            get(catalog::location).delete(catalog::delete_location),
        )
        .route("/api/catalog/refresh", post(catalog::refresh))
        .route("/api/catalog/import", post(catalog::import))
        .route("/api/provision/plan", post(provision::plan))
        .route("/api/provision/apply", post(provision::apply))
        .route("/api/provision/destroy", post(provision::destroy))
        .route("/api/provision/extend", post(provision::extend))
        .route("/api/provision/status", post(provision::status))
        .route("/api/provision/environments", get(provision::environments))
        .route("/api/provision/kubeconfig", get(provision::kubeconfig))
        .route("/api/platform/config", get(guardrails::config))
        .route("/api/platform/config/reload", post(guardrails::reload))
        .route("/api/platform/config/export", get(guardrails::export))
        .route("/api/policies", get(guardrails::policies))
        .route("/api/policies/test", post(guardrails::test))
        .route(
            "/api/policies/waivers",
            get(guardrails::list_waivers).post(guardrails::grant_waiver),
        )
        .route(
            "/api/policies/waivers/{id}",
            delete(guardrails::revoke_waiver),
        )
        .route("/api/events", post(events::ingest))
        .route("/api/events/alertmanager", post(webhooks::alertmanager))
        .route("/api/events/gitea", post(webhooks::gitea))
        .route("/api/events/github", post(webhooks::github))
        .route("/api/delivery/dora", get(events::dora))
        .route("/api/scorecards", get(scorecards::definitions))
        .route("/api/scorecards/results", get(scorecards::results))
        .route("/api/scorecards/evaluate", post(scorecards::evaluate))
        .route("/api/approvals", get(approvals::list))
        .route("/api/approvals/{id}", get(approvals::get))
        .route("/api/approvals/{id}/approve", post(approvals::approve))
        .route("/api/approvals/{id}/reject", post(approvals::reject))
        .route("/api/scaffolder/v2/actions", get(scaffolder::actions))
        .route("/api/scaffolder/v2/dry-run", post(scaffolder::dry_run))
        .route(
            "/api/scaffolder/v2/tasks",
            get(scaffolder::list_tasks).post(scaffolder::create_task),
        )
        .route("/api/scaffolder/v2/tasks/{id}", get(scaffolder::get_task))
        .route(
            "/api/scaffolder/v2/tasks/{id}/events",
            get(scaffolder::task_events),
        )
        .route(
            "/api/scaffolder/v2/tasks/{id}/eventstream",
            get(scaffolder::task_eventstream),
        )
        .route(
            "/api/scaffolder/v2/tasks/{id}/cancel",
            post(scaffolder::cancel_task),
        )
        .route(
            "/api/scaffolder/v2/tasks/{id}/retry",
            post(scaffolder::retry_task),
        )
        .route(
            "/api/scaffolder/v2/tasks/{id}/cleanup",
            post(scaffolder::cleanup_task),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema",
            get(scaffolder::parameter_schema),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions",
            get(template_versions::list),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/versions/diff",
            get(template_versions::diff),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet",
            get(fleet::fleet),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/fleet/refresh",
            post(fleet::refresh),
        )
        .route(
            "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/upgrades",
            post(fleet::upgrade),
        )
        .route("/api/tasks", get(tasks::list))
        .route("/api/tasks/{id}", get(tasks::get))
        .route("/api/tasks/{id}/events", get(tasks::events))
        .route("/api/tasks/{id}/cancel", post(tasks::cancel))
        .route("/api/openapi.json", get(openapi::document));

    let mut app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/auth/sign-out", post(auth::sign_out))
        .merge(api)
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell));
    if state.config.auth_mode == AuthMode::Dev {
        app = app.route("/auth/dev/sign-in", post(auth::dev_sign_in));
    }
    if state.oidc.is_some() {
        app = app
            .route("/auth/oidc/start", get(oidc::start))
            .route("/auth/oidc/callback", get(oidc::callback));
    }

    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit_bytes;
    let security_headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            // Leptos' hydration bootstrap is an inline module script, and WebAssembly needs
            // 'wasm-unsafe-eval'; everything else is same-origin only, except that with OpenID
            // Connect the sign-out form's redirect may go on to the provider's logout, which
            // browsers check against form-action too.
            HeaderValue::from_str(&format!(
                "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'{}",
                provider_origin(&state.config)
            ))
            .unwrap_or(HeaderValue::from_static("default-src 'self'")),
        ));
    if state.config.secure_cookies() {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }

    // Extractors that buffer bodies (`Json`, `Bytes`) have their own 2 MiB default; the configured
    // limit is enforced once, by `RequestBodyLimitLayer` below.
    app.layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn(error::envelope))
        .layer(middleware::from_fn(error::portal_status))
        .layer(middleware::from_fn(posted_errors::sign))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // Outside authentication, so that a request for another host name is answered by nothing
        // else (development mode only; see `host.rs`).
        .layer(middleware::from_fn_with_state(state.clone(), host::check))
        .layer(middleware::from_fn(crate::telemetry::record_metrics))
        .layer(
            ServiceBuilder::new()
                // The client's `x-request-id` becomes its correlation id first, so that the request
                // id every record carries is always one this server made.
                .layer(middleware::from_fn(correlation::correlate))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let header = |name: &axum::http::HeaderName| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v: &HeaderValue| v.to_str().ok())
                                .unwrap_or("-")
                        };
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            uri = %request.uri(),
                            request_id = %header(&REQUEST_ID),
                            correlation_id = %header(&CORRELATION_ID),
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(security_headers)
                .layer(CompressionLayer::new())
                // The limit answers oversized bodies itself, in plain text; this puts the REST
                // API's in the error envelope.
                .layer(middleware::from_fn(error::body_limit))
                .layer(RequestBodyLimitLayer::new(body_limit))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                )),
        )
        .with_state(state)
}
