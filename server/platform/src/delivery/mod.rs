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

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use sqlx::Row;

use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::{Catalog, Problem};
use crate::identity::{Principal, Role};
use crate::store::{Engine, Store};
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
    /// Held by an ingestion's transaction on SQLite, which has one writer at a time anyway: the
    /// other requests wait here rather than in SQLite's busy handler, which polls, gives up after
    /// its timeout, and, while writers queue there without pause, keeps the write-ahead log from
    /// ever being checkpointed back to its start (it grew to 12 GB over a million events).
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Delivery {
    pub fn new(store: Store, catalog: Catalog, audit: AuditLog) -> Self {
        Self {
            store,
            catalog,
            audit,
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
        let engine = self.store.engine();
        let _writing = match engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        };
        let mut tx = self.store.pool().begin().await?;
        let outcome = record(&mut tx, engine, principal, events).await?;
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

/// Rows per multi-row statement: at most 8 columns × 500 rows = 4,000 parameters, far below both
/// engines' limits (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// Writes `events` in `tx` with a few multi-row statements per table rather than one statement
/// per row: a batch of 1,000 events was several thousand statements, which held SQLite's write
/// lock long enough for concurrent senders to time out. The rows are first merged the way the
/// one-by-one statements would have left them (see each table below) and sorted by key, so that
/// concurrent transactions on PostgreSQL take their row locks in the same order.
async fn record(
    tx: &mut Tx<'_>,
    engine: Engine,
    principal: &Principal,
    events: &[Event],
) -> Result<Ingested> {
    // The same (source, id) twice in one batch is recorded once: the first.
    let mut seen = HashSet::new();
    let distinct: Vec<&Event> = events
        .iter()
        .filter(|e| seen.insert((e.source.as_str(), e.id.as_str())))
        .collect();
    let now = now_millis();
    let mut new = HashSet::new();
    for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_events (source, id, kind, service, received_at, received_by) \
             VALUES {} ON CONFLICT (source, id) DO NOTHING RETURNING source, id",
            values(engine, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(&event.source)
                .bind(&event.id)
                .bind(event.payload.kind())
                .bind(&event.service)
                .bind(now)
                .bind(&principal.entity_ref);
        }
        for row in query.fetch_all(&mut **tx).await? {
            new.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
    }
    let recorded: Vec<&Event> = distinct
        .into_iter()
        .filter(|e| new.contains(&(e.source.clone(), e.id.clone())))
        .collect();
    store_payloads(tx, engine, &recorded).await?;
    Ok(Ingested {
        accepted: recorded.len(),
        duplicates: events.len() - recorded.len(),
    })
}

/// A deployment's row.
type DeploymentRow<'e> = (&'e str, &'e Option<String>, &'e events::Deployment);

/// An incident's row as the events about it leave it.
struct IncidentRow<'e> {
    opened_at: i64,
    resolved_at: Option<i64>,
    severity: &'e str,
    caused_by: Option<&'e str>,
}

/// The rows `events` add, merged as one statement per event in their order would have left them.
#[derive(Default)]
struct Rows<'e> {
    /// By (service, id): the first event wins, as `DO NOTHING` keeps the first row.
    deployments: BTreeMap<(&'e str, &'e str), DeploymentRow<'e>>,
    /// (service, deployment, commit).
    links: BTreeSet<(&'e str, &'e str, &'e str)>,
    /// By (service, commit): the earliest authored time reported.
    authored: BTreeMap<(&'e str, &'e str), i64>,
    /// By (service, incident).
    incidents: BTreeMap<(&'e str, &'e str), IncidentRow<'e>>,
}

impl<'e> Rows<'e> {
    fn authored(&mut self, service: &'e str, sha: &'e str, at: i64) {
        self.authored
            .entry((service, sha))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }

    fn add(&mut self, event: &'e Event) {
        let service = event.service.as_str();
        match &event.payload {
            Payload::Deployment(deployment) => {
                self.deployments.entry((service, &event.id)).or_insert((
                    &event.id,
                    &deployment.pipeline_run,
                    deployment,
                ));
                for commit in &deployment.commits {
                    self.links.insert((service, &event.id, &commit.sha));
                    if let Some(at) = commit.authored_at {
                        self.authored(service, &commit.sha, at);
                    }
                }
            }
            Payload::Change(change) => {
                self.authored(service, &change.sha, change.authored_at);
                if let Some(deployment) = &change.deployment {
                    self.links.insert((service, deployment, &change.sha));
                }
            }
            Payload::Incident(incident) => {
                // A later event about the same incident adds what the earlier ones lacked (its
                // resolution, its cause) and never takes back what they said.
                let row = self
                    .incidents
                    .entry((service, &incident.incident))
                    .or_insert(IncidentRow {
                        opened_at: incident.opened_at,
                        resolved_at: None,
                        severity: &incident.severity,
                        caused_by: None,
                    });
                row.resolved_at = row.resolved_at.or(incident.resolved_at);
                row.caused_by = row.caused_by.or(incident.caused_by.as_deref());
            }
        }
    }
}

async fn store_payloads(tx: &mut Tx<'_>, engine: Engine, events: &[&Event]) -> Result<()> {
    let mut rows = Rows::default();
    for event in events {
        rows.add(event);
    }
    let deployments: Vec<_> = rows.deployments.iter().collect();
    for chunk in deployments.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_deployments \
             (service, id, environment, version, status, started_at, finished_at, pipeline_run) \
             VALUES {} ON CONFLICT (service, id) DO NOTHING",
            values(engine, chunk.len(), 8)
        );
        let mut query = sqlx::query(&sql);
        for ((service, _), (id, pipeline_run, deployment)) in chunk {
            query = query
                .bind(*service)
                .bind(*id)
                .bind(&deployment.environment)
                .bind(&deployment.version)
                .bind(deployment.status.as_str())
                .bind(deployment.started_at)
                .bind(deployment.finished_at)
                .bind(pipeline_run.as_deref());
        }
        query.execute(&mut **tx).await?;
    }
    let links: Vec<_> = rows.links.iter().collect();
    for chunk in links.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_deployment_commits (service, deployment, sha) VALUES {} \
             ON CONFLICT (service, deployment, sha) DO NOTHING",
            values(engine, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (service, deployment, sha) in chunk {
            query = query.bind(*service).bind(*deployment).bind(*sha);
        }
        query.execute(&mut **tx).await?;
    }
    // Of two reports of when a commit was authored, the earlier is kept, since a commit's lead
    // time starts when its work was first written down.
    let authored: Vec<_> = rows.authored.iter().collect();
    for chunk in authored.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_changes (service, sha, authored_at) VALUES {} \
             ON CONFLICT (service, sha) DO UPDATE SET authored_at = CASE \
             WHEN excluded.authored_at < delivery_changes.authored_at THEN excluded.authored_at \
             ELSE delivery_changes.authored_at END",
            values(engine, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for ((service, sha), at) in chunk {
            query = query.bind(*service).bind(*sha).bind(**at);
        }
        query.execute(&mut **tx).await?;
    }
    let incidents: Vec<_> = rows.incidents.iter().collect();
    for chunk in incidents.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_incidents \
             (service, id, opened_at, resolved_at, severity, caused_by) VALUES {} \
             ON CONFLICT (service, id) DO UPDATE SET \
             resolved_at = COALESCE(delivery_incidents.resolved_at, excluded.resolved_at), \
             caused_by = COALESCE(delivery_incidents.caused_by, excluded.caused_by)",
            values(engine, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for ((service, id), row) in chunk {
            query = query
                .bind(*service)
                .bind(*id)
                .bind(row.opened_at)
                .bind(row.resolved_at)
                .bind(row.severity)
                .bind(row.caused_by);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `rows` parenthesised groups of `columns` parameters. SQLite gets anonymous `?` parameters (it
/// resolves a numbered `$N` by walking the statement's list of parameters, which costs time
/// quadratic in a large statement's size), PostgreSQL `$1`, `$2`, ….
pub(crate) fn values(engine: Engine, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * (columns * 7 + 4));
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            if c > 1 {
                sql.push_str(", ");
            }
            match engine {
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => {
                    use std::fmt::Write as _;
                    let _ = write!(sql, "${}", r * columns + c);
                }
            }
        }
        sql.push(')');
    }
    sql
}
