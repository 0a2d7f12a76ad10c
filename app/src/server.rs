//! Server-side access for server functions: the domain handle and the signed-in user, both put
//! into the request's context by the host.

pub mod approvals;
pub mod catalog;
pub mod create;
pub mod delivery;
pub mod delivery_charts;
pub mod environments;
pub mod fleet;
mod graph;
pub mod guardrails;
pub mod scorecard;
pub mod scorecard_views;
pub mod signed;
pub mod views;

use causeway_platform::Platform;
use causeway_platform::identity::{Principal, Role};
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::{Denial, PortalError};
use crate::model::{TeamView, UserView};

/// Portal settings the host provides as context next to [`Platform`].
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Whether `POST /auth/dev/sign-in` exists.
    pub dev_sign_in: bool,
    /// The OpenID Connect provider's name, when `GET /auth/oidc/start` exists.
    pub oidc_provider: Option<String>,
}

/// The domain handle.
pub fn platform() -> Result<Platform, PortalError> {
    use_context::<Platform>().ok_or_else(|| PortalError::internal("the platform is not available"))
}

/// The portal settings.
pub fn portal_config() -> PortalConfig {
    use_context::<PortalConfig>().unwrap_or(PortalConfig {
        dev_sign_in: false,
        oidc_provider: None,
    })
}

/// The signed-in user of this request, if any; the host's authentication layer puts it into the
/// request extensions.
pub fn principal() -> Option<Principal> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned())
}

/// The request id the host assigned to this request (never one a client chose), for audit records.
pub fn request_id() -> Option<String> {
    use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// The signed-in user, or a 401 error.
pub fn require_principal() -> Result<Principal, PortalError> {
    principal().ok_or_else(|| failed(PortalError::unauthenticated()))
}

/// `error`, with this request's answer given its status (see [`set_status`]): every error a
/// server function returns goes through here or [`domain_error`], so the status the browser sees
/// is the one the error carries.
pub fn failed(error: PortalError) -> PortalError {
    set_status(StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    error
}

/// Sets the status of this request's answer. A plain form post (a server function called by an
/// HTML form, without JavaScript or with it) is left alone: it is answered with a redirect to the
/// page it came from carrying the message in its address, and any other status would stop the
/// browser from following it. Pages and the portal's own client get the status.
pub fn set_status(status: StatusCode) {
    let form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts.uri.path().starts_with("/api/portal/")
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if form_post {
        return;
    }
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
}

/// A domain error as the browser receives it, keeping its meaning: the status its variant stands
/// for (a policy denial is a 403 listing each denial's field, message and fix, not a 500) and its
/// message. Only failures of the server itself are logged and answered as an internal error,
/// since their text may describe the database rather than the request.
pub fn domain_error(error: causeway_platform::Error) -> PortalError {
    use causeway_platform::Error as E;
    let status = match &error {
        E::InvalidInput { .. } | E::Rejected(_) => StatusCode::BAD_REQUEST,
        E::PolicyDenied(_) | E::Forbidden(_) => StatusCode::FORBIDDEN,
        E::NotFound(_) => StatusCode::NOT_FOUND,
        E::Conflict(_) => StatusCode::CONFLICT,
        E::Cluster(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Database(_) | E::Migration(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let error = match error {
        E::PolicyDenied(denials) => PortalError {
            status: status.as_u16(),
            message: guardrails::denial_message(&denials),
            denials: denials
                .iter()
                .map(|d| Denial {
                    field: d.field.clone(),
                    message: d.message.clone(),
                    fix: d.fix.clone(),
                    policy: d.policy.clone(),
                })
                .collect(),
        },
        E::Database(_) | E::Migration(_) => {
            leptos::logging::error!("server function failed: {error}");
            PortalError::internal("internal error; the server log has the details")
        }
        other => PortalError::new(status.as_u16(), other.to_string()),
    };
    failed(error)
}

impl From<Principal> for UserView {
    fn from(p: Principal) -> Self {
        Self {
            entity_ref: p.entity_ref,
            display_name: p.display_name,
            email: p.email,
            teams: p
                .teams
                .into_iter()
                .map(|t| TeamView {
                    entity_ref: t.entity_ref,
                    display_name: t.display_name,
                })
                .collect(),
            platform_admin: p.role == Role::PlatformAdmin,
        }
    }
}

/// `view` rendered to HTML, on the server.
pub fn render_html(view: impl IntoView + 'static) -> String {
    use leptos::tachys::view::RenderHtml;
    Owner::new().with(|| view.into_view().to_html())
}

/// The message of a server function's error that came back in the address (`__err`), as a
/// form without JavaScript receives it after a failed post.
pub fn posted_error(encoded: &str) -> Option<String> {
    crate::error::decode_posted(encoded).map(|error| error.message)
}
