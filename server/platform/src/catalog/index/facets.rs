//! Facets: the distinct values of a key with how many entities have each.
//!
//! Counting every value of a key against a set of entities touches every posting of the key,
//! which at a million entities is tens of thousands of intersections per request. Two derived
//! structures avoid that, both built on demand and dropped on every write like the orders:
//!
//! - for the whole catalog (no `within`, or a `within` holding every entity), the finished list
//!   of a key, labels resolved and sorted, cached for keys with at most [`CACHED_VALUES`] values;
//! - for a set of entities on a key with many values, a forward column (entity id → value slot),
//!   so that counting is one pass over the set instead of one intersection per value. It is used
//!   when its estimated cost is lower than walking the values.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::posting::Posting;
use super::{Index, KeyEntry};

/// Longest list of one key cached for the whole catalog; `metadata.name` has one value per
/// entity and is not worth keeping.
const CACHED_VALUES: usize = 50_000;

/// Fewest values a key has before a column is considered; below, walking the values is cheap.
const COLUMN_VALUES: usize = 1_024;

/// Most columns kept at once (each costs 4 bytes per entity slot).
const COLUMNS: usize = 8;

/// Estimated cost of counting one value of a key by its posting, relative to one step of a
/// column walk (a hash-map step, a match and an intersection or a few lookups).
const VALUE_COST: u64 = 8;

/// A slot that holds no value.
const NONE: u32 = u32::MAX;

/// The facet structures of one index, dropped on every write.
#[derive(Debug, Default)]
pub(super) struct Facets {
    lists: HashMap<Box<str>, Arc<[(String, u64)]>>,
    /// Most recently used last.
    columns: Vec<(Box<str>, Arc<Column>)>,
}

impl Facets {
    pub(super) fn clear(&mut self) {
        self.lists.clear();
        self.columns.clear();
    }
}

/// The values of one key by entity: the slot of the first value of each id, and the further
/// values of ids having several (list keys such as tags), sorted by id.
#[derive(Debug)]
struct Column {
    value_of: Vec<u32>,
    labels: Vec<String>,
    multi: Vec<(u32, u32)>,
}

/// How the declared values of a key are counted within a set of entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// By estimated cost.
    Auto,
    /// Each value's posting against the set.
    Walk,
    /// The set through the key's column; chosen only by the tests, which compare the ways.
    #[cfg_attr(not(test), expect(dead_code, reason = "the tests force each way"))]
    Column,
}

/// Facet order: most frequent first, then by value.
fn by_count(a: &(String, u64), b: &(String, u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

impl Index {
    /// Distinct values of `key` with their counts within `within` (all entities when `None`),
    /// shown as authored, most frequent first. A `prefix.item` key counts as the value `true`.
    /// With `within` given, values counting 0 are left out.
    pub fn facet(&self, key: &str, within: Option<&RoaringBitmap>) -> Vec<(String, u64)> {
        self.facet_shared(key, within).to_vec()
    }

    /// [`Index::facet`] without copying a list cached for the whole catalog.
    pub fn facet_shared(&self, key: &str, within: Option<&RoaringBitmap>) -> Arc<[(String, u64)]> {
        match self.narrowing(within) {
            None => self.whole_catalog(key),
            Some(w) => {
                let mut counts = self.counts(key, Some(w), Strategy::Auto);
                counts.sort_by(by_count);
                Arc::from(counts)
            }
        }
    }

    /// The first `k` values of [`Index::facet`], found without sorting the others.
    pub fn facet_top(
        &self,
        key: &str,
        within: Option<&RoaringBitmap>,
        k: usize,
    ) -> Vec<(String, u64)> {
        match self.narrowing(within) {
            None => self.whole_catalog(key).iter().take(k).cloned().collect(),
            Some(w) => {
                let mut counts = self.counts(key, Some(w), Strategy::Auto);
                if k == 0 {
                    return Vec::new();
                }
                if counts.len() > k {
                    counts.select_nth_unstable_by(k - 1, by_count);
                    counts.truncate(k);
                }
                counts.sort_by(by_count);
                counts
            }
        }
    }

    /// `within`, unless it holds every entity: postings hold only existing ids, so such a set
    /// counts exactly like no set at all, and the whole catalog's list may be cached.
    fn narrowing<'a>(&self, within: Option<&'a RoaringBitmap>) -> Option<&'a RoaringBitmap> {
        within.filter(|w| w.len() < self.all.len() || !self.all.is_subset(w))
    }

    fn whole_catalog(&self, key: &str) -> Arc<[(String, u64)]> {
        let cached = self
            .facets
            .lock()
            .ok()
            .and_then(|f| f.lists.get(key).cloned());
        if let Some(list) = cached {
            return list;
        }
        let mut counts = self.counts(key, None, Strategy::Walk);
        counts.sort_by(by_count);
        let list: Arc<[(String, u64)]> = Arc::from(counts);
        if list.len() <= CACHED_VALUES
            && let Ok(mut facets) = self.facets.lock()
        {
            facets.lists.insert(key.into(), list.clone());
        }
        list
    }

    /// The values of `key` with their counts, in no particular order.
    pub(super) fn counts(
        &self,
        key: &str,
        within: Option<&RoaringBitmap>,
        strategy: Strategy,
    ) -> Vec<(String, u64)> {
        let mut counts = match (self.keys.get(key), within) {
            (None, _) => Vec::new(),
            (Some(entry), Some(w)) if self.column_pays(entry, w, strategy) => {
                self.column(key, entry).count(w)
            }
            (Some(entry), _) => self.walk(key, entry, within),
        };
        self.add_derived(key, within, &mut counts);
        counts
    }

    fn column_pays(&self, entry: &KeyEntry, within: &RoaringBitmap, strategy: Strategy) -> bool {
        match strategy {
            Strategy::Walk => false,
            Strategy::Column => true,
            Strategy::Auto => {
                let values = entry.values.len();
                // A column walk steps through the set (and the ids with several values); a value
                // walk steps through every value, and through each short posting's ids.
                let walk = (values as u64)
                    .saturating_mul(VALUE_COST)
                    .saturating_add(entry.exists.len() / 4);
                values >= COLUMN_VALUES && within.len() < walk
            }
        }
    }

    fn label(&self, key: &str, value: &str, posting: &Posting) -> String {
        posting
            .cased()
            .then(|| posting.first().and_then(|id| self.authored(id, key, value)))
            .flatten()
            .unwrap_or_else(|| value.to_owned())
    }

    fn walk(
        &self,
        key: &str,
        entry: &KeyEntry,
        within: Option<&RoaringBitmap>,
    ) -> Vec<(String, u64)> {
        let mut counts = Vec::new();
        for (value, posting) in &entry.values {
            let count = posting.count_in(within);
            if count > 0 {
                counts.push((self.label(key, value, posting), count));
            }
        }
        counts
    }

    /// The column of `key`, built when missing.
    fn column(&self, key: &str, entry: &KeyEntry) -> Arc<Column> {
        if let Ok(mut facets) = self.facets.lock()
            && let Some(at) = facets.columns.iter().position(|(k, _)| &**k == key)
        {
            let used = facets.columns.remove(at);
            let column = used.1.clone();
            facets.columns.push(used);
            return column;
        }
        let mut column = Column {
            value_of: vec![NONE; self.slots.len()],
            labels: Vec::with_capacity(entry.values.len()),
            multi: Vec::new(),
        };
        for (value, posting) in &entry.values {
            let slot = u32::try_from(column.labels.len()).unwrap_or(NONE);
            column.labels.push(self.label(key, value, posting));
            posting.for_each(|id| match column.value_of.get_mut(id as usize) {
                Some(first) if *first == NONE => *first = slot,
                _ => column.multi.push((id, slot)),
            });
        }
        column.multi.sort_unstable();
        let column = Arc::new(column);
        if let Ok(mut facets) = self.facets.lock() {
            if facets.columns.len() >= COLUMNS {
                facets.columns.remove(0);
            }
            facets.columns.push((key.into(), column.clone()));
        }
        column
    }

    /// Adds the values that reverse relations and list items give `key`.
    fn add_derived(
        &self,
        key: &str,
        within: Option<&RoaringBitmap>,
        counts: &mut Vec<(String, u64)>,
    ) {
        let mut derived: HashMap<&str, u64> = HashMap::new();
        self.each_reverse(key, within, |_, source| {
            *derived.entry(source).or_default() += 1;
        });
        let items = self.items_matching(key);
        if derived.is_empty() && items.is_none() {
            return;
        }
        let mut at: HashMap<String, usize> = counts
            .iter()
            .enumerate()
            .map(|(i, (label, _))| (label.clone(), i))
            .collect();
        for (value, count) in derived {
            match at.get(value) {
                Some(&i) => counts[i].1 += count,
                None => {
                    at.insert(value.to_owned(), counts.len());
                    counts.push((value.to_owned(), count));
                }
            }
        }
        if let Some(items) = items {
            let count = within.map_or(items.len(), |w| items.intersection_len(w));
            match at.get("true") {
                Some(&i) => counts[i].1 += count,
                None if count > 0 => counts.push(("true".to_owned(), count)),
                None => {}
            }
        }
    }
}

impl Column {
    fn count(&self, within: &RoaringBitmap) -> Vec<(String, u64)> {
        let mut counts = vec![0u64; self.labels.len()];
        for id in within {
            if let Some(&slot) = self.value_of.get(id as usize)
                && slot != NONE
            {
                counts[slot as usize] += 1;
            }
        }
        for &(id, slot) in &self.multi {
            if within.contains(id) {
                counts[slot as usize] += 1;
            }
        }
        counts
            .into_iter()
            .zip(&self.labels)
            .filter(|(count, _)| *count > 0)
            .map(|(count, label)| (label.clone(), count))
            .collect()
    }
}

#[cfg(test)]
mod tests;
