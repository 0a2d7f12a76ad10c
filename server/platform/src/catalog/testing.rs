//! What the catalog's unit tests share: entities as the catalog stores them, built from their
//! descriptors, and a small deterministic generator for the tests over random catalogs.

use std::sync::Arc;

use serde_json::Value;

use super::index::{Body, Names, Stored};
use super::{entity, validate};

/// `body` validated and processed as an import would, stored with its reference as uid; `None`
/// when it is not a valid entity.
pub(crate) fn stored_from(body: Value) -> Option<Stored> {
    let kind = validate::validate(&body).ok()?;
    let p = entity::process(body, kind).ok()?;
    Some(Stored {
        uid: p.entity_ref.as_str().into(),
        etag: "".into(),
        generation: 1,
        names: Names::new(&p.entity_ref, &p.namespace, &p.name),
        kind: p.kind,
        body: Body::from(p.body),
        edges: p.edges.into_boxed_slice(),
        location_key: Arc::from("test"),
    })
}

/// The entity a YAML descriptor describes (see [`stored_from`]); panics when it is not valid.
pub(crate) fn stored(yaml: &str) -> Stored {
    let body: Value = serde_yaml_ng::from_str(yaml).expect("yaml");
    stored_from(body).expect("a valid entity")
}

/// A small deterministic generator (xorshift64), so that a failure can be replayed from its seed.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A position below `n` (0 when `n` is 0).
    pub(crate) fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}
