//! The Delivery pages: a component's Delivery tab (`/catalog/{namespace}/component/{name}/delivery`),
//! a team's (`/catalog/{namespace}/group/{name}/delivery`) and the organisation's (`/delivery`). All
//! are rendered on the server (`server/views/delivery.rs`) and arrive as HTML: their charts are SVG
//! and their range is chosen with links and a GET form, so they need no JavaScript.

use leptos::prelude::*;

use super::environments::ServerPage;

/// Any of the Delivery pages, by its address.
#[component]
pub fn DeliveryPage() -> impl IntoView {
    view! { <ServerPage missing="Delivery belongs to components and teams in the catalog; this address names neither." /> }
}

/// The tabs of a team's page.
#[component]
pub fn TeamTabs(entity_href: String, current: &'static str) -> impl IntoView {
    let delivery_href = format!("{entity_href}/delivery");
    let scorecard_href = format!("{entity_href}/scorecard");
    view! {
        <nav class="tabs" aria-label="Team">
            <a href=entity_href aria-current=(current == "overview").then_some("page")>"Overview"</a>
            <a href=delivery_href data-testid="delivery-tab" aria-current=(current == "delivery").then_some("page")>"Delivery"</a>
            <a href=scorecard_href data-testid="scorecard-tab" aria-current=(current == "scorecard").then_some("page")>"Scorecard"</a>
        </nav>
    }
}
