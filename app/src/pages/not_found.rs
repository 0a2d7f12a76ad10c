//! The page for paths that match no route, and the 404 status for pages whose data is missing.

use leptos::prelude::*;
use leptos_meta::Title;

/// Sets the response status of a server-rendered page. It is taken from the context while the
/// component runs, because the data it depends on arrives later, inside a `Suspend`.
#[derive(Clone)]
pub struct Status {
    #[cfg(feature = "ssr")]
    response: Option<leptos_axum::ResponseOptions>,
}

impl Status {
    /// Captures the response of the request being rendered (nothing in the browser).
    pub fn capture() -> Self {
        Self {
            #[cfg(feature = "ssr")]
            response: use_context::<leptos_axum::ResponseOptions>(),
        }
    }

    /// Answers with 404 Not Found.
    pub fn not_found(&self) {
        #[cfg(feature = "ssr")]
        if let Some(response) = &self.response {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
}

/// The explanation shown for something that does not exist, ending with a link to the catalog.
#[component]
pub fn NotFoundPanel(heading: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <section class="panel" data-testid="not-found">
            <h1>{heading}</h1>
            <p>{text}<a href="/catalog">"catalog"</a>" or start again from the "<a href="/">"home page"</a>"."</p>
        </section>
    }
}

/// Shown, with status 404, for unknown paths.
#[component]
pub fn NotFound() -> impl IntoView {
    Status::capture().not_found();
    view! {
        <Title text="Not found" />
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. Check the link, or start again from the "<a href="/">"home page"</a>"."</p>
        </section>
    }
}
