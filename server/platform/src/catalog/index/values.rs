//! The distinct values of one key and their postings, in a map that stays compact at a million
//! values.
//!
//! A hash map keeps its entries in its buckets, and its buckets are between 44 % and 87 % full:
//! a key with a million values (every entity's name, title or description) had 2²¹ buckets of 32
//! bytes, 69 MB for 32 MB of entries. Here the entries are a dense vector and the table holds
//! four-byte positions into it, so the empty buckets cost four bytes instead of thirty-two. A
//! vector's unused capacity is never written, so it costs address space, not memory.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::posting::Posting;

/// A key's values, each with its posting.
#[derive(Debug, Default)]
pub(super) struct Values {
    entries: Vec<(Arc<str>, Posting)>,
    /// Positions in `entries`, hashed by their value.
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// A value's place in [`Values`], found by [`Values::entry`].
pub(super) enum Entry<'a> {
    Occupied(&'a mut Posting),
    Vacant(Vacant<'a>),
}

/// The place of a value [`Values`] does not hold yet.
pub(super) struct Vacant<'a> {
    values: &'a mut Values,
    hash: u64,
}

impl Vacant<'_> {
    /// Adds `value`, which must be the text the entry was looked up by.
    pub(super) fn insert(self, value: Arc<str>, posting: Posting) {
        let Values {
            entries,
            table,
            hasher,
        } = self.values;
        let at = u32::try_from(entries.len()).expect("fewer than 4 billion values");
        entries.push((value, posting));
        table.insert_unique(self.hash, at, |&i| hasher.hash_one(&*entries[i as usize].0));
    }
}

impl Values {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, hash: u64, value: &str) -> Option<usize> {
        self.table
            .find(hash, |&i| *self.entries[i as usize].0 == *value)
            .map(|&i| i as usize)
    }

    pub(super) fn get(&self, value: &str) -> Option<&Posting> {
        let at = self.position(self.hasher.hash_one(value), value)?;
        Some(&self.entries[at].1)
    }

    pub(super) fn get_mut(&mut self, value: &str) -> Option<&mut Posting> {
        let at = self.position(self.hasher.hash_one(value), value)?;
        Some(&mut self.entries[at].1)
    }

    /// The posting of `value`, or the place to add it; `value` is hashed once either way.
    pub(super) fn entry(&mut self, value: &str) -> Entry<'_> {
        let hash = self.hasher.hash_one(value);
        match self.position(hash, value) {
            Some(at) => Entry::Occupied(&mut self.entries[at].1),
            None => Entry::Vacant(Vacant { values: self, hash }),
        }
    }

    /// Takes `value` out. The last entry moves into its place, so that the entries stay dense.
    pub(super) fn remove(&mut self, value: &str) -> Option<Posting> {
        let hash = self.hasher.hash_one(value);
        let entries = &self.entries;
        let (at, _) = self
            .table
            .find_entry(hash, |&i| *entries[i as usize].0 == *value)
            .ok()?
            .remove();
        let at = at as usize;
        let last = self.entries.len() - 1;
        if at != last {
            let moved = self.hasher.hash_one(&*self.entries[last].0);
            let slot = self
                .table
                .find_mut(moved, |&i| i as usize == last)
                .expect("every entry has its position in the table");
            *slot = u32::try_from(at).expect("fewer than 4 billion values");
        }
        let (_, posting) = self.entries.swap_remove(at);
        // A key that shrank a lot gives its memory back; one that merely changes does not.
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.table
                .shrink_to(0, |&i| hasher.hash_one(&*entries[i as usize].0));
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
        self.entries.iter().map(|(value, posting)| (value, posting))
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
