//! The page for paths that match no route.

use leptos::prelude::*;
use leptos_meta::Title;

/// Shown, with status 404, for unknown paths.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. Check the link, or start again from the "<a href="/">"home page"</a>"."</p>
        </section>
    }
}
