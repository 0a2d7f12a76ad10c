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

use roaring::RoaringBitmap;

use super::Index;
use super::pairs::relation_key;

/// Whether `key` is the search key of the relation type `kind` (`relations.ownerof`, `ownerOf`).
fn is_key_of(key: &str, kind: &str) -> bool {
    key.strip_prefix("relations.")
        .is_some_and(|k| k.eq_ignore_ascii_case(kind))
}

impl Index {
    /// Records that entity `target` is pointed at with the reverse type `kind`.
    pub(super) fn mark_reverse(&mut self, kind: &str, target: u32) {
        self.reverse
            .entry(relation_key(kind).into_boxed_str())
            .or_default()
            .insert(target);
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
            for (kind, source) in sources.iter().filter(|(k, _)| is_key_of(key, k)) {
                let declared = entity
                    .edges
                    .iter()
                    .any(|e| e.kind().eq_ignore_ascii_case(kind) && e.target == *source);
                if !declared {
                    f(id, source);
                }
            }
        }
    }
}
