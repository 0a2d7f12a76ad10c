//! The in-memory catalog index that serves every read.
//!
//! The database is the source of truth; this index is rebuilt from it at start and updated after
//! every committed write. Filters are evaluated on posting lists (roaring bitmaps of dense entity
//! ids) keyed by Backstage's search keys, which is what makes queries and facets take microseconds
//! instead of scanning rows.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use roaring::RoaringBitmap;
use serde_json::Value;

use super::entity::Edge;

/// Values longer than this are not indexed, as in Backstage's search table.
const MAX_VALUE_LENGTH: usize = 200;

/// An entity as stored: the authored body plus the output-only metadata.
#[derive(Debug, Clone)]
pub struct Stored {
    pub uid: String,
    pub etag: String,
    pub generation: i64,
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The authored body, compact JSON.
    pub body: Arc<str>,
    /// Relations declared by the entity's own fields.
    pub edges: Vec<Edge>,
    /// Where the entity came from (`url:…`, `file:…`, `upload:…`).
    pub location_key: String,
}

/// One relation as served: type and target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Related {
    pub kind: String,
    pub target: String,
}

/// A posting list that does not pay for a bitmap when it holds one id (most values are unique).
#[derive(Debug, Clone)]
enum Posting {
    One(u32),
    Many(RoaringBitmap),
}

impl Posting {
    fn insert(&mut self, id: u32) {
        match self {
            Self::One(existing) if *existing == id => {}
            Self::One(existing) => {
                let mut bitmap = RoaringBitmap::new();
                bitmap.insert(*existing);
                bitmap.insert(id);
                *self = Self::Many(bitmap);
            }
            Self::Many(bitmap) => {
                bitmap.insert(id);
            }
        }
    }

    /// Removes `id`; returns whether the posting is now empty.
    fn remove(&mut self, id: u32) -> bool {
        match self {
            Self::One(existing) => *existing == id,
            Self::Many(bitmap) => {
                bitmap.remove(id);
                bitmap.is_empty()
            }
        }
    }

    fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            Self::One(id) => std::iter::once(*id).collect(),
            Self::Many(bitmap) => bitmap.clone(),
        }
    }

    fn count_in(&self, within: Option<&RoaringBitmap>) -> u64 {
        match (self, within) {
            (Self::One(_), None) => 1,
            (Self::One(id), Some(set)) => u64::from(set.contains(*id)),
            (Self::Many(bitmap), None) => bitmap.len(),
            (Self::Many(bitmap), Some(set)) => bitmap.intersection_len(set),
        }
    }
}

#[derive(Debug, Default)]
struct ValueEntry {
    /// The value as first seen, when it differs from its lowercase key (facets show it).
    original: Option<Box<str>>,
    posting: Option<Posting>,
}

#[derive(Debug, Default)]
struct KeyEntry {
    values: HashMap<Box<str>, ValueEntry>,
    exists: RoaringBitmap,
}

#[derive(Debug)]
struct Slot {
    entity: Arc<Stored>,
    /// The (lowercase key, value) pairs indexed for this entity, to undo them on removal.
    pairs: Vec<(Box<str>, Box<str>)>,
}

/// A sort key: for each id, its position in the order of one field.
type Ranks = Arc<Vec<u32>>;

/// Every distinct value of one key in one buffer, so that a substring search is one vectorised
/// scan of contiguous memory instead of a hash-map walk with one search call per value.
#[derive(Debug)]
struct Haystack {
    /// The values, each followed by a NUL byte: a term without NUL cannot match across two.
    text: String,
    /// Where each value starts in `text`, ascending.
    starts: Vec<usize>,
    postings: Vec<Posting>,
}

impl Haystack {
    fn build(entry: &KeyEntry) -> Self {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(entry.values.len());
        let mut postings = Vec::with_capacity(entry.values.len());
        for (value, v) in &entry.values {
            if let Some(posting) = &v.posting {
                starts.push(text.len());
                text.push_str(value);
                text.push('\0');
                postings.push(posting.clone());
            }
        }
        Self {
            text,
            starts,
            postings,
        }
    }

    /// Ids of the values containing `term` (which holds no NUL).
    fn search(&self, term: &str) -> RoaringBitmap {
        let finder = memchr::memmem::Finder::new(term.as_bytes());
        let bytes = self.text.as_bytes();
        let mut ids = RoaringBitmap::new();
        let mut from = 0;
        while let Some(found) = finder.find(&bytes[from..]) {
            let at = from + found;
            let value = self.starts.partition_point(|&s| s <= at) - 1;
            match &self.postings[value] {
                Posting::One(id) => {
                    ids.insert(*id);
                }
                Posting::Many(bitmap) => ids |= bitmap,
            }
            // One match per value is enough: continue with the next value.
            match self.starts.get(value + 1) {
                Some(next) => from = *next,
                None => break,
            }
        }
        ids
    }
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_ref: HashMap<String, u32>,
    by_uid: HashMap<String, u32>,
    keys: HashMap<Box<str>, KeyEntry>,
    all: RoaringBitmap,
    /// Number of indexed (key, value) pairs over all entities, for query planning.
    pair_count: usize,
    /// Relations pointing at a reference, from the entities that declare them: target → (reverse
    /// type, source). Kept for targets that do not exist (yet), so they attach when they appear.
    incoming: HashMap<String, BTreeSet<(String, String)>>,
    /// Orders computed on demand, dropped on every write.
    orders: Mutex<HashMap<String, Ranks>>,
    /// Substring-search buffers built on demand per key, dropped on every write.
    haystacks: Mutex<HashMap<String, Arc<Haystack>>>,
}

/// Flattens an entity into Backstage's search pairs: dotted lowercase keys, lowercase values;
/// lists repeat the key per item, and scalar items also appear as `key.item` = `true`.
fn search_pairs(
    body: &Value,
    edges: &[Edge],
    incoming: Option<&BTreeSet<(String, String)>>,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    flatten("", body, &mut pairs);
    for edge in edges {
        pairs.push((
            format!("relations.{}", edge.kind.to_lowercase()),
            edge.target.clone(),
        ));
    }
    for (kind, source) in incoming.into_iter().flatten() {
        pairs.push((format!("relations.{}", kind.to_lowercase()), source.clone()));
    }
    pairs.retain(|(k, v)| k.len() <= MAX_VALUE_LENGTH && v.len() <= MAX_VALUE_LENGTH);
    pairs.sort();
    pairs.dedup();
    pairs
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                // The API definition and output-only fields are large or never filtered on.
                if prefix.is_empty() && (key == "relations" || key == "status") {
                    continue;
                }
                let path = if prefix.is_empty() {
                    key.to_lowercase()
                } else {
                    format!("{prefix}.{}", key.to_lowercase())
                };
                flatten(&path, value, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => flatten(prefix, item, out),
                    scalar => {
                        if let Some(text) = scalar_text(scalar) {
                            out.push((format!("{prefix}.{text}"), "true".to_owned()));
                            out.push((prefix.to_owned(), text));
                        }
                    }
                }
            }
        }
        scalar => {
            if let Some(text) = scalar_text(scalar) {
                out.push((prefix.to_owned(), text));
            }
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The original (not lowercased) scalar values under `path` in `body`, for facets.
fn original_values<'a>(body: &'a Value, path: &[&str], out: &mut Vec<&'a str>) {
    match (body, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|i| original_values(i, path, out)),
        (Value::String(s), None) => out.push(s),
        (Value::Object(map), Some((head, rest))) => {
            if let Some((_, v)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(head)) {
                original_values(v, rest, out);
            }
        }
        _ => {}
    }
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
        self.slots
            .get(id as usize)
            .and_then(|s| s.as_ref())
            .map(|s| &s.entity)
    }

    /// The id of the entity with normalised reference `entity_ref`.
    pub fn id_of(&self, entity_ref: &str) -> Option<u32> {
        self.by_ref.get(entity_ref).copied()
    }

    /// The entity with reference `entity_ref`.
    pub fn by_ref(&self, entity_ref: &str) -> Option<&Arc<Stored>> {
        self.id_of(entity_ref).and_then(|id| self.get(id))
    }

    /// The entity with uid `uid`.
    pub fn by_uid(&self, uid: &str) -> Option<&Arc<Stored>> {
        self.by_uid.get(uid).and_then(|id| self.get(*id))
    }

    /// Every relation of `entity`: those it declares and those others declare towards it.
    pub fn relations(&self, entity: &Stored) -> Vec<Related> {
        let mut related: Vec<Related> = entity
            .edges
            .iter()
            .map(|e| Related {
                kind: e.kind.to_owned(),
                target: e.target.clone(),
            })
            .collect();
        for (kind, source) in self.incoming.get(&entity.entity_ref).into_iter().flatten() {
            related.push(Related {
                kind: kind.clone(),
                target: source.clone(),
            });
        }
        related.sort();
        related.dedup();
        related
    }

    /// Inserts or replaces an entity (matched by reference).
    pub fn upsert(&mut self, entity: Stored) {
        if let Some(id) = self.by_ref.get(&entity.entity_ref).copied() {
            self.remove_id(id);
        }
        let entity = Arc::new(entity);
        for edge in &entity.edges {
            let added = self
                .incoming
                .entry(edge.target.clone())
                .or_default()
                .insert((edge.reverse.to_owned(), entity.entity_ref.clone()));
            if added && let Some(target) = self.by_ref.get(&edge.target).copied() {
                self.add_pair(
                    target,
                    &format!("relations.{}", edge.reverse.to_lowercase()),
                    &entity.entity_ref,
                    None,
                );
            }
        }
        let id = self.free.pop().unwrap_or_else(|| {
            u32::try_from(self.slots.len()).expect("fewer than 4 billion entities")
        });
        let body: Value = serde_json::from_str(&entity.body).unwrap_or(Value::Null);
        let pairs = search_pairs(&body, &entity.edges, self.incoming.get(&entity.entity_ref));
        if self.slots.len() <= id as usize {
            self.slots.resize_with(id as usize + 1, || None);
        }
        self.slots[id as usize] = Some(Slot {
            entity: entity.clone(),
            pairs: Vec::new(),
        });
        for (key, value) in &pairs {
            let path: Vec<&str> = key.split('.').collect();
            let mut originals = Vec::new();
            original_values(&body, &path, &mut originals);
            let original = originals
                .into_iter()
                .find(|o| o.to_lowercase() == *value && o != value);
            self.add_pair(id, key, value, original);
        }
        self.by_ref.insert(entity.entity_ref.clone(), id);
        self.by_uid.insert(entity.uid.clone(), id);
        self.all.insert(id);
        self.invalidate_orders();
    }

    fn add_pair(&mut self, id: u32, key: &str, value: &str, original: Option<&str>) {
        let key_entry = self.keys.entry(key.into()).or_default();
        key_entry.exists.insert(id);
        let value_entry = key_entry.values.entry(value.into()).or_default();
        if value_entry.original.is_none() {
            value_entry.original = original.map(Into::into);
        }
        match &mut value_entry.posting {
            Some(posting) => posting.insert(id),
            None => value_entry.posting = Some(Posting::One(id)),
        }
        if let Some(Some(slot)) = self.slots.get_mut(id as usize) {
            slot.pairs.push((key.into(), value.into()));
            self.pair_count += 1;
        }
    }

    /// Removes one (key, value) pair of entity `id`, where the entity may keep other values of
    /// the same key. Whether it does is read from the entity's own pairs, which are few, rather
    /// than from every value of the key, which for relation keys can be one per entity.
    fn remove_pair(&mut self, id: u32, key: &str, value: &str) {
        let mut still = false;
        if let Some(Some(slot)) = self.slots.get_mut(id as usize) {
            let before = slot.pairs.len();
            slot.pairs.retain(|(k, v)| !(**k == *key && **v == *value));
            self.pair_count -= before - slot.pairs.len();
            still = slot.pairs.iter().any(|(k, _)| **k == *key);
        }
        let Some(key_entry) = self.keys.get_mut(key) else {
            return;
        };
        if let Some(value_entry) = key_entry.values.get_mut(value)
            && value_entry.posting.as_mut().is_none_or(|p| p.remove(id))
        {
            key_entry.values.remove(value);
        }
        if !still {
            key_entry.exists.remove(id);
        }
        if key_entry.values.is_empty() {
            self.keys.remove(key);
        }
    }

    /// Removes the entity with reference `entity_ref`; returns it if it existed.
    pub fn remove(&mut self, entity_ref: &str) -> Option<Arc<Stored>> {
        let id = self.by_ref.get(entity_ref).copied()?;
        self.remove_id(id)
    }

    fn remove_id(&mut self, id: u32) -> Option<Arc<Stored>> {
        let slot = self.slots.get_mut(id as usize)?.take()?;
        self.pair_count = self.pair_count.saturating_sub(slot.pairs.len());
        for (key, value) in &slot.pairs {
            self.remove_pair_quick(id, key, value);
        }
        let entity = slot.entity;
        for edge in &entity.edges {
            if let Some(sources) = self.incoming.get_mut(&edge.target) {
                sources.remove(&(edge.reverse.to_owned(), entity.entity_ref.clone()));
                if sources.is_empty() {
                    self.incoming.remove(&edge.target);
                }
            }
            if let Some(target) = self.by_ref.get(&edge.target).copied() {
                self.remove_pair(
                    target,
                    &format!("relations.{}", edge.reverse.to_lowercase()),
                    &entity.entity_ref,
                );
            }
        }
        self.by_ref.remove(&entity.entity_ref);
        self.by_uid.remove(&entity.uid);
        self.all.remove(id);
        self.free.push(id);
        self.invalidate_orders();
        Some(entity)
    }

    /// Removal of one of the entity's own pairs, where `exists` can be cleared unconditionally
    /// once all its pairs for the key are gone (they are removed together).
    fn remove_pair_quick(&mut self, id: u32, key: &str, value: &str) {
        let Some(key_entry) = self.keys.get_mut(key) else {
            return;
        };
        key_entry.exists.remove(id);
        if let Some(value_entry) = key_entry.values.get_mut(value)
            && value_entry.posting.as_mut().is_none_or(|p| p.remove(id))
        {
            key_entry.values.remove(value);
        }
        if key_entry.values.is_empty() {
            self.keys.remove(key);
        }
    }

    fn invalidate_orders(&self) {
        if let Ok(mut orders) = self.orders.lock() {
            orders.clear();
        }
        if let Ok(mut haystacks) = self.haystacks.lock() {
            haystacks.clear();
        }
    }

    /// Ids having `key` (lowercase) at all.
    pub fn having(&self, key: &str) -> RoaringBitmap {
        self.keys
            .get(key)
            .map(|k| k.exists.clone())
            .unwrap_or_default()
    }

    /// Ids where `key` (lowercase) has `value` (lowercase).
    pub fn matching(&self, key: &str, value: &str) -> RoaringBitmap {
        self.keys
            .get(key)
            .and_then(|k| k.values.get(value))
            .and_then(|v| v.posting.as_ref())
            .map(Posting::to_bitmap)
            .unwrap_or_default()
    }

    /// How many distinct values `key` (lowercase) has.
    pub fn distinct_values(&self, key: &str) -> usize {
        self.keys.get(key).map_or(0, |k| k.values.len())
    }

    /// Average number of indexed pairs per entity (at least 1).
    pub fn pairs_per_entity(&self) -> usize {
        (self.pair_count / usize::try_from(self.len()).unwrap_or(1).max(1)).max(1)
    }

    /// Ids where some value of `key` (lowercase) contains `term` (lowercase).
    pub fn containing(&self, key: &str, term: &str) -> RoaringBitmap {
        let Some(entry) = self.keys.get(key) else {
            return RoaringBitmap::new();
        };
        if term.contains('\0') {
            // The buffer separates values with NUL; such a term is tested value by value.
            let mut ids = RoaringBitmap::new();
            for (value, v) in &entry.values {
                if value.contains(term)
                    && let Some(posting) = &v.posting
                {
                    ids |= posting.to_bitmap();
                }
            }
            return ids;
        }
        let cached = self.haystacks.lock().ok().and_then(|h| h.get(key).cloned());
        let haystack = cached.unwrap_or_else(|| {
            let built = Arc::new(Haystack::build(entry));
            if let Ok(mut haystacks) = self.haystacks.lock() {
                haystacks.insert(key.to_owned(), built.clone());
            }
            built
        });
        haystack.search(term)
    }

    /// Distinct values of `key` with their counts within `within` (all entities when `None`),
    /// shown in their original case, most frequent first.
    pub fn facet(&self, key: &str, within: Option<&RoaringBitmap>) -> Vec<(String, u64)> {
        let Some(entry) = self.keys.get(key) else {
            return Vec::new();
        };
        let mut counts: Vec<(String, u64)> = entry
            .values
            .iter()
            .filter_map(|(value, v)| {
                let count = v.posting.as_ref()?.count_in(within);
                (count > 0).then(|| (v.original.as_deref().unwrap_or(value).to_owned(), count))
            })
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }

    /// Every indexed (key, value) pair of entity `id`.
    pub fn pairs_of(&self, id: u32) -> &[(Box<str>, Box<str>)] {
        self.slots
            .get(id as usize)
            .and_then(|s| s.as_ref())
            .map(|s| s.pairs.as_slice())
            .unwrap_or_default()
    }

    /// The lowercase values of `key` for entity `id`.
    pub fn values_of(&self, id: u32, key: &str) -> Vec<&str> {
        self.slots
            .get(id as usize)
            .and_then(|s| s.as_ref())
            .map(|s| {
                s.pairs
                    .iter()
                    .filter(|(k, _)| &**k == key)
                    .map(|(_, v)| &**v)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ranks of every id when ordered by `key` (lowercase; missing values last, ties broken by
    /// reference). `key` `""` orders by reference.
    pub fn ranks(&self, key: &str) -> Ranks {
        if let Some(ranks) = self.orders.lock().ok().and_then(|o| o.get(key).cloned()) {
            return ranks;
        }
        // A key no entity has orders like no key at all; caching it separately would let
        // requests fill memory with orders of made-up keys.
        if !key.is_empty() && !self.keys.contains_key(key) {
            return self.ranks("");
        }
        // Each id's sort value and reference are looked up once, before sorting: looking them up
        // in the comparator scanned every entity's pairs O(n log n) times.
        let mut ids: Vec<(Option<&str>, &str, u32)> = self
            .all
            .iter()
            .map(|id| {
                let first = if key.is_empty() {
                    None
                } else {
                    self.values_of(id, key).into_iter().min()
                };
                let reference = self.get(id).map_or("", |e| e.entity_ref.as_str());
                (first, reference, id)
            })
            .collect();
        ids.sort_unstable_by(|(x, rx, a), (y, ry, b)| match (x, y) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| rx.cmp(ry)).then(a.cmp(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => rx.cmp(ry).then(a.cmp(b)),
        });
        let mut ranks = vec![u32::MAX; self.slots.len()];
        for (rank, (_, _, id)) in ids.into_iter().enumerate() {
            ranks[id as usize] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        let ranks = Arc::new(ranks);
        if let Ok(mut orders) = self.orders.lock() {
            orders.insert(key.to_owned(), ranks.clone());
        }
        ranks
    }

    /// Every reference that something points at but that does not exist, with who points at it.
    pub fn dangling_from<'a>(&self, entity: &'a Stored) -> Vec<&'a Edge> {
        entity
            .edges
            .iter()
            .filter(|e| !self.by_ref.contains_key(&e.target))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{entity, validate};

    fn entity(yaml: &str) -> Stored {
        let body: Value = serde_yaml_ng::from_str(yaml).expect("yaml");
        let kind = validate::validate(&body).expect("valid");
        let p = entity::process(body, kind).expect("processed");
        Stored {
            uid: p.entity_ref.clone(),
            etag: String::new(),
            generation: 1,
            entity_ref: p.entity_ref,
            kind: p.kind.to_owned(),
            namespace: p.namespace,
            name: p.name,
            body: Arc::from(p.body.to_string()),
            edges: p.edges,
            location_key: "test".to_owned(),
        }
    }

    fn component(name: &str) -> Stored {
        entity(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: {name} }}\nspec: {{ type: service, lifecycle: production, owner: team }}\n"
        ))
    }

    #[test]
    fn reverse_relations_follow_both_ends() {
        let mut index = Index::default();
        // The owner arrives after what it owns: the reverse relations attach when it appears.
        index.upsert(component("a"));
        index.upsert(component("b"));
        index.upsert(entity("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: { name: team }\nspec: { type: team, children: [] }\n"));
        let group = index.id_of("group:default/team").expect("group");
        assert!(index.having("relations.ownerof").contains(group));
        assert_eq!(
            index
                .matching("relations.ownerof", "component:default/a")
                .len(),
            1
        );

        index.remove("component:default/a");
        assert!(
            index.having("relations.ownerof").contains(group),
            "still owns b"
        );
        assert!(
            index
                .matching("relations.ownerof", "component:default/a")
                .is_empty()
        );
        index.remove("component:default/b");
        assert!(
            !index.having("relations.ownerof").contains(group),
            "owns nothing now"
        );
        let relations = index.relations(index.get(group).expect("group"));
        assert!(relations.is_empty(), "{relations:?}");
        assert_eq!(index.facet("kind", None), vec![("Group".to_owned(), 1)]);
    }

    #[test]
    fn replacing_an_entity_updates_its_postings() {
        let mut index = Index::default();
        index.upsert(component("a"));
        let mut changed = component("a");
        changed.body = Arc::from(changed.body.replace("production", "deprecated"));
        index.upsert(changed);
        assert!(index.matching("spec.lifecycle", "production").is_empty());
        assert_eq!(index.matching("spec.lifecycle", "deprecated").len(), 1);
        assert_eq!(index.len(), 1);
    }
}
