//! An honest placeholder for areas whose capability has not been built yet.

use leptos::prelude::*;
use leptos_meta::Title;

/// Title and explanation for each area that is not available yet.
fn describe(_area: &str) -> (&'static str, &'static str) {
    (
        "Metrics",
        "Delivery metrics (DORA's four keys per service and team) are not available yet.",
    )
}

/// A page that says plainly that its area does not exist yet.
#[component]
pub fn NotYet(area: &'static str) -> impl IntoView {
    let (title, text) = describe(area);
    view! {
        <Title text=title />
        <section class="panel" data-testid="not-yet-available">
            <h1>{title}</h1>
            <p class="notice">"Not yet available."</p>
            <p>{text}</p>
            <p><a href="/">"Back to your home page"</a></p>
        </section>
    }
}
