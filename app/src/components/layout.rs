//! The frame of every page: skip link, header with navigation and the signed-in user, main area.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::current_user;

/// The navigation entries: path and label.
const NAV: [(&str, &str); 5] = [
    ("/catalog", "Catalog"),
    ("/create", "Create"),
    ("/tasks", "Tasks"),
    ("/platform", "Platform"),
    ("/delivery", "Delivery"),
];

/// Wraps every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <div class="app-header__inner">
                <A href="/" attr:class="brand">
                    <span class="brand__mark" aria-hidden="true">
                        <svg viewBox="0 0 32 32" focusable="false">
                            <rect width="32" height="32" rx="6" fill="currentColor" />
                            <path
                                d="M4 20h24M8 20v-6M16 20v-9M24 20v-6M6 24h20"
                                stroke="var(--color-surface)"
                                stroke-width="2.5"
                                stroke-linecap="round"
                                fill="none"
                            />
                        </svg>
                    </span>
                    <span class="brand__name">"Causeway"</span>
                </A>
                <nav class="app-nav" aria-label="Main">
                    <ul>
                        {NAV
                            .into_iter()
                            .map(|(href, label)| view! { <li><A href=href>{label}</A></li> })
                            .collect_view()}
                    </ul>
                </nav>
                <div class="app-user">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            match user.await {
                                Ok(Some(user)) => view! {
                                    <span class="app-user__name" data-testid="signed-in-user">{user.display_name}</span>
                                    <form method="post" action="/auth/sign-out" class="inline-form">
                                        <button type="submit" class="button button--quiet">"Sign out"</button>
                                    </form>
                                }
                                    .into_any(),
                                _ => view! { <a class="button button--quiet" href="/sign-in">"Sign in"</a> }.into_any(),
                            }
                        })}
                    </Suspense>
                </div>
            </div>
        </header>
        <main id="main" class="app-main" tabindex="-1">
            {children()}
        </main>
        <footer class="app-footer">
            <p>"Causeway — one platform for the people who build and the people who run software."</p>
        </footer>
    }
}
