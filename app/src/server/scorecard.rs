//! The Scorecard tab behind the page function (`api/pages.rs`): a component's results, scored
//! now (a changed result is recorded, as the domain's `Scorecards::for_entity` does), and a
//! team's, as last recorded. Anyone signed in may read them.

use crate::error::PortalError;
use crate::model::{Rendered, ref_path};
use crate::server::scorecard_views::{EntityScorecard, TeamScorecard};
use crate::server::{domain_error, platform, render_html, require_principal};

/// `/catalog/{namespace}/{kind}/{name}/scorecard` for a component or a group; nothing for other
/// kinds or an entity the catalog does not hold.
pub async fn scorecard_page(
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Option<Rendered>, PortalError> {
    require_principal()?;
    let platform = platform()?;
    let kind = kind.to_ascii_lowercase();
    if kind != "component" && kind != "group" {
        return Ok(None);
    }
    let entity_ref = format!("{kind}:{namespace}/{name}").to_lowercase();
    let Some(display) =
        crate::server::catalog::display_name_of(&platform.catalog.index(), &entity_ref)
    else {
        return Ok(None);
    };
    let entity_href = ref_path(&entity_ref);
    let html = if kind == "component" {
        let results = platform
            .scorecards
            .for_entity(&entity_ref)
            .await
            .map_err(domain_error)?;
        render_html(leptos::view! { <EntityScorecard results name=display.clone() entity_href /> })
    } else {
        let results = platform
            .scorecards
            .for_team(&entity_ref)
            .await
            .map_err(domain_error)?;
        render_html(leptos::view! { <TeamScorecard results name=display.clone() entity_href /> })
    };
    Ok(Some(Rendered {
        title: format!("{display} · Scorecard"),
        html,
    }))
}
