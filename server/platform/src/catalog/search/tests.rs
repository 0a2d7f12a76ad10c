//! The faceted search's rules: conditions and the term together make the page, each facet counts
//! without its own condition, selected values stay listed.

use super::*;
use crate::catalog::testing::stored;

/// Components and a resource: payments-api (production, team-a), payments-web (experimental,
/// team-a), ledger (production, team-b) and a payments database (a Resource).
fn catalog() -> Index {
    let mut index = Index::default();
    for (name, lifecycle, owner) in [
        ("payments-api", "production", "team-a"),
        ("payments-web", "experimental", "team-a"),
        ("ledger", "production", "team-b"),
    ] {
        index.upsert(stored(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: {name} }}\nspec: {{ type: service, lifecycle: {lifecycle}, owner: {owner} }}\n"
        )));
    }
    index.upsert(stored("apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: { name: payments-db }\nspec: { type: database, owner: team-b }\n"));
    index
}

fn condition(key: &str, values: &[&str]) -> Condition {
    Condition {
        key: key.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn ask(key: &str, pinned: &[&str]) -> FacetAsk {
    FacetAsk {
        key: key.to_owned(),
        top: 30,
        pinned: pinned.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn names(index: &Index, found: &Found) -> Vec<String> {
    found
        .page
        .ids
        .iter()
        .map(|id| index.get(*id).expect("entity").name().to_owned())
        .collect()
}

fn by_name() -> Vec<Order> {
    vec![Order {
        field: "metadata.name".to_owned(),
        ascending: true,
    }]
}

fn text(term: &str) -> Option<FullText> {
    Some(FullText {
        term: term.to_owned(),
        fields: vec!["metadata.name".to_owned()],
    })
}

#[test]
fn a_facet_counts_without_its_own_condition() {
    let index = catalog();
    let found = search(
        &index,
        &Search {
            conditions: vec![condition("kind", &["component"])],
            order: by_name(),
            limit: 10,
            facets: vec![ask("kind", &["Component"]), ask("spec.lifecycle", &[])],
            ..Search::default()
        },
    );
    assert_eq!(
        names(&index, &found),
        ["ledger", "payments-api", "payments-web"]
    );
    assert_eq!(found.page.total, 3);
    // Kind is counted over everything, so that the Resource can still be chosen...
    assert_eq!(
        found.facets[0].values,
        [("Component".to_owned(), 3), ("Resource".to_owned(), 1)]
    );
    // ...and lifecycle within the components only.
    assert_eq!(
        found.facets[1].values,
        [("production".to_owned(), 2), ("experimental".to_owned(), 1)]
    );
}

#[test]
fn the_term_and_the_conditions_make_the_page_and_every_facet() {
    let index = catalog();
    let found = search(
        &index,
        &Search {
            conditions: vec![
                condition("kind", &["component"]),
                condition("spec.lifecycle", &["production"]),
            ],
            full_text: text("PAYMENTS"),
            order: by_name(),
            limit: 10,
            facets: vec![
                ask("kind", &["component"]),
                ask("spec.lifecycle", &["production"]),
                ask("relations.ownedby", &[]),
            ],
            ..Search::default()
        },
    );
    assert_eq!(names(&index, &found), ["payments-api"]);
    // Kind: payments and production (the database has no lifecycle).
    assert_eq!(found.facets[0].values, [("Component".to_owned(), 1)]);
    // Lifecycle: payments components.
    assert_eq!(
        found.facets[1].values,
        [("experimental".to_owned(), 1), ("production".to_owned(), 1)]
    );
    // Owner: everything the page holds.
    assert_eq!(
        found.facets[2].values,
        [("group:default/team-a".to_owned(), 1)]
    );
    // The same page as the query engine's.
    let query = Query {
        filter: Filter {
            sets: vec![vec![
                condition("kind", &["component"]),
                condition("spec.lifecycle", &["production"]),
            ]],
        },
        order: by_name(),
        full_text: text("payments"),
    };
    assert_eq!(found.page, query.page(&index, 0, 10));
}

#[test]
fn selected_values_stay_listed_with_their_count_even_zero() {
    let index = catalog();
    let found = search(
        &index,
        &Search {
            conditions: vec![condition("spec.lifecycle", &["deprecated", "production"])],
            full_text: text("ledger"),
            limit: 10,
            facets: vec![
                ask(
                    "spec.lifecycle",
                    &["Deprecated", "production", "PRODUCTION"],
                ),
                FacetAsk {
                    top: 0,
                    ..ask("kind", &["Resource"])
                },
            ],
            ..Search::default()
        },
    );
    assert_eq!(found.page.total, 1);
    // Production is listed once (compared ignoring case), deprecated pinned with 0.
    assert_eq!(
        found.facets[0].values,
        [("production".to_owned(), 1), ("Deprecated".to_owned(), 0)]
    );
    // With no room for the top values, the pinned one still shows, counted in the page.
    assert_eq!(found.facets[1].values, [("Resource".to_owned(), 0)]);
}

#[test]
fn nothing_asked_lists_every_entity_and_counts_the_whole_catalog() {
    let index = catalog();
    let found = search(
        &index,
        &Search {
            full_text: text("   "),
            limit: 2,
            offset: 3,
            order: by_name(),
            facets: vec![ask("kind", &[])],
            ..Search::default()
        },
    );
    assert_eq!(found.page.total, 4);
    assert_eq!(names(&index, &found), ["payments-web"]);
    assert_eq!(found.facets[0].values, index.facet("kind", None));
    let rest = facets(&index, &["Kind".to_owned()], &Filter::default());
    assert_eq!(rest[0].0, "Kind");
    assert_eq!(*rest[0].1, *index.facet("kind", None));
}
