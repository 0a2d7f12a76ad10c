//! Orders of the whole catalog by one field, computed on demand and cached a few at a time.
//!
//! A ranking keeps both directions of the same sort: each id's rank, to compare two entities,
//! and the ids in rank order, so that a page of a large match set is read off the order instead
//! of sorting or selecting over every match.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::Index;
use super::pairs::search_pairs;

/// Most rankings kept at once. Each costs 8 bytes per entity and any key can be asked for, so
/// the least recently used one is dropped beyond this.
pub const MAX_CACHED_RANKINGS: usize = 8;

/// Most entities a write may touch for the cached rankings to be patched rather than dropped.
/// Patching costs about twenty body reads per entity and ranking; past this, sorting the catalog
/// again when a ranking is next asked for is cheaper.
pub const MAX_PATCHED_WRITES: usize = 64;

/// Most entities whose place may change in one patch: the written ones and the targets of
/// their relations (whose reverse relations change with them), before and after the write.
const MAX_PATCHED_PLACES: usize = 4 * MAX_PATCHED_WRITES;

/// For each id, its position in the order of one field; ranks from `present` on are entities
/// without the field.
#[derive(Debug, Clone)]
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

/// What an entity is ordered by: the smallest value of the key (none sorts last), then its
/// reference, then its id, exactly as [`Index::ranks`] sorts.
type Place = (Option<String>, String, u32);

fn compare(a: &Place, b: &Place) -> Ordering {
    match (&a.0, &b.0) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.1.cmp(&b.1))
    .then(a.2.cmp(&b.2))
}

/// Rankings taken out of the cache while a few entities are written (see
/// [`Index::hold_orders`]), with the entities whose place the write may change.
#[derive(Debug)]
pub struct HeldOrders {
    orders: Orders,
    /// References whose place may change.
    refs: BTreeSet<String>,
    /// Their ids before the write.
    before: Vec<u32>,
}

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

    /// Whether no ranking is cached.
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
                let reference = self.get(id).map_or("", |e| e.entity_ref());
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

    /// Takes the cached rankings out before entities `refs` are written or removed, so that
    /// [`Index::patch_orders`] can patch them afterwards; `None` (the rankings stay and the write
    /// drops them) when nothing is cached or the write is too large to patch. Between the two
    /// calls only `refs` may be written.
    pub fn hold_orders<'a>(
        &mut self,
        refs: impl IntoIterator<Item = &'a str>,
    ) -> Option<HeldOrders> {
        let orders = self.orders.get_mut().ok()?;
        if orders.is_empty() {
            return None;
        }
        let written: BTreeSet<String> = refs.into_iter().map(str::to_owned).collect();
        if written.len() > MAX_PATCHED_WRITES {
            return None;
        }
        let mut refs = BTreeSet::new();
        let mut before = Vec::new();
        for entity_ref in written {
            if let Some(id) = self.id_of(&entity_ref) {
                before.push(id);
                if let Some(entity) = self.get(id) {
                    refs.extend(entity.edges.iter().map(|e| e.target.to_string()));
                }
            }
            refs.insert(entity_ref);
        }
        if refs.len() > MAX_PATCHED_PLACES {
            return None;
        }
        // The targets' ids, too: their reverse relations change with their sources.
        before.extend(refs.iter().filter_map(|r| self.id_of(r)));
        before.sort_unstable();
        before.dedup();
        let orders = std::mem::take(self.orders.get_mut().ok()?);
        Some(HeldOrders {
            orders,
            refs,
            before,
        })
    }

    /// Puts back the rankings [`Index::hold_orders`] took, each patched to the order it would
    /// have if sorted again: the touched entities are taken out and put back where they now
    /// belong, found by binary search.
    pub fn patch_orders(&mut self, held: Option<HeldOrders>) {
        let Some(mut held) = held else {
            return;
        };
        // The targets of the written entities' new relations change place as well.
        let mut refs = std::mem::take(&mut held.refs);
        for entity_ref in refs.clone() {
            if let Some(entity) = self.by_ref(&entity_ref) {
                refs.extend(entity.edges.iter().map(|e| e.target.to_string()));
            }
        }
        let after: Vec<u32> = refs.iter().filter_map(|r| self.id_of(r)).collect();
        let mut patched = Orders {
            clock: held.orders.clock,
            ..Orders::default()
        };
        for (key, (ranking, used)) in held.orders.entries {
            let ranking = Arc::unwrap_or_clone(ranking);
            if let Some(ranking) = self.patched(&key, ranking, &held.before, &after) {
                patched.entries.insert(key, (Arc::new(ranking), used));
            }
        }
        if let Ok(orders) = self.orders.get_mut() {
            *orders = patched;
        }
    }

    /// Where entity `id` belongs in the order of `key`.
    fn place(&self, id: u32, key: &str) -> Place {
        let Some(entity) = self.get(id) else {
            return (None, String::new(), id);
        };
        let mut first: Option<String> = None;
        let mut offer = |value: &str| {
            if first.as_deref().is_none_or(|f| value < f) {
                first = Some(value.to_owned());
            }
        };
        if !key.is_empty() && self.keys.contains_key(key) {
            let body = self.body_value(entity);
            for pair in search_pairs(&body, &entity.edges, &[]) {
                if pair.key == key && self.has_value(id, key, &pair.value) {
                    offer(&pair.value);
                }
            }
        }
        // The reverse values [`Index::each_reverse`] gives: sources pointing at the entity that
        // it does not point back at with the same type itself.
        if !key.is_empty() && self.reverse.contains_key(key) {
            for (kind, source) in self.incoming_of(entity.entity_ref()) {
                let of_key = key
                    .strip_prefix("relations.")
                    .is_some_and(|k| k.eq_ignore_ascii_case(kind));
                let declared = entity
                    .edges
                    .iter()
                    .any(|e| e.kind().eq_ignore_ascii_case(kind) && *e.target == *source);
                if of_key && !declared {
                    offer(source);
                }
            }
        }
        (first, entity.entity_ref().to_owned(), id)
    }

    /// `ranking` of `key` with the ids `before` taken out and `after` put where they belong, or
    /// `None` when it does not match the catalog any more (it is then sorted again when asked).
    fn patched(
        &self,
        key: &str,
        mut ranking: Ranking,
        before: &[u32],
        after: &[u32],
    ) -> Option<Ranking> {
        let ranked = |ranking: &Ranking, id: u32| {
            let rank = *ranking.ranks.get(id as usize)?;
            (ranking.order.get(rank as usize) == Some(&id)).then_some(rank)
        };
        let mut leaving = Vec::with_capacity(before.len() + after.len());
        for &id in before {
            // Every entity there was before the write is ranked.
            leaving.push(ranked(&ranking, id)? as usize);
        }
        // So are those that are there before and after it, the targets of new relations among
        // them; an id that was free before is not.
        for &id in after.iter().filter(|id| !before.contains(id)) {
            leaving.extend(ranked(&ranking, id).map(|rank| rank as usize));
        }
        for &rank in &leaving {
            let id = ranking.order[rank];
            ranking.ranks[id as usize] = u32::MAX;
        }
        leaving.sort_unstable();
        leaving.dedup();
        let present_left = leaving
            .iter()
            .filter(|&&r| r < ranking.present as usize)
            .count();
        let mut staying = Vec::with_capacity(ranking.order.len() + after.len());
        let mut next = leaving.iter().peekable();
        for (rank, &id) in ranking.order.iter().enumerate() {
            if next.peek() == Some(&&rank) {
                next.next();
            } else {
                staying.push(id);
            }
        }
        let mut arriving: Vec<Place> = after.iter().map(|&id| self.place(id, key)).collect();
        arriving.sort_unstable_by(compare);
        // Each arriving entity's position among those staying, found by binary search; the
        // places of the entities compared against are remembered, since searches overlap.
        let mut known: HashMap<u32, Place> = HashMap::new();
        let mut positions = Vec::with_capacity(arriving.len());
        for place in &arriving {
            let at = staying.partition_point(|&id| {
                let other = known.entry(id).or_insert_with(|| self.place(id, key));
                compare(other, place) == Ordering::Less
            });
            positions.push(at);
        }
        let first_changed = leaving
            .first()
            .copied()
            .into_iter()
            .chain(positions.first().copied())
            .min()
            .unwrap_or(staying.len());
        let mut order = Vec::with_capacity(staying.len() + arriving.len());
        let mut from = 0;
        for (place, &at) in arriving.iter().zip(&positions) {
            order.extend_from_slice(&staying[from..at]);
            order.push(place.2);
            from = at;
        }
        order.extend_from_slice(&staying[from..]);
        if order.len() as u64 != self.len() {
            return None;
        }
        let present_arrived = arriving.iter().filter(|p| p.0.is_some()).count();
        ranking.present =
            u32::try_from(ranking.present as usize - present_left + present_arrived).ok()?;
        if ranking.ranks.len() < self.slots.len() {
            ranking.ranks.resize(self.slots.len(), u32::MAX);
        }
        for (rank, &id) in order.iter().enumerate().skip(first_changed) {
            ranking.ranks[id as usize] = u32::try_from(rank).ok()?;
        }
        ranking.order = order;
        Some(ranking)
    }
}

#[cfg(test)]
mod tests;
