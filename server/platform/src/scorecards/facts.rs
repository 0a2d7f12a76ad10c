//! The facts a scorecard's expressions see about one entity (the README's "Scorecards" documents
//! every key): the entity with its relations, its owner, the on-call and runbook annotations, what
//! Causeway provisioned for it (pipeline, dashboard, drift) and its DORA measures over the last
//! 90 days. Everything is read from what is stored: no drift check or cluster call is made per
//! evaluation.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::catalog::index::Index;
use crate::delivery::{Delivery, dora};
use crate::guardrails::input;
use crate::provision::records::{Record, Records, Status};
use crate::{Error, Result};

/// The annotation naming the rota that answers a component's pages.
pub const ON_CALL: &str = "causeway.dev/on-call";
/// The annotation giving a runbook's address, when no `metadata.links` entry is titled Runbook.
pub const RUNBOOK: &str = "causeway.dev/runbook";

/// What the catalog says about one entity, read under the index's lock and kept after it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub entity_ref: String,
    pub kind: String,
    /// The entity as policies see it (`guardrails::input::entity`) with its `relations`.
    pub entity: Value,
    /// The first owner's reference, and whether the catalog holds it.
    pub owner: Option<(String, bool)>,
}

impl Subject {
    /// The entity `entity_ref` from `index`, if it holds it.
    pub fn read(index: &Index, entity_ref: &str) -> Option<Self> {
        let stored = index.by_ref(entity_ref)?;
        let relations: Vec<Value> = index
            .relations(stored)
            .into_iter()
            .map(|r| json!({"type": r.kind, "targetRef": r.target}))
            .collect();
        let mut entity = input::entity(index.body_value(stored), stored.entity_ref());
        entity["relations"] = Value::Array(relations);
        let owner = index
            .owners(stored)
            .into_iter()
            .next()
            .map(|o| (o.clone(), index.by_ref(&o).is_some()));
        Some(Self {
            entity_ref: stored.entity_ref().to_owned(),
            kind: stored.kind().to_owned(),
            entity,
            owner,
        })
    }

    fn is_component(&self) -> bool {
        self.kind.eq_ignore_ascii_case("component")
    }

    fn annotation(&self, key: &str) -> Option<String> {
        self.entity["metadata"]["annotations"][key]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// The runbook's address: a `metadata.links` entry titled (or typed) runbook, else the
    /// `causeway.dev/runbook` annotation.
    fn runbook(&self) -> Option<String> {
        let linked = self.entity["metadata"]["links"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|link| {
                ["title", "type"].iter().any(|key| {
                    link[*key]
                        .as_str()
                        .is_some_and(|t| t.to_lowercase().contains("runbook"))
                })
            })
            .and_then(|link| link["url"].as_str())
            .filter(|url| !url.trim().is_empty())
            .map(str::to_owned);
        linked.or_else(|| self.annotation(RUNBOOK))
    }
}

/// The environments Causeway provisioned, by service, read once per evaluation pass.
#[derive(Debug, Clone, Default)]
pub struct Environments {
    by_service: HashMap<String, Vec<Record>>,
}

impl Environments {
    pub async fn read(records: &Records) -> Result<Self> {
        let mut by_service: HashMap<String, Vec<Record>> = HashMap::new();
        for record in records.list().await? {
            by_service
                .entry(record.service.clone())
                .or_default()
                .push(record);
        }
        Ok(Self { by_service })
    }
}

/// Gathers the facts about `subject`.
pub async fn gather(
    subject: &Subject,
    environments: &Environments,
    records: &Records,
    delivery: &Delivery,
) -> Result<Value> {
    let owner = subject.owner.as_ref().map(|(reference, in_catalog)| {
        json!({
            "ref": reference,
            "name": crate::catalog::refs::split(reference).2,
            "inCatalog": in_catalog,
        })
    });
    let (provisioning, dora) = if subject.is_component() {
        (
            provisioning(subject, environments, records).await?,
            dora_facts(delivery, &subject.entity_ref).await?,
        )
    } else {
        (no_provisioning(), no_dora())
    };
    Ok(json!({
        "entity": subject.entity,
        "owner": owner,
        "onCall": subject.annotation(ON_CALL),
        "runbook": subject.runbook(),
        "provisioning": provisioning,
        "dora": dora,
        "now": input::now(),
    }))
}

fn no_provisioning() -> Value {
    json!({"environments": [], "hasPipeline": false, "hasDashboard": false, "driftFree": true})
}

fn no_dora() -> Value {
    json!({
        "deployments": 0,
        "deploymentsPerWeek": null,
        "leadTimeP50Hours": null,
        "changeFailRate": null,
        "recoveryTimeP50Hours": null,
    })
}

/// An environment is in place when its last apply completed (on a cluster or into a GitOps
/// repository): only then does it hold the pipeline and dashboard Causeway renders.
fn in_place(record: &Record) -> bool {
    matches!(record.status, Status::Ready | Status::Committed)
}

/// The component's environments; a pipeline when one is in place and the component names its
/// repository (Causeway renders the delivery pipeline only then), a dashboard when one is in
/// place. An environment is drift-free when no drift recorded since its last apply was left
/// standing (`reported` or `failed`); drift the reconciler `restored` is fixed.
async fn provisioning(
    subject: &Subject,
    environments: &Environments,
    records: &Records,
) -> Result<Value> {
    let mine: Vec<&Record> = environments
        .by_service
        .get(&subject.entity_ref)
        .into_iter()
        .flatten()
        .filter(|r| r.status != Status::Destroying)
        .collect();
    let mut listed = Vec::new();
    let mut all_free = true;
    for record in &mine {
        let drift = records.drift(&record.namespace, 50).await?;
        let free = !drift
            .iter()
            .any(|d| d.at_millis >= record.updated_at_millis && d.action != "restored");
        all_free &= free;
        listed.push(json!({
            "name": record.environment,
            "namespace": record.namespace,
            "status": record.status.as_str(),
            "driftFree": free,
        }));
    }
    let annotations = subject.entity["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let repository = crate::provision::delivery::repository(&annotations).is_some();
    let placed = mine.iter().any(|r| in_place(r));
    Ok(json!({
        "environments": listed,
        "hasPipeline": placed && repository,
        "hasDashboard": placed,
        "driftFree": all_free,
    }))
}

#[allow(clippy::cast_precision_loss)]
fn hours(millis: Option<i64>) -> Value {
    millis.map_or(Value::Null, |m| json!(m as f64 / 3_600_000.0))
}

/// DORA's four keys over the 90 days ending today, each `null` when there is no data: no
/// production deployment, no commit with a lead time, no recovered failure.
async fn dora_facts(delivery: &Delivery, service: &str) -> Result<Value> {
    let answer = delivery
        .dora(&dora::Query {
            service: Some(service.to_owned()),
            team: None,
            from: None,
            to: None,
        })
        .await;
    let keys = match answer {
        Ok(answer) => answer.summary,
        // The service left the catalog between the read and now: nothing to measure.
        Err(Error::InvalidInput { .. }) => return Ok(no_dora()),
        Err(other) => return Err(other),
    };
    Ok(json!({
        "deployments": keys.deployments,
        "deploymentsPerWeek": if keys.deployments == 0 { Value::Null } else { json!(keys.deployments_per_week) },
        "leadTimeP50Hours": hours(keys.lead_time.median_millis),
        "changeFailRate": keys.change_fail_rate,
        "recoveryTimeP50Hours": hours(keys.recovery_time.median_millis),
    }))
}
