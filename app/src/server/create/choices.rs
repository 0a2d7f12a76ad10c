//! What the wizard's pickers offer, from the catalog's index and the signed-in user: the same
//! filters (`params::matches_filter`) the server checks the answers with, so a form never offers
//! a value it would then refuse.

use causeway_platform::catalog::Catalog;
use causeway_platform::catalog::index::{Index, Stored};
use causeway_platform::identity::Principal;
use causeway_platform::scaffolder::params::matches_filter;
use serde_json::Value;

use super::fields::Choices;

/// More options than this make a select unusable; the rest can still be typed where arbitrary
/// values are allowed.
const LIMIT: usize = 500;

pub struct CatalogChoices<'a> {
    pub catalog: &'a Catalog,
    pub principal: &'a Principal,
}

fn label(index: &Index, stored: &Stored) -> String {
    let body = index.body_value(stored);
    let title = body
        .pointer("/metadata/title")
        .or_else(|| body.pointer("/spec/profile/displayName"))
        .and_then(Value::as_str);
    match title {
        Some(title) => format!("{title} ({})", stored.entity_ref()),
        None => stored.entity_ref().to_owned(),
    }
}

/// The ids a filter can only match among: those having the values of its first plain condition
/// (the index answers that from its posting lists), or `None` when it has no such condition.
fn narrowed(index: &Index, filter: &Value) -> Option<Vec<u32>> {
    for (path, wanted) in filter.as_object()? {
        if wanted.get("exists").is_some() {
            continue;
        }
        let values: Vec<&Value> = match wanted {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let key = path.to_lowercase();
        let mut ids: Vec<u32> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .flat_map(|v| index.matching(&key, &v.to_lowercase()).into_iter())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        return Some(ids);
    }
    None
}

impl CatalogChoices<'_> {
    /// Options for the entities among `ids` that match any of `filters`.
    fn options(&self, index: &Index, ids: Vec<u32>, filters: &[Value]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = ids
            .into_iter()
            .filter_map(|id| index.get(id))
            .filter(|stored| {
                filters.is_empty() || {
                    let body = index.body_value(stored);
                    filters.iter().any(|f| matches_filter(&body, f))
                }
            })
            .take(LIMIT)
            .map(|stored| (stored.entity_ref().to_owned(), label(index, stored)))
            .collect();
        out.sort_by_key(|a| a.1.to_lowercase());
        out
    }
}

impl Choices for CatalogChoices<'_> {
    fn entities(&self, filters: &[Value]) -> Vec<(String, String)> {
        let index = self.catalog.index();
        let mut ids: Vec<u32> = if filters.is_empty() {
            index.all().iter().collect()
        } else {
            let mut ids = Vec::new();
            for filter in filters {
                match narrowed(&index, filter) {
                    Some(found) => ids.extend(found),
                    None => {
                        ids = index.all().iter().collect();
                        break;
                    }
                }
            }
            ids
        };
        ids.sort_unstable();
        ids.dedup();
        self.options(&index, ids, filters)
    }

    fn my_groups(&self) -> Vec<(String, String)> {
        self.principal
            .teams
            .iter()
            .map(|t| {
                (
                    t.entity_ref.clone(),
                    format!("{} ({})", t.display_name, t.entity_ref),
                )
            })
            .collect()
    }

    fn owned(&self, filters: &[Value]) -> Vec<(String, String)> {
        let index = self.catalog.index();
        let mut ids: Vec<u32> = std::iter::once(&self.principal.entity_ref)
            .chain(self.principal.teams.iter().map(|t| &t.entity_ref))
            .flat_map(|owner| index.matching("relations.ownedby", owner).into_iter())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        self.options(&index, ids, filters)
    }
}
