//! Keeping environments as they were provisioned. The reconciler watches every kind of object
//! Causeway creates (by its `managed-by` label) on every configured cluster; a change or deletion
//! made outside Causeway queues the object's namespace, and the namespace's record is rendered
//! again and compared with what is live. What differs is recorded as drift (drift log and audit
//! log) and, when the environment's policy says so, put back with a forced server-side apply.
//!
//! Only environments whose record is `ready` are reconciled, and the status is read again just
//! before each restore: one being applied or destroyed is left to the operation in progress, which
//! is what keeps a destroy from being undone.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::bundle::{self, Desired, MANAGED_BY, MANAGER};
use super::config::{DriftPolicy, Target};
use super::ownership::LiveNamespace;
use super::plan::{Step, plan_one};
use super::records::Status;
use super::{Provisioner, Request};
use crate::Result;
use crate::audit::{Entry, Outcome};

/// The actor drift is recorded under in the audit log.
pub const RECONCILER: &str = "system:reconciler";

/// How long events are gathered before the namespaces they name are reconciled, so that a burst
/// (a namespace deleted with everything in it) costs one pass.
const GATHER: Duration = Duration::from_millis(250);

/// How often every ready environment is compared even without events, to catch what a watch
/// missed while the environment was busy.
const RESYNC: Duration = Duration::from_secs(300);

/// The lease among replicas: only its holder reconciles, so drift is restored and recorded once.
const LEADER_LEASE: &str = "drift-reconciler";
const LEADER_LEASE_LENGTH: Duration = Duration::from_secs(15);

/// One difference found and what was done about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub object: String,
    /// `modified`, `deleted` or `conflict`.
    pub change: &'static str,
    pub detail: Value,
    /// `restored`, `reported` or `failed`.
    pub action: &'static str,
}

/// Drift already reported, so that an environment left drifted (report-only policy) is not
/// reported again at every event: (namespace, object) → the detail last recorded.
#[derive(Debug, Default, Clone)]
pub struct Reported(Arc<Mutex<HashMap<(String, String), Value>>>);

impl Reported {
    /// Whether `found` is new for `namespace` (and remembers it).
    fn is_new(&self, namespace: &str, found: &Found) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (namespace.to_owned(), found.object.clone());
        let fingerprint = json!([found.change, found.detail]);
        if seen.get(&key) == Some(&fingerprint) {
            return false;
        }
        seen.insert(key, fingerprint);
        true
    }

    fn clear(&self, namespace: &str, object: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(&(namespace.to_owned(), object.to_owned()));
    }
}

/// What one step says about drift, if anything.
fn drift_of(step: Step) -> Option<(String, &'static str, Value)> {
    match step {
        Step::Unchanged { .. } | Step::Delete { .. } => None,
        Step::Create { object } => Some((object, "deleted", Value::Null)),
        Step::Update { object, fields } => Some((
            object,
            "modified",
            serde_json::to_value(fields).unwrap_or_default(),
        )),
        Step::Conflict { object, message } => Some((object, "conflict", json!(message))),
    }
}

/// Puts `desired` back, taking over fields another manager took.
async fn restore(client: &kube::Client, desired: &Desired) -> std::result::Result<(), String> {
    let name = desired.object.metadata.name.clone().unwrap_or_default();
    desired
        .api(client)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&desired.object),
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            kube::Error::Api(e) => e.message,
            other => other.to_string(),
        })
}

impl Provisioner {
    /// Compares the environment in `namespace` with its record, records every difference, and
    /// restores them when the environment's policy is `restore`. Environments that are not
    /// `ready`, or not on a cluster, are left alone.
    pub async fn reconcile(&self, namespace: &str, reported: &Reported) -> Result<Vec<Found>> {
        let Some(record) = self.records.get(namespace).await? else {
            return Ok(Vec::new());
        };
        if record.status != Status::Ready {
            return Ok(Vec::new());
        }
        let request = Request {
            service: record.service.clone(),
            environment: record.environment.clone(),
            set: record.parameters.clone(),
            request_id: record.request_id.clone(),
            ..Request::default()
        };
        let prepared = self.prepare(&request)?;
        if !matches!(prepared.environment.target, Target::Cluster { .. }) {
            return Ok(Vec::new());
        }
        let client = self.client_for(&prepared.environment).await?;
        let policy = prepared.environment.drift;
        let mut found = Vec::new();
        // A namespace deleted and made again by someone else is theirs now: reported (once),
        // never restored over, whatever the policy.
        if let LiveNamespace::Foreign { reason, .. } =
            self.live_namespace_of(&client, &prepared).await?
        {
            let drift = Found {
                object: prepared.bundle[0].describe(),
                change: "conflict",
                detail: json!(format!("the namespace is no longer Causeway's: {reason}")),
                action: "reported",
            };
            if reported.is_new(namespace, &drift) {
                self.record_drift(namespace, &record.request_id, &drift)
                    .await?;
                found.push(drift);
            }
            return Ok(found);
        }
        // Every object is compared at once; what drifted is then put back in bundle order, so a
        // deleted namespace is back before the objects inside it.
        let steps =
            futures::future::join_all(prepared.bundle.iter().map(|d| plan_one(&client, d))).await;
        for (desired, step) in prepared.bundle.iter().zip(steps) {
            let step = step.map_err(super::cluster_error)?;
            let Some((object, change, detail)) = drift_of(step) else {
                reported.clear(namespace, &desired.describe());
                continue;
            };
            // A destroy or an apply may have started since the record was read: restore only
            // while the environment is still `ready`.
            let still_ready =
                self.records.get(namespace).await?.is_some_and(|r| {
                    r.status == Status::Ready && r.request_id == record.request_id
                });
            if !still_ready {
                return Ok(found);
            }
            let action = match policy {
                DriftPolicy::Report => "reported",
                DriftPolicy::Restore => match restore(&client, desired).await {
                    Ok(()) => "restored",
                    Err(message) => {
                        tracing::warn!(%namespace, %object, %message, "could not restore drift");
                        "failed"
                    }
                },
            };
            let drift = Found {
                object,
                change,
                detail,
                action,
            };
            if action == "reported" && !reported.is_new(namespace, &drift) {
                continue;
            }
            self.record_drift(namespace, &record.request_id, &drift)
                .await?;
            found.push(drift);
        }
        Ok(found)
    }

    async fn record_drift(&self, namespace: &str, request_id: &str, drift: &Found) -> Result<()> {
        tracing::info!(%namespace, object = %drift.object, change = drift.change, action = drift.action, "drift");
        self.records
            .drifted(
                namespace,
                &drift.object,
                drift.change,
                &drift.detail,
                drift.action,
            )
            .await?;
        self.audit
            .record(Entry {
                actor: RECONCILER,
                action: "provision.drift",
                target: namespace,
                outcome: if drift.action == "failed" {
                    Outcome::Failed
                } else {
                    Outcome::Success
                },
                detail: json!({ "object": drift.object, "change": drift.change, "detail": drift.detail, "action": drift.action }),
                request_id: Some(request_id),
            })
            .await
    }

    /// Runs the reconciler until the process ends: watches on every cluster, a worker that
    /// reconciles the namespaces they name, and a periodic pass over every environment.
    pub fn spawn_reconciler(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let (queue, mut queued) = mpsc::unbounded_channel::<String>();
            for cluster in &engine.config().clusters {
                let client = match super::watch_client(cluster).await {
                    Ok(client) => client,
                    Err(error) => {
                        tracing::warn!(cluster = %cluster.name, %error, "drift is not watched on this cluster");
                        continue;
                    }
                };
                for resource in bundle::kinds() {
                    tokio::spawn(watch(client.clone(), resource, queue.clone()));
                }
            }
            tokio::spawn(resync(engine.clone(), queue.clone()));
            let leading = Arc::new(std::sync::atomic::AtomicBool::new(false));
            tokio::spawn(lead(engine.clone(), leading.clone(), queue.clone()));
            let reported = Reported::default();
            while let Some(first) = queued.recv().await {
                tokio::time::sleep(GATHER).await;
                let mut namespaces = BTreeSet::from([first]);
                while let Ok(more) = queued.try_recv() {
                    namespaces.insert(more);
                }
                // Every replica watches; only the leader acts, and it compares everything when it
                // becomes leader, so nothing the others saw is lost.
                if !leading.load(std::sync::atomic::Ordering::Acquire) {
                    continue;
                }
                for namespace in namespaces {
                    if let Err(error) = engine.reconcile(&namespace, &reported).await {
                        tracing::warn!(%namespace, %error, "reconcile failed");
                    }
                }
            }
        })
    }
}

/// Queues the namespace of every change to a managed object of `resource`.
async fn watch(
    client: kube::Client,
    resource: kube::api::ApiResource,
    queue: mpsc::UnboundedSender<String>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    let is_namespace = resource.kind == "Namespace" && resource.group.is_empty();
    let mut events = watcher(api, watcher::Config::default().labels(&selector))
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        let object = match event {
            Ok(
                watcher::Event::Apply(o) | watcher::Event::Delete(o) | watcher::Event::InitApply(o),
            ) => o,
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(kind = %resource.kind, %error, "watch interrupted");
                continue;
            }
        };
        let namespace = if is_namespace {
            object.metadata.name
        } else {
            object.metadata.namespace
        };
        if let Some(namespace) = namespace
            && queue.send(namespace).is_err()
        {
            return;
        }
    }
}

/// Holds the reconciler's lease while it can (renewing it at a third of its length), and queues
/// every ready environment whenever this replica becomes the leader.
async fn lead(
    engine: Provisioner,
    leading: Arc<std::sync::atomic::AtomicBool>,
    queue: mpsc::UnboundedSender<String>,
) {
    use std::sync::atomic::Ordering;
    loop {
        let held = match engine
            .leases
            .hold(LEADER_LEASE, &engine.replica, LEADER_LEASE_LENGTH)
            .await
        {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "could not renew the reconciler's lease");
                false
            }
        };
        let was = leading.swap(held, Ordering::AcqRel);
        if held && !was {
            tracing::info!(replica = %engine.replica, "this replica now reconciles drift");
            match engine.records.list().await {
                Ok(records) => {
                    for record in records.into_iter().filter(|r| r.status == Status::Ready) {
                        if queue.send(record.namespace).is_err() {
                            return;
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "could not list environments to reconcile"),
            }
        }
        tokio::time::sleep(LEADER_LEASE_LENGTH / 3).await;
    }
}

/// Queues every ready environment now and then.
async fn resync(engine: Provisioner, queue: mpsc::UnboundedSender<String>) {
    loop {
        tokio::time::sleep(RESYNC).await;
        match engine.records.list().await {
            Ok(records) => {
                for record in records.into_iter().filter(|r| r.status == Status::Ready) {
                    if queue.send(record.namespace).is_err() {
                        return;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not list environments to resync"),
        }
    }
}
