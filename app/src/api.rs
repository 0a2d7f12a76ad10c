//! Server functions: the portal's calls into the domain. On the server they run in the request;
//! in the browser they are HTTP calls under `/api/portal/`.

use leptos::prelude::*;

use crate::model::{HomeView, SignInChoices, UserView};

/// The signed-in user, or `None`.
#[server(prefix = "/api/portal", endpoint = "session")]
pub async fn current_user() -> Result<Option<UserView>, ServerFnError> {
    Ok(crate::server::principal().map(UserView::from))
}

/// The home page: the user, their teams and what those teams own.
#[server(prefix = "/api/portal", endpoint = "home")]
pub async fn home() -> Result<HomeView, ServerFnError> {
    use crate::model::EntityRow;
    use crate::server::{platform, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let team_refs: Vec<String> = principal
        .teams
        .iter()
        .map(|t| t.entity_ref.clone())
        .collect();
    let owned = causeway_platform::org::owned_by(&platform.catalog, &team_refs)
        .into_iter()
        .map(|e| EntityRow {
            entity_ref: e.entity_ref,
            kind: e.kind,
            namespace: e.namespace,
            name: e.name,
            title: e.title,
            description: e.description,
            spec_type: e.spec_type,
            lifecycle: e.lifecycle,
            owner_ref: e.owner_ref,
        })
        .collect();
    Ok(HomeView {
        user: principal.into(),
        owned,
    })
}

/// What the sign-in page offers; callable without a session.
#[server(prefix = "/api/portal", endpoint = "sign-in-options")]
pub async fn sign_in_options() -> Result<SignInChoices, ServerFnError> {
    use crate::server::{domain_error, platform, portal_config};

    let dev_sign_in = portal_config().dev_sign_in;
    let users = if dev_sign_in {
        platform()?.directory.users().await.map_err(domain_error)?
    } else {
        Vec::new()
    };
    Ok(SignInChoices { dev_sign_in, users })
}
