//! Pages of a query's matches in the requested order.
//!
//! The order of the whole catalog by one field is cached by the index (see [`Ranking`]), so a
//! page is read off it: walk the ids in rank order, keep those that match, stop once the page is
//! full. That costs about `(offset + limit) · N / matches` bitmap lookups, which beats building
//! and selecting over a vector of every match when the matches are a large share of the
//! catalog; otherwise the vector is built as before. An empty page needs no order at all.

use roaring::RoaringBitmap;

use super::{Page, Query};
use crate::catalog::index::{Index, Ranking};

impl Query {
    /// The page of `limit` ids starting at `offset`, in the requested order.
    pub fn page(&self, index: &Index, offset: u64, limit: u64) -> Page {
        self.page_of(index, self.matching(index), offset, limit)
    }

    /// The page of `limit` ids of `ids` (which the caller computed, e.g. as [`Query::matching`])
    /// starting at `offset`, in the requested order.
    pub fn page_of(&self, index: &Index, ids: RoaringBitmap, offset: u64, limit: u64) -> Page {
        let total = ids.len();
        // Counting (`limit=0`, Backstage's idiom) and offsets past the end answer the total
        // alone: no order of the catalog is computed for a page that is empty anyway.
        if limit == 0 || offset >= total {
            return Page {
                ids: Vec::new(),
                total,
            };
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = usize::try_from(offset.saturating_add(limit)).unwrap_or(usize::MAX);
        let ids = match self.order.as_slice() {
            [] | [_] => {
                let (key, ascending) = self
                    .order
                    .first()
                    .map_or(("", true), |o| (o.field.as_str(), o.ascending));
                let ranking = index.ranks(key);
                let walked = walk_pays(ranking.len(), total, end)
                    .then(|| {
                        let budget = usize::try_from(total).unwrap_or(usize::MAX);
                        walk_page(&ranking, ascending, &ids, start, end, budget)
                    })
                    .flatten();
                walked.unwrap_or_else(|| select_page(&ranking, ascending, &ids, start, end))
            }
            orders => {
                let rankings: Vec<_> = orders
                    .iter()
                    .map(|o| (index.ranks(&o.field), o.ascending))
                    .collect();
                let mut ordered: Vec<u32> = ids.iter().collect();
                ordered.sort_by(|a, b| {
                    for (ranking, ascending) in &rankings {
                        let ord = ranking
                            .key(*a, *ascending)
                            .cmp(&ranking.key(*b, *ascending));
                        if ord.is_ne() {
                            return ord;
                        }
                    }
                    a.cmp(b)
                });
                ordered
                    .into_iter()
                    .skip(start)
                    .take(end.saturating_sub(start))
                    .collect()
            }
        };
        Page { ids, total }
    }
}

/// Whether walking the order of `ranked` ids is expected to cost at most a quarter of building
/// the vector of `matches`: a walk passes about `end · ranked / matches` ids to fill a page
/// ending at `end`, if the matches are spread evenly over the order.
fn walk_pays(ranked: usize, matches: u64, end: usize) -> bool {
    let (ranked, matches, end) = (ranked as u128, u128::from(matches), end as u128);
    matches > 0 && 4 * end * ranked <= matches * matches
}

/// The ids of `ids` from `start` to `end` in the order of `ranking`, found by walking the order.
/// `None` when the walk passes `budget` ids (the matches are bunched late in the order) or ends
/// before the page is full (an id the ranking does not know); the caller then selects.
fn walk_page(
    ranking: &Ranking,
    ascending: bool,
    ids: &RoaringBitmap,
    start: usize,
    end: usize,
    budget: usize,
) -> Option<Vec<u32>> {
    let want = end.saturating_sub(start);
    if want == 0 {
        return Some(Vec::new());
    }
    let mut page = Vec::with_capacity(want.min(4096));
    let mut passed = 0usize;
    for (step, id) in ranking.walk(ascending).enumerate() {
        if step >= budget {
            return None;
        }
        if !ids.contains(id) {
            continue;
        }
        if passed >= start {
            page.push(id);
            if page.len() >= want {
                return Some(page);
            }
        }
        passed += 1;
    }
    None
}

/// The ids of `ids` from `start` to `end` in the order of `ranking`, selected from a vector of
/// every match: the path for small match sets, and the reference the walk is tested against.
fn select_page(
    ranking: &Ranking,
    ascending: bool,
    ids: &RoaringBitmap,
    start: usize,
    end: usize,
) -> Vec<u32> {
    let mut ordered: Vec<(u64, u32)> = ids
        .iter()
        .map(|id| (ranking.key(id, ascending), id))
        .collect();
    let want = end.min(ordered.len());
    if want > 0 {
        ordered.select_nth_unstable(want - 1);
        ordered[..want].sort_unstable();
    }
    ordered
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .map(|(_, id)| id)
        .collect()
}

#[cfg(test)]
mod tests;
