//! Relations served after random writes, against a model that recomputes them from scratch.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::{Index, Related, Stored};
use crate::catalog::testing::stored;

/// A random entity among a few names of three kinds, so that targets are often missing, shared,
/// or pointing back (a group's `parent` and another's `children`).
fn random_entity(rng: &mut StdRng) -> Stored {
    let pick = |rng: &mut StdRng, n: u32| rng.random_range(0..n);
    let list = |rng: &mut StdRng, prefix: &str, n: u32| {
        let items: Vec<String> = (0..rng.random_range(0..4))
            .map(|_| format!("{prefix}-{}", rng.random_range(0..n)))
            .collect();
        items.join(", ")
    };
    let yaml = match pick(rng, 3) {
        0 => format!(
            "kind: Component\nmetadata: {{ name: c-{} }}\nspec: {{ type: service, lifecycle: production, owner: g-{}, system: s-{}, dependsOn: [{}] }}",
            pick(rng, 8),
            pick(rng, 5),
            pick(rng, 3),
            list(rng, "component:c", 8),
        ),
        1 => format!(
            "kind: Group\nmetadata: {{ name: g-{} }}\nspec: {{ type: team, parent: g-{}, children: [{}] }}",
            pick(rng, 5),
            pick(rng, 5),
            list(rng, "g", 5),
        ),
        _ => format!(
            "kind: System\nmetadata: {{ name: s-{} }}\nspec: {{ owner: g-{} }}",
            pick(rng, 3),
            pick(rng, 5),
        ),
    };
    stored(&format!("apiVersion: backstage.io/v1alpha1\n{yaml}\n"))
}

/// The relations of every entity the model holds: its own edges and the reverse of every edge
/// another entity declares towards it.
fn expected(model: &[Stored]) -> Vec<(String, Vec<Related>)> {
    model
        .iter()
        .map(|entity| {
            let mut related: BTreeSet<Related> = entity
                .edges
                .iter()
                .map(|e| Related {
                    kind: e.kind().to_owned(),
                    target: e.target.to_string(),
                })
                .collect();
            for source in model {
                for edge in source
                    .edges
                    .iter()
                    .filter(|e| *e.target == *entity.entity_ref())
                {
                    related.insert(Related {
                        kind: edge.reverse().to_owned(),
                        target: source.entity_ref().to_owned(),
                    });
                }
            }
            (
                entity.entity_ref().to_owned(),
                related.into_iter().collect(),
            )
        })
        .collect()
}

fn check(index: &Index, model: &[Stored]) {
    let expected = expected(model);
    assert_eq!(index.len(), expected.len() as u64);
    let mut keys = BTreeSet::new();
    let mut values = BTreeSet::new();
    for (entity_ref, related) in &expected {
        let entity = index.by_ref(entity_ref).expect("stored");
        assert_eq!(
            &index.relations(entity),
            related,
            "relations of {entity_ref}"
        );
        for r in related {
            keys.insert(format!("relations.{}", r.kind.to_lowercase()));
            values.insert(r.target.clone());
        }
    }
    // Each target's entry knows its entity, and every edge towards it shares the entry's copy.
    for (target, pointed) in &index.incoming {
        assert_eq!(pointed.id(), index.id_of(target), "id of {target}");
    }
    for entity in model {
        let held = index.by_ref(entity.entity_ref()).expect("stored");
        for edge in &held.edges {
            let (key, _) = index
                .incoming
                .iter()
                .find(|(target, _)| *target == edge.target)
                .expect("every edge has an entry");
            assert!(Arc::ptr_eq(key, &edge.target), "{} is shared", edge.target);
        }
    }
    // Filters see the same relations: the entities having each key, and each (key, value).
    for key in &keys {
        let want: Vec<u32> = expected
            .iter()
            .filter(|(_, related)| {
                related
                    .iter()
                    .any(|r| format!("relations.{}", r.kind.to_lowercase()) == *key)
            })
            .filter_map(|(entity_ref, _)| index.id_of(entity_ref))
            .collect();
        assert_eq!(index.having(key).iter().collect::<Vec<_>>(), sorted(want));
        let mut counts = index.facet(key, None);
        counts.sort();
        let mut want_counts = Vec::new();
        for value in &values {
            let want: Vec<u32> = expected
                .iter()
                .filter(|(_, related)| {
                    related.iter().any(|r| {
                        format!("relations.{}", r.kind.to_lowercase()) == *key && r.target == *value
                    })
                })
                .filter_map(|(entity_ref, _)| index.id_of(entity_ref))
                .collect();
            let got: Vec<u32> = index.matching(key, value).iter().collect();
            assert_eq!(got, sorted(want), "{key} = {value}");
            if !got.is_empty() {
                want_counts.push((value.clone(), got.len() as u64));
            }
        }
        assert_eq!(counts, want_counts, "facet of {key}");
    }
}

fn sorted(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids
}

#[test]
fn served_relations_match_a_model_after_random_writes() {
    for seed in 0..8 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut index = Index::default();
        let mut model: Vec<Stored> = Vec::new();
        for step in 0..150 {
            if !model.is_empty() && rng.random_bool(0.3) {
                let gone = model.swap_remove(rng.random_range(0..model.len()));
                assert!(index.remove(gone.entity_ref()).is_some());
            } else {
                let entity = random_entity(&mut rng);
                model.retain(|e| e.entity_ref() != entity.entity_ref());
                model.push(entity.clone());
                index.upsert(entity);
            }
            if step % 10 == 9 {
                check(&index, &model);
            }
        }
        check(&index, &model);
        for entity in model.drain(..) {
            index.remove(entity.entity_ref());
        }
        assert!(index.incoming.is_empty(), "seed {seed}: lists left behind");
        assert!(index.reverse.is_empty(), "seed {seed}: reverse keys left");
    }
}

#[test]
fn an_incoming_relation_takes_eight_bytes() {
    assert_eq!(std::mem::size_of::<super::Incoming>(), 8);
}
