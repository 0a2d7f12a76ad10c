//! The home page: who you are, your teams, and what your teams own.
//!
//! The filter is a plain GET form, so without JavaScript the server renders the filtered list;
//! once hydrated, typing filters the list immediately without a round trip.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::home;
use crate::components::error_panel::ErrorPanel;
use crate::model::{EntityRow, HomeView};

/// `/`
#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let initial = query.read_untracked().get("q").unwrap_or_default();
    let filter = RwSignal::new(initial);
    let data = Resource::new(|| (), |_| home());
    view! {
        <Title text="Home" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Home view filter /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Home(view: HomeView, filter: RwSignal<String>) -> impl IntoView {
    let HomeView { user, owned } = view;
    let total = owned.len();
    let owned = StoredValue::new(owned);
    let visible = move || {
        let needle = filter.get().trim().to_lowercase();
        owned.with_value(|rows| {
            rows.iter()
                .filter(|r| r.matches(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let role = if user.platform_admin {
        "Platform admin"
    } else {
        "Developer"
    };
    let no_teams = user.teams.is_empty();
    view! {
        <section class="page-head">
            <h1>"Welcome, " {user.display_name.clone()}</h1>
            <p class="muted">
                <code>{user.entity_ref.clone()}</code>
                {user.email.clone().map(|e| view! { " · " <a href=format!("mailto:{e}")>{e.clone()}</a> })}
                " · " <span class="badge" data-testid="role">{role}</span>
            </p>
        </section>
        <div class="grid">
            <section class="panel" aria-labelledby="teams-heading">
                <h2 id="teams-heading">"Your teams"</h2>
                {if no_teams {
                    view! { <p class="muted">"You are not a member of any team yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="team-list" data-testid="teams">
                            {user.teams.iter().map(|t| view! {
                                <li><span class="team-list__name">{t.display_name.clone()}</span> " " <code class="muted">{t.entity_ref.clone()}</code></li>
                            }).collect_view()}
                        </ul>
                    }
                        .into_any()
                }}
            </section>
            <section class="panel panel--wide" aria-labelledby="owned-heading">
                <h2 id="owned-heading">"Owned by your teams"</h2>
                <form method="get" action="/" class="filter-form" role="search">
                    <label for="owned-filter">"Filter"</label>
                    <input
                        id="owned-filter"
                        name="q"
                        type="search"
                        placeholder="name, type or description"
                        autocomplete="off"
                        value=filter.get_untracked()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                    <button type="submit" class="button">"Apply"</button>
                </form>
                <p class="muted" aria-live="polite" data-testid="owned-count">
                    {move || format!("Showing {} of {}", visible().len(), total)}
                </p>
                <OwnedTable rows=Signal::derive(visible) />
            </section>
        </div>
    }
}

#[component]
fn OwnedTable(rows: Signal<Vec<EntityRow>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="owned-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Lifecycle"</th>
                        <th scope="col">"Owner"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|r| r.entity_ref.clone() let:row>
                        <tr data-testid="owned-row">
                            <td>
                                <a href=row.href()>{row.title.clone().unwrap_or_else(|| row.name.clone())}</a>
                                {row.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
                            </td>
                            <td>{row.kind.clone()}</td>
                            <td>{row.spec_type.clone().unwrap_or_default()}</td>
                            <td>{row.lifecycle.clone().unwrap_or_default()}</td>
                            <td><code>{row.owner_ref.clone().unwrap_or_default()}</code></td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </div>
    }
}
