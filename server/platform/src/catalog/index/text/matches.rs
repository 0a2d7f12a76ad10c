//! What a full-text search over several keys has found so far.

use roaring::RoaringBitmap;

/// The entities a full-text search has found so far: a bitmap of every one, and a plain bitset
/// of those found through a trigram index. Each candidate of the next key is tested against what
/// was found before its value is read, and the bitset answers in one load where the bitmap would
/// search its containers, a cost paid for every candidate.
#[derive(Debug, Default)]
pub struct Matches {
    ids: RoaringBitmap,
    /// Bit `id` is set when `id` is in `ids`; not every id of `ids` has its bit.
    seen: Vec<u64>,
}

impl Matches {
    /// Room for the bits of ids below `bound`.
    pub(in crate::catalog::index) fn new(bound: usize) -> Self {
        Self {
            ids: RoaringBitmap::new(),
            seen: vec![0; bound.div_ceil(64)],
        }
    }

    /// Whether `id` is known to be found; `false` for some found ids (see [`Matches::seen`]).
    pub(super) fn seen(&self, id: u32) -> bool {
        self.seen
            .get(id as usize / 64)
            .is_some_and(|word| word >> (id % 64) & 1 == 1)
    }

    /// Adds `holders`, sorted and without duplicates, marking them seen.
    pub(super) fn add_sorted(&mut self, holders: Vec<u32>) {
        for &id in &holders {
            if let Some(word) = self.seen.get_mut(id as usize / 64) {
                *word |= 1 << (id % 64);
            }
        }
        self.ids |= RoaringBitmap::from_sorted_iter(holders).unwrap_or_default();
    }

    /// The bitmap, to add ids found otherwise (they are not marked seen).
    pub(in crate::catalog::index) fn ids_mut(&mut self) -> &mut RoaringBitmap {
        &mut self.ids
    }

    /// Every id found.
    pub fn into_ids(self) -> RoaringBitmap {
        self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::Matches;

    #[test]
    fn seen_follows_the_ids_added_sorted_only() {
        let mut matches = Matches::new(130);
        matches.add_sorted(vec![0, 63, 64, 129]);
        matches.ids_mut().insert(5);
        assert!([0, 63, 64, 129].iter().all(|&id| matches.seen(id)));
        assert!(!matches.seen(5) && !matches.seen(1) && !matches.seen(128));
        // Past the bound nothing is seen, but the id is still kept.
        matches.add_sorted(vec![500]);
        assert!(!matches.seen(500));
        let ids: Vec<u32> = matches.into_ids().iter().collect();
        assert_eq!(ids, [0, 5, 63, 64, 129, 500]);
    }
}
