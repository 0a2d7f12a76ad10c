//! Causeway's portal. Every route renders completely on the server (`SsrMode::Async`), so pages
//! and forms work without JavaScript; the WebAssembly build hydrates the same components to make
//! them interactive.

// Leptos views are deeply nested types; the hydrate build needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod api;
mod components;
pub mod error;
pub mod model;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use components::layout::Layout;
use pages::{
    catalog::CatalogPage,
    create::{AuthorPage, CreatePage, FleetPage, VersionsPage, WizardPage},
    delivery::DeliveryPage,
    entity::EntityPage,
    environments::ServerPage,
    home::HomePage,
    import::ImportPage,
    not_found::NotFound,
    platform::PlatformPage,
    scorecard::ScorecardPage,
    sign_in::SignInPage,
    tasks::{TaskPage, TasksPage},
};

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/pkg/favicon.svg" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The portal: layout and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="causeway" href="/pkg/causeway.css" />
        <Title formatter=|page: String| if page.is_empty() { "Causeway".to_owned() } else { format!("{page} · Causeway") } />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/import") view=ImportPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/:namespace/:kind/:name") view=EntityPage ssr=SsrMode::Async />
                    <Route path=path!("/create") view=CreatePage ssr=SsrMode::Async />
                    <Route path=path!("/create/author") view=AuthorPage ssr=SsrMode::Async />
                    <Route path=path!("/create/templates/:namespace/:name") view=WizardPage ssr=SsrMode::Async />
                    <Route path=path!("/create/templates/:namespace/:name/versions") view=VersionsPage ssr=SsrMode::Async />
                    <Route path=path!("/create/templates/:namespace/:name/fleet") view=FleetPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/:namespace/:kind/:name/environments") view=|| view! { <ServerPage missing="Environments belong to components in the catalog; this address names none." /> } ssr=SsrMode::Async />
                    <Route path=path!("/catalog/:namespace/:kind/:name/environments/:environment/plan") view=|| view! { <ServerPage missing="There is no such environment." /> } ssr=SsrMode::Async />
                    <Route path=path!("/tasks") view=TasksPage ssr=SsrMode::Async />
                    <Route path=path!("/tasks/:id") view=TaskPage ssr=SsrMode::Async />
                    <Route path=path!("/platform") view=PlatformPage ssr=SsrMode::Async />
                    <Route path=path!("/platform/policies/test") view=PlatformPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/:namespace/:kind/:name/delivery") view=DeliveryPage ssr=SsrMode::Async />
                    <Route path=path!("/delivery") view=DeliveryPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/:namespace/:kind/:name/scorecard") view=ScorecardPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
