//! Orders of the whole catalog by one field, computed on demand and cached a few at a time.
//!
//! A ranking keeps both directions of the same sort: each id's rank, to compare two entities,
//! and the ids in rank order, so that a page of a large match set is read off the order instead
//! of sorting or selecting over every match.

use std::collections::HashMap;
use std::sync::Arc;

use super::Index;

/// Most rankings kept at once. Each costs 8 bytes per entity and any key can be asked for, so
/// the least recently used one is dropped beyond this.
pub const MAX_CACHED_RANKINGS: usize = 8;

/// For each id, its position in the order of one field; ranks from `present` on are entities
/// without the field.
#[derive(Debug)]
pub struct Ranking {
    ranks: Vec<u32>,
    /// The ids by rank: the `present` ids having the field, then those without it.
    order: Vec<u32>,
    present: u32,
}

impl Ranking {
    /// A sort key for `id`: ascending or descending by the field, entities without it last
    /// either way (ordered by reference among themselves).
    pub fn key(&self, id: u32, ascending: bool) -> u64 {
        let rank = self.ranks.get(id as usize).copied().unwrap_or(u32::MAX);
        if rank >= self.present {
            (1 << 32) | u64::from(rank)
        } else if ascending {
            u64::from(rank)
        } else {
            u64::from(self.present - 1 - rank)
        }
    }

    /// Every ranked id in the order of [`Ranking::key`]: those with the field forwards
    /// (ascending) or backwards (descending), then those without it forwards in both directions.
    pub fn walk(&self, ascending: bool) -> impl Iterator<Item = u32> + '_ {
        let (with, without) = self
            .order
            .split_at((self.present as usize).min(self.order.len()));
        let forwards = ascending.then(|| with.iter());
        let backwards = (!ascending).then(|| with.iter().rev());
        forwards
            .into_iter()
            .flatten()
            .chain(backwards.into_iter().flatten())
            .chain(without)
            .copied()
    }

    /// How many ids the ranking orders.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the ranking orders no id.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A shared ranking.
pub type Ranks = Arc<Ranking>;

/// The cached rankings by key, with the time each was last used.
#[derive(Debug, Default)]
pub(super) struct Orders {
    entries: HashMap<String, (Ranks, u64)>,
    clock: u64,
}

impl Orders {
    fn get(&mut self, key: &str) -> Option<Ranks> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(ranks, used)| {
            *used = clock;
            ranks.clone()
        })
    }

    fn insert(&mut self, key: &str, ranks: Ranks) {
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_CACHED_RANKINGS {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(key.to_owned(), (ranks, self.clock));
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many rankings are cached.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Index {
    /// The order of every id by `key` (lowercase; by the smallest value when an entity has
    /// several; ties and entities without the key ordered by reference). `key` `""` orders by
    /// reference alone.
    pub fn ranks(&self, key: &str) -> Ranks {
        if let Some(ranks) = self.orders.lock().ok().and_then(|mut o| o.get(key)) {
            return ranks;
        }
        // A key no entity has orders like no key at all; caching it separately would let
        // requests fill memory with orders of made-up keys.
        if !key.is_empty() && !self.keys.contains_key(key) && !self.reverse.contains_key(key) {
            return self.ranks("");
        }
        // Each id's sort value is found by walking the key's values once, not by looking into
        // every entity.
        let mut first: Vec<Option<&str>> = vec![None; self.slots.len()];
        self.each_reverse(key, None, |id, value| {
            let slot = &mut first[id as usize];
            if slot.is_none_or(|f| *value < *f) {
                *slot = Some(value);
            }
        });
        if let Some(entry) = self.keys.get(key) {
            for (value, v) in &entry.values {
                v.for_each(|id| {
                    let slot = &mut first[id as usize];
                    if slot.is_none_or(|f| **value < *f) {
                        *slot = Some(value);
                    }
                });
            }
        }
        let mut ids: Vec<(Option<&str>, &str, u32)> = self
            .all
            .iter()
            .map(|id| {
                let reference = self.get(id).map_or("", |e| e.entity_ref.as_str());
                (first[id as usize], reference, id)
            })
            .collect();
        let present =
            u32::try_from(ids.iter().filter(|(v, _, _)| v.is_some()).count()).unwrap_or(u32::MAX);
        ids.sort_unstable_by(|(x, rx, a), (y, ry, b)| match (x, y) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| rx.cmp(ry)).then(a.cmp(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => rx.cmp(ry).then(a.cmp(b)),
        });
        let mut ranks = vec![u32::MAX; self.slots.len()];
        let order: Vec<u32> = ids.into_iter().map(|(_, _, id)| id).collect();
        for (rank, id) in order.iter().enumerate() {
            ranks[*id as usize] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        let ranks = Arc::new(Ranking {
            ranks,
            order,
            present,
        });
        if let Ok(mut orders) = self.orders.lock() {
            orders.insert(key, ranks.clone());
        }
        ranks
    }
}
