//! The create area: the templates one may run (`/create?q&type&tag&owner`), a template's wizard
//! with its review (`/create/templates/{namespace}/{name}`) and its versions
//! (`/create/templates/{namespace}/{name}/versions`). They are rendered on the server
//! (`server/views/create.rs`, `server/views/review.rs`, `server/views/versions.rs`) and arrive as
//! HTML: their forms are GETs to the page's own address and one POST that creates, so they work
//! the same with and without JavaScript. Template authoring (`/create/author`, platform admins)
//! is one GET form of the same kind, with a POST that publishes a new version.

use leptos::prelude::*;

use super::environments::ServerPage;

/// `/create?q&type&tag&owner`
#[component]
pub fn CreatePage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}

/// `/create/templates/{namespace}/{name}`
#[component]
pub fn WizardPage() -> impl IntoView {
    view! { <ServerPage missing="There is no such template in the catalog." /> }
}

/// `/create/templates/{namespace}/{name}/versions`
#[component]
pub fn VersionsPage() -> impl IntoView {
    view! { <ServerPage missing="There is no such template, and no version of one." /> }
}

/// `/create/templates/{namespace}/{name}/fleet`
#[component]
pub fn FleetPage() -> impl IntoView {
    view! { <ServerPage missing="There is no such template in the catalog." /> }
}

/// `/create/author`
#[component]
pub fn AuthorPage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}
