//! Rankings patched after small writes against rankings sorted again from scratch, over random
//! catalogs with relations in both directions, missing fields and several values per entity.

use serde_json::{Value, json};

use super::{MAX_CACHED_RANKINGS, MAX_PATCHED_WRITES};
use crate::catalog::index::{Index, Stored};
use crate::catalog::testing::{Random, stored_from};

/// Sort keys covering declared values, list items, relations declared by the entity, reverse
/// relations declared by others (and by both ends: a group's children and a child's parent),
/// and reference order alone.
const KEYS: [&str; MAX_CACHED_RANKINGS] = [
    "",
    "metadata.title",
    "metadata.tags",
    "spec.lifecycle",
    "relations.ownedby",
    "relations.ownerof",
    "relations.parentof",
    "relations.dependencyof",
];

fn stored(body: Value, serial: u64) -> Stored {
    Stored {
        uid: format!("uid-{serial}").into(),
        ..stored_from(body).expect("a valid entity")
    }
}

/// One of a few dozen groups or components, drawn again with other fields on every call, so
/// that writes replace entities as often as they add them. Owners and dependencies may not
/// exist (yet).
fn entity(random: &mut Random, serial: u64) -> Stored {
    let name = format!("n{:02}", random.below(40));
    let mut metadata = json!({ "name": name });
    if random.below(3) > 0 {
        metadata["title"] = (*random.pick(&["Alpha", "beta", "Gamma", "delta", "Zeta"])).into();
    }
    let tags: Vec<&str> = (0..random.below(3))
        .map(|_| *random.pick(&["java", "go", "rust", "python"]))
        .collect();
    metadata["tags"] = tags.into();
    let group = |random: &mut Random| format!("group:default/n{:02}", random.below(40));
    let body = if random.below(3) == 0 {
        let children: Vec<String> = (0..random.below(3)).map(|_| group(random)).collect();
        let mut spec = json!({ "type": "team", "children": children });
        if random.below(2) == 0 {
            spec["parent"] = group(random).into();
        }
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": metadata, "spec": spec })
    } else {
        let lifecycle = *random.pick(&["production", "experimental", "deprecated"]);
        let mut spec = json!({ "type": "service", "lifecycle": lifecycle, "owner": group(random) });
        let depends: Vec<String> = (0..random.below(3))
            .map(|_| format!("component:default/n{:02}", random.below(40)))
            .collect();
        spec["dependsOn"] = depends.into();
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": metadata, "spec": spec })
    };
    stored(body, serial)
}

fn refs(index: &Index) -> Vec<String> {
    index
        .all()
        .iter()
        .filter_map(|id| index.get(id).map(|e| e.entity_ref().to_owned()))
        .collect()
}

/// Every cached ranking against the same key sorted again: the same order, the same entities
/// with the field, and the same rank for every entity, in both directions.
fn assert_patched_as_sorted(index: &Index, round: usize) {
    assert_eq!(
        index.orders.lock().expect("orders").len(),
        KEYS.len(),
        "round {round}: the rankings were patched, not dropped"
    );
    let patched: Vec<_> = KEYS.iter().map(|key| index.ranks(key)).collect();
    index.orders.lock().expect("orders").clear();
    for (key, patched) in KEYS.iter().zip(patched) {
        let sorted = index.ranks(key);
        assert_eq!(
            patched.order, sorted.order,
            "round {round}: order of {key:?}"
        );
        assert_eq!(patched.present, sorted.present, "round {round}: {key:?}");
        for ascending in [true, false] {
            assert!(
                patched.walk(ascending).eq(sorted.walk(ascending)),
                "round {round}: walk of {key:?}"
            );
            for id in index.all() {
                assert_eq!(
                    patched.key(id, ascending),
                    sorted.key(id, ascending),
                    "round {round}: rank of {id} by {key:?}"
                );
            }
        }
    }
}

#[test]
fn patched_rankings_order_exactly_as_sorted_ones() {
    for seed in 1..=4u64 {
        let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ seed);
        let mut index = Index::default();
        let mut serial = 0;
        for _ in 0..60 {
            serial += 1;
            index.upsert(entity(&mut random, serial));
        }
        for round in 0..40 {
            for key in KEYS {
                index.ranks(key);
            }
            // A batch of writes as the catalog makes them: replacements, additions and
            // removals of the entities a location provides.
            let mut writes = Vec::new();
            for _ in 0..=random.below(4) {
                serial += 1;
                writes.push(entity(&mut random, serial));
            }
            writes.sort_by(|a, b| a.entity_ref().cmp(b.entity_ref()));
            writes.dedup_by(|a, b| a.entity_ref() == b.entity_ref());
            let present = refs(&index);
            let removed: Vec<String> = (0..random.below(3))
                .map(|_| random.pick(&present).clone())
                .filter(|r| writes.iter().all(|w| w.entity_ref() != *r))
                .collect();
            let touched = writes
                .iter()
                .map(|w| w.entity_ref())
                .chain(removed.iter().map(String::as_str));
            let held = index.hold_orders(touched);
            assert!(held.is_some(), "seed {seed} round {round}: held");
            for reference in &removed {
                index.remove(reference);
            }
            for write in writes {
                index.upsert(write);
            }
            index.patch_orders(held);
            assert_patched_as_sorted(&index, round);
        }
    }
}

#[test]
fn large_writes_drop_the_rankings_and_unheld_writes_too() {
    let mut random = Random(7);
    let mut index = Index::default();
    for serial in 0..40 {
        index.upsert(entity(&mut random, serial));
    }
    index.ranks("metadata.title");
    let many: Vec<String> = (0..=MAX_PATCHED_WRITES)
        .map(|n| format!("component:default/x{n}"))
        .collect();
    assert!(
        index.hold_orders(many.iter().map(String::as_str)).is_none(),
        "a large write is not patched"
    );
    index.upsert(entity(&mut random, 100));
    assert_eq!(
        index.orders.lock().expect("orders").len(),
        0,
        "a write without a hold drops the rankings"
    );
    assert!(
        index.hold_orders(["component:default/n01"]).is_none(),
        "nothing cached, nothing held"
    );
}
