//! A component's environments tab and the plan page. Both are rendered on the server (see
//! `server/views/environments.rs`) and arrive as HTML: they have no interactive parts, and their
//! forms post like any form, so they work the same with and without JavaScript.
//!
//! Requesting goes form → plan (a GET page, so it is an address like any other) → apply (a POST
//! that starts a task and goes to the task's page).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::api::rendered_page;
use crate::components::error_panel::ErrorPanel;
use crate::error::PortalError;
use crate::model::Rendered;

/// A server-rendered page, or why there is none.
#[component]
pub fn RenderedPage(
    data: Resource<Result<Option<Rendered>, PortalError>>,
    missing: &'static str,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(page)) => view! {
                        <Title text=page.title />
                        <div class="rendered" inner_html=page.html></div>
                    }
                        .into_any(),
                    Ok(None) => view! {
                        <Title text="Not found" />
                        <section class="panel" role="alert"><h1>"Not found"</h1><p>{missing}</p></section>
                    }
                        .into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A page the server renders whole, by its address: the environments tab
/// (`/catalog/{namespace}/{kind}/{name}/environments`), the plan page
/// (`…/environments/{environment}/plan?cpu&memory&pods&availability`), `/tasks` and `/platform`.
#[component]
pub fn ServerPage(missing: &'static str) -> impl IntoView {
    let location = use_location();
    let data = Resource::new(
        move || (location.pathname.get(), location.search.get()),
        |(path, query)| rendered_page(path, query),
    );
    view! { <RenderedPage data missing /> }
}

/// The tabs of a component's page.
#[component]
pub fn EntityTabs(entity_href: String, current: &'static str) -> impl IntoView {
    let environments_href = format!("{entity_href}/environments");
    let delivery_href = format!("{entity_href}/delivery");
    let scorecard_href = format!("{entity_href}/scorecard");
    view! {
        <nav class="tabs" aria-label="Component">
            <a href=entity_href aria-current=(current == "overview").then_some("page")>"Overview"</a>
            <a href=environments_href data-testid="environments-tab" aria-current=(current == "environments").then_some("page")>"Environments"</a>
            <a href=delivery_href data-testid="delivery-tab" aria-current=(current == "delivery").then_some("page")>"Delivery"</a>
            <a href=scorecard_href data-testid="scorecard-tab" aria-current=(current == "scorecard").then_some("page")>"Scorecard"</a>
        </nav>
    }
}
