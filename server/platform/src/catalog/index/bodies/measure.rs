//! Bytes of the bodies of a generated catalog per kind, with one dictionary trained on the first
//! entities (as before dictionaries were kept per kind) and with the index's dictionaries per
//! kind, and the time to read the bodies of a page of entities either way. Run on the bench's
//! generated data (`tests/bench/catalog/run.sh` writes it), in release:
//! `BODIES_SIZE=100000 cargo test --release -p causeway-platform --lib measure_bodies -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize as _;
use serde_json::Value;

use super::super::Index;
use super::{Body, Codec, TRAIN_AFTER};
use crate::catalog::testing::stored_from as stored;

#[test]
#[ignore = "reads the bench's generated catalog; run by hand"]
fn measure_bodies() {
    let size = std::env::var("BODIES_SIZE").unwrap_or_else(|_| "100000".to_owned());
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/bench/catalog-data"
    );
    let mut parts: Vec<_> = std::fs::read_dir(dir)
        .expect("generated data")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("catalog-{size}-seed42.part-")) && n.ends_with(".yaml")
            })
        })
        .collect();
    parts.sort();
    assert!(!parts.is_empty(), "no generated parts for {size}");

    let mut index = Index::default();
    // (kind, text bytes, bytes held) with one dictionary trained on the first entities.
    let mut single: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut first: Vec<(String, String)> = Vec::new();
    let mut codec: Option<Codec> = None;
    let mut singly_packed: Vec<(String, Body)> = Vec::new();
    let mut count_single =
        |codec: &Codec, kind: &str, text: &str, refs: &mut Vec<(String, Body)>| {
            let held = codec.pack(0, text).unwrap_or_else(|| Body::from(text));
            let entry = single.entry(kind.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += text.len();
            entry.2 += match &held {
                Body::Packed { bytes, .. } => bytes.len(),
                Body::Plain(t) => t.len(),
            };
            refs.push((kind.to_owned(), held));
        };
    let started = Instant::now();
    for part in &parts {
        let text = std::fs::read_to_string(part).expect("part");
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let Some(e) = Value::deserialize(document).ok().and_then(stored) else {
                continue;
            };
            let body = e.body.plain().expect("plain").to_owned();
            match &codec {
                Some(c) => count_single(c, e.kind(), &body, &mut singly_packed),
                None => {
                    first.push((e.kind().to_owned(), body));
                    if first.len() == TRAIN_AFTER {
                        let samples: Vec<&[u8]> = first.iter().map(|(_, b)| b.as_bytes()).collect();
                        let c = Codec::train(&samples).expect("trained");
                        for (kind, b) in first.drain(..) {
                            count_single(&c, &kind, &b, &mut singly_packed);
                        }
                        codec = Some(c);
                    }
                }
            }
            index.upsert(e);
        }
    }
    println!("fed {} entities in {:.1?}", index.len(), started.elapsed());

    println!("kind | entities | text MiB | one dictionary MiB | per kind MiB");
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let mut totals = (0, 0, 0);
    for bytes in index.body_bytes() {
        let (_, text, held) = single.get(&bytes.kind).copied().unwrap_or_default();
        assert_eq!(text, bytes.text_bytes);
        totals = (
            totals.0 + text,
            totals.1 + held,
            totals.2 + bytes.held_bytes,
        );
        println!(
            "{} | {} | {:.1} | {:.1} | {:.1}",
            bytes.kind,
            bytes.entities,
            mib(text),
            mib(held),
            mib(bytes.held_bytes)
        );
    }
    println!(
        "all | {} | {:.1} | {:.1} | {:.1}",
        index.len(),
        mib(totals.0),
        mib(totals.1),
        mib(totals.2)
    );

    // Each dictionary costs its packing context and its prepared form for reading, whatever
    // the number of entities of its kind.
    let contexts: usize = index
        .codecs
        .list
        .iter()
        .map(|c| {
            let packing = c
                .packer
                .lock()
                .map_or(0, |mut p| p.context.context_mut().sizeof());
            packing + c.prepared.as_ddict().sizeof()
        })
        .sum();
    println!(
        "{} dictionaries take {:.1} MiB with their contexts",
        index.codecs.list.len(),
        mib(contexts)
    );

    // Pages of 50 entities picked across the catalog, so that kinds alternate.
    let codec = codec.expect("trained");
    let n = singly_packed.len() as u64;
    let pages: Vec<Vec<u32>> = (0..2000u64)
        .map(|p| {
            (0..50u64)
                .map(|i| ((p * 50 + i).wrapping_mul(2_654_435_761) % n) as u32)
                .collect()
        })
        .collect();
    let mut check = 0usize;
    // The bodies as the index holds them, laid out as `singly_packed` is, so that both are read
    // the same way and only the dictionaries differ.
    let held: Vec<Body> = (0..n as u32)
        .map(|id| index.get(id).expect("dense ids").body.clone())
        .collect();
    // The fastest of a few rounds each, taken in turn, so that neither gains from a warm cache.
    let (mut one, mut per_kind) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..5 {
        let started = Instant::now();
        for page in &pages {
            for &id in page {
                check += match &singly_packed[id as usize].1 {
                    Body::Packed { len, bytes, .. } => {
                        codec.unpack(*len, bytes).map_or(0, |t| t.len())
                    }
                    Body::Plain(text) => text.len(),
                };
            }
        }
        one = one.min(started.elapsed());
        let started = Instant::now();
        for page in &pages {
            for &id in page {
                check += match &held[id as usize] {
                    Body::Packed { codec, len, bytes } => index
                        .codecs
                        .unpack(*codec, *len, bytes)
                        .map_or(0, |t| t.len()),
                    Body::Plain(text) => text.len(),
                };
            }
        }
        per_kind = per_kind.min(started.elapsed());
    }
    // What rendering does with each body next, for scale: parsing it.
    let started = Instant::now();
    for page in &pages {
        for &id in page {
            check += index
                .get(id)
                .map_or(0, |e| usize::from(index.body_value(e).is_object()));
        }
    }
    let parsed = started.elapsed();
    println!(
        "read a page of 50 bodies: one dictionary {:.1} µs, per kind {:.1} µs, per kind and parsed {:.1} µs ({check})",
        one.as_secs_f64() * 1e6 / pages.len() as f64,
        per_kind.as_secs_f64() * 1e6 / pages.len() as f64,
        parsed.as_secs_f64() * 1e6 / pages.len() as f64
    );
}
