//! The three ways to count a facet give the same lists: the value walk (the oracle), the forward
//! column and the cached whole-catalog list, on random catalogs, after writes.

use roaring::RoaringBitmap;

use super::super::{Index, Stored};
use super::{Strategy, by_count};
use crate::catalog::testing::{Random, stored};

/// A component with a random owner, system, lifecycle (in two spellings) and tags, so that keys
/// have single values, several values per entity, authored spellings, list items and reverse
/// relations.
fn component(rng: &mut Random, name: u64) -> Stored {
    let lifecycle =
        ["production", "Production", "experimental", "deprecated"][rng.below(4) as usize];
    let tags: Vec<String> = (0..rng.below(4))
        .map(|_| ["java", "go", "rust", "web", "data"][rng.below(5) as usize].to_owned())
        .collect();
    stored(&format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: c{name}, tags: [{}] }}\nspec: {{ type: service, lifecycle: {lifecycle}, owner: team{}, system: Sys{} }}\n",
        tags.join(", "),
        rng.below(12),
        rng.below(9),
    ))
}

fn group(name: u64) -> Stored {
    stored(&format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {{ name: team{name} }}\nspec: {{ type: team, children: [] }}\n"
    ))
}

fn sorted(mut counts: Vec<(String, u64)>) -> Vec<(String, u64)> {
    counts.sort_by(by_count);
    counts
}

const KEYS: [&str; 8] = [
    "kind",
    "spec.lifecycle",
    "relations.ownedby",
    "spec.system",
    "metadata.tags",
    "metadata.tags.java",
    "relations.ownerof",
    "spec.absent",
];

fn check(index: &Index, rng: &mut Random, round: usize) {
    let all = index.all().clone();
    let mut sets = vec![RoaringBitmap::new(), all.clone()];
    for _ in 0..4 {
        sets.push(all.iter().filter(|_| rng.below(3) == 0).collect());
    }
    for key in KEYS {
        let oracle = sorted(index.counts(key, None, Strategy::Walk));
        assert_eq!(index.facet(key, None), oracle, "{key} whole, round {round}");
        // A second call is served from the cache.
        assert_eq!(
            index.facet(key, None),
            oracle,
            "{key} cached, round {round}"
        );
        assert_eq!(
            index.facet(key, Some(&all)),
            oracle,
            "{key} within all, round {round}"
        );
        for within in &sets {
            let oracle = sorted(index.counts(key, Some(within), Strategy::Walk));
            let column = sorted(index.counts(key, Some(within), Strategy::Column));
            assert_eq!(column, oracle, "{key} column, round {round}");
            assert_eq!(
                index.facet(key, Some(within)),
                oracle,
                "{key} auto, round {round}"
            );
            let k = rng.below(5) as usize;
            let top: Vec<_> = oracle.iter().take(k).cloned().collect();
            assert_eq!(
                index.facet_top(key, Some(within), k),
                top,
                "{key} top {k}, round {round}"
            );
        }
    }
}

#[test]
fn the_column_the_value_walk_and_the_cache_agree_after_writes() {
    let mut rng = Random(0x5eed_fac3);
    let mut index = Index::default();
    for g in 0..8 {
        index.upsert(group(g));
    }
    for name in 0..120 {
        index.upsert(component(&mut rng, name));
    }
    for round in 0..12 {
        check(&index, &mut rng, round);
        // Writes between checks: replacements, removals, new entities and groups coming and
        // going, each of which must drop what was cached.
        for _ in 0..15 {
            let name = rng.below(160);
            match rng.below(4) {
                0 => {
                    index.remove(&format!("component:default/c{name}"));
                }
                1 => {
                    index.remove(&format!("group:default/team{}", rng.below(12)));
                }
                2 => index.upsert(group(rng.below(12))),
                _ => index.upsert(component(&mut rng, name)),
            }
        }
    }
}

#[test]
fn a_write_drops_the_cached_list() {
    let mut rng = Random(7);
    let mut index = Index::default();
    index.upsert(component(&mut rng, 1));
    assert_eq!(index.facet("kind", None), vec![("Component".to_owned(), 1)]);
    index.upsert(group(1));
    assert_eq!(
        index.facet("kind", None),
        vec![("Component".to_owned(), 1), ("Group".to_owned(), 1)]
    );
}
