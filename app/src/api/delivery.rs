//! The Delivery pages behind the page function (`pages.rs`): a component's Delivery tab, a team's,
//! the organisation's page, and the organisation's section of the platform page. They only read:
//! anyone signed in may, as the domain's `Delivery::dora` and `Delivery::recent` allow, and the
//! domain checks the scope and the range.

#[cfg(feature = "ssr")]
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
use crate::error::PortalError;
#[cfg(feature = "ssr")]
use crate::model::Rendered;

/// `/catalog/{namespace}/{kind}/{name}/delivery` for a component or a group; nothing for other
/// kinds or an entity the catalog does not hold.
#[cfg(feature = "ssr")]
pub(super) async fn delivery_page(
    namespace: &str,
    kind: &str,
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::model::ref_path;
    use crate::server::delivery::{Subject, view};
    use crate::server::views::delivery::{ServiceDelivery, TeamDelivery};
    use crate::server::{domain_error, platform, render_html, require_principal};

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
    let base = format!("{entity_href}/delivery");
    let html = if kind == "component" {
        let subject = Subject::Service {
            entity_ref,
            name: display.clone(),
        };
        let view = view(&platform, subject, base, "", params)
            .await
            .map_err(domain_error)?;
        render_html(leptos::view! { <ServiceDelivery view name=display.clone() entity_href /> })
    } else {
        let subject = Subject::Team {
            entity_ref,
            name: display.clone(),
        };
        let view = view(&platform, subject, base, "", params)
            .await
            .map_err(domain_error)?;
        render_html(leptos::view! { <TeamDelivery view name=display.clone() entity_href /> })
    };
    Ok(Some(Rendered {
        title: format!("{display} · Delivery"),
        html,
    }))
}

/// `/delivery`: the organisation's delivery.
#[cfg(feature = "ssr")]
pub(super) async fn organisation_page(
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::delivery::{Subject, view};
    use crate::server::views::delivery::OrganisationDelivery;
    use crate::server::{domain_error, platform, render_html, require_principal};

    require_principal()?;
    let view = view(
        &platform()?,
        Subject::Organisation,
        "/delivery".to_owned(),
        "",
        params,
    )
    .await
    .map_err(domain_error)?;
    Ok(Some(Rendered {
        title: "Delivery".to_owned(),
        html: render_html(leptos::view! { <OrganisationDelivery view /> }),
    }))
}

/// The organisation's delivery as a section of the platform page (`/platform#delivery`). A
/// failure of its own is shown in the section rather than failing the whole platform page; the
/// server's own failures still fail it.
#[cfg(feature = "ssr")]
pub(super) async fn organisation_section(
    params: &BTreeMap<String, String>,
) -> Result<String, PortalError> {
    use crate::server::delivery::{Subject, view};
    use crate::server::views::delivery::OrganisationSection;
    use crate::server::{domain_error, platform, render_html};
    use causeway_platform::Error;
    use leptos::prelude::*;

    match view(
        &platform()?,
        Subject::Organisation,
        "/platform".to_owned(),
        "#delivery",
        params,
    )
    .await
    {
        Ok(view) => Ok(render_html(leptos::view! { <OrganisationSection view /> })),
        Err(error @ (Error::Database(_) | Error::Migration(_))) => Err(domain_error(error)),
        Err(error) => {
            let message = error.to_string();
            Ok(render_html(leptos::view! {
                <section class="panel" id="delivery" data-testid="organisation-delivery">
                    <h2>"Delivery across the organisation"</h2>
                    <p class="error-box" role="alert">{message}</p>
                </section>
            }))
        }
    }
}
