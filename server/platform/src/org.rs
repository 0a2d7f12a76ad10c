//! The organisation as the portal shows it: what a set of teams owns, from the catalog.

use serde::Serialize;
use serde_json::Value;

use crate::catalog::Catalog;

/// A short description of an entity, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitySummary {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
}

impl EntitySummary {
    /// Summarises a stored entity body.
    pub fn from_body(
        entity_ref: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        owner_ref: Option<String>,
        body: &Value,
    ) -> Self {
        let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
        Self {
            entity_ref: entity_ref.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            title: text("/metadata/title"),
            description: text("/metadata/description"),
            spec_type: text("/spec/type"),
            lifecycle: text("/spec/lifecycle"),
            owner_ref,
        }
    }
}

/// Entities owned by any of `team_refs` (normalised), ordered by kind and name.
pub fn owned_by(catalog: &Catalog, team_refs: &[String]) -> Vec<EntitySummary> {
    let index = catalog.index();
    let mut owned = Vec::new();
    for team in team_refs {
        for id in &index.matching("relations.ownedby", team) {
            let Some(entity) = index.get(id) else {
                continue;
            };
            let body = index.body_value(entity);
            owned.push(EntitySummary::from_body(
                entity.entity_ref(),
                entity.kind(),
                entity.namespace(),
                entity.name(),
                Some(team.clone()),
                &body,
            ));
        }
    }
    owned.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    owned.dedup_by(|a, b| a.entity_ref == b.entity_ref);
    owned
}
