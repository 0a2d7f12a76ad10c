//! Tekton: a PipelineRun of the `delivery` Pipeline Causeway provisions that finished in a
//! namespace Causeway manages for a service's environment is a deployment of the revision it
//! built (the Pipeline's `revision` parameter) into that environment: condition `Succeeded`
//! `True` is a successful deployment, `False` a failed one; a run still going is not yet one.
//!
//! PipelineRuns are watched cluster-wide (read-only: get, list, watch), and each finished run's
//! namespace is read live before anything is attributed: it must carry Causeway's managed-by
//! label, the service and environment labels, and the service's reference (or Causeway's record
//! of it), as for every write (`provision/ownership.rs`). A run anywhere else is ignored. The run
//! is recorded by the platform itself (actor [`ACTOR`]) through the same ingestion as
//! `POST /api/events`, with source [`SOURCE`] and the run's uid as the event id, so a run seen
//! again (a restart, another replica, a later status update) is recorded once.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use super::system_principal;
use crate::delivery::events::{Commit, Deployment, Event, Payload, Status};
use crate::delivery::{Delivery, Ingested};
use crate::provision::bundle::{ENVIRONMENT_LABEL, SERVICE_LABEL, SERVICE_REF_ANNOTATION};
use crate::provision::ownership::foreign_namespace;
use crate::provision::records::Records;
use crate::{Error, Result};

/// The source of the deployments this adapter records.
pub const SOURCE: &str = "tekton";
/// The actor the audit log names for them.
pub const ACTOR: &str = "system:tekton";
/// The Pipeline Causeway provisions in every environment with a repository.
pub const PIPELINE: &str = "delivery";

/// `tekton.dev/v1` PipelineRuns.
pub fn pipeline_runs() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("tekton.dev", "v1", "PipelineRun"),
        "pipelineruns",
    )
}

/// A finished run of the `delivery` Pipeline, as its object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub status: Status,
    pub revision: String,
    pub started_at: i64,
    pub finished_at: i64,
}

fn time(value: Option<&Value>) -> Option<i64> {
    value
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
}

/// The run `object` describes, when it is a finished run of the `delivery` Pipeline with a
/// revision; `None` for a run still going, of another Pipeline, or without a revision.
pub fn finished(object: &DynamicObject) -> Option<FinishedRun> {
    let data = &object.data;
    let pipeline = data
        .pointer("/spec/pipelineRef/name")
        .and_then(Value::as_str);
    if pipeline != Some(PIPELINE) {
        return None;
    }
    let condition = data
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Succeeded"))?;
    let status = match condition.get("status").and_then(Value::as_str) {
        Some("True") => Status::Succeeded,
        Some("False") => Status::Failed,
        _ => return None,
    };
    let revision = data
        .pointer("/spec/params")
        .and_then(Value::as_array)?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some("revision"))?
        .get("value")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.len() <= 200)?
        .to_owned();
    let finished_at = time(data.pointer("/status/completionTime"))
        .or_else(|| time(condition.get("lastTransitionTime")))?;
    let created = object
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_millisecond());
    let started_at = time(data.pointer("/status/startTime"))
        .or(created)
        .unwrap_or(finished_at)
        .min(finished_at);
    Some(FinishedRun {
        namespace: object.metadata.namespace.clone()?,
        name: object.metadata.name.clone()?,
        uid: object.metadata.uid.clone()?,
        status,
        revision,
        started_at,
        finished_at,
    })
}

/// The service (its reference) and environment a live namespace is Causeway's for, or why it
/// is not. `recorded` is the service Causeway's records hold the namespace for, if any.
pub fn owner_of(
    meta: &ObjectMeta,
    recorded: Option<&str>,
) -> std::result::Result<(String, String), String> {
    let label = |name: &str| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(name))
            .map(String::as_str)
    };
    let service = label(SERVICE_LABEL).ok_or_else(|| format!("it has no {SERVICE_LABEL} label"))?;
    let environment =
        label(ENVIRONMENT_LABEL).ok_or_else(|| format!("it has no {ENVIRONMENT_LABEL} label"))?;
    let annotation = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(SERVICE_REF_ANNOTATION))
        .map(String::as_str);
    let service_ref = annotation
        .or(recorded)
        .ok_or_else(|| {
            format!(
                "it has no {SERVICE_REF_ANNOTATION} annotation and Causeway has no record of it"
            )
        })?
        .to_owned();
    // The label holds the component's name; the reference must be of a component so named.
    let (kind, _, name) = crate::catalog::refs::split(&service_ref);
    if !kind.eq_ignore_ascii_case("component") || name != service {
        return Err(format!(
            "its {SERVICE_LABEL} label {service:?} is not the name of {service_ref}"
        ));
    }
    let is_recorded = recorded == Some(service_ref.as_str());
    if let Some(reason) = foreign_namespace(meta, service, &service_ref, is_recorded) {
        return Err(reason);
    }
    Ok((service_ref, environment.to_owned()))
}

/// The deployment event of `run` in `environment` of `service`.
pub fn deployment(run: &FinishedRun, service: String, environment: String) -> Event {
    let is_commit = (7..=64).contains(&run.revision.len())
        && run.revision.chars().all(|c| c.is_ascii_hexdigit());
    Event {
        source: SOURCE.to_owned(),
        id: run.uid.clone(),
        service,
        payload: Payload::Deployment(Deployment {
            environment,
            version: run.revision.clone(),
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            // A branch or tag names no commit by itself; a commit id is the commit deployed.
            commits: if is_commit {
                vec![Commit {
                    sha: run.revision.to_ascii_lowercase(),
                    authored_at: None,
                }]
            } else {
                Vec::new()
            },
            pipeline_run: Some(format!("{}/{}", run.namespace, run.name)),
        }),
    }
}

/// What became of one PipelineRun seen by the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Not a finished run of the `delivery` Pipeline.
    NotFinished,
    /// Already recorded.
    Known,
    /// Its namespace is not Causeway's for an environment: why.
    Ignored(String),
    Recorded(Ingested),
}

impl Delivery {
    /// Looks at one PipelineRun and records it when it is a finished run of the `delivery`
    /// Pipeline in an environment's namespace, reading that namespace live through `client`.
    pub async fn pipeline_run(
        &self,
        client: &kube::Client,
        object: &DynamicObject,
    ) -> Result<Seen> {
        let Some(run) = finished(object) else {
            return Ok(Seen::NotFinished);
        };
        let known = sqlx::query("SELECT 1 FROM delivery_events WHERE source = $1 AND id = $2")
            .bind(SOURCE)
            .bind(&run.uid)
            .fetch_optional(self.store.pool())
            .await?;
        if known.is_some() {
            return Ok(Seen::Known);
        }
        let namespace = Api::<Namespace>::all(client.clone())
            .get_opt(&run.namespace)
            .await
            .map_err(|e| Error::Cluster(format!("reading namespace {}: {e}", run.namespace)))?;
        let Some(namespace) = namespace else {
            return Ok(Seen::Ignored("its namespace no longer exists".to_owned()));
        };
        let recorded = Records::new(self.store.clone())
            .get(&run.namespace)
            .await?
            .map(|r| r.service);
        let (service, environment) = match owner_of(&namespace.metadata, recorded.as_deref()) {
            Ok(owner) => owner,
            Err(reason) => return Ok(Seen::Ignored(reason)),
        };
        let event = deployment(&run, service, environment);
        let ingested = self
            .ingest(&system_principal(ACTOR), &[event], None)
            .await?;
        Ok(Seen::Recorded(ingested))
    }

    /// Watches every PipelineRun `client` can see and records the finished runs of the
    /// `delivery` Pipeline in Causeway's namespaces, until the watch's stream ends (never, in
    /// practice: it resumes after errors with a backoff).
    pub async fn watch_pipeline_runs(&self, client: kube::Client, cluster: &str) {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &pipeline_runs());
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let object = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => o,
                Ok(_) => continue,
                Err(error) => {
                    tracing::debug!(%cluster, %error, "the PipelineRun watch was interrupted");
                    continue;
                }
            };
            let name = format!(
                "{}/{}",
                object.metadata.namespace.as_deref().unwrap_or_default(),
                object.metadata.name.as_deref().unwrap_or_default()
            );
            match self.pipeline_run(&client, &object).await {
                Ok(Seen::Recorded(ingested)) => {
                    tracing::info!(%cluster, run = %name, accepted = ingested.accepted, "a PipelineRun was recorded as a deployment")
                }
                Ok(Seen::Ignored(reason)) => {
                    tracing::debug!(%cluster, run = %name, %reason, "a PipelineRun outside Causeway's environments was ignored")
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%cluster, run = %name, %error, "a PipelineRun could not be recorded")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::owner_of;

    fn namespace(service: &str, annotation: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                [
                    ("app.kubernetes.io/managed-by", "causeway"),
                    ("causeway.dev/service", service),
                    ("causeway.dev/environment", "prod"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            ),
            annotations: annotation
                .map(|a| [("causeway.dev/service-ref".to_owned(), a.to_owned())].into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_namespace_is_an_environment_only_with_every_mark_of_one_component() {
        let payments = "component:default/payments-api";
        assert_eq!(
            owner_of(&namespace("payments-api", Some(payments)), None),
            Ok((payments.to_owned(), "prod".to_owned()))
        );
        assert_eq!(
            owner_of(&namespace("payments-api", None), Some(payments)),
            Ok((payments.to_owned(), "prod".to_owned())),
            "made before the annotation existed, and recorded"
        );
        assert!(owner_of(&namespace("payments-api", None), None).is_err());
        assert!(owner_of(&namespace("ledger", Some(payments)), None).is_err());
        let mut foreign = namespace("payments-api", Some(payments));
        foreign
            .labels
            .as_mut()
            .unwrap()
            .remove("app.kubernetes.io/managed-by");
        assert!(owner_of(&foreign, Some(payments)).is_err());
    }
}
