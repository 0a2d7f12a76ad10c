//! The catalog page: search, facet filters with counts, a sortable table and pagination.
//!
//! The address carries the whole view (see [`CatalogParams`]), so every control is a link or a
//! GET form: without JavaScript the server renders each view; once hydrated, the router fetches
//! only the data and swaps it in place.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::catalog_search;
use crate::components::error_panel::ErrorPanel;
use crate::model::{
    CATALOG_PAGE_SIZE, CatalogParams, CatalogRow, CatalogView, FacetView, RefLink, SORT_COLUMNS,
};

/// `/catalog`
#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        query.with(|q| CatalogParams::from_query(|name| q.get_all(name).unwrap_or_default()))
    });
    // The parameters come back with the data so that a view is always drawn with the parameters
    // it was computed for, even while the next one is loading.
    let data = Resource::new(
        move || params.get(),
        |params| async move {
            catalog_search(params.clone())
                .await
                .map(|view| (params, view))
        },
    );
    view! {
        <Title text="Catalog" />
        <section class="page-head page-head--row">
            <div>
                <h1>"Catalog"</h1>
                <p class="muted">"Every component, API, resource, system, team and person, and who owns what."</p>
            </div>
            <a class="button" href="/catalog/import">"Register entities"</a>
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((params, view)) => view! { <Catalog params view /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Catalog(params: CatalogParams, view: CatalogView) -> impl IntoView {
    let CatalogView {
        rows,
        total,
        facets,
    } = view;
    let pages = total.div_ceil(CATALOG_PAGE_SIZE).max(1);
    let filtered = !params.selected.is_empty() || !params.q.is_empty();
    let summary = match total {
        1 => "1 result".to_owned(),
        n => format!("{n} results"),
    };
    view! {
        <div class="catalog">
            <aside class="catalog__facets" aria-label="Filters">
                {facets
                    .into_iter()
                    .filter(|f| !f.values.is_empty())
                    .map(|facet| view! { <Facet facet params=params.clone() /> })
                    .collect_view()}
            </aside>
            <section class="catalog__results" aria-label="Results">
                <SearchForm params=params.clone() />
                <div class="catalog__summary">
                    <p class="catalog__count" aria-live="polite" data-testid="result-count">{summary}</p>
                    {filtered.then(|| view! { <a href="/catalog" data-testid="clear-filters">"Clear search and filters"</a> })}
                </div>
                {if rows.is_empty() {
                    view! { <p class="notice" data-testid="no-results">"Nothing matches. Remove a filter or try another search term."</p> }.into_any()
                } else {
                    view! { <Results rows params=params.clone() /> }.into_any()
                }}
                <Pagination params pages />
            </section>
        </div>
    }
}

/// The search box: a GET form that keeps the selected facets and the sort order in hidden
/// fields. Once hydrated, submitting navigates within the app instead of reloading the page.
#[component]
fn SearchForm(params: CatalogParams) -> impl IntoView {
    let hidden = params
        .selected
        .iter()
        .map(|(p, v)| (p.clone(), v.clone()))
        .chain((params.sort != "name").then(|| ("sort".to_owned(), params.sort.clone())))
        .chain(
            params
                .descending
                .then(|| ("dir".to_owned(), "desc".to_owned())),
        )
        .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
        .collect_view();
    let navigate = use_navigate();
    let input = NodeRef::<leptos::html::Input>::new();
    let q = params.q.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut next = params.clone();
        next.q = input
            .get()
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        next.page = 1;
        navigate(&next.href(), NavigateOptions::default());
    };
    view! {
        <form method="get" action="/catalog" class="filter-form" role="search" data-testid="catalog-search" on:submit=on_submit>
            <label for="catalog-q">"Search"</label>
            <input
                id="catalog-q"
                name="q"
                type="search"
                placeholder="name, description, tag, owner…"
                autocomplete="off"
                value=q
                node_ref=input
            />
            {hidden}
            <button type="submit" class="button">"Search"</button>
        </form>
    }
}

/// One facet: each value a link that switches it on or off, with its count.
#[component]
fn Facet(facet: FacetView, params: CatalogParams) -> impl IntoView {
    let FacetView {
        param,
        title,
        values,
    } = facet;
    let heading_id = format!("facet-{param}");
    let heading_id_for_title = heading_id.clone();
    let any_selected = !params.values(&param).is_empty();
    let clear = any_selected.then(|| {
        let href = params.cleared(&param).href();
        view! { <a class="facet__clear small" href=href>"Clear"<span class="visually-hidden">" " {title.clone()}</span></a> }
    });
    view! {
        <section class="facet" aria-labelledby=heading_id.clone() data-testid=format!("facet-{param}")>
            <div class="facet__head">
                <h2 class="facet__title" id=heading_id_for_title>{title.clone()}</h2>
                {clear}
            </div>
            <ul class="facet__list">
                {values
                    .into_iter()
                    .map(|value| {
                        let selected = params.is_selected(&param, &value.value);
                        let href = params.toggled(&param, &value.value).href();
                        let state = if selected { "selected, select to remove" } else { "" };
                        view! {
                            <li>
                                <a
                                    class="facet__option"
                                    href=href
                                    data-selected=selected.to_string()
                                    data-value=value.value.clone()
                                >
                                    <span class="facet__box" aria-hidden="true"></span>
                                    <span class="facet__label">{value.label}</span>
                                    <span class="facet__count">{value.count}</span>
                                    {selected.then(|| view! { <span class="visually-hidden">{format!(" ({state})")}</span> })}
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

fn ref_cell(link: Option<RefLink>) -> AnyView {
    match link {
        Some(RefLink {
            label,
            href: Some(href),
            ..
        }) => view! { <a href=href>{label}</a> }.into_any(),
        Some(RefLink { entity_ref, .. }) => {
            view! { <code title="does not exist">{entity_ref}</code> }.into_any()
        }
        None => ().into_any(),
    }
}

#[component]
fn Results(rows: Vec<CatalogRow>, params: CatalogParams) -> impl IntoView {
    let headers = SORT_COLUMNS
        .iter()
        .map(|(column, label)| {
            let current = params.sort == *column;
            let sort = match (current, params.descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            };
            let arrow = match sort {
                "ascending" => "▲",
                "descending" => "▼",
                _ => "",
            };
            let href = params.sorted_by(column).href();
            view! {
                <th scope="col" aria-sort=sort>
                    <a class="sort-link" href=href data-sort=*column>
                        {*label}
                        <span class="sort-link__arrow" aria-hidden="true">{arrow}</span>
                    </a>
                </th>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="catalog-table">
                <caption class="visually-hidden">"Catalog entities; the column headings sort the table"</caption>
                <thead>
                    <tr>{headers}</tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let label = row.title.clone().unwrap_or_else(|| row.name.clone());
                            view! {
                                <tr data-testid="catalog-row" data-ref=row.entity_ref.clone()>
                                    <td><a href=row.href.clone()>{label}</a></td>
                                    <td>{row.kind}</td>
                                    <td>{row.spec_type.unwrap_or_default()}</td>
                                    <td>{ref_cell(row.owner)}</td>
                                    <td>{row.lifecycle.unwrap_or_default()}</td>
                                    <td>{ref_cell(row.system)}</td>
                                    <td class="table__description">{row.description.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Pagination(params: CatalogParams, pages: u64) -> impl IntoView {
    let page = params.page;
    let link = |target: u64, label: &'static str, rel: &'static str, enabled: bool| {
        if enabled {
            let href = params.at_page(target).href();
            view! { <a class="button" href=href rel=rel>{label}</a> }.into_any()
        } else {
            view! { <span class="button button--disabled" aria-disabled="true">{label}</span> }
                .into_any()
        }
    };
    view! {
        <nav class="pagination" aria-label="Pages">
            {link(page.saturating_sub(1), "Previous", "prev", page > 1)}
            <span class="pagination__where" data-testid="page-of">{format!("Page {page} of {pages}")}</span>
            {link(page + 1, "Next", "next", page < pages)}
        </nav>
    }
}
