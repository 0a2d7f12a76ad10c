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
//!
//! Each target's entry also remembers the target's id while it exists ([`Pointed::id`]), and its
//! key is the one copy of the reference that every edge towards it shares. Filing an edge is
//! then one lookup: at start-up, finding the target by reference for each relation besides (a
//! hash, and a chain of cache misses from the slot to the reference's bytes) was the largest
//! single cost of the thread that builds the index.

use std::hash::BuildHasher as _;
use std::sync::LazyLock;

use hashbrown::hash_table::Entry;
use roaring::RoaringBitmap;

#[cfg(test)]
mod tests;

use super::super::kinds::KINDS;
use super::pairs::{relation_key, with_relation_key};
use super::{Index, Stored, find_ref};

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

/// What the index keeps about a reference that relations point at.
#[derive(Debug)]
pub(super) struct Pointed {
    /// One entry per (reverse type, source) pair.
    sources: Vec<Incoming>,
    /// The id of the entity with this reference, or [`ABSENT`] while there is none.
    id: u32,
}

/// [`Pointed::id`] of a reference no entity has (yet). Ids are below `u32::MAX`, since the index
/// holds fewer than 4 billion entities.
const ABSENT: u32 = u32::MAX;

impl Pointed {
    fn new(id: Option<u32>) -> Self {
        Self {
            sources: Vec::new(),
            id: id.unwrap_or(ABSENT),
        }
    }

    /// The id of the entity with this reference, if it exists.
    pub(super) fn id(&self) -> Option<u32> {
        (self.id != ABSENT).then_some(self.id)
    }

    /// The (reverse type, source) pairs pointing at the reference.
    pub(super) fn sources(&self) -> &[Incoming] {
        &self.sources
    }
}

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
        for (_, pointed) in &self.incoming {
            let Some(id) = pointed.id() else {
                continue;
            };
            if within.is_some_and(|w| !w.contains(id)) {
                continue;
            }
            let Some(entity) = self.get(id) else {
                continue;
            };
            for (kind, source) in self
                .sources(pointed.sources())
                .filter(|(k, _)| is_key_of(key, k))
            {
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
        let list = self.pointed(entity_ref).map_or(&[][..], Pointed::sources);
        self.sources(list)
    }

    /// The entry of relations pointing at `entity_ref`, if any.
    fn pointed(&self, entity_ref: &str) -> Option<&Pointed> {
        let hash = self.hasher.hash_one(entity_ref);
        self.incoming
            .find(hash, |(target, _)| **target == *entity_ref)
            .map(|(_, pointed)| pointed)
    }

    /// Files the edges of `entity`, about to be stored under `id`, in their targets' `incoming`
    /// lists, and marks the targets that exist. Each edge's target becomes the entry's key, so
    /// that every edge towards one reference shares one copy of it.
    ///
    /// `hashes` are the targets' hashes with the index's hasher, one per edge.
    pub(super) fn attach_edges(&mut self, id: u32, entity: &mut Stored, hashes: &[u64]) {
        debug_assert_eq!(hashes.len(), entity.edges.len());
        for (i, &hash) in hashes.iter().enumerate() {
            let (before, rest) = entity.edges.split_at_mut(i);
            let edge = &mut rest[0];
            // Writing an entity first removed whatever it declared before, so only its own edges
            // can repeat a (reverse type, source) pair; searching the target's whole list instead
            // would cost time quadratic in the number of entities pointing at one target.
            let repeated = before
                .iter()
                .any(|e| e.target == edge.target && e.reverse() == edge.reverse());
            // One hash serves the entry and, for a new entry, the search for its target.
            let Self {
                incoming,
                by_ref,
                slots,
                hasher,
                ..
            } = &mut *self;
            let (target, pointed) = match incoming.entry(
                hash,
                |(target, _)| *target == edge.target,
                |(target, _)| hasher.hash_one(&**target),
            ) {
                Entry::Occupied(found) => found.into_mut(),
                Entry::Vacant(vacant) => {
                    // A new entry learns whether its target exists; from then on it is kept in
                    // step as the target comes and goes (see `Index::file_pointed`).
                    let exists = if *edge.target == *entity.names.entity_ref() {
                        Some(id)
                    } else {
                        find_ref(by_ref, slots, hash, &edge.target)
                    };
                    vacant
                        .insert((edge.target.clone(), Pointed::new(exists)))
                        .into_mut()
                }
            };
            edge.target = target.clone();
            if repeated {
                continue;
            }
            let list = &mut pointed.sources;
            // Most targets have a few sources, which doubling would give up to four times the
            // room they need; a quarter more at a time keeps the growth amortised.
            if list.len() == list.capacity() {
                list.reserve_exact((list.len() / 4).max(1));
            }
            list.push(Incoming::new(edge.reverse(), id));
            if let Some(target) = pointed.id() {
                self.mark_reverse(edge.reverse(), target);
            }
        }
    }

    /// Takes the edges of `entity`, stored under `id`, out of their targets' `incoming` lists.
    pub(super) fn detach_edges(&mut self, id: u32, entity: &Stored) {
        for edge in &entity.edges {
            let hash = self.hasher.hash_one(&*edge.target);
            let Ok(mut found) = self
                .incoming
                .find_entry(hash, |(target, _)| *target == edge.target)
            else {
                continue;
            };
            let pointed = &mut found.get_mut().1;
            let target = pointed.id();
            let list = &mut pointed.sources;
            let gone = Incoming::new(edge.reverse(), id);
            list.retain(|i| *i != gone);
            let still = list.iter().any(|i| i.kind() == edge.reverse());
            if list.is_empty() {
                found.remove();
            } else if list.capacity() > 2 * list.len() {
                list.shrink_to_fit();
            }
            if !still && let Some(target) = target {
                self.unmark_reverse(edge.reverse(), target);
            }
        }
    }

    /// Records that the entity with reference `entity_ref` (hashed as `hash` with the index's
    /// hasher) is now `id`, or gone for `None`, in the entry of relations pointing at it, and
    /// returns the reverse types they have.
    pub(super) fn file_pointed(
        &mut self,
        entity_ref: &str,
        hash: u64,
        id: Option<u32>,
    ) -> Vec<&'static str> {
        let Some((_, pointed)) = self
            .incoming
            .find_mut(hash, |(target, _)| **target == *entity_ref)
        else {
            return Vec::new();
        };
        pointed.id = id.unwrap_or(ABSENT);
        let mut kinds: Vec<&'static str> = pointed.sources.iter().map(|i| i.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}
