//! Server functions: the portal's calls into the domain. On the server they run in the request;
//! in the browser they are HTTP calls under `/api/portal/`.

use leptos::prelude::*;

use crate::error::PortalError;

mod approvals;
mod create;
mod delivery;
mod environments;
mod fleet;
mod guardrails;
mod pages;
mod template_versions;
pub use approvals::*;
pub use create::*;
pub use environments::*;
pub use fleet::*;
pub use guardrails::*;
pub use pages::*;
pub use template_versions::*;

use leptos::server_fn::codec::Json;

use crate::model::{
    CatalogParams, CatalogView, EntityView, HomeView, ImportOutcome, SignInChoices, UserView,
};

/// The signed-in user, or `None`.
#[server(prefix = "/api/portal", endpoint = "session")]
pub async fn current_user() -> Result<Option<UserView>, PortalError> {
    Ok(crate::server::principal().map(UserView::from))
}

/// The home page: the user, their teams and what those teams own.
#[server(prefix = "/api/portal", endpoint = "home")]
pub async fn home() -> Result<HomeView, PortalError> {
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
pub async fn sign_in_options() -> Result<SignInChoices, PortalError> {
    use crate::server::{domain_error, platform, portal_config};

    let config = portal_config();
    let dev_sign_in = config.dev_sign_in;
    let users = if dev_sign_in {
        platform()?.directory.users().await.map_err(domain_error)?
    } else {
        Vec::new()
    };
    Ok(SignInChoices {
        dev_sign_in,
        users,
        oidc_provider: config.oidc_provider,
    })
}

/// One page of the catalog with its facets. The parameters travel as JSON because they hold
/// lists of pairs, which a form encoding cannot express.
#[server(prefix = "/api/portal", endpoint = "catalog", input = Json)]
pub async fn catalog_search(params: CatalogParams) -> Result<CatalogView, PortalError> {
    use crate::server::{platform, require_principal};

    require_principal()?;
    let platform = platform()?;
    Ok(crate::server::catalog::search(&platform.catalog, &params))
}

/// The entity `kind:namespace/name` (any case), or `None` when there is none.
#[server(prefix = "/api/portal", endpoint = "entity")]
pub async fn catalog_entity(
    namespace: String,
    kind: String,
    name: String,
) -> Result<Option<EntityView>, PortalError> {
    use crate::server::{platform, require_principal};

    require_principal()?;
    let platform = platform()?;
    let entity_ref = format!("{kind}:{namespace}/{name}").to_lowercase();
    Ok(crate::server::catalog::entity(
        &platform.catalog,
        &entity_ref,
    ))
}

/// Checks (`mode = "preview"`) or stores (`mode = "import"`) the descriptor documents in `yaml`,
/// all or nothing. Invalid input is a normal outcome listing every problem, not an error.
///
/// A browser without JavaScript posts the form itself; it is then redirected back to the import
/// page with the outcome in the address, because a plain form post can only show a new page.
#[server(prefix = "/api/portal", endpoint = "catalog-import")]
pub async fn catalog_import(yaml: String, mode: String) -> Result<ImportOutcome, PortalError> {
    use causeway_platform::Error as DomainError;
    use causeway_platform::catalog::import::Importer;
    use causeway_platform::catalog::{IngestOptions, yaml as descriptors};

    use crate::model::ImportProblem;
    use crate::server::catalog::{outcome, problems};
    use crate::server::{domain_error, platform, require_principal};

    const LOCATION: &str = "upload";

    let principal = require_principal()?;
    let platform = platform()?;
    let dry_run = match mode.as_str() {
        "preview" => true,
        "import" => false,
        other => {
            return Err(crate::server::failed(PortalError::invalid(format!(
                "mode: {other:?} is not a mode; expected preview or import"
            ))));
        }
    };
    let documents = match descriptors::parse(LOCATION, &yaml) {
        Ok(documents) => documents,
        Err(found) => {
            return Ok(finish(ImportOutcome {
                dry_run,
                problems: problems(found),
                ..ImportOutcome::default()
            }));
        }
    };
    let count = documents.len();
    if count == 0 {
        return Ok(finish(ImportOutcome {
            dry_run,
            problems: vec![ImportProblem {
                document: None,
                field: "yaml".to_owned(),
                message: "holds no documents; paste one or more entity descriptors".to_owned(),
            }],
            ..ImportOutcome::default()
        }));
    }
    let request_id = crate::server::request_id();
    let result = platform
        .catalog
        .import(
            Importer::Person(&principal),
            LOCATION,
            documents,
            IngestOptions {
                replace: false,
                dry_run,
            },
            request_id.as_deref(),
        )
        .await;
    let result = match result {
        Ok(report) => Ok(outcome(report, count, dry_run)),
        Err(DomainError::Rejected(found)) => Ok(ImportOutcome {
            dry_run,
            documents: count,
            problems: problems(found),
            ..ImportOutcome::default()
        }),
        Err(DomainError::Conflict(message)) => Ok(ImportOutcome {
            dry_run,
            documents: count,
            problems: vec![ImportProblem {
                document: None,
                field: "metadata.name".to_owned(),
                message,
            }],
            ..ImportOutcome::default()
        }),
        Err(other) => Err(other),
    };
    result.map(finish).map_err(domain_error)
}

/// Sends a browser that posted the form without JavaScript back to the import page with the
/// outcome; calls from the WebAssembly build get the value itself.
#[cfg(feature = "ssr")]
fn finish(outcome: ImportOutcome) -> ImportOutcome {
    /// Most entries per list in an outcome sent through a redirect address.
    const OUTCOME_ENTRIES_IN_URL: usize = 40;

    let plain_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if plain_form {
        let short = outcome.clone().truncated(OUTCOME_ENTRIES_IN_URL);
        let secret = crate::server::signed::session_secret();
        if let (Ok(json), Some(secret)) = (serde_json::to_string(&short), secret)
            && let Some(signature) = crate::server::signed::sign(&secret, &json)
        {
            leptos_axum::redirect(&format!(
                "/catalog/import?outcome={}&sig={signature}",
                crate::model::encode_query_value(&json)
            ));
        }
    }
    outcome
}

/// The outcome an import page address carries, if it was signed for this session (see
/// `server/signed.rs`); anything else shows no outcome.
#[server(prefix = "/api/portal", endpoint = "import-outcome")]
pub async fn signed_import_outcome(
    outcome: String,
    signature: String,
) -> Result<Option<ImportOutcome>, PortalError> {
    use crate::server::signed::{session_secret, verify};

    Ok(session_secret()
        .filter(|secret| verify(secret, &outcome, &signature))
        .and_then(|_| serde_json::from_str(&outcome).ok()))
}
