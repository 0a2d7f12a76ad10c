//! Delivery: the deployments, changes (commits) and incidents of each service, as the pipelines,
//! git servers and alerting that serve it report them, and the DORA measures drawn from them
//! ([`dora`]).
//!
//! Ingestion is idempotent by event: an event is recorded once per (source, id) in
//! `delivery_events`, and a repeated one changes nothing. A deployment is stored with the commits
//! it contains, so that the measures count each commit once, at the first successful production
//! deployment that contains it, however many deployments list it.
//!
//! Who may post events for a service: the members of its owning team and platform admins, the
//! same rule as for its environments (`provision/access.rs`).

pub mod adapters;
pub mod dora;
pub mod events;
pub mod recent;

use std::collections::BTreeSet;

use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::{Catalog, Problem};
use crate::identity::{Principal, Role};
use crate::store::Store;
use crate::time::now_millis;
use crate::{Error, Result};

pub use events::{Change, Commit, Deployment, Event, Incident, Payload, Status};

/// What an ingestion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ingested {
    /// Events recorded now.
    pub accepted: usize,
    /// Events already recorded (the same source and id), which changed nothing.
    pub duplicates: usize,
}

/// The delivery events of every service.
#[derive(Debug, Clone)]
pub struct Delivery {
    store: Store,
    catalog: Catalog,
    audit: AuditLog,
}

impl Delivery {
    pub fn new(store: Store, catalog: Catalog, audit: AuditLog) -> Self {
        Self {
            store,
            catalog,
            audit,
        }
    }

    /// Only platform admins and members of the service's owning team post its events; a service
    /// the catalog does not hold is refused, since nobody could read its measures.
    pub fn authorize(&self, principal: &Principal, service: &str) -> Result<()> {
        let index = self.catalog.index();
        let Some(entity) = index.by_ref(service) else {
            return Err(Error::invalid(
                "service",
                format!(
                    "{service} is not in the catalog; events are recorded for catalog components"
                ),
            ));
        };
        if principal.role == Role::PlatformAdmin {
            return Ok(());
        }
        let owners = index.owners(entity);
        if owners.iter().any(|o| principal.acts_for(o)) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{service} is owned by {}; only its team (or platform admins) may post its delivery events",
                if owners.is_empty() {
                    "nobody".to_owned()
                } else {
                    owners.join(", ")
                }
            )))
        }
    }

    /// Records `events` for `principal`: every service must be one the caller may post for (an
    /// unknown service is a problem naming the event; a service of another team refuses the whole
    /// request), then all are written in one transaction, each once. Audited as one record.
    pub async fn ingest(
        &self,
        principal: &Principal,
        events: &[Event],
        request_id: Option<&str>,
    ) -> Result<Ingested> {
        let mut problems = Vec::new();
        let services: BTreeSet<&str> = events.iter().map(|e| e.service.as_str()).collect();
        for service in &services {
            match self.authorize(principal, service) {
                Ok(()) => {}
                Err(Error::InvalidInput { rule, .. }) => {
                    for (i, _) in events
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.service == *service)
                    {
                        let field = if events.len() == 1 {
                            "service".to_owned()
                        } else {
                            format!("[{i}].service")
                        };
                        problems.push(Problem::new("events", None, &field, rule.clone()));
                    }
                }
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Rejected(problems));
        }
        let now = now_millis();
        let mut outcome = Ingested::default();
        let mut tx = self.store.pool().begin().await?;
        for event in events {
            let recorded = sqlx::query(
                "INSERT INTO delivery_events (source, id, kind, service, received_at, received_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, id) DO NOTHING",
            )
            .bind(&event.source)
            .bind(&event.id)
            .bind(event.payload.kind())
            .bind(&event.service)
            .bind(now)
            .bind(&principal.entity_ref)
            .execute(&mut *tx)
            .await?;
            if recorded.rows_affected() == 0 {
                outcome.duplicates += 1;
                continue;
            }
            outcome.accepted += 1;
            store_payload(&mut tx, event).await?;
        }
        tx.commit().await?;
        self.audit
            .record(Entry {
                actor: &principal.entity_ref,
                action: "delivery.events",
                target: &services.iter().copied().collect::<Vec<_>>().join(","),
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "accepted": outcome.accepted,
                    "duplicates": outcome.duplicates,
                }),
                request_id,
            })
            .await?;
        Ok(outcome)
    }
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

async fn store_payload(tx: &mut Tx<'_>, event: &Event) -> Result<()> {
    let service = &event.service;
    match &event.payload {
        Payload::Deployment(deployment) => {
            sqlx::query(
                "INSERT INTO delivery_deployments \
                 (service, id, environment, version, status, started_at, finished_at, pipeline_run) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (service, id) DO NOTHING",
            )
            .bind(service)
            .bind(&event.id)
            .bind(&deployment.environment)
            .bind(&deployment.version)
            .bind(deployment.status.as_str())
            .bind(deployment.started_at)
            .bind(deployment.finished_at)
            .bind(deployment.pipeline_run.as_deref())
            .execute(&mut **tx)
            .await?;
            for commit in &deployment.commits {
                link(tx, service, &event.id, &commit.sha).await?;
                if let Some(authored_at) = commit.authored_at {
                    authored(tx, service, &commit.sha, authored_at).await?;
                }
            }
        }
        Payload::Change(change) => {
            authored(tx, service, &change.sha, change.authored_at).await?;
            if let Some(deployment) = &change.deployment {
                link(tx, service, deployment, &change.sha).await?;
            }
        }
        Payload::Incident(incident) => {
            // A later event about the same incident adds what the earlier ones lacked (its
            // resolution, its cause) and never takes back what they said.
            sqlx::query(
                "INSERT INTO delivery_incidents \
                 (service, id, opened_at, resolved_at, severity, caused_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (service, id) DO UPDATE SET \
                 resolved_at = COALESCE(delivery_incidents.resolved_at, excluded.resolved_at), \
                 caused_by = COALESCE(delivery_incidents.caused_by, excluded.caused_by)",
            )
            .bind(service)
            .bind(&incident.incident)
            .bind(incident.opened_at)
            .bind(incident.resolved_at)
            .bind(&incident.severity)
            .bind(incident.caused_by.as_deref())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Records that `deployment` contains `sha`.
async fn link(tx: &mut Tx<'_>, service: &str, deployment: &str, sha: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO delivery_deployment_commits (service, deployment, sha) VALUES ($1, $2, $3) \
         ON CONFLICT (service, deployment, sha) DO NOTHING",
    )
    .bind(service)
    .bind(deployment)
    .bind(sha)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records when `sha` was authored; of two reports, the earlier time is kept, since a commit's
/// lead time starts when its work was first written down.
async fn authored(tx: &mut Tx<'_>, service: &str, sha: &str, authored_at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO delivery_changes (service, sha, authored_at) VALUES ($1, $2, $3) \
         ON CONFLICT (service, sha) DO UPDATE SET authored_at = CASE \
         WHEN excluded.authored_at < delivery_changes.authored_at THEN excluded.authored_at \
         ELSE delivery_changes.authored_at END",
    )
    .bind(service)
    .bind(sha)
    .bind(authored_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
