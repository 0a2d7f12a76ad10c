//! Index behaviour that the HTTP suites cannot isolate: relations attaching in both directions,
//! replacement, list items as keys, and ordering.
use std::collections::HashMap;

use super::*;
use crate::catalog::testing::{stored, stored_from};

fn entity(yaml: &str) -> Stored {
    stored(yaml)
}

fn component(name: &str) -> Stored {
    entity(&format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: {name} }}\nspec: {{ type: service, lifecycle: production, owner: team }}\n"
    ))
}

#[test]
fn reverse_relations_follow_both_ends() {
    let mut index = Index::default();
    // The owner arrives after what it owns: the reverse relations attach when it appears.
    index.upsert(component("a"));
    index.upsert(component("b"));
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: team }\nspec: { type: team, children: [] }\n"));
    let group = index.id_of("group:default/team").expect("group");
    assert!(index.having("relations.ownerof").contains(group));
    assert_eq!(
        index
            .matching("relations.ownerof", "component:default/a")
            .len(),
        1
    );

    index.remove("component:default/a");
    assert!(
        index.having("relations.ownerof").contains(group),
        "still owns b"
    );
    assert!(
        index
            .matching("relations.ownerof", "component:default/a")
            .is_empty()
    );
    index.remove("component:default/b");
    assert!(
        !index.having("relations.ownerof").contains(group),
        "owns nothing now"
    );
    let relations = index.relations(index.get(group).expect("group"));
    assert!(relations.is_empty(), "{relations:?}");
    assert_eq!(index.facet("kind", None), vec![("Group".to_owned(), 1)]);
}

#[test]
fn replacing_an_entity_updates_its_postings() {
    let mut index = Index::default();
    index.upsert(component("a"));
    let mut changed = component("a");
    changed.body = Body::from(
        changed
            .body
            .plain()
            .expect("plain")
            .replace("production", "deprecated"),
    );
    index.upsert(changed);
    assert!(index.matching("spec.lifecycle", "production").is_empty());
    assert_eq!(index.matching("spec.lifecycle", "deprecated").len(), 1);
    assert_eq!(index.len(), 1);
}

#[test]
fn list_items_answer_as_keys() {
    let mut index = Index::default();
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: { name: a, tags: [java] }\nspec: { type: service, lifecycle: production, owner: team, dependsOn: [\"component:lib.core\"] }\n"));
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: { name: b, tags: [go] }\nspec: { type: java, lifecycle: production, owner: team }\n"));
    let a = index.id_of("component:default/a").expect("a");
    assert_eq!(
        index
            .matching("metadata.tags.java", "true")
            .iter()
            .collect::<Vec<_>>(),
        [a]
    );
    assert_eq!(
        index
            .having("spec.dependson.component:lib.core")
            .iter()
            .collect::<Vec<_>>(),
        [a]
    );
    assert!(index.matching("metadata.tags.java", "false").is_empty());
    // A scalar value is not a list item: `spec.type.java` does not exist.
    assert!(index.having("spec.type.java").is_empty());
    assert_eq!(
        index.facet("metadata.tags.go", None),
        vec![("true".to_owned(), 1)]
    );
}

#[test]
fn a_relation_declared_from_both_ends_survives_either_end() {
    let mut index = Index::default();
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: parent }\nspec: { type: team, children: [child] }\n"));
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: child }\nspec: { type: team, parent: parent, children: [] }\n"));
    let child = index.id_of("group:default/child").expect("child");
    index.remove("group:default/parent");
    // The child still declares its parent, which is now a dangling reference.
    assert!(
        index
            .matching("relations.childof", "group:default/parent")
            .contains(child)
    );
    assert!(index.having("relations.childof").contains(child));
    index.remove("group:default/child");
    assert!(index.having("relations.childof").is_empty());
    assert!(index.keys().next().is_none(), "nothing left behind");
    assert!(index.incoming.is_empty());
}

#[test]
fn facets_show_authored_values_of_dotted_keys() {
    let mut index = Index::default();
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: { name: a, annotations: { backstage.io/Team-Tag: Blue } }\nspec: { type: service, lifecycle: production, owner: team }\n"));
    assert_eq!(
        index.facet("metadata.annotations.backstage.io/team-tag", None),
        vec![("Blue".to_owned(), 1)]
    );
}

#[test]
fn entities_without_the_sort_field_come_last_in_both_directions() {
    let mut index = Index::default();
    for (name, title) in [("a", Some("Zeta")), ("b", None), ("c", Some("Alpha"))] {
        let title = title.map(|t| format!(", title: {t}")).unwrap_or_default();
        index.upsert(entity(&format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: {name}{title} }}\nspec: {{ type: service, lifecycle: production, owner: team }}\n")));
    }
    let ranking = index.ranks("metadata.title");
    let order = |ascending: bool| {
        let mut ids: Vec<u32> = index.all().iter().collect();
        ids.sort_by_key(|id| ranking.key(*id, ascending));
        ids.iter()
            .map(|id| index.get(*id).expect("id").name().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(true), ["c", "a", "b"]);
    assert_eq!(order(false), ["a", "c", "b"]);
}

fn numbered(kind: &str, i: usize) -> Stored {
    entity(&match kind {
        "Component" => format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: svc-{i}, description: Service number {i} }}\nspec: {{ type: service, lifecycle: production, owner: team-{} }}\n",
            i % 7
        ),
        "User" => format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {{ name: user-{i} }}\nspec: {{ profile: {{ displayName: User {i}, email: user-{i}@example.com }}, memberOf: [team-{}] }}\n",
            i % 5
        ),
        _ => format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {{ name: group-{i} }}\nspec: {{ type: team, children: [] }}\n"
        ),
    })
}

/// Each body of `texts` reads back exactly, packed or not as `packed` says of its kind, and the
/// packed ones of a kind share one dictionary that no other kind uses.
fn assert_bodies(index: &Index, texts: &[(String, String)], packed: &[&str]) {
    let mut codecs: HashMap<String, u8> = HashMap::new();
    for (entity_ref, text) in texts {
        let stored = index.by_ref(entity_ref).expect("stored");
        assert_eq!(index.body(stored), text.as_str(), "{entity_ref} reads back");
        match stored.body {
            Body::Packed { codec, .. } => {
                assert!(packed.contains(&stored.kind()), "{entity_ref} is packed");
                assert_eq!(
                    *codecs.entry(stored.kind().to_owned()).or_insert(codec),
                    codec
                );
            }
            Body::Plain(_) => assert!(!packed.contains(&stored.kind()), "{entity_ref} is plain"),
        }
    }
    let mut numbers: Vec<u8> = codecs.values().copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!((numbers.len(), codecs.len()), (packed.len(), packed.len()));
}

#[test]
fn bodies_are_packed_once_there_are_enough_and_read_back_exactly() {
    let mut index = Index::default();
    let mut texts = Vec::new();
    let add = |index: &mut Index, texts: &mut Vec<(String, String)>, e: Stored| {
        texts.push((
            e.entity_ref().to_owned(),
            e.body.plain().expect("plain").to_owned(),
        ));
        index.upsert(e);
    };
    // Two kinds arrive interleaved; neither is packed before it holds enough entities of its own.
    for i in 0..bodies::TRAIN_AFTER - 1 {
        add(&mut index, &mut texts, numbered("Component", i));
        add(&mut index, &mut texts, numbered("User", i));
    }
    for i in 0..10 {
        add(&mut index, &mut texts, numbered("Group", i));
    }
    assert_bodies(&index, &texts, &[]);
    for i in bodies::TRAIN_AFTER - 1..bodies::TRAIN_AFTER + 50 {
        add(&mut index, &mut texts, numbered("Component", i));
        add(&mut index, &mut texts, numbered("User", i));
    }
    assert_bodies(&index, &texts, &["Component", "User"]);
    let bytes = index.body_bytes();
    let kinds: Vec<(&str, usize)> = bytes.iter().map(|b| (&*b.kind, b.packed)).collect();
    assert_eq!(kinds, [("Component", 1050), ("Group", 0), ("User", 1050)]);
    assert!(bytes[0].held_bytes * 2 < bytes[0].text_bytes);

    // A reload reads the rows in the order they were written and packs them the same way. As
    // in the loader, the entities are prepared beside the index by a preparer made before any
    // dictionary was trained: it packs those that come after each kind's training, 50 of each.
    let mut reloaded = Index::default();
    let preparer = reloaded.preparer();
    let mut packed_aside = 0;
    for (_, text) in &texts {
        let value: Value = serde_json::from_str(text).expect("json");
        let entity = stored_from(value.clone()).expect("valid");
        let indexable = preparer.indexable(entity, &value);
        if matches!(indexable.entity.body, Body::Packed { .. }) {
            packed_aside += 1;
        }
        reloaded.upsert_indexable(indexable);
    }
    assert_eq!(packed_aside, 100);
    assert_bodies(&reloaded, &texts, &["Component", "User"]);
    assert_eq!(reloaded.body_bytes(), bytes);

    // Removal recomputes the search pairs from the packed body.
    index.remove("component:default/svc-3");
    assert!(index.matching("metadata.name", "svc-3").is_empty());
    assert_eq!(index.matching("spec.owner", "team-3").len(), 149);
    index.remove("user:default/user-3");
    assert!(index.matching("metadata.name", "user-3").is_empty());
}

#[test]
fn postings_grow_and_shrink_through_their_forms() {
    let mut index = Index::default();
    for i in 0..40 {
        index.upsert(entity(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: c{i} }}\nspec: {{ type: service, lifecycle: production, owner: team, system: {} }}\n",
            if i < 3 { "small" } else { "large" }
        )));
    }
    assert_eq!(index.matching("spec.system", "small").len(), 3);
    assert_eq!(index.matching("spec.system", "large").len(), 37);
    assert_eq!(
        index.facet("spec.system", None),
        vec![("large".to_owned(), 37), ("small".to_owned(), 3)]
    );
    for i in 0..3 {
        index.remove(&format!("component:default/c{i}"));
    }
    assert!(index.matching("spec.system", "small").is_empty());
    assert_eq!(
        index.facet("spec.system", None),
        vec![("large".to_owned(), 37)]
    );
}

#[test]
fn reverse_relations_answer_every_kind_of_question() {
    let mut index = Index::default();
    index.upsert(component("a"));
    index.upsert(component("b"));
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: team }\nspec: { type: team, children: [] }\n"));
    index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: other }\nspec: { type: team, children: [] }\n"));
    let team = index.id_of("group:default/team").expect("team");
    assert_eq!(
        index.facet("relations.ownerof", None),
        vec![
            ("component:default/a".to_owned(), 1),
            ("component:default/b".to_owned(), 1)
        ]
    );
    assert_eq!(
        index
            .containing("relations.ownerof", "default/b")
            .iter()
            .collect::<Vec<_>>(),
        [team]
    );
    assert!(index.keys().any(|k| k == "relations.ownerof"));
    let ranking = index.ranks("relations.ownerof");
    let mut ids: Vec<u32> = index.all().iter().collect();
    ids.sort_by_key(|id| ranking.key(*id, true));
    assert_eq!(ids[0], team, "the only entity with the key sorts first");
    // Pairs of an entity include the relations pointing at it, as full-text search expects.
    assert!(index.pairs_of(team).contains(&(
        "relations.ownerof".to_owned(),
        "component:default/a".to_owned()
    )));
}

#[test]
fn counting_and_pages_past_the_end_compute_no_ranking() {
    use crate::catalog::query::{Order, Query};
    let mut index = Index::default();
    for name in ["a", "b", "c"] {
        index.upsert(component(name));
    }
    let query = Query {
        order: vec![Order {
            field: "metadata.name".to_owned(),
            ascending: false,
        }],
        ..Query::default()
    };
    let cached = |index: &Index| index.orders.lock().expect("orders").len();
    for (offset, limit) in [(0, 0), (3, 10), (u64::MAX, u64::MAX)] {
        let page = query.page(&index, offset, limit);
        assert_eq!((page.ids.len(), page.total), (0, 3));
        assert_eq!(cached(&index), 0, "offset {offset}, limit {limit}");
    }
    let page = query.page(&index, 0, 1);
    assert_eq!(page.ids, [index.id_of("component:default/c").expect("c")]);
    assert_eq!(cached(&index), 1);
}

#[test]
fn rankings_are_cached_a_few_at_a_time_least_recently_used_out() {
    let mut index = Index::default();
    let keys: Vec<String> = (0..=ranking::MAX_CACHED_RANKINGS)
        .map(|k| format!("metadata.annotations.k{k}"))
        .collect();
    let annotations: Vec<String> = keys
        .iter()
        .map(|k| format!("{}: v", &k["metadata.annotations.".len()..]))
        .collect();
    index.upsert(entity(&format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: a, annotations: {{ {} }} }}\nspec: {{ type: service, lifecycle: production, owner: team }}\n",
        annotations.join(", ")
    )));
    let max = ranking::MAX_CACHED_RANKINGS;
    let held: Vec<Ranks> = keys[..max].iter().map(|k| index.ranks(k)).collect();
    // Using the first three again leaves the fourth as the least recently used.
    for (key, ranks) in keys.iter().zip(&held).take(3) {
        assert!(Arc::ptr_eq(ranks, &index.ranks(key)), "{key} is cached");
    }
    index.ranks(&keys[max]);
    assert_eq!(index.orders.lock().expect("orders").len(), max);
    for (key, ranks) in keys.iter().zip(&held).take(3) {
        assert!(Arc::ptr_eq(ranks, &index.ranks(key)), "{key} is kept");
    }
    assert!(
        !Arc::ptr_eq(&held[3], &index.ranks(&keys[3])),
        "the least recently used ranking was dropped"
    );
}
