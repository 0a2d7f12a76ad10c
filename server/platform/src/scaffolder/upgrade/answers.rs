//! The answers the target version is rendered with: the service's recorded answers (and any the
//! caller added), parameters new in the target given their JSON Schema `default`, then checked
//! against the target's pages like any run's answers. A new required parameter without a default
//! is an error naming it, so that the portal can ask for it.
//!
//! The pickers' rules that depend on who answers (`MyGroupsPicker`, `OwnedEntityPicker`) are
//! checked as the service's owning team and its creator: the answers are theirs, whoever asks
//! for the upgrade.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::super::params::{self, Lookup};
use super::super::{Scaffolder, drop_hidden_answers};
use super::UpgradeRequest;
use super::naming::short;
use crate::catalog::{Catalog, Problem};
use crate::{Error, Result};

/// The target's answers, and what was decided for the reviewers.
#[derive(Debug, Clone)]
pub(super) struct Answers {
    pub values: Value,
    pub secrets: Map<String, Value>,
    /// One sentence per new parameter given its default.
    pub notes: Vec<String>,
}

impl Scaffolder {
    /// The answers for the target version of `request`, checked; `owners` and `creator` stand
    /// for the people who gave them.
    pub(super) fn target_answers(
        &self,
        request: &UpgradeRequest,
        owners: &[String],
        creator: &str,
    ) -> Result<Answers> {
        let mut values = match &request.answers {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            _ => return Err(Error::invalid("answers", "must be an object of answers")),
        };
        let known: BTreeSet<String> = request
            .base
            .pages
            .iter()
            .flat_map(|page| declared(&page.schema))
            .collect();
        let target = &request.target;
        let mut notes = Vec::new();
        let mut missing = Vec::new();
        for (index, page) in target.pages.iter().enumerate() {
            // A page is asked for when its `when:` holds for the answers so far, as in the
            // wizard; defaults filled on earlier pages count.
            let so_far = Value::Object(values.clone());
            if !params::page_shown(target, index, &so_far, &self.engine.templater) {
                continue;
            }
            let required: BTreeSet<&str> = page
                .schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let properties = page.schema.get("properties").and_then(Value::as_object);
            for (name, property) in properties.into_iter().flatten() {
                if values.contains_key(name) || known.contains(name) {
                    continue;
                }
                if let Some(default) = property.get("default") {
                    notes.push(format!(
                        "{name}: a parameter new in version {}, set to its default {default}",
                        short(&request.target_version)
                    ));
                    values.insert(name.clone(), default.clone());
                } else if required.contains(name.as_str()) {
                    missing.push(name.clone());
                }
            }
        }
        if let Some(first) = missing.first() {
            return Err(Error::invalid(
                first.clone(),
                format!(
                    "version {} of {} asks for {} with no default; give {} with the upgrade",
                    short(&request.target_version),
                    target.entity_ref,
                    missing.join(", "),
                    if missing.len() == 1 {
                        "its value"
                    } else {
                        "their values"
                    }
                ),
            ));
        }
        let mut values = Value::Object(values);
        let mut secrets = Map::new();
        if let Some(map) = values.as_object_mut() {
            for name in target.secret_fields() {
                if let Some(value) = map.remove(&name) {
                    secrets.insert(name, value);
                }
            }
        }
        drop_hidden_answers(target, &mut values, &self.engine.templater);
        let lookup = OwnerLookup {
            catalog: self.catalog.as_ref(),
            owners,
            creator,
        };
        params::validate(target, &values, &secrets, &lookup, &self.engine.templater).map_err(
            |findings| {
                Error::Rejected(
                    findings
                        .into_iter()
                        .map(|f| Problem::new("answers", None, &f.field, f.message))
                        .collect(),
                )
            },
        )?;
        Ok(Answers {
            values,
            secrets,
            notes,
        })
    }
}

/// The parameter names a page's schema declares, including those its `dependencies`, `oneOf`,
/// `anyOf`, `allOf` and `if`/`then`/`else` add.
fn declared(schema: &Value) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for key in ["dependencies", "oneOf", "anyOf", "allOf", "then", "else"] {
        match schema.get(key) {
            Some(Value::Array(items)) => items.iter().for_each(|i| names.extend(declared(i))),
            Some(Value::Object(map)) if key == "dependencies" => {
                map.values().for_each(|d| names.extend(declared(d)))
            }
            Some(other @ Value::Object(_)) => names.extend(declared(other)),
            _ => {}
        }
    }
    names
}

/// The pickers' view: the catalog, and the service's owners and creator as "me".
struct OwnerLookup<'a> {
    catalog: Option<&'a Catalog>,
    owners: &'a [String],
    creator: &'a str,
}

impl Lookup for OwnerLookup<'_> {
    fn entity(&self, entity_ref: &str) -> Option<Value> {
        let catalog = self.catalog?;
        let index = catalog.index();
        index.by_ref(entity_ref).map(|e| index.body_value(e))
    }

    fn my_groups(&self) -> Vec<String> {
        self.owners.to_vec()
    }

    fn my_identities(&self) -> Vec<String> {
        let mut ids = self.owners.to_vec();
        ids.push(self.creator.to_owned());
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_include_those_added_by_dependencies() {
        let schema = serde_json::json!({
            "properties": { "name": {} },
            "dependencies": { "name": { "oneOf": [{ "properties": { "region": {} } }] } }
        });
        let names = declared(&schema);
        assert!(
            names.contains("name") && names.contains("region"),
            "{names:?}"
        );
    }
}
