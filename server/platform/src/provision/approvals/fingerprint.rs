//! What an approval is bound to. A plan's fingerprint holds everything its hash is computed from
//! — the request, the parameters it resolves to, one hash per rendered object and the plan's
//! steps against the live target — together with the hashes of the catalog entity and of the
//! environment's configuration, which are not part of the hash (a changed description must not
//! void an approval) but tell a void approval's reader what caused a changed rendering.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::provision::plan::Step;
use crate::provision::{Prepared, Request};

/// What an approved plan was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The parameters the request resolves to (`cpu_millis`, `memory_mib`, `pods`,
    /// `availability`), after the environment's defaults and the guardrails.
    pub parameters: BTreeMap<String, String>,
    /// `Kind/name` → SHA-256 of the rendered object, in rendering order.
    pub objects: BTreeMap<String, String>,
    /// What applying would do to each object, against the live cluster or the GitOps repository.
    pub steps: Vec<Step>,
    /// SHA-256 of the catalog entity's body (explanatory only).
    pub entity: String,
    /// SHA-256 of the environment's configuration and ceiling (explanatory only).
    pub config: String,
}

/// One part of a plan that changed between the request and a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChange {
    /// `request` (the request no longer passes its checks), `parameters`, `objects` (the
    /// rendering changed) or `live` (the cluster or the GitOps repository changed).
    pub part: String,
    /// The object concerned (`Kind/name`), when there is one.
    pub object: Option<String>,
    /// What changed, in words.
    pub detail: String,
}

impl PlanChange {
    pub fn new(part: &str, object: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            part: part.to_owned(),
            object: object.map(str::to_owned),
            detail: detail.into(),
        }
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Fingerprint {
    /// The fingerprint of `prepared` whose plan against the live target is `steps`.
    pub fn of(prepared: &Prepared, steps: Vec<Step>, entity: String, config: String) -> Self {
        let instance = &prepared.instance;
        let parameters = BTreeMap::from([
            (
                "cpu_millis".to_owned(),
                instance.quota.cpu_millis.to_string(),
            ),
            (
                "memory_mib".to_owned(),
                instance.quota.memory_mib.to_string(),
            ),
            ("pods".to_owned(), instance.quota.pods.to_string()),
            ("availability".to_owned(), instance.availability.to_string()),
        ]);
        let objects = prepared
            .bundle
            .iter()
            .map(|desired| {
                let body = serde_json::to_vec(&desired.object).unwrap_or_default();
                (desired.describe(), sha256(&body))
            })
            .collect();
        Self {
            parameters,
            objects,
            steps,
            entity,
            config,
        }
    }

    /// The plan's hash: the request (its service by normalised reference, so that `payments-api`
    /// and `component:default/payments-api` are one plan), the parameters, the rendered objects
    /// and the steps.
    pub fn hash(&self, prepared: &Prepared, request: &Request) -> String {
        let bound = json!({
            "service": prepared.instance.service_ref,
            "environment": prepared.environment.name,
            "namespace": prepared.instance.namespace,
            "set": request.set,
            "adopt": request.adopt,
            "parameters": self.parameters,
            "objects": self.objects,
            "steps": self.steps,
        });
        sha256(bound.to_string().as_bytes())
    }

    /// What differs between this (the approved plan) and `now`, part by part, object by object.
    pub fn changes(&self, now: &Self, environment: &str) -> Vec<PlanChange> {
        let mut changes = Vec::new();
        for (name, before) in &self.parameters {
            let after = now.parameters.get(name).map_or("nothing", String::as_str);
            if before != after {
                changes.push(PlanChange::new(
                    "parameters",
                    None,
                    format!("{name}: {before} → {after}"),
                ));
            }
        }
        let cause = match (self.entity != now.entity, self.config != now.config) {
            (true, true) => " after the catalog entity and the environment's configuration changed",
            (true, false) => " after the catalog entity changed",
            (false, true) => " after the environment's configuration changed",
            (false, false) => "",
        };
        let mut rendered_differently = BTreeSet::new();
        for (object, before) in &self.objects {
            match now.objects.get(object) {
                Some(after) if after == before => {}
                Some(_) => {
                    rendered_differently.insert(object.clone());
                    changes.push(PlanChange::new(
                        "objects",
                        Some(object),
                        format!("{object} is rendered differently{cause}"),
                    ));
                }
                None => {
                    rendered_differently.insert(object.clone());
                    changes.push(PlanChange::new(
                        "objects",
                        Some(object),
                        format!("{object} is no longer rendered{cause}"),
                    ));
                }
            }
        }
        for object in now
            .objects
            .keys()
            .filter(|o| !self.objects.contains_key(*o))
        {
            rendered_differently.insert(object.clone());
            changes.push(PlanChange::new(
                "objects",
                Some(object),
                format!("{object} is now rendered{cause}"),
            ));
        }
        // What the live target would do to objects rendered as before: a difference there is a
        // change in the cluster or the repository, not in the request.
        let before: BTreeMap<&str, &Step> = self.steps.iter().map(|s| (s.object(), s)).collect();
        let after: BTreeMap<&str, &Step> = now.steps.iter().map(|s| (s.object(), s)).collect();
        let objects: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
        for object in objects {
            if rendered_differently.contains(object) {
                continue;
            }
            let (was, is) = (before.get(object), after.get(object));
            if was == is {
                continue;
            }
            let detail = format!(
                "{object}: {} when requested, {} now in {environment}",
                describe(was.copied()),
                describe(is.copied())
            );
            changes.push(PlanChange::new("live", Some(object), detail));
        }
        changes
    }
}

/// A step in words, for a void approval's reason.
fn describe(step: Option<&Step>) -> String {
    match step {
        None => "not in the plan".to_owned(),
        Some(Step::Create { .. }) => "to be created".to_owned(),
        Some(Step::Unchanged { .. }) => "unchanged".to_owned(),
        Some(Step::Delete { .. }) => "to be deleted".to_owned(),
        Some(Step::Conflict { message, .. }) => format!("in conflict ({message})"),
        Some(Step::Update { fields, .. }) => format!(
            "to be updated ({})",
            fields
                .iter()
                .map(|f| format!("{}: {} → {}", f.path, f.live, f.desired))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The reason a void approval gives, from its changes.
pub fn reason(changes: &[PlanChange]) -> String {
    let parts: Vec<&str> = changes.iter().map(|c| c.detail.as_str()).collect();
    format!(
        "the plan changed since it was requested: {}",
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(objects: &[(&str, &str)], steps: Vec<Step>) -> Fingerprint {
        Fingerprint {
            parameters: BTreeMap::from([("pods".to_owned(), "80".to_owned())]),
            objects: objects
                .iter()
                .map(|(o, h)| ((*o).to_owned(), (*h).to_owned()))
                .collect(),
            steps,
            entity: "e1".to_owned(),
            config: "c1".to_owned(),
        }
    }

    fn create(object: &str) -> Step {
        Step::Create {
            object: object.to_owned(),
        }
    }

    #[test]
    fn a_changed_rendering_names_the_object_and_its_cause() {
        let before = fingerprint(&[("Namespace/a", "1"), ("ResourceQuota/q", "2")], vec![]);
        let mut after = fingerprint(&[("Namespace/a", "1"), ("ResourceQuota/q", "3")], vec![]);
        after.entity = "e2".to_owned();
        let changes = before.changes(&after, "prod");
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].part, "objects");
        assert_eq!(changes[0].object.as_deref(), Some("ResourceQuota/q"));
        assert!(
            changes[0]
                .detail
                .contains("after the catalog entity changed")
        );
    }

    #[test]
    fn a_changed_live_state_is_told_apart_from_the_rendering() {
        let objects = [("Namespace/a", "1")];
        let before = fingerprint(&objects, vec![create("Namespace/a")]);
        let after = fingerprint(
            &objects,
            vec![Step::Unchanged {
                object: "Namespace/a".to_owned(),
            }],
        );
        let changes = before.changes(&after, "prod");
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].part, "live");
        assert_eq!(
            changes[0].detail,
            "Namespace/a: to be created when requested, unchanged now in prod"
        );
        assert!(reason(&changes).starts_with("the plan changed since it was requested: "));
    }

    #[test]
    fn parameters_and_identical_plans() {
        let before = fingerprint(&[("Namespace/a", "1")], vec![create("Namespace/a")]);
        assert!(before.changes(&before.clone(), "prod").is_empty());
        let mut after = before.clone();
        after.parameters.insert("pods".to_owned(), "40".to_owned());
        let changes = before.changes(&after, "prod");
        assert_eq!(changes[0].part, "parameters");
        assert_eq!(changes[0].detail, "pods: 80 → 40");
    }
}
