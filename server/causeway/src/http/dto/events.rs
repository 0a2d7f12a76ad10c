//! Delivery events and DORA's measures on the wire. The request forms are documented here for
//! the OpenAPI document; the body itself is read by the domain (`delivery::events::parse`), which
//! names every bad field in the path a sender wrote (`[2].data.status`).

use causeway_platform::delivery::{Ingested, dora};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/events`: one event or a batch of at most 1,000, each a CloudEvent or a plain event.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventRequest {
    One(Box<OneEvent>),
    Batch(Vec<OneEvent>),
}

/// One event, in either form.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneEvent {
    Cloud(CloudEvent),
    CdEvent(CdEvent),
    Plain(PlainEvent),
}

/// A CDEvent (spec v0.4) in its own layout, alone or as a CloudEvent's `data`. Types read:
/// `dev.cdevents.service.deployed|upgraded|rolledback.<version>` (a deployment: `subject.id` the
/// component, `subject.content.environment.id` the environment, `subject.content.artifactId` the
/// version, `context.timestamp` its finish), `dev.cdevents.change.merged.<version>` (a change:
/// `customData.service`, `customData.sha` or `subject.id`, `customData.authoredAt` or
/// `context.timestamp`) and `dev.cdevents.incident.detected|reported|resolved.<version>` (an
/// incident: `subject.id`, `subject.content.service.id`, `customData.severity`).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct CdEvent {
    pub context: CdEventContext,
    /// `id`, `source`, `type` and `content`, as the type's subject defines them.
    #[schema(value_type = Object)]
    pub subject: serde_json::Value,
    /// What CDEvents does not carry and Causeway reads when given: `startedAt`, `commits`,
    /// `pipelineRun` (deployments), `service`, `sha`, `authoredAt` (changes), `severity`,
    /// `openedAt`, `causedBy` (incidents).
    #[serde(rename = "customData")]
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<serde_json::Value>,
}

/// A CDEvent's context.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct CdEventContext {
    /// The spec's version, `0.4.1`.
    pub version: String,
    /// With `source`, the event's identity: the same event twice is recorded once.
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339: when it happened.
    pub timestamp: String,
}

/// A CloudEvents 1.0 event in structured JSON mode. Types read: `dev.causeway.deployment.finished`,
/// `dev.causeway.change.authored`, `dev.causeway.incident.opened`, `dev.causeway.incident.resolved`,
/// and CDEvents' `dev.cdevents.service.deployed|upgraded|rolledback.<version>`,
/// `dev.cdevents.change.merged.<version>`,
/// `dev.cdevents.incident.detected|reported|resolved.<version>`, whose `data` holds the fields of
/// [`EventData`].
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct CloudEvent {
    /// `1.0`.
    pub specversion: String,
    /// With `source`, the event's identity: the same event twice is recorded once.
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339; stands in for `finishedAt` of a deployment that does not give it.
    pub time: Option<String>,
    /// `application/json` when given.
    pub datacontenttype: Option<String>,
    pub data: EventData,
}

/// Causeway's plain form: the fields of [`EventData`] next to `kind` and `id`.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlainEvent {
    /// `deployment`, `change` or `incident`.
    pub kind: String,
    /// With `source`, the event's identity: the same event twice is recorded once.
    pub id: String,
    /// The sender; `urn:causeway:plain` when not given.
    pub source: Option<String>,
    #[serde(flatten)]
    pub data: EventData,
}

/// An event's fields; which are required depends on its kind.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// Every kind: the component's entity reference (`payments-api`, `component:default/payments-api`).
    pub service: String,
    /// Deployment: the environment's name (`prod` counts as production).
    pub environment: Option<String>,
    /// Deployment: the version or commit deployed.
    pub version: Option<String>,
    /// Deployment: `succeeded`, `failed` or `rolled_back`.
    pub status: Option<String>,
    /// Deployment: RFC 3339.
    pub started_at: Option<String>,
    /// Deployment: RFC 3339, not before `startedAt`.
    pub finished_at: Option<String>,
    /// Deployment: the commits it contains.
    pub commits: Option<Vec<CommitRef>>,
    /// Deployment: the Tekton PipelineRun that made it, as `namespace/name`.
    pub pipeline_run: Option<String>,
    /// Change: the commit id, 7 to 64 hexadecimal digits.
    pub sha: Option<String>,
    /// Change: RFC 3339; a commit listed in a deployment may carry it too.
    pub authored_at: Option<String>,
    /// Change: the id of the deployment event that shipped it.
    pub deployment: Option<String>,
    /// Incident: the incident's own id; events about one incident share it.
    pub incident: Option<String>,
    /// Incident: RFC 3339.
    pub opened_at: Option<String>,
    /// Incident: RFC 3339, not before `openedAt`.
    pub resolved_at: Option<String>,
    /// Incident: as the sender grades it (`critical`, `SEV2`).
    pub severity: Option<String>,
    /// Incident: the id of the deployment event that caused it.
    pub caused_by: Option<String>,
}

/// A commit a deployment contains: its id, or its id and authored time.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CommitRef {
    Sha(String),
    Authored {
        sha: String,
        #[serde(rename = "authoredAt")]
        authored_at: Option<String>,
    },
}

/// What `POST /api/events` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventsIngested {
    /// Events recorded now.
    pub accepted: usize,
    /// Events already recorded with the same source and id, which changed nothing.
    pub duplicates: usize,
}

impl From<&Ingested> for EventsIngested {
    fn from(ingested: &Ingested) -> Self {
        Self {
            accepted: ingested.accepted,
            duplicates: ingested.duplicates,
        }
    }
}

/// Lead or recovery times: how many, their median and 90th percentile by nearest rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    pub count: usize,
    pub median_millis: Option<i64>,
    pub p90_millis: Option<i64>,
}

impl From<&dora::Durations> for Durations {
    fn from(d: &dora::Durations) -> Self {
        Self {
            count: d.count,
            median_millis: d.median_millis,
            p90_millis: d.p90_millis,
        }
    }
}

/// DORA's measures over one period; the rules are in the README.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DoraKeys {
    /// Production deployments that finished in the period, whatever their status.
    pub deployments: usize,
    pub deployments_per_week: f64,
    pub failed_deployments: usize,
    /// Failed ÷ production deployments; absent without deployments.
    pub change_fail_rate: Option<f64>,
    /// From each commit's authored time to its first successful production deployment.
    pub lead_time: Durations,
    /// From a failure to the next successful production deployment or the incident's resolution.
    pub recovery_time: Durations,
    /// Failures in the period not recovered yet.
    pub unrecovered: usize,
    pub rework_deployments: usize,
    /// Rework ÷ production deployments; absent without deployments.
    pub rework_rate: Option<f64>,
}

impl From<&dora::Keys> for DoraKeys {
    fn from(k: &dora::Keys) -> Self {
        Self {
            deployments: k.deployments,
            deployments_per_week: k.deployments_per_week,
            failed_deployments: k.failed_deployments,
            change_fail_rate: k.change_fail_rate,
            lead_time: Durations::from(&k.lead_time),
            recovery_time: Durations::from(&k.recovery_time),
            unrecovered: k.unrecovered,
            rework_deployments: k.rework_deployments,
            rework_rate: k.rework_rate,
        }
    }
}

/// One ISO week's measures, cut to the range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DoraWeek {
    /// `2026-W49`.
    pub week: String,
    /// RFC 3339, included.
    pub start: String,
    /// RFC 3339, excluded.
    pub end: String,
    pub keys: DoraKeys,
}

/// `GET /api/delivery/dora`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dora {
    /// `service`, `team` or `organisation` (every component in the catalog).
    pub scope: String,
    /// The component's or group's normalised reference; absent for the organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The components counted.
    pub services: Vec<String>,
    /// RFC 3339, included.
    pub from: String,
    /// RFC 3339, excluded (the day after the `to` asked for).
    pub to: String,
    /// The environment counted as production.
    pub production: String,
    pub summary: DoraKeys,
    pub weeks: Vec<DoraWeek>,
}

impl From<&dora::Dora> for Dora {
    fn from(d: &dora::Dora) -> Self {
        let iso = causeway_platform::time::iso;
        let (scope, target) = match &d.scope {
            dora::Scope::Service(s) => ("service", Some(s)),
            dora::Scope::Team(t) => ("team", Some(t)),
            dora::Scope::Organisation => ("organisation", None),
        };
        Self {
            scope: scope.to_owned(),
            target: target.cloned(),
            services: d.services.clone(),
            from: iso(d.start),
            to: iso(d.end),
            production: d.production.to_owned(),
            summary: DoraKeys::from(&d.summary),
            weeks: d
                .weeks
                .iter()
                .map(|w| DoraWeek {
                    week: w.week.clone(),
                    start: iso(w.start),
                    end: iso(w.end),
                    keys: DoraKeys::from(&w.keys),
                })
                .collect(),
        }
    }
}
