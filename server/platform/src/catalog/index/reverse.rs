//! Reverse relations (`ownerOf`, `hasPart`, `apiConsumedBy`, …), answered from the edges their
//! sources declare instead of being stored as search pairs of their own.
//!
//! Every relation an entity declares gives the target a reverse pair (`relations.ownerof` =
//! the source). Stored, those pairs were one hash-map entry per relation, about a quarter of the
//! index; they are implied by the `incoming` map and the sources' edges, which the index keeps
//! anyway. Only the set of entities having each reverse key is stored, for existence filters.
//!
//! A pair that the target also declares itself (a group's `children` and a child's `parent`) is
//! stored as a declared pair and skipped here, so that it is never counted twice.
//!
//! The `incoming` lists hold one [`Incoming`] of 8 bytes per relation: the source is always the
//! existing entity declaring the edge, so it is named by its id, and the reverse type by its
//! place in a table of the model's reverse types. As a reference and a string slice they took
//! 32 bytes, and every entity's own reference was interned as a source besides.

use std::sync::LazyLock;

use roaring::RoaringBitmap;

#[cfg(test)]
mod tests;

use super::super::kinds::KINDS;
use super::pairs::{relation_key, with_relation_key};
use super::{Index, Stored};

/// Every reverse relation type of the model, once, in the order the kinds declare them.
static REVERSE_TYPES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut types: Vec<&'static str> = Vec::new();
    for relation in KINDS
        .iter()
        .flat_map(|k| k.fields)
        .filter_map(|f| f.relation)
    {
        if !types.contains(&relation.reverse) {
            types.push(relation.reverse);
        }
    }
    types
});

/// A relation pointing at a reference: its reverse type and the id of the entity declaring it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Incoming {
    source: u32,
    kind: u16,
}

impl Incoming {
    pub(super) fn new(kind: &'static str, source: u32) -> Self {
        let at = REVERSE_TYPES
            .iter()
            .position(|t| *t == kind)
            .expect("reverse types come from the kinds' relations");
        Self {
            source,
            kind: u16::try_from(at).expect("fewer than 65 536 reverse types"),
        }
    }

    /// The reverse type (`ownerOf`).
    pub(super) fn kind(self) -> &'static str {
        REVERSE_TYPES[usize::from(self.kind)]
    }

    /// The id of the declaring entity.
    pub(super) fn source(self) -> u32 {
        self.source
    }
}

/// Whether `key` is the search key of the relation type `kind` (`relations.ownerof`, `ownerOf`).
fn is_key_of(key: &str, kind: &str) -> bool {
    key.strip_prefix("relations.")
        .is_some_and(|k| k.eq_ignore_ascii_case(kind))
}

impl Index {
    /// Records that entity `target` is pointed at with the reverse type `kind`.
    pub(super) fn mark_reverse(&mut self, kind: &str, target: u32) {
        with_relation_key(kind, |key| match self.reverse.get_mut(key) {
            Some(ids) => {
                ids.insert(target);
            }
            None => {
                self.reverse
                    .insert(key.into(), RoaringBitmap::from([target]));
            }
        });
    }

    /// Forgets that entity `target` is pointed at with `kind`.
    pub(super) fn unmark_reverse(&mut self, kind: &str, target: u32) {
        let key = relation_key(kind);
        if let Some(ids) = self.reverse.get_mut(key.as_str()) {
            ids.remove(target);
            if ids.is_empty() {
                self.reverse.remove(key.as_str());
            }
        }
    }

    /// Ids that have the reverse pair (`key`, `source`): the existing targets of the edges
    /// `source` declares with that reverse type.
    pub(super) fn reverse_matching(&self, key: &str, source: &str) -> RoaringBitmap {
        let mut ids = RoaringBitmap::new();
        if !self.reverse.contains_key(key) {
            return ids;
        }
        if let Some(entity) = self.by_ref(source) {
            for edge in entity.edges.iter().filter(|e| is_key_of(key, e.reverse())) {
                if let Some(target) = self.id_of(&edge.target) {
                    ids.insert(target);
                }
            }
        }
        ids
    }

    /// Calls `f(target, source)` for every reverse pair (`key`, `source`) of an entity in
    /// `within` (every entity when `None`) that the entity does not also declare itself.
    pub(super) fn each_reverse<'a>(
        &'a self,
        key: &str,
        within: Option<&RoaringBitmap>,
        mut f: impl FnMut(u32, &'a str),
    ) {
        if !self.reverse.contains_key(key) {
            return;
        }
        for (target, sources) in &self.incoming {
            let Some(id) = self.id_of(target) else {
                continue;
            };
            if within.is_some_and(|w| !w.contains(id)) {
                continue;
            }
            let Some(entity) = self.get(id) else {
                continue;
            };
            for (kind, source) in self.sources(sources).filter(|(k, _)| is_key_of(key, k)) {
                let declared = entity
                    .edges
                    .iter()
                    .any(|e| e.kind().eq_ignore_ascii_case(kind) && *e.target == *source);
                if !declared {
                    f(id, source);
                }
            }
        }
    }

    /// The (reverse type, source reference) pairs of `list`.
    pub(super) fn sources<'a>(
        &'a self,
        list: &'a [Incoming],
    ) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        list.iter().filter_map(|i| {
            let source = self.get(i.source())?;
            Some((i.kind(), source.entity_ref()))
        })
    }

    /// The relations others declare towards `entity_ref`, as (reverse type, source reference).
    pub(super) fn incoming_of<'a>(
        &'a self,
        entity_ref: &str,
    ) -> impl Iterator<Item = (&'static str, &'a str)> + use<'a> {
        let list = self.incoming.get(entity_ref).map_or(&[][..], Vec::as_slice);
        self.sources(list)
    }

    /// Records the edges of `entity`, just stored under `id`, in their targets' `incoming` lists.
    pub(super) fn attach_edges(&mut self, id: u32, entity: &Stored) {
        for (i, edge) in entity.edges.iter().enumerate() {
            // Writing an entity first removed whatever it declared before, so only its own edges
            // can repeat a (reverse type, source) pair; searching the target's whole list instead
            // would cost time quadratic in the number of entities pointing at one target.
            if entity.edges[..i]
                .iter()
                .any(|e| e.target == edge.target && e.reverse() == edge.reverse())
            {
                continue;
            }
            let list = self.incoming.entry(edge.target.clone()).or_default();
            // Most targets have a few sources, which doubling would give up to four times the
            // room they need; a quarter more at a time keeps the growth amortised.
            if list.len() == list.capacity() {
                list.reserve_exact((list.len() / 4).max(1));
            }
            list.push(Incoming::new(edge.reverse(), id));
            if let Some(target) = self.id_of(&edge.target) {
                self.mark_reverse(edge.reverse(), target);
            }
        }
    }

    /// Takes the edges of `entity`, stored under `id`, out of their targets' `incoming` lists.
    pub(super) fn detach_edges(&mut self, id: u32, entity: &Stored) {
        for edge in &entity.edges {
            let Some(list) = self.incoming.get_mut(&*edge.target) else {
                continue;
            };
            let gone = Incoming::new(edge.reverse(), id);
            list.retain(|i| *i != gone);
            let still = list.iter().any(|i| i.kind() == edge.reverse());
            if list.is_empty() {
                self.incoming.remove(&*edge.target);
            } else if list.capacity() > 2 * list.len() {
                list.shrink_to_fit();
            }
            if !still && let Some(target) = self.id_of(&edge.target) {
                self.unmark_reverse(edge.reverse(), target);
            }
        }
    }
}
