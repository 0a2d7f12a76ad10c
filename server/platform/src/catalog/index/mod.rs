//! The in-memory catalog index that serves every read.
//!
//! The database is the source of truth; this index is rebuilt from it at start and updated after
//! every committed write. Filters are evaluated on posting lists (roaring bitmaps of dense entity
//! ids) keyed by Backstage's search keys, which is what makes queries and facets take microseconds
//! instead of scanning rows.
//!
//! Memory is what limits a catalog of 100 000 entities, so the index keeps each value once per
//! key and each relation target once (the edges and the relation keys share the `incoming`
//! entry's `Arc<str>`), keeps no per-entity copy of its search
//! pairs (they are computed again from the body when an entity is removed), and finds entities by
//! reference and uid through hash tables of ids rather than maps of copied strings.

mod bodies;
mod facets;
mod identifier;
mod pairs;
mod posting;
mod prepare;
mod ranking;
mod reverse;
mod stored;
#[cfg(test)]
mod tests;
mod text;
mod values;

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use hashbrown::{DefaultHashBuilder, HashTable};
use roaring::RoaringBitmap;
use serde_json::Value;

pub use self::bodies::Body;
use self::bodies::Codecs;
pub use self::bodies::KindBytes;
pub use self::identifier::Identifier;
use self::pairs::{MAX_VALUE_LENGTH, original_values, search_pairs};
use self::posting::Posting;
pub use self::prepare::{Indexable, Preparer};
use self::ranking::Orders;
pub use self::ranking::{Ranking, Ranks};
pub use self::stored::{Names, Stored};
pub use self::text::Matches;
use self::text::{Texts, texts_mut};
use self::values::{Entry, Values};
use super::entity::Edge;

/// One relation as served: type and target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Related {
    pub kind: String,
    pub target: String,
}

#[derive(Debug, Default)]
struct KeyEntry {
    values: Values,
    exists: RoaringBitmap,
    /// Ids with at least one list item among their values of this key (see [`pairs::Pair::item`]).
    items: RoaringBitmap,
}

impl KeyEntry {
    fn with_hasher(hasher: DefaultHashBuilder) -> Self {
        Self {
            values: Values::with_hasher(hasher),
            ..Self::default()
        }
    }
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    slots: Vec<Option<Arc<Stored>>>,
    free: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// Ids, hashed by their entity's reference.
    by_ref: HashTable<u32>,
    /// Ids, hashed by their entity's uid.
    by_uid: HashTable<u32>,
    keys: hashbrown::HashMap<Box<str>, KeyEntry>,
    all: RoaringBitmap,
    /// Number of indexed (key, value) pairs over all entities, for query planning.
    pair_count: usize,
    /// Relations pointing at a reference, from the entities that declare them: target → (reverse
    /// type, source), and the target's id while it exists. Kept for targets that do not exist
    /// (yet), so they attach when they appear. The sources are ids of the entities declaring the
    /// edges, and the key is the copy of the reference those edges share (see `reverse.rs`).
    /// Hashed with `hasher`, as `by_ref` is, so that one hash of a target serves both.
    incoming: HashTable<(Arc<str>, reverse::Pointed)>,
    /// For each reverse relation key (`relations.ownerof`), the entities that others point at
    /// with it. The (key, source) pairs themselves are not stored: they are read from the
    /// sources' edges when asked for (see `reverse.rs`), which saves one map entry per relation.
    reverse: hashbrown::HashMap<Box<str>, RoaringBitmap>,
    /// Orders computed on demand, a few at a time; patched after a small write that holds them
    /// (see `ranking.rs`), dropped on any other write.
    orders: Mutex<Orders>,
    /// Full-text search structures built on demand per key: trigram indexes, kept up to date by
    /// every write, and substring-search buffers, dropped on every write.
    texts: Mutex<Texts>,
    /// Facet lists and columns built on demand, dropped on every write (see `facets.rs`).
    facets: Mutex<facets::Facets>,
    /// Dictionaries packing the bodies of each kind once it holds enough entities.
    codecs: Codecs,
}

/// The id in `by_ref` of the entity with reference `entity_ref`, hashed as `hash`: a function of
/// the two fields rather than a method, so that it can run while another field is borrowed.
fn find_ref(
    by_ref: &HashTable<u32>,
    slots: &[Option<Arc<Stored>>],
    hash: u64,
    entity_ref: &str,
) -> Option<u32> {
    by_ref
        .find(hash, |&id| {
            slots
                .get(id as usize)
                .and_then(Option::as_deref)
                .is_some_and(|e| e.entity_ref() == entity_ref)
        })
        .copied()
}

/// The ways `key` can name a list item: `metadata.tags.java` is the item `java` of
/// `metadata.tags` (items may contain dots themselves, so every split is a candidate).
fn item_splits(key: &str) -> impl Iterator<Item = (&str, &str)> {
    key.match_indices('.')
        .map(move |(at, _)| (&key[..at], &key[at + 1..]))
        .filter(|(prefix, item)| !prefix.is_empty() && !item.is_empty())
}

impl Index {
    /// Number of entities.
    pub fn len(&self) -> u64 {
        self.all.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Every id.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// The entity with dense id `id`.
    pub fn get(&self, id: u32) -> Option<&Arc<Stored>> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// The body text of `entity`.
    pub fn body<'a>(&self, entity: &'a Stored) -> Cow<'a, str> {
        match &entity.body {
            Body::Plain(text) => Cow::Borrowed(text),
            Body::Packed { codec, len, bytes } => {
                Cow::Owned(self.codecs.unpack(*codec, *len, bytes).unwrap_or_default())
            }
        }
    }

    /// The body of `entity`, parsed.
    pub fn body_value(&self, entity: &Stored) -> Value {
        serde_json::from_str(&self.body(entity)).unwrap_or(Value::Null)
    }

    /// The id of the entity with normalised reference `entity_ref`.
    pub fn id_of(&self, entity_ref: &str) -> Option<u32> {
        self.id_hashed(self.hasher.hash_one(entity_ref), entity_ref)
    }

    /// [`Self::id_of`] for a reference already hashed with the index's hasher.
    fn id_hashed(&self, hash: u64, entity_ref: &str) -> Option<u32> {
        find_ref(&self.by_ref, &self.slots, hash, entity_ref)
    }

    /// The entity with reference `entity_ref`.
    pub fn by_ref(&self, entity_ref: &str) -> Option<&Arc<Stored>> {
        self.id_of(entity_ref).and_then(|id| self.get(id))
    }

    /// The entity with uid `uid`.
    pub fn by_uid(&self, uid: &str) -> Option<&Arc<Stored>> {
        let hash = self.hasher.hash_one(uid);
        self.by_uid
            .find(hash, |&id| self.get(id).is_some_and(|e| e.uid == *uid))
            .and_then(|&id| self.get(id))
    }

    /// Every relation of `entity`: those it declares and those others declare towards it.
    pub fn relations(&self, entity: &Stored) -> Vec<Related> {
        self.relation_refs(entity)
            .into_iter()
            .map(|(kind, target)| Related {
                kind: kind.to_owned(),
                target: target.to_owned(),
            })
            .collect()
    }

    /// [`Self::relations`] as (type, target) borrowed from the index, sorted, without
    /// duplicates: rendering a page of entities writes them out and needs no copies.
    pub fn relation_refs<'a>(&'a self, entity: &'a Stored) -> Vec<(&'static str, &'a str)> {
        let mut related: Vec<(&'static str, &'a str)> = entity
            .edges
            .iter()
            .map(|e| (e.kind(), &*e.target))
            .chain(self.incoming_of(entity.entity_ref()))
            .collect();
        related.sort_unstable();
        related.dedup();
        related
    }

    /// The references `entity` is owned by.
    pub fn owners(&self, entity: &Stored) -> Vec<String> {
        self.relations(entity)
            .into_iter()
            .filter(|r| r.kind == "ownedBy")
            .map(|r| r.target)
            .collect()
    }

    /// Inserts or replaces an entity (matched by reference).
    pub fn upsert(&mut self, entity: Stored) {
        let body = self.body_value(&entity);
        let indexable = self.preparer().hashed(entity, &body);
        self.upsert_indexable(indexable);
    }

    /// [`Index::upsert`] for an entity whose search pairs were computed beforehand.
    pub fn upsert_indexable(&mut self, indexable: Indexable) {
        let Indexable {
            mut entity,
            pairs,
            hashes,
        } = indexable;
        // The reference was hashed once, to find an entity it replaces and to file the new one.
        let ref_hash = hashes.entity_ref;
        if let Some(id) = self.id_hashed(ref_hash, entity.entity_ref()) {
            self.remove_id(id);
        }
        if let Some(packed) = self.codecs.pack(entity.kind(), &entity.body) {
            entity.body = packed;
        }
        let id = self.free.pop().unwrap_or_else(|| {
            u32::try_from(self.slots.len()).expect("fewer than 4 billion entities")
        });
        self.attach_edges(id, &mut entity, &hashes.targets);
        let entity = Arc::new(entity);
        if self.slots.len() <= id as usize {
            self.slots.resize_with(id as usize + 1, || None);
        }
        self.slots[id as usize] = Some(entity.clone());
        let (slots, hasher) = (&self.slots, &self.hasher);
        // Growing a table hashes its ids' entities again; every id in a table has its entity.
        let stored = |i: u32| slots[i as usize].as_deref();
        self.by_ref.insert_unique(ref_hash, id, |&i| {
            stored(i).map_or(0, |e| hasher.hash_one(e.entity_ref()))
        });
        self.by_uid.insert_unique(hashes.uid, id, |&i| {
            stored(i).map_or(0, |e| hasher.hash_one(&e.uid))
        });

        for kind in self.file_pointed(entity.entity_ref(), ref_hash, Some(id)) {
            self.mark_reverse(kind, id);
        }
        self.add_pairs(id, &entity.edges, &pairs, &hashes.values);
        self.all.insert(id);
        self.invalidate_orders();
        self.train_kind_if_due(entity.kind());
    }

    /// Indexes entity `id` under `pairs`. Pairs come sorted by key (see [`search_pairs`]), so
    /// each key is looked up once for all its values rather than once per value, and each value
    /// is hashed once whether it is new or not: at start-up this is most of what the thread that
    /// owns the index does.
    ///
    /// `hashes` are the values' hashes with the index's hasher, one per pair.
    fn add_pairs(&mut self, id: u32, edges: &[Edge], pairs: &[pairs::Pair], hashes: &[u64]) {
        let Self {
            keys,
            texts,
            pair_count,
            hasher,
            ..
        } = self;
        let texts = texts_mut(texts);
        debug_assert_eq!(hashes.len(), pairs.len());
        let mut rest = hashes;
        for group in pairs.chunk_by(|a, b| a.key == b.key) {
            let (group_hashes, after) = rest.split_at(group.len());
            rest = after;
            let key = group[0].key.as_str();
            // A key none of whose values is kept is not created.
            if key.len() > MAX_VALUE_LENGTH
                || group.iter().all(|p| p.value.len() > MAX_VALUE_LENGTH)
            {
                continue;
            }
            // Every key's values hash with the index's hasher, as the preparer did.
            let entry = keys
                .entry_ref(key)
                .or_insert_with(|| KeyEntry::with_hasher(hasher.clone()));
            for (pair, &hash) in group.iter().zip(group_hashes) {
                let (value, cased) = (pair.value.as_str(), pair.cased);
                if value.len() > MAX_VALUE_LENGTH {
                    continue;
                }
                entry.exists.insert(id);
                if pair.item {
                    entry.items.insert(id);
                }
                match entry.values.entry_hashed(value, hash) {
                    Entry::Occupied(posting) => {
                        let alone = posting.single();
                        posting.insert(id, cased);
                        if alone.is_some_and(|other| other != id) {
                            texts.held(key, value, None);
                        }
                    }
                    Entry::Vacant(vacant) => {
                        // A relation's value is its target's reference, which the edges already
                        // share with every other edge towards it; other values live once, in
                        // their key's map.
                        let shared = key
                            .starts_with("relations.")
                            .then(|| edges.iter().find(|e| *e.target == *value))
                            .flatten();
                        let value = shared.map_or_else(|| Arc::from(value), |e| e.target.clone());
                        texts.added(key, &value, id);
                        vacant.insert(value, Posting::new(id, cased));
                    }
                }
                *pair_count += 1;
            }
        }
    }

    /// Takes `id` out of the posting of (`key`, `value`), dropping what becomes empty except the
    /// key's `exists` and `items` sets, which the caller settles.
    fn remove_value(&mut self, id: u32, key: &str, value: &str) {
        let Some(entry) = self.keys.get_mut(key) else {
            return;
        };
        let Some(posting) = entry.values.get_mut(value) else {
            self.pair_count = self.pair_count.saturating_sub(1);
            return;
        };
        let shared = posting.single().is_none();
        if posting.remove(id) {
            entry.values.remove(value);
            texts_mut(&mut self.texts).removed(key, value);
        } else if let Some(alone) = posting.single().filter(|_| shared) {
            texts_mut(&mut self.texts).held(key, value, Some(alone));
        }
        self.pair_count = self.pair_count.saturating_sub(1);
    }

    fn drop_key_if_empty(&mut self, key: &str) {
        if self.keys.get(key).is_some_and(|k| k.values.is_empty()) {
            self.keys.remove(key);
        }
    }

    /// Removes the entity with reference `entity_ref`; returns it if it existed.
    pub fn remove(&mut self, entity_ref: &str) -> Option<Arc<Stored>> {
        let id = self.id_of(entity_ref)?;
        self.remove_id(id)
    }

    fn remove_id(&mut self, id: u32) -> Option<Arc<Stored>> {
        let entity = self.get(id)?.clone();
        // The pairs the entity was indexed under are exactly those its body and its edges give.
        let body = self.body_value(&entity);
        let pairs = search_pairs(&body, &entity.edges, &[]);
        for pair in &pairs {
            self.remove_value(id, &pair.key, &pair.value);
        }
        for pair in &pairs {
            if let Some(entry) = self.keys.get_mut(pair.key.as_str()) {
                entry.exists.remove(id);
                entry.items.remove(id);
            }
            self.drop_key_if_empty(&pair.key);
        }
        let ref_hash = self.hasher.hash_one(entity.entity_ref());
        for kind in self.file_pointed(entity.entity_ref(), ref_hash, None) {
            self.unmark_reverse(kind, id);
        }
        self.detach_edges(id, &entity);
        if let Ok(found) = self.by_ref.find_entry(ref_hash, |&i| i == id) {
            found.remove();
        }
        let uid_hash = self.hasher.hash_one(&entity.uid);
        if let Ok(found) = self.by_uid.find_entry(uid_hash, |&i| i == id) {
            found.remove();
        }
        self.slots[id as usize] = None;
        self.all.remove(id);
        self.free.push(id);
        self.invalidate_orders();
        Some(entity)
    }

    fn invalidate_orders(&self) {
        if let Ok(mut orders) = self.orders.lock() {
            orders.clear();
        }
        if let Ok(mut texts) = self.texts.lock() {
            texts.drop_haystacks();
        }

        if let Ok(mut facets) = self.facets.lock() {
            facets.clear();
        }
    }

    /// Ids whose list `prefix` holds `item`, for keys of the form `prefix.item`.
    fn items_matching(&self, key: &str) -> Option<RoaringBitmap> {
        let mut found: Option<RoaringBitmap> = None;
        for (prefix, item) in item_splits(key) {
            if let Some(entry) = self.keys.get(prefix)
                && let Some(value) = entry.values.get(item)
            {
                let ids = value.to_bitmap() & &entry.items;
                *found.get_or_insert_with(RoaringBitmap::new) |= ids;
            }
        }
        found
    }

    /// Ids having `key` (lowercase) at all.
    pub fn having(&self, key: &str) -> RoaringBitmap {
        let mut ids = self
            .keys
            .get(key)
            .map(|k| k.exists.clone())
            .unwrap_or_default();
        if let Some(pointed_at) = self.reverse.get(key) {
            ids |= pointed_at;
        }
        if let Some(items) = self.items_matching(key) {
            ids |= items;
        }
        ids
    }

    /// Ids where `key` (lowercase) has `value` (lowercase).
    pub fn matching(&self, key: &str, value: &str) -> RoaringBitmap {
        let mut ids = self
            .keys
            .get(key)
            .and_then(|k| k.values.get(value))
            .map(Posting::to_bitmap)
            .unwrap_or_default();
        ids |= self.reverse_matching(key, value);
        if value == "true"
            && let Some(items) = self.items_matching(key)
        {
            ids |= items;
        }
        ids
    }

    /// How many distinct values `key` (lowercase) has.
    pub fn distinct_values(&self, key: &str) -> usize {
        self.keys.get(key).map_or(0, |k| k.values.len())
    }

    /// Every indexed key, including reverse relation keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let mut keys: Vec<&str> = self
            .keys
            .keys()
            .chain(self.reverse.keys())
            .map(|k| &**k)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
    }

    /// Average number of indexed pairs per entity (at least 1).
    pub fn pairs_per_entity(&self) -> usize {
        (self.pair_count / usize::try_from(self.len()).unwrap_or(1).max(1)).max(1)
    }

    /// Ids where some value of `key` (lowercase) contains `term` (lowercase): one key searched
    /// alone, which the tests compare with the trigram index and the per-entity test.
    #[cfg(test)]
    pub(crate) fn containing(&self, key: &str, term: &str) -> RoaringBitmap {
        let mut found = self.matches();
        self.add_containing(key, term, false, None, &mut found);
        found.into_ids()
    }

    /// As [`Self::containing`], for a search that names `key`: a key with many values then gets
    /// a trigram index, kept for the following searches.
    #[cfg(test)]
    pub(crate) fn containing_named(&self, key: &str, term: &str) -> RoaringBitmap {
        let mut found = self.matches();
        self.add_containing(key, term, true, None, &mut found);
        found.into_ids()
    }

    /// An empty set of matches, for [`Self::add_containing`].
    pub fn matches(&self) -> Matches {
        Matches::new(self.slots.len())
    }

    /// Adds to `found` the entities of `within` (all when `None`) where some value of `key`
    /// (lowercase) contains `term` (lowercase); `named` as in [`Self::containing_named`].
    ///
    /// Entities already found or outside `within` may be added or not, so a search over several
    /// keys passes what it found so far and intersects with `within` at the end: the values of an
    /// entity found through one key need not be read for the next.
    pub fn add_containing(
        &self,
        key: &str,
        term: &str,
        named: bool,
        within: Option<&RoaringBitmap>,
        found: &mut Matches,
    ) {
        let ids = found.ids_mut();
        self.each_reverse(key, None, |target, source| {
            if source.contains(term) {
                ids.insert(target);
            }
        });
        if let Some(entry) = self.keys.get(key) {
            self.add_values_containing(key, &entry.values, term, named, within, found);
        }
    }

    /// The search pairs of entity `id` as (key, value), computed from its body.
    pub fn pairs_of(&self, id: u32) -> Vec<(String, String)> {
        let Some(entity) = self.get(id) else {
            return Vec::new();
        };
        let body = self.body_value(entity);
        let incoming: Vec<(&str, &str)> = self.incoming_of(entity.entity_ref()).collect();
        search_pairs(&body, &entity.edges, &incoming)
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect()
    }

    /// How `value` of `key` is spelled in the body of entity `id`.
    fn authored(&self, id: u32, key: &str, value: &str) -> Option<String> {
        let body = self.body_value(self.get(id)?);
        let mut originals = Vec::new();
        original_values(&body, key, &mut originals);
        originals
            .into_iter()
            .find(|o| o.to_lowercase() == value)
            .map(str::to_owned)
    }

    /// Whether entity `id` has the value `value` for `key`.
    pub fn has_value(&self, id: u32, key: &str, value: &str) -> bool {
        self.keys
            .get(key)
            .and_then(|k| k.values.get(value))
            .is_some_and(|v| v.contains(id))
    }

    /// Every reference that something points at but that does not exist, with who points at it.
    pub fn dangling_from<'a>(&self, entity: &'a Stored) -> Vec<&'a Edge> {
        entity
            .edges
            .iter()
            .filter(|e| self.id_of(&e.target).is_none())
            .collect()
    }
}
