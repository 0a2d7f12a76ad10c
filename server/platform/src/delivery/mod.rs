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
mod storage;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::{Catalog, Problem};
use crate::identity::{Principal, Role};
use crate::store::Store;
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
    /// Held by an ingestion's transaction: ingestions run one at a time (on PostgreSQL also
    /// across replicas, by an advisory lock, see `storage.rs`), and the other requests wait here
    /// without holding a connection. On SQLite they would otherwise wait in its busy handler,
    /// which polls, gives up after its timeout, and, while writers queue there without pause,
    /// keeps the write-ahead log from ever being checkpointed back to its start (it grew to 12 GB
    /// over a million events); on PostgreSQL, in the advisory lock, each holding one of the
    /// pool's connections.
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Delivery {
    pub fn new(store: Store, catalog: Catalog) -> Self {
        Self {
            store,
            catalog,
            writer: Arc::new(tokio::sync::Mutex::new(())),
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
        let _writing = self.writer.lock().await;
        let mut tx = self.store.pool().begin().await?;
        let outcome = storage::record(&mut tx, self.store.engine(), principal, events).await?;
        // The audit record commits with the events: a reader who sees a change also sees who
        // sent it.
        AuditLog::record_in(
            &mut tx,
            Entry {
                actor: &principal.entity_ref,
                action: "delivery.events",
                target: &services.iter().copied().collect::<Vec<_>>().join(","),
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "accepted": outcome.accepted,
                    "duplicates": outcome.duplicates,
                }),
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
