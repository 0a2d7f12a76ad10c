//! The entity page: header, owner and how to reach them, description, relations (as a graph and
//! as lists), links, labels and annotations, and for APIs the definition. Groups also list their
//! members, sub-teams, parent and everything they own; users list their teams.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::delivery::TeamTabs;
use super::environments::EntityTabs;
use super::not_found::{NotFoundPanel, Status};
use crate::api::catalog_entity;
use crate::components::error_panel::ErrorPanel;
use crate::model::{CatalogParams, ContactView, EntityView, RefLink, RelationView};

/// `/catalog/{namespace}/{kind}/{name}`
#[component]
pub fn EntityPage() -> impl IntoView {
    let params = use_params_map();
    let status = Status::capture();
    let key = move || {
        params.with(|p| {
            (
                p.get("namespace").unwrap_or_default(),
                p.get("kind").unwrap_or_default(),
                p.get("name").unwrap_or_default(),
            )
        })
    };
    let data = Resource::new(key, |(namespace, kind, name)| {
        catalog_entity(namespace, kind, name)
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let status = status.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(Some(entity)) => view! { <Entity entity /> }.into_any(),
                        Ok(None) => {
                            status.not_found();
                            view! {
                                <Title text="Not found" />
                                <NotFoundPanel
                                    heading="No such entity"
                                    text="The catalog has no entity at this address. It may have been renamed or removed; search the "
                                />
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

fn catalog_link(param: &str, value: &str) -> String {
    CatalogParams::default().toggled(param, value).href()
}

fn ref_view(link: &RefLink) -> AnyView {
    match &link.href {
        Some(href) => view! { <a href=href.clone()>{link.label.clone()}</a> }.into_any(),
        None => view! { <code title="does not exist">{link.entity_ref.clone()}</code> }.into_any(),
    }
}

#[component]
fn Entity(entity: EntityView) -> impl IntoView {
    let heading = entity
        .profile
        .as_ref()
        .map(|p| p.display_name.clone())
        .or_else(|| entity.title.clone())
        .unwrap_or_else(|| entity.name.clone());
    let kind_lower = entity.kind.to_ascii_lowercase();
    let is_component = entity.kind == "Component";
    let entity_href = crate::model::ref_path(&entity.entity_ref);
    let facts = {
        let mut facts: Vec<(&'static str, AnyView)> = vec![(
            "Kind",
            view! { <a href=catalog_link("kind", &entity.kind)>{entity.kind.clone()}</a> }
                .into_any(),
        )];
        if let Some(t) = &entity.spec_type {
            facts.push((
                "Type",
                view! { <a href=catalog_link("type", t)>{t.clone()}</a> }.into_any(),
            ));
        }
        if let Some(owner) = &entity.owner {
            let link = RefLink {
                entity_ref: owner.entity_ref.clone(),
                label: owner.display_name.clone(),
                href: owner.href.clone(),
            };
            facts.push(("Owner", ref_view(&link)));
        }
        if let Some(l) = &entity.lifecycle {
            facts.push((
                "Lifecycle",
                view! { <a href=catalog_link("lifecycle", l)>{l.clone()}</a> }.into_any(),
            ));
        }
        if let Some(system) = &entity.system {
            facts.push(("System", ref_view(system)));
        }
        facts.push(("Namespace", view! { {entity.namespace.clone()} }.into_any()));
        facts
    };
    let tags = (!entity.tags.is_empty()).then(|| {
        view! {
            <ul class="tag-list" aria-label="Tags">
                {entity
                    .tags
                    .iter()
                    .map(|t| view! { <li><a class="tag" href=catalog_link("tag", t)>{t.clone()}</a></li> })
                    .collect_view()}
            </ul>
        }
    });
    let dangling = (!entity.dangling.is_empty()).then(|| {
        view! {
            <section class="notice notice--warning" data-testid="dangling" aria-labelledby="dangling-heading">
                <h2 id="dangling-heading" class="notice__title">"Missing references"</h2>
                <p>"This entity refers to entities the catalog does not have. Register them, or correct the descriptor."</p>
                <ul>
                    {entity
                        .dangling
                        .iter()
                        .map(|r| view! { <li><code>{r.relation.clone()}</code> " → " <code>{r.target.entity_ref.clone()}</code> " does not exist"</li> })
                        .collect_view()}
                </ul>
            </section>
        }
    });
    let side = side_box(&entity);
    let description = entity.description_html.clone();
    let links = entity.links.clone();
    let group_sections = (entity.kind == "Group").then(|| group_sections(&entity));
    let user_sections = (entity.kind == "User").then(|| user_sections(&entity));
    let definition = entity.definition.clone().map(|d| {
        view! {
            <section class="panel" aria-labelledby="definition-heading" data-testid="api-definition">
                <h2 id="definition-heading">"Definition " <span class="badge">{d.api_type.clone()}</span></h2>
                <pre class="code-block"><code data-language=d.api_type>{d.text}</code></pre>
            </section>
        }
    });
    let metadata = metadata_section(&entity);
    let relations = entity.relations.clone();
    let graph = entity.graph_svg.clone();
    let has_relations = !relations.is_empty();
    view! {
        <Title text=heading.clone() />
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=catalog_link("kind", &kind_lower)>{entity.kind.clone()}</a></li>
                <li aria-current="page">{entity.name.clone()}</li>
            </ol>
        </nav>
        <header class="entity-head" data-testid="entity-head">
            <h1>{heading}</h1>
            <p class="muted"><code>{entity.entity_ref.clone()}</code></p>
            <dl class="facts">
                {facts
                    .into_iter()
                    .map(|(term, value)| view! { <div class="facts__item"><dt>{term}</dt><dd>{value}</dd></div> })
                    .collect_view()}
            </dl>
            {tags}
        </header>
        {is_component.then(|| view! { <EntityTabs entity_href=entity_href.clone() current="overview" /> })}
        {(entity.kind == "Group").then(|| view! { <TeamTabs entity_href=entity_href.clone() current="overview" /> })}
        {dangling}
        <div class="entity-layout">
            <aside class="entity-layout__side">{side}</aside>
            <div class="entity-layout__main">
                <section class="panel" aria-labelledby="about-heading">
                    <h2 id="about-heading">"About"</h2>
                    {match description {
                        Some(html) => view! { <div class="markdown" data-testid="description" inner_html=html></div> }.into_any(),
                        None => view! { <p class="muted">"No description."</p> }.into_any(),
                    }}
                    {(!links.is_empty()).then(|| view! {
                        <h3 class="subheading">"Links"</h3>
                        <ul class="link-list">
                            {links.into_iter().map(|l| view! { <li><a href=l.url rel="noopener noreferrer">{l.title}</a></li> }).collect_view()}
                        </ul>
                    })}
                </section>
                {group_sections}
                {user_sections}
                {definition}
                <section class="panel" aria-labelledby="relations-heading">
                    <h2 id="relations-heading">"Relations"</h2>
                    {if has_relations {
                        view! {
                            <div class="relation-graph-wrap" data-testid="relation-graph" inner_html=graph></div>
                            <RelationTable relations caption="Every relation of this entity" />
                        }
                            .into_any()
                    } else {
                        view! { <p class="muted">"No relations."</p> }.into_any()
                    }}
                </section>
                {metadata}
            </div>
        </div>
    }
}

/// The box that answers "who owns this and how do I reach them", or for teams and people, how to
/// reach them directly.
fn side_box(entity: &EntityView) -> AnyView {
    match (&entity.owner, &entity.profile) {
        (Some(owner), _) => view! {
            <section class="owner-box" aria-labelledby="owner-heading" data-testid="owner-box">
                <h2 id="owner-heading" class="owner-box__title">"Owner"</h2>
                <Contact contact=owner.clone() />
            </section>
        }
        .into_any(),
        (None, Some(profile)) => view! {
            <section class="owner-box" aria-labelledby="contact-heading" data-testid="contact-box">
                <h2 id="contact-heading" class="owner-box__title">"Contact"</h2>
                <Contact contact=profile.clone() />
            </section>
        }
        .into_any(),
        (None, None) => view! {
            <section class="owner-box owner-box--missing" data-testid="owner-box">
                <h2 class="owner-box__title">"Owner"</h2>
                <p>"No owner is recorded for this entity."</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
fn Contact(contact: ContactView) -> impl IntoView {
    let ContactView {
        entity_ref,
        kind,
        display_name,
        email,
        href,
    } = contact;
    let exists = href.is_some();
    view! {
        <p class="owner-box__name">
            {match href.clone() {
                Some(href) => view! { <a href=href data-testid="owner-link">{display_name}</a> }.into_any(),
                None => view! { <span>{display_name}</span> }.into_any(),
            }}
        </p>
        <p class="owner-box__ref muted small">{kind} " · " <code>{entity_ref}</code></p>
        {match email {
            Some(email) => view! {
                <p class="owner-box__email">
                    <a class="button button--primary" href=format!("mailto:{email}") data-testid="owner-email">
                        "Email " {email.clone()}
                    </a>
                </p>
            }
                .into_any(),
            None => view! { <p class="muted small">"No email address is recorded."</p> }.into_any(),
        }}
        {(!exists).then(|| view! { <p class="notice notice--warning small">"This owner is not in the catalog."</p> })}
    }
}

#[component]
fn RelationTable(
    relations: Vec<RelationView>,
    caption: &'static str,
    /// Whether to show the relation type (lists of one type leave it out).
    #[prop(default = true)]
    with_type: bool,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table">
                <caption class="visually-hidden">{caption}</caption>
                <thead>
                    <tr>
                        {with_type.then(|| view! { <th scope="col">"Relation"</th> })}
                        <th scope="col">"Entity"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Description"</th>
                    </tr>
                </thead>
                <tbody>
                    {relations
                        .into_iter()
                        .map(|r| view! {
                            <tr data-testid="relation-row" data-relation=r.relation.clone()>
                                {with_type.then(|| view! { <td><code>{r.relation.clone()}</code></td> })}
                                <td>{ref_view(&r.target)}</td>
                                <td>{r.kind}</td>
                                <td>{r.spec_type.unwrap_or_default()}</td>
                                <td class="table__description">{r.description.unwrap_or_default()}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// A list of people or teams with their email addresses.
fn people_list(items: Vec<RelationView>, testid: &'static str, empty: &'static str) -> AnyView {
    if items.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <ul class="team-list" data-testid=testid>
            {items
                .into_iter()
                .map(|r| view! {
                    <li>
                        <span class="team-list__name">{ref_view(&r.target)}</span>
                        {r.email.map(|e| view! { " · " <a href=format!("mailto:{e}")>{e.clone()}</a> })}
                    </li>
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

fn group_sections(entity: &EntityView) -> AnyView {
    let members = entity.related("hasMember");
    let children = entity.related("parentOf");
    let parent = entity.related("childOf");
    let owned = entity.related("ownerOf");
    let owned_count = owned.len();
    view! {
        <section class="panel" aria-labelledby="team-heading">
            <h2 id="team-heading">"Team"</h2>
            <h3 class="subheading">"Parent"</h3>
            {people_list(parent, "parent", "This is a top-level team.")}
            <h3 class="subheading">"Sub-teams"</h3>
            {people_list(children, "sub-teams", "No sub-teams.")}
            <h3 class="subheading">{format!("Members ({})", members.len())}</h3>
            {people_list(members, "members", "No members.")}
        </section>
        <section class="panel" aria-labelledby="owned-heading" data-testid="owned">
            <h2 id="owned-heading">{format!("Owned by this team ({owned_count})")}</h2>
            {if owned.is_empty() {
                view! { <p class="muted">"This team owns nothing in the catalog yet."</p> }.into_any()
            } else {
                view! { <RelationTable relations=owned caption="Entities this team owns" with_type=false /> }.into_any()
            }}
        </section>
    }
    .into_any()
}

fn user_sections(entity: &EntityView) -> AnyView {
    let teams = entity.related("memberOf");
    let owned = entity.related("ownerOf");
    view! {
        <section class="panel" aria-labelledby="teams-heading">
            <h2 id="teams-heading">"Teams"</h2>
            {people_list(teams, "user-teams", "Not a member of any team.")}
        </section>
        {(!owned.is_empty()).then(|| view! {
            <section class="panel" aria-labelledby="user-owned-heading">
                <h2 id="user-owned-heading">"Owned personally"</h2>
                <RelationTable relations=owned caption="Entities this person owns" with_type=false />
            </section>
        })}
    }
    .into_any()
}

fn metadata_section(entity: &EntityView) -> AnyView {
    if entity.labels.is_empty() && entity.annotations.is_empty() {
        return ().into_any();
    }
    let pairs = |title: &'static str, pairs: Vec<(String, String)>| {
        (!pairs.is_empty()).then(|| {
            view! {
                <h3 class="subheading">{title}</h3>
                <dl class="pairs">
                    {pairs
                        .into_iter()
                        .map(|(k, v)| view! { <div class="pairs__item"><dt><code>{k}</code></dt><dd>{v}</dd></div> })
                        .collect_view()}
                </dl>
            }
        })
    };
    view! {
        <section class="panel" aria-labelledby="metadata-heading" data-testid="metadata">
            <h2 id="metadata-heading">"Labels and annotations"</h2>
            {pairs("Labels", entity.labels.clone())}
            {pairs("Annotations", entity.annotations.clone())}
        </section>
    }
    .into_any()
}
