//! The create area: the templates one may run (`/create?q&type&tag&owner`) and a template's
//! wizard with its review (`/create/templates/{namespace}/{name}`). Both are rendered on the
//! server (`server/views/create.rs`, `server/views/review.rs`) and arrive as HTML: their forms
//! are GETs to the wizard's own address and one POST that creates, so they work the same with
//! and without JavaScript. Template authoring (`/create/author`, platform admins) is one GET
//! form of the same kind.

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

/// `/create/author`
#[component]
pub fn AuthorPage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}
