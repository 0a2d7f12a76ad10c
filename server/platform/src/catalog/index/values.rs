//! The distinct values of one key and their postings, in a map that stays compact at a million
//! values.
//!
//! A hash map keeps its entries in its buckets, and its buckets are between 44 % and 87 % full:
//! a key with a million values (every entity's name, title or description) had 2²¹ buckets of 32
//! bytes, 69 MB for 32 MB of entries. Here the entries are a dense vector and the table holds
//! each one's position and hash, eight bytes, so the empty buckets cost eight bytes instead of
//! thirty-two. A vector's unused capacity is never written, so it costs address space, not
//! memory.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::posting::Posting;

/// A key's values, each with its posting.
#[derive(Debug, Default)]
pub(super) struct Values {
    entries: Vec<(Arc<str>, Posting)>,
    /// Each entry's position in `entries` and its value's hash: with the hash at hand, growing
    /// the table reads neither the entries nor their texts, and a lookup reads an entry only when
    /// the whole hash matches.
    table: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    at: u32,
    hash: u32,
}

impl Slot {
    /// The table's hash of the slot, made from the 32 bits kept: the table takes its bucket from
    /// the low bits and its tag from the top seven, so both must come from them.
    fn hash(self) -> u64 {
        spread(self.hash)
    }
}

fn spread(hash: u32) -> u64 {
    u64::from(hash) << 32 | u64::from(hash)
}

/// The 32 bits of `value`'s hash the table keeps.
fn hash_of(hasher: &DefaultHashBuilder, value: &str) -> u32 {
    kept(hasher.hash_one(value))
}

/// The 32 bits of a value's 64-bit hash the table keeps.
fn kept(hash: u64) -> u32 {
    // Truncation is the point: the top half of a 64-bit hash is as good as all of it.
    (hash >> 32) as u32
}

/// Whether a slot is `value`'s, whose hash is `hash`: the entry is read only when the hash
/// matches.
fn holds<'a>(
    entries: &'a [(Arc<str>, Posting)],
    hash: u32,
    value: &'a str,
) -> impl Fn(&Slot) -> bool + 'a {
    move |s| s.hash == hash && *entries[s.at as usize].0 == *value
}

/// A value's place in [`Values`], found by [`Values::entry`].
pub(super) enum Entry<'a> {
    Occupied(&'a mut Posting),
    Vacant(Vacant<'a>),
}

/// The place of a value [`Values`] does not hold yet.
pub(super) struct Vacant<'a> {
    values: &'a mut Values,
    hash: u32,
}

impl Vacant<'_> {
    /// Adds `value`, which must be the text the entry was looked up by.
    pub(super) fn insert(self, value: Arc<str>, posting: Posting) {
        let Values { entries, table, .. } = self.values;
        let at = u32::try_from(entries.len()).expect("fewer than 4 billion values");
        entries.push((value, posting));
        let slot = Slot {
            at,
            hash: self.hash,
        };
        table.insert_unique(slot.hash(), slot, |s| s.hash());
    }
}

impl Values {
    /// An empty table hashing with `hasher`: the index gives every key's table its own hasher,
    /// so that a loader can hash values before they reach the index (see [`Self::entry_hashed`]).
    pub(super) fn with_hasher(hasher: DefaultHashBuilder) -> Self {
        Self {
            entries: Vec::new(),
            table: HashTable::new(),
            hasher,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, hash: u32, value: &str) -> Option<usize> {
        self.table
            .find(spread(hash), holds(&self.entries, hash, value))
            .map(|s| s.at as usize)
    }

    pub(super) fn get(&self, value: &str) -> Option<&Posting> {
        let at = self.position(hash_of(&self.hasher, value), value)?;
        Some(&self.entries[at].1)
    }

    pub(super) fn get_mut(&mut self, value: &str) -> Option<&mut Posting> {
        let at = self.position(hash_of(&self.hasher, value), value)?;
        Some(&mut self.entries[at].1)
    }

    /// The posting of `value`, or the place to add it; `value` is hashed once either way.
    #[cfg(test)]
    pub(super) fn entry(&mut self, value: &str) -> Entry<'_> {
        let hash = self.hasher.hash_one(value);
        self.entry_hashed(value, hash)
    }

    /// [`Self::entry`] for a value already hashed, as `hash`, with the hasher the table was
    /// made with.
    pub(super) fn entry_hashed(&mut self, value: &str, hash: u64) -> Entry<'_> {
        debug_assert_eq!(hash, self.hasher.hash_one(value));
        let hash = kept(hash);
        match self.position(hash, value) {
            Some(at) => Entry::Occupied(&mut self.entries[at].1),
            None => Entry::Vacant(Vacant { values: self, hash }),
        }
    }

    /// Takes `value` out. The last entry moves into its place, so that the entries stay dense.
    pub(super) fn remove(&mut self, value: &str) -> Option<Posting> {
        let hash = hash_of(&self.hasher, value);
        let (slot, _) = self
            .table
            .find_entry(spread(hash), holds(&self.entries, hash, value))
            .ok()?
            .remove();
        let at = slot.at as usize;
        let last = self.entries.len() - 1;
        if at != last {
            let moved = hash_of(&self.hasher, &self.entries[last].0);
            let slot = self
                .table
                .find_mut(spread(moved), |s| s.at as usize == last)
                .expect("every entry has its position in the table");
            slot.at = u32::try_from(at).expect("fewer than 4 billion values");
        }
        let (_, posting) = self.entries.swap_remove(at);
        // A key that shrank a lot gives its memory back; one that merely changes does not.
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
            self.table.shrink_to(0, |s| s.hash());
        }
        Some(posting)
    }

    /// Adds `value` with `posting`, or replaces its posting.
    #[cfg(test)]
    pub(super) fn insert(&mut self, value: Arc<str>, posting: Posting) {
        match self.entry(&value) {
            Entry::Occupied(held) => *held = posting,
            Entry::Vacant(vacant) => vacant.insert(value, posting),
        }
    }

    /// Every value with its posting, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Posting)> {
        self.into_iter()
    }

    /// Every value, in no particular order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.entries.iter().map(|(value, _)| value)
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a Arc<str>, &'a Posting);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Arc<str>, Posting)>,
        fn(&'a (Arc<str>, Posting)) -> (&'a Arc<str>, &'a Posting),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(value, posting)| (value, posting))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::catalog::testing::Random;

    /// Random inserts and removals agree with a standard map, including removals of the last
    /// entry, of entries that moved, and down to empty and back.
    #[test]
    fn values_agree_with_a_map() {
        let mut random = Random(7);
        let mut values = Values::default();
        let mut expected: HashMap<String, u32> = HashMap::new();
        for round in 0..20_000u32 {
            let value = format!("v{}", random.index(3_000));
            if random.index(3) == 0 {
                assert_eq!(
                    values.remove(&value).and_then(|p| p.single()),
                    expected.remove(&value),
                    "{value}"
                );
            } else {
                match values.entry(&value) {
                    Entry::Occupied(posting) => {
                        assert!(expected.contains_key(&value), "{value}");
                        *posting = Posting::new(round, false);
                    }
                    Entry::Vacant(vacant) => {
                        assert!(!expected.contains_key(&value), "{value}");
                        vacant.insert(Arc::from(value.as_str()), Posting::new(round, false));
                    }
                }
                expected.insert(value, round);
            }
            if round % 5_000 == 4_999 {
                // Empties the map, which also shrinks it.
                for value in std::mem::take(&mut expected).into_keys() {
                    assert!(values.remove(&value).is_some());
                }
                assert!(values.is_empty());
            }
        }
        assert_eq!(values.len(), expected.len());
        for (value, id) in &expected {
            assert_eq!(values.get(value).and_then(Posting::single), Some(*id));
        }
        let mut held: Vec<&str> = values.keys().map(|v| &**v).collect();
        held.sort_unstable();
        let mut wanted: Vec<&str> = expected.keys().map(String::as_str).collect();
        wanted.sort_unstable();
        assert_eq!(held, wanted);
    }
}
