//! The platform overview, for platform admins: every environment Causeway has provisioned, on
//! every cluster and GitOps repository, with its status, drift and age; filtered by team, target
//! and environment through a GET form. Rendered on the server (`server/views/platform.rs`).

use leptos::prelude::*;

use super::environments::ServerPage;

/// `/platform?team&target&environment`
#[component]
pub fn PlatformPage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}
