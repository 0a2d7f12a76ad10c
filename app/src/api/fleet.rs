//! Server functions of a template's fleet (`/create/templates/{namespace}/{name}/fleet`): the
//! page, upgrading services (one or the whole fleet) and asking the git server about the change
//! requests now. Who may upgrade what is the domain's rule (`Scaffolder::start_upgrades`), which
//! these only call; each change posts a plain form and redirects, so they work without
//! JavaScript.

use leptos::prelude::*;

use crate::error::PortalError;

#[cfg(feature = "ssr")]
use crate::model::Rendered;

/// `/create/templates/{namespace}/{name}/fleet`.
#[cfg(feature = "ssr")]
pub(super) async fn fleet_page(
    namespace: &str,
    name: &str,
    error: &str,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::{domain_error, platform, render_html, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let template = format!("template:{namespace}/{name}").to_lowercase();
    let fleet = match platform.scaffolder.fleet(&template).await {
        Ok(fleet) => fleet,
        Err(causeway_platform::Error::NotFound(_)) => return Ok(None),
        Err(error) => return Err(domain_error(error)),
    };
    let title = {
        let index = platform.catalog.index();
        index
            .by_ref(&template)
            .map(|e| index.body_value(e))
            .and_then(|body| {
                body.pointer("/metadata/title")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| name.to_owned())
    };
    let view = crate::server::fleet::view(&fleet, &title, &principal);
    Ok(Some(Rendered {
        title: format!("{title} · Fleet"),
        html: super::environments::with_error(
            error,
            render_html(leptos::view! { <crate::server::views::fleet::FleetPage view /> }),
        ),
    }))
}

/// Upgrades `services` (entity references separated by commas or spaces; the whole fleet when
/// empty, for platform admins) of `template` to `to_version` (the newest when empty) as one task,
/// and shows the task.
#[server(prefix = "/api/portal", endpoint = "fleet-upgrade")]
pub async fn upgrade_fleet(
    template: String,
    services: String,
    to_version: String,
    #[server(default)] values: std::collections::BTreeMap<String, String>,
) -> Result<(), PortalError> {
    use causeway_platform::scaffolder::fleet::Selection;
    use serde_json::Value;

    use crate::server::{domain_error, platform, request_id, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    // The form's text, read as the type the parameter declares (the fleet's `asks`).
    let kinds: std::collections::BTreeMap<String, String> = platform
        .scaffolder
        .fleet(&template)
        .await
        .map_err(domain_error)?
        .asks
        .into_iter()
        .map(|a| (a.name, a.kind))
        .collect();
    let mut typed = serde_json::Map::new();
    for (name, text) in values {
        let value = match kinds.get(&name).map(String::as_str) {
            Some("number" | "integer") => serde_json::from_str::<Value>(text.trim())
                .ok()
                .filter(Value::is_number)
                .ok_or_else(|| {
                    crate::server::failed(PortalError::invalid(format!(
                        "values.{name}: {text:?} is not a number"
                    )))
                })?,
            Some("boolean") => Value::Bool(matches!(text.as_str(), "true" | "on" | "yes")),
            _ => Value::String(text),
        };
        typed.insert(name, value);
    }
    let selection = Selection {
        values: typed,
        to_version: (!to_version.is_empty()).then_some(to_version),
        services: services
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        ..Selection::default()
    };
    let task = platform
        .scaffolder
        .start_upgrades(&principal, &template, &selection, request_id().as_deref())
        .await
        .map_err(domain_error)?;
    leptos_axum::redirect(&format!("/tasks/{}", task.id));
    Ok(())
}

/// Asks the git server about the open change requests now, and shows the fleet again.
#[server(prefix = "/api/portal", endpoint = "fleet-refresh")]
pub async fn refresh_fleet(template: String) -> Result<(), PortalError> {
    use crate::server::{domain_error, platform, require_principal};

    require_principal()?;
    let platform = platform()?;
    let policy = use_context::<causeway_platform::catalog::locations::ReadPolicy>()
        .ok_or_else(|| PortalError::internal("the catalog's read policy is not available"))?;
    platform
        .scaffolder
        .follow_changes(
            &policy,
            Some(&template),
            causeway_platform::scaffolder::fleet::changes::PASS,
        )
        .await
        .map_err(domain_error)?;
    let (_, namespace, name) = causeway_platform::catalog::refs::split(&template);
    leptos_axum::redirect(&format!("/create/templates/{namespace}/{name}/fleet"));
    Ok(())
}
