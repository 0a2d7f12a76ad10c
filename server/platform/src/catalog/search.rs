//! Faceted search: one page of entities matching every condition and a search term, with the
//! values of some keys counted beside it. The portal's catalog page asks it; REST's
//! `entity-facets` uses [`facets`], the same counting without exclusions.
//!
//! A facet counts within the entities the term and every *other* condition leave: choosing a
//! kind still shows how many entities each other kind has, so the choice can be widened. A value
//! the caller selected stays listed, with its count, possibly 0, so that it can be cleared.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::index::Index;
use super::query::{Condition, Filter, FullText, Order, Page, Query};

/// What to find: conditions (all must hold; one per key, its values alternatives), a term, an
/// order, a page and the facets to count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub conditions: Vec<Condition>,
    pub full_text: Option<FullText>,
    pub order: Vec<Order>,
    pub offset: u64,
    pub limit: u64,
    pub facets: Vec<FacetAsk>,
}

/// A facet to count: the key, how many of its most frequent values to list, and the values the
/// caller selected, listed even when they are not among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FacetAsk {
    pub key: String,
    pub top: usize,
    pub pinned: Vec<String>,
}

/// One facet's values with their counts: the most frequent first, then the pinned values that
/// were not among them, spelled as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetFound {
    pub key: String,
    pub values: Vec<(String, u64)>,
}

/// Values with their counts, most frequent first, shared with the index's cache.
pub type Counts = Arc<[(String, u64)]>;

/// A page and the facets, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub page: Page,
    pub facets: Vec<FacetFound>,
}

/// The entities of `index` that `condition` leaves.
fn evaluate(index: &Index, condition: &Condition) -> RoaringBitmap {
    Filter {
        sets: vec![vec![condition.clone()]],
    }
    .evaluate(index)
}

/// The intersection of `sets`, or `None` when there are none (no restriction at all).
fn intersect<'a>(sets: impl Iterator<Item = &'a RoaringBitmap>) -> Option<RoaringBitmap> {
    let mut sets: Vec<&RoaringBitmap> = sets.collect();
    // Smallest first, so that every intersection is at most as large as it.
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first()?;
    Some(rest.iter().fold((*first).clone(), |acc, s| acc & *s))
}

/// Runs `search` over `index`. The term is matched once and each condition evaluated once; the
/// page and every facet reuse them.
pub fn search(index: &Index, search: &Search) -> Found {
    let text = search
        .full_text
        .as_ref()
        .filter(|f| !f.term.trim().is_empty())
        .map(|full_text| {
            Query {
                full_text: Some(full_text.clone()),
                ..Query::default()
            }
            .matching(index)
        });
    let conditions: Vec<RoaringBitmap> = search
        .conditions
        .iter()
        .map(|c| evaluate(index, c))
        .collect();
    let restricted = |skip: Option<usize>| {
        intersect(
            conditions
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(_, ids)| ids)
                .chain(text.iter()),
        )
    };

    let matches = restricted(None);
    let page = Query {
        order: search.order.clone(),
        ..Query::default()
    }
    .page_of(
        index,
        matches.clone().unwrap_or_else(|| index.all().clone()),
        search.offset,
        search.limit,
    );

    let facets = search
        .facets
        .iter()
        .map(|ask| {
            let own = search.conditions.iter().position(|c| c.key == ask.key);
            let within = match own {
                Some(_) => restricted(own),
                None => matches.clone(),
            };
            FacetFound {
                key: ask.key.clone(),
                values: counted(index, ask, within.as_ref()),
            }
        })
        .collect();
    Found { page, facets }
}

/// The top values of `ask` within `within` (every entity when `None`), then its pinned values
/// not among them.
fn counted(index: &Index, ask: &FacetAsk, within: Option<&RoaringBitmap>) -> Vec<(String, u64)> {
    let mut values = index.facet_top(&ask.key, within, ask.top);
    for pinned in &ask.pinned {
        if !values.iter().any(|(v, _)| v.eq_ignore_ascii_case(pinned)) {
            let ids = index.matching(&ask.key, &pinned.to_lowercase());
            let count = within.map_or(ids.len(), |w| ids.intersection_len(w));
            values.push((pinned.clone(), count));
        }
    }
    values
}

/// Every value of each of `keys` with its count within the entities `filter` leaves, most
/// frequent first; REST's `entity-facets`, which counts like Backstage, with no exclusion. A
/// list of the whole catalog is shared with the index's cache rather than copied.
pub fn facets(index: &Index, keys: &[String], filter: &Filter) -> Vec<(String, Counts)> {
    let within = (!filter.is_empty()).then(|| filter.evaluate(index));
    keys.iter()
        .map(|key| {
            let values = index.facet_shared(&key.to_lowercase(), within.as_ref());
            (key.clone(), values)
        })
        .collect()
}

#[cfg(test)]
mod tests;
