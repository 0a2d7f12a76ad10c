//! Posting lists and the substring-search buffer built from them.

use roaring::RoaringBitmap;

/// Most ids a sorted list holds before the posting becomes a bitmap.
const FEW: usize = 32;

/// The ids having one value of one key. Most values belong to one entity (names, titles,
/// references) and many to a handful (an API's consumers, a system's components), so a single id
/// and short lists do not pay for a bitmap, whose smallest form is several allocations. Both
/// lists and bitmaps are boxed to keep the common case at 16 bytes.
///
/// Each form also carries whether some entity wrote the value in another case (facets then look
/// the authored spelling up), which fits beside the id or pointer without growing the posting.
#[derive(Debug, Clone)]
pub(super) enum Posting {
    One(u32, bool),
    /// Sorted, between 2 and [`FEW`] ids.
    #[expect(
        clippy::box_collection,
        reason = "a boxed Vec is one pointer wide, which keeps every posting at 16 bytes"
    )]
    Few(Box<Vec<u32>>, bool),
    Many(Box<RoaringBitmap>, bool),
}

impl Posting {
    pub(super) fn new(id: u32, cased: bool) -> Self {
        Self::One(id, cased)
    }

    pub(super) fn cased(&self) -> bool {
        match self {
            Self::One(_, cased) | Self::Few(_, cased) | Self::Many(_, cased) => *cased,
        }
    }

    pub(super) fn insert(&mut self, id: u32, cased: bool) {
        match self {
            Self::One(existing, was) if *existing == id => *was |= cased,
            Self::One(existing, was) => {
                let mut ids = vec![*existing, id];
                ids.sort_unstable();
                *self = Self::Few(Box::new(ids), *was || cased);
            }
            Self::Few(ids, was) => {
                *was |= cased;
                if let Err(at) = ids.binary_search(&id) {
                    if ids.len() < FEW {
                        ids.insert(at, id);
                    } else {
                        let mut bitmap: RoaringBitmap = ids.iter().copied().collect();
                        bitmap.insert(id);
                        *self = Self::Many(Box::new(bitmap), *was);
                    }
                }
            }
            Self::Many(bitmap, was) => {
                *was |= cased;
                bitmap.insert(id);
            }
        }
    }

    /// Removes `id`; returns whether the posting is now empty.
    pub(super) fn remove(&mut self, id: u32) -> bool {
        match self {
            Self::One(existing, _) => *existing == id,
            Self::Few(ids, cased) => {
                if let Ok(at) = ids.binary_search(&id) {
                    ids.remove(at);
                }
                if let [last] = ids.as_slice() {
                    *self = Self::One(*last, *cased);
                }
                false
            }
            Self::Many(bitmap, _) => {
                bitmap.remove(id);
                bitmap.is_empty()
            }
        }
    }

    pub(super) fn contains(&self, id: u32) -> bool {
        match self {
            Self::One(existing, _) => *existing == id,
            Self::Few(ids, _) => ids.binary_search(&id).is_ok(),
            Self::Many(bitmap, _) => bitmap.contains(id),
        }
    }

    /// The id of the only entity having the value, if one alone has it.
    pub(super) fn single(&self) -> Option<u32> {
        match self {
            Self::One(id, _) => Some(*id),
            Self::Few(..) | Self::Many(..) => None,
        }
    }

    pub(super) fn first(&self) -> Option<u32> {
        match self {
            Self::One(id, _) => Some(*id),
            Self::Few(ids, _) => ids.first().copied(),
            Self::Many(bitmap, _) => bitmap.min(),
        }
    }

    pub(super) fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            Self::One(id, _) => std::iter::once(*id).collect(),
            Self::Few(ids, _) => RoaringBitmap::from_sorted_iter(ids.iter().copied())
                .unwrap_or_else(|_| ids.iter().copied().collect()),
            Self::Many(bitmap, _) => (**bitmap).clone(),
        }
    }

    pub(super) fn add_to(&self, ids: &mut RoaringBitmap) {
        match self {
            Self::One(id, _) => {
                ids.insert(*id);
            }
            Self::Few(few, _) => {
                ids.extend(few.iter().copied());
            }
            Self::Many(bitmap, _) => *ids |= &**bitmap,
        }
    }

    pub(super) fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Self::One(id, _) => f(*id),
            Self::Few(ids, _) => ids.iter().copied().for_each(f),
            Self::Many(bitmap, _) => bitmap.iter().for_each(f),
        }
    }

    pub(super) fn count_in(&self, within: Option<&RoaringBitmap>) -> u64 {
        match (self, within) {
            (Self::One(..), None) => 1,
            (Self::One(id, _), Some(set)) => u64::from(set.contains(*id)),
            (Self::Few(ids, _), None) => ids.len() as u64,
            (Self::Few(ids, _), Some(set)) => {
                ids.iter().filter(|id| set.contains(**id)).count() as u64
            }
            (Self::Many(bitmap, _), None) => bitmap.len(),
            (Self::Many(bitmap, _), Some(set)) => bitmap.intersection_len(set),
        }
    }
}

/// Every distinct value of one key in one buffer, so that a substring search is one vectorised
/// scan of contiguous memory instead of a hash-map walk with one search call per value. The
/// buffer holds only text: a match is turned into ids through the key's map. Keys with many
/// values get a trigram index instead when a search names them (see `text.rs`).
#[derive(Debug)]
pub(super) struct Haystack {
    /// The values, each followed by a NUL byte: a term without NUL cannot match across two.
    text: String,
    /// Where each value starts in `text`, ascending.
    starts: Vec<u32>,
}

impl Haystack {
    pub(super) fn build<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut text = String::new();
        let mut starts = Vec::new();
        for value in values {
            starts.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            text.push_str(value);
            text.push('\0');
        }
        Self { text, starts }
    }

    /// Calls `found` with each value containing `term` (which holds no NUL).
    pub(super) fn search<'a>(&'a self, term: &str, mut found: impl FnMut(&'a str)) {
        let finder = memchr::memmem::Finder::new(term.as_bytes());
        let bytes = self.text.as_bytes();
        let mut from = 0;
        while let Some(at) = finder.find(&bytes[from..]).map(|i| from + i) {
            let value = self.starts.partition_point(|&s| s as usize <= at) - 1;
            let start = self.starts[value] as usize;
            let end = self
                .starts
                .get(value + 1)
                .map_or(self.text.len(), |next| *next as usize)
                - 1;
            found(&self.text[start..end]);
            // One match per value is enough: continue with the next value.
            from = end + 1;
            if from >= bytes.len() {
                break;
            }
        }
    }
}
