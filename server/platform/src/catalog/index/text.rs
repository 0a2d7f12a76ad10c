//! Full-text search over the distinct values of a key: a trigram index for keys with many values,
//! and the substring-search buffer ([`Haystack`]) for the others.
//!
//! Scanning every distinct value of a key costs time in proportion to the catalog: at a million
//! entities, names, titles and descriptions hold about 70 MB of text. A trigram index maps each
//! three-byte sequence to the values containing it, so a term's candidates are the intersection
//! of a few postings, and each candidate is then verified, which keeps the answer exact. Terms of
//! one or two bytes have no trigram and scan the values instead.
//!
//! An index is built the first time a search names a key with at least [`INDEX_FROM`] distinct
//! values, and from then on is kept up to date by every write, value by value, rather than being
//! dropped and rebuilt: a write to one entity costs a few dozen posting updates. The index shares
//! each value's text with the key's map instead of copying it. All indexes together stay under a
//! byte budget: an index not searched for a while is dropped to make room, and a key whose index
//! would not fit is scanned, as a key with few values is.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hashbrown::{DefaultHashBuilder, HashTable};
use roaring::RoaringBitmap;

use super::Index;
use super::pairs::MAX_VALUE_LENGTH;
use super::posting::{Haystack, Posting};
use super::values::Values;
pub use matches::Matches;

/// Fewest distinct values for which a key named by a search gets a trigram index; below it, one
/// scan of its values takes well under 0.1 ms.
pub(super) const INDEX_FROM: usize = 4096;

/// Most bytes all trigram indexes together may take. Without a bound, a client naming twenty
/// keys with unique values could add more than a gigabyte at a million entities.
const BUDGET: usize = 256 << 20;

/// `holder` of a value several entities have: its ids are read from the key's posting.
const SHARED: u32 = u32::MAX;

/// How long an index must have gone unsearched before another may take its room; a shorter time
/// would let a few keys searched in turn rebuild one another on every search.
const STALE: Duration = Duration::from_secs(60);

/// Bytes an index takes per value, to decide before building it whether it fits: above the 73
/// that `text_index_size` in the tests measures, since other values have more trigrams.
const BYTES_PER_VALUE: usize = 96;

/// Candidates whose values are fetched together before they are verified (see
/// [`KeyText::search`]).
const BATCH: usize = 16;

/// Candidates few enough to verify directly instead of intersecting further postings.
const FEW_CANDIDATES: u64 = 64;

/// The trigram index of one key's distinct values.
#[derive(Debug, Default)]
pub(super) struct KeyText {
    /// Value id → its text, shared with the key's map; `None` once released.
    texts: Vec<Option<Arc<str>>>,
    /// Value id → the only entity having the value, or [`SHARED`]. Kept apart from the texts: a
    /// search reads the holder of every candidate and the text of fewer, and four bytes a value
    /// stay in cache where a text pointer and a holder side by side would not.
    holders: Vec<u32>,
    /// Value ids, hashed by their text, to find a value's id when it changes.
    ids: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Released value ids, reused first.
    free: Vec<u32>,
    /// Trigram (three bytes in a `u32`) → the value ids containing it.
    grams: hashbrown::HashMap<u32, RoaringBitmap>,
}

/// The distinct trigrams of `bytes`, sorted.
fn trigrams(bytes: &[u8]) -> Vec<u32> {
    let mut grams: Vec<u32> = bytes
        .windows(3)
        .map(|w| u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]))
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl KeyText {
    /// Indexes every value of a key.
    ///
    /// Values get their ids in the order of their text, not in the map's order: values with a
    /// common beginning (a name's first word, a description's first words) then have consecutive
    /// ids, so each of their trigrams' postings holds long runs, which the bitmaps keep as ranges
    /// rather than as two bytes per value; and the candidates of a term, being such neighbours,
    /// are read from neighbouring places.
    pub(super) fn build(values: &Values) -> Self {
        let mut sorted: Vec<(&Arc<str>, &Posting)> = values.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut text = Self::default();
        text.texts.reserve_exact(sorted.len());
        text.holders.reserve_exact(sorted.len());
        for (value, posting) in sorted {
            text.insert(value, posting.single().unwrap_or(SHARED));
        }
        for ids in text.grams.values_mut() {
            ids.optimize();
        }
        text
    }

    fn find(&self, value: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(value);
        self.ids
            .find(hash, |&id| {
                self.texts
                    .get(id as usize)
                    .and_then(Option::as_deref)
                    .is_some_and(|v| v == value)
            })
            .copied()
    }

    /// Adds a value that `holder` alone has (or [`SHARED`]).
    pub(super) fn insert(&mut self, value: &Arc<str>, holder: u32) {
        if let Some(id) = self.find(value) {
            self.holders[id as usize] = SHARED;
            return;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.texts[id as usize] = Some(value.clone());
                self.holders[id as usize] = holder;
                id
            }
            None => {
                self.texts.push(Some(value.clone()));
                self.holders.push(holder);
                u32::try_from(self.texts.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let (texts, hasher) = (&self.texts, &self.hasher);
        let rehash = |&i: &u32| hasher.hash_one(texts[i as usize].as_deref().unwrap_or(""));
        self.ids
            .insert_unique(self.hasher.hash_one(&**value), id, rehash);
        for gram in trigrams(value.as_bytes()) {
            self.grams.entry(gram).or_default().insert(id);
        }
    }

    /// Records who has `value` now: one entity, or several ([`SHARED`]).
    pub(super) fn set_holder(&mut self, value: &str, holder: u32) {
        if let Some(id) = self.find(value) {
            self.holders[id as usize] = holder;
        }
    }

    /// Forgets a value no entity has any more.
    pub(super) fn remove(&mut self, value: &str) {
        let Some(id) = self.find(value) else {
            return;
        };
        let hash = self.hasher.hash_one(value);
        if let Ok(found) = self.ids.find_entry(hash, |&i| i == id) {
            found.remove();
        }
        for gram in trigrams(value.as_bytes()) {
            if let Some(ids) = self.grams.get_mut(&gram) {
                ids.remove(id);
                if ids.is_empty() {
                    self.grams.remove(&gram);
                }
            }
        }
        self.texts[id as usize] = None;
        self.free.push(id);
    }

    /// Adds to `found` the entities of `within` (every entity when `None`) having a value that
    /// contains `term`; entities outside `within` may be added too, so callers intersect. Terms
    /// shorter than a trigram scan every value.
    ///
    /// A candidate value had by one entity that was already found (through another key) or that
    /// `within` leaves out is not read: the answer is a union, and reading a value is a cache
    /// miss, the main cost of a search.
    pub(super) fn search(
        &self,
        term: &str,
        values: &Values,
        within: Option<&RoaringBitmap>,
        found: &mut Matches,
    ) {
        if term.len() > MAX_VALUE_LENGTH {
            // No indexed value is that long.
            return;
        }
        let finder = memchr::memmem::Finder::new(term.as_bytes());
        let known: &Matches = found;
        let wanted = |id: u32| {
            let holder = self.holders[id as usize];
            holder == SHARED || !(known.seen(holder) || within.is_some_and(|w| !w.contains(holder)))
        };
        // Most values have one entity, whose ids come in no order; inserting them one by one
        // into a bitmap shifts its arrays each time, so they are gathered, sorted and added at
        // once.
        let mut holders: Vec<u32> = Vec::new();
        let mut shared = RoaringBitmap::new();
        let mut verify = |id: u32| {
            let Some(value) = self.texts[id as usize].as_deref() else {
                return;
            };
            if finder.find(value.as_bytes()).is_none() {
                return;
            }
            match self.holders[id as usize] {
                SHARED => {
                    if let Some(posting) = values.get(value) {
                        posting.add_to(&mut shared);
                    }
                }
                holder => holders.push(holder),
            }
        };
        if term.len() < 3 {
            (0..u32::try_from(self.texts.len()).unwrap_or(u32::MAX))
                .filter(|&id| wanted(id))
                .for_each(&mut verify);
        } else if let Some(candidates) = self.candidates(term) {
            let mut batch: Vec<u32> = Vec::with_capacity(BATCH);
            let mut candidates = candidates.iter().peekable();
            while candidates.peek().is_some() {
                batch.clear();
                batch.extend(candidates.by_ref().take(BATCH));
                // Verifying candidates one after the other would wait for one cache miss after
                // another: first for the holder, then for the value's text, which lives in an
                // allocation of its own. Reading every holder of the batch without a branch, then
                // the first byte of each wanted value, issues each round of misses together, as
                // independent loads the processor overlaps; the tests then find them in cache.
                let read = batch
                    .iter()
                    .fold(0u32, |acc, &id| acc ^ self.holders[id as usize]);
                std::hint::black_box(read);
                batch.retain(|&id| wanted(id));
                let touched = batch.iter().fold(0u8, |acc, &id| {
                    acc ^ self.texts[id as usize]
                        .as_deref()
                        .and_then(|v| v.as_bytes().first().copied())
                        .unwrap_or(0)
                });
                std::hint::black_box(touched);
                batch.iter().for_each(|&id| verify(id));
            }
        }
        holders.sort_unstable();
        holders.dedup();
        found.add_sorted(holders);
        *found.ids_mut() |= shared;
    }

    /// The value ids having every trigram of `term` (at least three bytes), or a subset of the
    /// postings' intersection small enough to verify; `None` when a trigram is absent.
    fn candidates(&self, term: &str) -> Option<RoaringBitmap> {
        let mut postings = trigrams(term.as_bytes())
            .into_iter()
            .map(|gram| self.grams.get(&gram))
            .collect::<Option<Vec<&RoaringBitmap>>>()?;
        postings.sort_unstable_by_key(|p| p.len());
        let (first, rest) = postings.split_first()?;
        let mut candidates = (*first).clone();
        for posting in rest {
            if candidates.len() <= FEW_CANDIDATES {
                break;
            }
            candidates &= *posting;
        }
        Some(candidates)
    }

    /// About how many values a search for `term` verifies.
    pub(super) fn cost(&self, term: &str) -> usize {
        if term.len() < 3 {
            return self.texts.len();
        }
        trigrams(term.as_bytes())
            .iter()
            .map(|gram| self.grams.get(gram).map_or(0, RoaringBitmap::len))
            .min()
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The bytes the index holds on the heap, counting allocations at their capacity; the values'
    /// text belongs to the key's map and is not counted.
    pub(super) fn heap_bytes(&self) -> usize {
        let postings: usize = self
            .grams
            .values()
            .map(|ids| {
                let stats = ids.statistics();
                // The statistics count array containers at four bytes per slot; they hold two.
                let bytes = stats.n_bytes_array_containers / 2
                    + stats.n_bytes_run_containers
                    + u64::from(stats.n_bitset_containers) * 8192
                    + u64::from(stats.n_containers) * 32;
                usize::try_from(bytes).unwrap_or(usize::MAX)
            })
            .sum();
        self.texts.capacity() * size_of::<Option<Arc<str>>>()
            + self.holders.capacity() * size_of::<u32>()
            + self.ids.capacity() * (size_of::<u32>() + 1)
            + self.free.capacity() * size_of::<u32>()
            + self.grams.capacity() * (size_of::<(u32, RoaringBitmap)>() + 1)
            + postings
    }
}

/// The search structures of every key: trigram indexes, kept up to date, and haystacks, dropped
/// on every write.
#[derive(Debug)]
pub(super) struct Texts {
    haystacks: HashMap<String, Arc<Haystack>>,
    /// Each index with the time of its last search.
    indexes: hashbrown::HashMap<Box<str>, (Arc<KeyText>, Instant)>,
    index_from: usize,
    budget: usize,
    stale: Duration,
}

impl Default for Texts {
    fn default() -> Self {
        Self {
            haystacks: HashMap::new(),
            indexes: hashbrown::HashMap::new(),
            index_from: INDEX_FROM,
            budget: BUDGET,
            stale: STALE,
        }
    }
}

impl Texts {
    pub(super) fn drop_haystacks(&mut self) {
        self.haystacks.clear();
    }

    /// The index of `key`, for a change to it. An index still shared with a search cannot be
    /// changed (a write never overlaps a search, so this does not happen); it is then dropped.
    fn index_mut(&mut self, key: &str) -> Option<&mut KeyText> {
        let (text, _) = self.indexes.get_mut(key)?;
        if Arc::get_mut(text).is_none() {
            self.indexes.remove(key);
            return None;
        }
        self.indexes.get_mut(key).and_then(|(t, _)| Arc::get_mut(t))
    }

    /// `value` of `key` was added, had by `id` alone.
    pub(super) fn added(&mut self, key: &str, value: &Arc<str>, id: u32) {
        if let Some(text) = self.index_mut(key) {
            text.insert(value, id);
        }
    }

    /// `value` of `key` is now had by `holder` alone, or by several ([`None`]).
    pub(super) fn held(&mut self, key: &str, value: &str, holder: Option<u32>) {
        if let Some(text) = self.index_mut(key) {
            text.set_holder(value, holder.unwrap_or(SHARED));
        }
    }

    /// No entity has `value` of `key` any more.
    pub(super) fn removed(&mut self, key: &str, value: &str) {
        if let Some(text) = self.index_mut(key) {
            text.remove(value);
        }
    }

    /// Whether an index of `values` values fits the budget, once indexes not searched for a
    /// while are dropped, the least recently searched first.
    fn room_for(&mut self, values: usize) -> bool {
        let size = values.saturating_mul(BYTES_PER_VALUE);
        let mut total: usize = self.indexes.values().map(|(t, _)| t.heap_bytes()).sum();
        while total.saturating_add(size) > self.budget {
            let Some(oldest) = self
                .indexes
                .iter()
                .filter(|(_, (_, used))| used.elapsed() >= self.stale)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                return false;
            };
            if let Some((dropped, _)) = self.indexes.remove(&oldest) {
                total = total.saturating_sub(dropped.heap_bytes());
            }
        }
        true
    }
}

fn lock(texts: &Mutex<Texts>) -> std::sync::MutexGuard<'_, Texts> {
    texts.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The structures of `texts`, for a write (which holds the index exclusively, so takes no lock).
pub(super) fn texts_mut(texts: &mut Mutex<Texts>) -> &mut Texts {
    texts.get_mut().unwrap_or_else(PoisonError::into_inner)
}

impl Index {
    /// The trigram index of `key`, built first when `build` and the key has enough values.
    fn key_text(&self, key: &str, values: &Values, build: bool) -> Option<Arc<KeyText>> {
        {
            let mut texts = lock(&self.texts);
            if let Some((text, used)) = texts.indexes.get_mut(key) {
                *used = Instant::now();
                return Some(text.clone());
            }
            if !build || values.len() < texts.index_from || !texts.room_for(values.len()) {
                return None;
            }
        }
        // Built outside the lock so that other searches go on; writes wait for the read lock
        // this search holds, so nothing changes the values meanwhile.
        let text = Arc::new(KeyText::build(values));
        lock(&self.texts)
            .indexes
            .insert(key.into(), (text.clone(), Instant::now()));
        Some(text)
    }

    /// Adds to `found` the entities of `within` (all when `None`) having a value of `key`
    /// (declared, not reverse) containing `term`, and maybe others (see [`KeyText::search`]):
    /// through the key's trigram index when it has one (or gets one, when `build`), else through
    /// its haystack.
    pub(super) fn add_values_containing(
        &self,
        key: &str,
        values: &Values,
        term: &str,
        build: bool,
        within: Option<&RoaringBitmap>,
        found: &mut Matches,
    ) {
        if let Some(text) = self.key_text(key, values, build) {
            text.search(term, values, within, found);
            return;
        }
        let ids = found.ids_mut();
        if term.contains('\0') {
            // The buffer separates values with NUL; such a term is tested value by value.
            for (value, posting) in values {
                if value.contains(term) {
                    posting.add_to(ids);
                }
            }
            return;
        }
        let cached = lock(&self.texts).haystacks.get(key).cloned();
        let haystack = cached.unwrap_or_else(|| {
            let built = Arc::new(Haystack::build(values.keys().map(|v| &**v)));
            lock(&self.texts)
                .haystacks
                .insert(key.to_owned(), built.clone());
            built
        });
        haystack.search(term, |value| {
            if let Some(posting) = values.get(value) {
                posting.add_to(ids);
            }
        });
    }

    /// About how many values searching `key` for `term` looks at, when a search names the key.
    pub fn full_text_cost(&self, key: &str, term: &str) -> usize {
        let Some(entry) = self.keys.get(key) else {
            return 0;
        };
        let texts = lock(&self.texts);
        match texts.indexes.get(key) {
            Some((text, _)) => text.cost(term),
            // It gets an index when searched: count the index's cost, not the first search's.
            None if entry.values.len() >= texts.index_from && term.len() >= 3 => {
                entry.values.len() / 64
            }
            None => entry.values.len(),
        }
    }

    /// Builds trigram indexes from `index_from` distinct values on, within `budget` bytes, and
    /// lets an index take the room of any other.
    #[cfg(test)]
    pub(crate) fn index_text_from(&mut self, index_from: usize, budget: usize) {
        let texts = texts_mut(&mut self.texts);
        texts.index_from = index_from;
        texts.budget = budget;
        texts.stale = Duration::ZERO;
    }

    /// The keys that have a trigram index, and the bytes each takes.
    #[cfg(test)]
    pub(crate) fn text_indexes(&self) -> Vec<(String, usize)> {
        let mut found: Vec<(String, usize)> = lock(&self.texts)
            .indexes
            .iter()
            .map(|(k, (t, _))| (k.to_string(), t.heap_bytes()))
            .collect();
        found.sort();
        found
    }
}

mod matches;
#[cfg(test)]
mod tests;
