//! The Scorecard tab of a component (`/catalog/{namespace}/component/{name}/scorecard`) and of a
//! team (`/catalog/{namespace}/group/{name}/scorecard`). Both are rendered on the server
//! (`server/scorecard.rs`, `server/scorecard_views.rs`) and arrive as HTML: they only read, so
//! they need no JavaScript.

use leptos::prelude::*;

use super::environments::ServerPage;

/// A component's or a team's scorecard results, by its address.
#[component]
pub fn ScorecardPage() -> impl IntoView {
    view! { <ServerPage missing="Scorecards are scored for components and teams in the catalog; this address names neither." /> }
}
