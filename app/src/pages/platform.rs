//! The platform page and the policy test bench, both rendered on the server
//! (`server/views/guardrails.rs`, `server/views/platform.rs`) and shipped as HTML.
//!
//! `/platform` shows everyone signed in the guardrails in force: the configuration's active
//! revision and history, its policies and the waivers granted. Platform admins also see why the
//! newest read of the configuration was refused, reload it, grant and revoke waivers, and see
//! every environment Causeway has provisioned, filtered by team, target and environment through a
//! GET form. `/platform/policies/test` is the policy test bench, for platform admins only.

use leptos::prelude::*;

use super::environments::ServerPage;

/// `/platform?team&target&environment` and `/platform/policies/test?service&environment&…`
#[component]
pub fn PlatformPage() -> impl IntoView {
    view! { <ServerPage missing="" /> }
}
