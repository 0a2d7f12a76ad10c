//! The trigram index against the scans it replaces, over random corpora changed by removals and
//! re-insertions, and its size for a catalog-like key.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::KeyText;
use crate::catalog::index::{Body, Index, Names, Stored};
use crate::catalog::kinds;
use crate::catalog::testing::Random;

/// Pieces of text chosen so that values share trigrams, hold multibyte letters whose lowercase
/// differs in length ("İ") or by position (a final "Σ"), the characters SQL's `LIKE` would read
/// as wildcards, and NUL.
const PIECES: &[&str] = &[
    "pay", "ment", "s", "api", "led", "ger", "-", " ", "Ä", "İ", "ΟΔΟΣ", "σ", "%", "_", "\0", "ab",
    "ba", "x", "payments",
];

fn text(random: &mut Random, pieces: usize) -> String {
    (0..pieces).map(|_| *random.pick(PIECES)).collect()
}

fn entity(random: &mut Random, serial: usize) -> Stored {
    let name = format!("n{}{}", serial, text(random, 3)).to_lowercase();
    // Titles come from a small pool so that several entities share a value; some descriptions
    // are longer than the longest indexed value.
    let title = format!("t{}", random.index(12));
    let longest = if random.index(8) == 0 { 80 } else { 8 };
    let pieces = 1 + random.index(longest);
    let description = text(random, pieces);
    let body = serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": name, "title": title, "description": description },
        "spec": { "type": "service" },
    });
    let name = format!("e{serial}");
    Stored {
        uid: format!("uid-{serial}").into(),
        etag: "e".into(),
        generation: 1,
        names: Names::new(&format!("component:default/{name}"), "default", &name),
        kind: kinds::find("Component").expect("a kind"),
        body: Body::from(body.to_string()),
        edges: Box::default(),
        location_key: Arc::from("upload:test"),
    }
}

/// A term: mostly a piece of an indexed value (so that it matches), else random text, a short
/// term, or one longer than any indexed value.
fn term(random: &mut Random, index: &Index) -> String {
    let ids: Vec<u32> = index.all().iter().collect();
    match random.index(6) {
        0..=2 if !ids.is_empty() => {
            let pairs = index.pairs_of(*random.pick(&ids));
            let (_, value) = random.pick(&pairs);
            let bounds: Vec<usize> = (0..=value.len())
                .filter(|at| value.is_char_boundary(*at))
                .collect();
            let from = *random.pick(&bounds);
            let to = *random.pick(&bounds);
            value[from.min(to)..from.max(to)].to_owned()
        }
        3 => (*random.pick(PIECES)).to_lowercase(),
        4 => text(random, 60).to_lowercase(),
        _ => {
            let pieces = 1 + random.index(4);
            text(random, pieces).to_lowercase()
        }
    }
}

/// The entities having a value of `key` containing `term`, from each entity's pairs.
fn by_entities(index: &Index, key: &str, term: &str) -> RoaringBitmap {
    index
        .all()
        .iter()
        .filter(|id| {
            index
                .pairs_of(*id)
                .iter()
                .any(|(k, v)| k == key && v.contains(term))
        })
        .collect()
}

#[test]
fn the_trigram_index_answers_as_the_scans_do() {
    let keys = ["metadata.name", "metadata.title", "metadata.description"];
    for seed in [1_u64, 7, 42, 2026] {
        let mut random = Random(seed);
        let mut index = Index::default();
        index.index_text_from(4, usize::MAX);
        let mut serial = 0;
        for round in 0..6 {
            for _ in 0..40 {
                serial += 1;
                index.upsert(entity(&mut random, serial));
            }
            // Removals and re-insertions under the same reference with other values.
            let ids: Vec<u32> = index.all().iter().collect();
            for _ in 0..15 {
                let id = *random.pick(&ids);
                if let Some(gone) = index.get(id).map(|e| e.entity_ref().to_owned()) {
                    index.remove(&gone);
                    if random.index(2) == 0 {
                        let again = entity(&mut random, serial + 1);
                        index.upsert(Stored {
                            names: Names::new(&gone, again.namespace(), again.name()),
                            ..again
                        });
                    }
                }
            }
            for _ in 0..60 {
                let term = term(&mut random, &index);
                if term.is_empty() {
                    continue;
                }
                for key in keys {
                    let expected = by_entities(&index, key, &term);
                    let scanned = index.containing(key, &term);
                    let indexed = index.containing_named(key, &term);
                    assert_eq!(
                        scanned, expected,
                        "scan, seed {seed} round {round} {term:?}"
                    );
                    assert_eq!(
                        indexed, expected,
                        "index, seed {seed} round {round} {term:?}"
                    );
                }
            }
            let indexed: Vec<String> = index.text_indexes().into_iter().map(|(k, _)| k).collect();
            assert_eq!(
                indexed,
                ["metadata.description", "metadata.name", "metadata.title"]
            );
        }
    }
}

#[test]
fn keys_with_few_values_and_unnamed_searches_build_no_index() {
    let mut random = Random(3);
    let mut index = Index::default();
    index.index_text_from(20, usize::MAX);
    for serial in 0..30 {
        index.upsert(entity(&mut random, serial));
    }
    index.containing("metadata.name", "pay");
    index.containing_named("metadata.title", "t1");
    index.containing_named("spec.type", "serv");
    assert!(index.text_indexes().is_empty());
    index.containing_named("metadata.name", "pay");
    let built: Vec<String> = index.text_indexes().into_iter().map(|(k, _)| k).collect();
    assert_eq!(built, ["metadata.name"]);
}

#[test]
fn indexes_stay_within_their_budget() {
    let mut random = Random(5);
    let mut index = Index::default();
    for serial in 0..200 {
        index.upsert(entity(&mut random, serial));
    }
    index.index_text_from(4, usize::MAX);
    index.containing_named("metadata.name", "pay");
    index.containing_named("metadata.description", "pay");
    let both: usize = index.text_indexes().iter().map(|(_, size)| size).sum();
    // A third index does not fit beside both: the least recently searched one makes room.
    index.index_text_from(4, both);
    index.containing_named("metadata.name", "ment");
    index.containing_named("metadata.title", "t1");
    let kept: Vec<String> = index.text_indexes().into_iter().map(|(k, _)| k).collect();
    assert_eq!(kept, ["metadata.name", "metadata.title"]);
    assert_eq!(
        index.containing_named("metadata.description", "pay"),
        by_entities(&index, "metadata.description", "pay")
    );
}

/// The size and speed of an index over catalog-like values (a name, a title or a description
/// like the benchmark generator's: a few words of a few dozen, plus a serial), printed for the
/// documentation: `cargo test -p causeway-platform --release text_index_size -- --ignored
/// --nocapture` (`TEXT_VALUES` sets the number of values, 100,000 by default).
#[test]
#[ignore = "a measurement, a few seconds in release"]
fn text_index_size() {
    let words = [
        "payments", "ledger", "checkout", "basket", "search", "identity", "billing", "service",
        "api", "web", "worker", "gateway", "orders", "catalog", "platform", "team", "data",
        "stream", "events", "reports", "handles", "the", "for", "and", "of", "customer",
    ];
    let count: u32 = std::env::var("TEXT_VALUES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let mut random = Random(42);
    let mut values = super::Values::default();
    let mut bytes = 0;
    for serial in 0..count {
        let length = 2 + random.index(8);
        let mut value: Vec<String> = (0..length)
            .map(|_| (*random.pick(&words)).to_owned())
            .collect();
        value.push(format!("{serial}"));
        let value = value.join(" ");
        bytes += value.len();
        values.insert(
            Arc::from(value.as_str()),
            super::Posting::new(serial, false),
        );
    }
    let started = std::time::Instant::now();
    let index = KeyText::build(&values);
    let built = started.elapsed();
    let heap = index.heap_bytes();
    println!(
        "{count} values, {bytes} bytes of text: index {heap} bytes ({} per value), built in {built:?}",
        heap / values.len(),
    );
    for term in ["payments", "ledger web", "gateway 12", "sms", "ab"] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..20 {
            let started = std::time::Instant::now();
            let mut matches = super::Matches::new(count as usize);
            index.search(term, &values, None, &mut matches);
            times.push(started.elapsed());
            found = matches.into_ids().len();
        }
        times.sort();
        println!(
            "{term:?}: {found} found, median {:?}, max {:?}",
            times[10], times[19]
        );
    }
}
