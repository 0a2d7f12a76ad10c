//! The catalog as the portal shows it: search with facets, entity pages and uploads, built on the
//! domain's index. Every function here takes the index read guard and drops it before returning,
//! so no guard is ever held across an `.await`.

use std::collections::BTreeMap;

use causeway_platform::catalog::index::{Index, Stored};
use causeway_platform::catalog::query::{Condition, FullText, Order};
use causeway_platform::catalog::search::{self, FacetAsk, Search};
use causeway_platform::catalog::{Catalog, IngestReport, Problem};
use serde_json::Value;

use super::graph::{self, Node};
use crate::model::{
    ApiDefinitionView, CATALOG_PAGE_SIZE, CatalogParams, CatalogRow, CatalogView, ContactView,
    EntityView, FACETS, FacetValue, FacetView, ImportOutcome, ImportProblem, LinkView, RefLink,
    RelationView, ref_path,
};

/// The index key behind each facet parameter. Owners are read from the `ownedBy` relation rather
/// than `spec.owner`, because the relation holds the normalised reference whatever short form
/// the descriptor used.
fn facet_key(param: &str) -> Option<&'static str> {
    Some(match param {
        "kind" => "kind",
        "type" => "spec.type",
        "owner" => "relations.ownedby",
        "lifecycle" => "spec.lifecycle",
        "system" => "spec.system",
        "namespace" => "metadata.namespace",
        "tag" => "metadata.tags",
        _ => return None,
    })
}

/// The index key each sortable column orders by.
fn sort_key(column: &str) -> &'static str {
    match column {
        "kind" => "kind",
        "type" => "spec.type",
        "owner" => "relations.ownedby",
        "lifecycle" => "spec.lifecycle",
        "system" => "spec.system",
        "description" => "metadata.description",
        _ => "metadata.name",
    }
}

/// The fields the search box looks in. Searching every indexed value would also match keys such
/// as `metadata.tags.java = true`, so that every entity with a tag matched the term "true".
const FULL_TEXT_FIELDS: [&str; 11] = [
    "metadata.name",
    "metadata.title",
    "metadata.description",
    "metadata.tags",
    "kind",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
    "spec.system",
    "spec.profile.displayname",
    "spec.profile.email",
];

/// Most values listed per facet; selected values are always listed as well.
const FACET_VALUES_SHOWN: usize = 30;

/// Most relations drawn in the graph; the lists below it hold all of them.
const GRAPH_NODES: usize = 24;

/// The search the page's parameters ask for: one condition per selected facet, the term over
/// [`FULL_TEXT_FIELDS`], the sort column, the page, and every facet with its selected values.
fn to_search(params: &CatalogParams) -> Search {
    let mut conditions: Vec<Condition> = Vec::new();
    let mut facets: Vec<FacetAsk> = Vec::new();
    for (param, _) in FACETS {
        let Some(key) = facet_key(param) else {
            continue;
        };
        let selected = params.values(param);
        if !selected.is_empty() {
            conditions.push(Condition {
                key: key.to_owned(),
                values: selected.iter().map(|v| v.to_lowercase()).collect(),
            });
        }
        facets.push(FacetAsk {
            key: key.to_owned(),
            top: FACET_VALUES_SHOWN,
            pinned: selected.into_iter().map(str::to_owned).collect(),
        });
    }
    Search {
        conditions,
        full_text: (!params.q.is_empty()).then(|| FullText {
            term: params.q.clone(),
            fields: FULL_TEXT_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        }),
        order: vec![Order {
            field: sort_key(&params.sort).to_owned(),
            ascending: !params.descending,
        }],
        offset: (params.page.saturating_sub(1)).saturating_mul(CATALOG_PAGE_SIZE),
        limit: CATALOG_PAGE_SIZE,
        facets,
    }
}

fn body_of(index: &Index, stored: &Stored) -> Value {
    index.body_value(stored)
}

fn text(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// What a page shows for an entity: a person's or team's display name, else the title, else the
/// name.
fn display_name(stored: &Stored, body: &Value) -> String {
    text(body, "/spec/profile/displayName")
        .or_else(|| text(body, "/metadata/title"))
        .unwrap_or_else(|| stored.name().to_owned())
}

/// The display name of the entity `entity_ref` names (see [`display_name`]), when the catalog
/// holds it.
pub(crate) fn display_name_of(index: &Index, entity_ref: &str) -> Option<String> {
    index
        .by_ref(entity_ref)
        .map(|stored| display_name(stored, &body_of(index, stored)))
}

/// A short form of a reference: the name, with the namespace when it is not `default`.
fn short_ref(entity_ref: &str) -> String {
    let (_, rest) = entity_ref.split_once(':').unwrap_or(("", entity_ref));
    rest.strip_prefix("default/").unwrap_or(rest).to_owned()
}

/// The kind a reference names, spelled as the model spells kinds where it is one of them.
fn kind_of_ref(entity_ref: &str) -> String {
    let kind = entity_ref.split_once(':').map_or("", |(k, _)| k);
    match kind {
        "api" => "API".to_owned(),
        _ => {
            let mut chars = kind.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

fn ref_link(index: &Index, entity_ref: &str) -> RefLink {
    match index.by_ref(entity_ref) {
        Some(stored) => RefLink {
            entity_ref: entity_ref.to_owned(),
            label: display_name(stored, &body_of(index, stored)),
            href: Some(ref_path(entity_ref)),
        },
        None => RefLink {
            entity_ref: entity_ref.to_owned(),
            label: short_ref(entity_ref),
            href: None,
        },
    }
}

fn contact(index: &Index, entity_ref: &str) -> ContactView {
    match index.by_ref(entity_ref) {
        Some(stored) => {
            let body = body_of(index, stored);
            ContactView {
                entity_ref: entity_ref.to_owned(),
                kind: stored.kind().to_owned(),
                display_name: display_name(stored, &body),
                email: text(&body, "/spec/profile/email"),
                href: Some(ref_path(entity_ref)),
            }
        }
        None => ContactView {
            entity_ref: entity_ref.to_owned(),
            kind: kind_of_ref(entity_ref),
            display_name: short_ref(entity_ref),
            email: None,
            href: None,
        },
    }
}

fn relation_view(index: &Index, relation: &str, target: &str) -> RelationView {
    let stored = index.by_ref(target);
    let body = stored.map(|s| body_of(index, s)).unwrap_or(Value::Null);
    RelationView {
        relation: relation.to_owned(),
        target: ref_link(index, target),
        kind: stored.map_or_else(|| kind_of_ref(target), |s| s.kind().to_owned()),
        spec_type: text(&body, "/spec/type"),
        description: text(&body, "/metadata/description"),
        email: text(&body, "/spec/profile/email"),
    }
}

/// The first target of relation `kind` that the entity declares itself.
fn declared(stored: &Stored, kind: &str, target_kind: Option<&str>) -> Option<String> {
    stored
        .edges
        .iter()
        .find(|e| {
            e.kind() == kind && target_kind.is_none_or(|k| e.target.starts_with(&format!("{k}:")))
        })
        .map(|e| e.target.to_string())
}

fn row(index: &Index, stored: &Stored) -> CatalogRow {
    let body = body_of(index, stored);
    CatalogRow {
        entity_ref: stored.entity_ref().to_owned(),
        href: ref_path(stored.entity_ref()),
        kind: stored.kind().to_owned(),
        name: stored.name().to_owned(),
        title: text(&body, "/metadata/title"),
        description: text(&body, "/metadata/description"),
        spec_type: text(&body, "/spec/type"),
        lifecycle: text(&body, "/spec/lifecycle"),
        owner: declared(stored, "ownedBy", None).map(|r| ref_link(index, &r)),
        system: declared(stored, "partOf", Some("system")).map(|r| ref_link(index, &r)),
    }
}

/// One page of the catalog for `params`, with facet counts, from the domain's faceted search
/// (see [`search::search`] for how each facet counts).
pub fn search(catalog: &Catalog, params: &CatalogParams) -> CatalogView {
    let index = catalog.index();
    let found = search::search(&index, &to_search(params));
    let rows = found
        .page
        .ids
        .iter()
        .filter_map(|id| index.get(*id))
        .map(|stored| row(&index, stored))
        .collect();
    let facets = FACETS
        .iter()
        .filter(|(param, _)| facet_key(param).is_some())
        .zip(found.facets)
        .map(|((param, title), found)| FacetView {
            param: (*param).to_owned(),
            title: (*title).to_owned(),
            values: found
                .values
                .into_iter()
                .map(|(value, count)| FacetValue {
                    label: facet_label(&index, param, &value),
                    value,
                    count,
                })
                .collect(),
        })
        .collect();
    CatalogView {
        rows,
        total: found.page.total,
        facets,
    }
}

fn facet_label(index: &Index, param: &str, value: &str) -> String {
    if param == "owner" {
        ref_link(index, &value.to_lowercase()).label
    } else {
        value.to_owned()
    }
}

/// Markdown rendered to HTML and sanitised: only safe elements and attributes survive, and links
/// get `rel="noopener noreferrer"`, so a description cannot inject script or styles.
pub fn markdown(source: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};

    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut unsafe_html = String::new();
    html::push_html(&mut unsafe_html, Parser::new_ext(source, options));
    ammonia::clean(&unsafe_html)
}

/// An API definition as shown: JSON is re-indented, every other format (YAML, GraphQL SDL,
/// protobuf, …) is shown exactly as authored.
fn format_definition(text: &str) -> String {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(value) = serde_json::from_str::<Value>(text)
        && let Ok(pretty) = serde_json::to_string_pretty(&value)
    {
        return pretty;
    }
    text.trim_end().to_owned()
}

fn string_pairs(body: &Value, pointer: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = body
        .pointer(pointer)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
}

/// The entity page's data for the normalised reference `entity_ref`, or `None` if no such entity.
pub fn entity(catalog: &Catalog, entity_ref: &str) -> Option<EntityView> {
    let index = catalog.index();
    let stored = index.by_ref(entity_ref)?;
    let body = body_of(&index, stored);

    let relations: Vec<RelationView> = index
        .relations(stored)
        .into_iter()
        .map(|r| relation_view(&index, &r.kind, &r.target))
        .collect();
    let dangling: Vec<RelationView> = index
        .dangling_from(stored)
        .into_iter()
        .map(|edge| relation_view(&index, edge.kind(), &edge.target))
        .collect();
    let owner = declared(stored, "ownedBy", None).map(|r| contact(&index, &r));
    let is_party = matches!(stored.kind(), "Group" | "User");
    let profile = is_party.then(|| contact(&index, stored.entity_ref()));

    let title = display_name(stored, &body);
    let graph_svg = {
        let mut by_target: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &relations {
            by_target
                .entry(r.target.entity_ref.as_str())
                .or_default()
                .push(r.relation.as_str());
        }
        let nodes: Vec<Node> = by_target
            .into_iter()
            .take(GRAPH_NODES)
            .map(|(target, kinds)| {
                let view = relations
                    .iter()
                    .find(|r| r.target.entity_ref == target)
                    .expect("grouped from these relations");
                Node {
                    label: view.target.label.clone(),
                    kind: view.kind.clone(),
                    href: view.target.href.clone(),
                    relations: kinds.join(", "),
                }
            })
            .collect();
        let center = Node {
            label: title.clone(),
            kind: stored.kind().to_owned(),
            href: None,
            relations: String::new(),
        };
        graph::render(&center, &nodes)
    };

    let definition = (stored.kind() == "API")
        .then(|| text(&body, "/spec/definition"))
        .flatten()
        .map(|definition| ApiDefinitionView {
            api_type: text(&body, "/spec/type").unwrap_or_default(),
            text: format_definition(&definition),
        });

    let links = body
        .pointer("/metadata/links")
        .and_then(Value::as_array)
        .map(|links| {
            links
                .iter()
                .filter_map(|link| {
                    let url = text(link, "/url")?;
                    // Only web and mail links become clickable; other schemes (javascript:, data:)
                    // could run code in the portal's origin.
                    let lower = url.to_ascii_lowercase();
                    if !(lower.starts_with("https://")
                        || lower.starts_with("http://")
                        || lower.starts_with("mailto:"))
                    {
                        return None;
                    }
                    Some(LinkView {
                        title: text(link, "/title").unwrap_or_else(|| url.clone()),
                        url,
                    })
                })
                .collect()
        })
        .unwrap_or_default();

    Some(EntityView {
        entity_ref: stored.entity_ref().to_owned(),
        kind: stored.kind().to_owned(),
        namespace: stored.namespace().to_owned(),
        name: stored.name().to_owned(),
        title: text(&body, "/metadata/title"),
        spec_type: text(&body, "/spec/type"),
        lifecycle: text(&body, "/spec/lifecycle"),
        tags: body
            .pointer("/metadata/tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        description_html: text(&body, "/metadata/description").map(|d| markdown(&d)),
        links,
        labels: string_pairs(&body, "/metadata/labels"),
        annotations: string_pairs(&body, "/metadata/annotations"),
        owner,
        profile,
        system: declared(stored, "partOf", Some("system")).map(|r| ref_link(&index, &r)),
        relations,
        dangling,
        graph_svg,
        definition,
    })
}

/// Turns the domain's problems into the page's.
pub fn problems(problems: Vec<Problem>) -> Vec<ImportProblem> {
    problems
        .into_iter()
        .map(|p| ImportProblem {
            document: p.document,
            field: p.field,
            message: p.message,
        })
        .collect()
}

/// The outcome of an ingestion that went through.
pub fn outcome(report: IngestReport, documents: usize, dry_run: bool) -> ImportOutcome {
    ImportOutcome {
        dry_run,
        stored: !dry_run,
        documents,
        added: report.added,
        updated: report.updated,
        unchanged: report.unchanged,
        warnings: report.warnings,
        problems: Vec::new(),
        omitted: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        let html = markdown(
            "**Bold** and [a link](https://example.com)\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
        );
        assert!(html.contains("<strong>Bold</strong>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn json_definitions_are_reindented_and_others_kept() {
        assert_eq!(format_definition("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(format_definition("type Query {}\n\n"), "type Query {}");
    }

    #[test]
    fn references_have_short_forms_and_kinds() {
        assert_eq!(short_ref("group:default/payments"), "payments");
        assert_eq!(short_ref("group:ops/payments"), "ops/payments");
        assert_eq!(kind_of_ref("api:default/x"), "API");
        assert_eq!(kind_of_ref("group:default/x"), "Group");
    }
}
