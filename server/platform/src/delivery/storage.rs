//! How delivery events are written: a few multi-row statements per table rather than one per
//! row (a batch of 1,000 events was several thousand statements), and the lead-time rows DORA's
//! measures read kept in the same transaction.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sqlx::Row;

use super::events::{self, Event, Payload};
use super::{Ingested, dora};
use crate::Result;
use crate::identity::Principal;
use crate::store::Engine;
use crate::time::now_millis;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// The PostgreSQL advisory lock an ingestion holds until it commits.
const INGESTION_LOCK: i64 = 0x6361_7573_6577_6179; // "causeway"

/// Rows per multi-row statement: at most 8 columns × 500 rows = 4,000 parameters, far below both
/// engines' limits (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// Writes `events` in `tx` with a few multi-row statements per table rather than one statement
/// per row: a batch of 1,000 events was several thousand statements, which held SQLite's write
/// lock long enough for concurrent senders to time out. The rows are first merged the way the
/// one-by-one statements would have left them (see each table below) and sorted by key, so that
/// concurrent transactions on PostgreSQL take their row locks in the same order.
pub(super) async fn record(
    tx: &mut Tx<'_>,
    engine: Engine,
    principal: &Principal,
    events: &[Event],
) -> Result<Ingested> {
    if engine == Engine::Postgres {
        // One ingestion at a time, across replicas too (SQLite has one writer anyway): a change
        // naming a deployment and that deployment may arrive in two requests at once, and each
        // transaction must see the other's rows to keep the commit's lead-time row right.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INGESTION_LOCK)
            .execute(&mut **tx)
            .await?;
    }
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
    lead_times(tx, engine, &rows).await
}

/// Keeps `delivery_lead_times`, the rows the change lead time is read from: each commit's
/// earliest authored time, and its first shipping, the finish of the first successful production
/// deployment that contains it. A commit ships when a production deployment listing it is
/// recorded, or when a change names a deployment already recorded, so every deployment the batch
/// records or names is read back with all its commits (those of earlier batches too) after the
/// batch's rows are written; the earliest finish wins whatever the order the events came in.
async fn lead_times(tx: &mut Tx<'_>, engine: Engine, rows: &Rows<'_>) -> Result<()> {
    let authored: Vec<_> = rows.authored.iter().collect();
    for chunk in authored.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_lead_times (service, sha, authored_at) VALUES {} \
             ON CONFLICT (service, sha) DO UPDATE SET authored_at = CASE \
             WHEN delivery_lead_times.authored_at IS NULL \
             OR excluded.authored_at < delivery_lead_times.authored_at THEN excluded.authored_at \
             ELSE delivery_lead_times.authored_at END",
            values(engine, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for ((service, sha), at) in chunk {
            query = query.bind(*service).bind(*sha).bind(**at);
        }
        query.execute(&mut **tx).await?;
    }
    let named: BTreeSet<(&str, &str)> = rows
        .deployments
        .keys()
        .copied()
        .chain(
            rows.links
                .iter()
                .map(|(service, deployment, _)| (*service, *deployment)),
        )
        .collect();
    let named: Vec<_> = named.into_iter().collect();
    for chunk in named.chunks(ROWS_PER_STATEMENT) {
        // SQLite reads ON CONFLICT after a SELECT with joins as the upsert's only when the
        // SELECT has a WHERE clause, which this one has.
        let sql = format!(
            "WITH named (service, id) AS (VALUES {}) \
             INSERT INTO delivery_lead_times (service, sha, shipped_at) \
             SELECT c.service, c.sha, MIN(d.finished_at) FROM named \
             JOIN delivery_deployments d ON d.service = named.service AND d.id = named.id \
             JOIN delivery_deployment_commits c ON c.service = d.service AND c.deployment = d.id \
             WHERE d.environment = '{}' AND d.status = '{}' GROUP BY c.service, c.sha \
             ON CONFLICT (service, sha) DO UPDATE SET shipped_at = CASE \
             WHEN delivery_lead_times.shipped_at IS NULL \
             OR excluded.shipped_at < delivery_lead_times.shipped_at THEN excluded.shipped_at \
             ELSE delivery_lead_times.shipped_at END",
            values(engine, chunk.len(), 2),
            dora::PRODUCTION,
            events::Status::Succeeded.as_str(),
        );
        let mut query = sqlx::query(&sql);
        for (service, deployment) in chunk {
            query = query.bind(*service).bind(*deployment);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `rows` parenthesised groups of `columns` parameters. SQLite gets anonymous `?` parameters (it
/// resolves a numbered `$N` by walking the statement's list of parameters, which costs time
/// quadratic in a large statement's size), PostgreSQL `$1`, `$2`, ….
pub(super) fn values(engine: Engine, rows: usize, columns: usize) -> String {
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
