//! Delivery events as they are sent: a CloudEvents 1.0 event in structured JSON mode, or
//! Causeway's plain JSON form, alone or in a batch (a JSON array). Reading one never stops at the
//! first problem: every field that breaks a rule is reported with its path (`[2].data.status`) and
//! the rule, so that a sender fixes a batch in one round.

use serde_json::Value;

mod cdevents;
mod fields;
#[cfg(test)]
mod tests;

use fields::{Fields, Problems};

use crate::Result;

/// The most events one request may carry; larger histories are sent in several batches.
pub const MAX_BATCH: usize = 1000;
/// The most commits one deployment may list.
pub const MAX_COMMITS: usize = 10_000;
/// The source recorded for plain events that name none, so that their ids are compared with
/// each other and never with a CloudEvents sender's.
pub const PLAIN_SOURCE: &str = "urn:causeway:plain";
/// Where the problems of a request are said to come from.
pub(super) const PROBLEM_SOURCE: &str = "events";

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It reached the environment and stayed.
    Succeeded,
    /// It did not reach the environment.
    Failed,
    /// It reached the environment and was taken back.
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "rolled_back" => Some(Self::RolledBack),
            _ => None,
        }
    }
}

/// A commit a deployment contains; its authored time is known when the sender gives it here or
/// in a change event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Lowercase hexadecimal.
    pub sha: String,
    pub authored_at: Option<i64>,
}

/// A deployment of a service to an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub environment: String,
    /// The version or commit deployed.
    pub version: String,
    pub status: Status,
    pub started_at: i64,
    pub finished_at: i64,
    pub commits: Vec<Commit>,
    /// The PipelineRun that made it, as `namespace/name`, when the sender knows it.
    pub pipeline_run: Option<String>,
}

/// A commit of a service, with the time it was authored and, when known, the deployment that
/// shipped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sha: String,
    pub authored_at: i64,
    pub deployment: Option<String>,
}

/// An incident of a service. Several events may describe one incident (opened, then resolved);
/// they share its `incident` id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub incident: String,
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    pub severity: String,
    /// The deployment (an event id of the same service) that caused it, when known.
    pub caused_by: Option<String>,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Deployment(Deployment),
    Change(Change),
    Incident(Incident),
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deployment(_) => "deployment",
            Self::Change(_) => "change",
            Self::Incident(_) => "incident",
        }
    }
}

/// One delivery event, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The sender (CloudEvents' `source`); with `id`, the event's identity.
    pub source: String,
    pub id: String,
    /// The service's normalised entity reference.
    pub service: String,
    pub payload: Payload,
}

/// Reads `body`: one event or an array of them, each in CloudEvents' structured form (it has
/// `specversion`) or the plain form (it has `kind`). Every problem is returned at once.
pub fn parse(body: &Value) -> Result<Vec<Event>> {
    let mut problems = Problems::default();
    let events = match body {
        Value::Array(items) => {
            if items.is_empty() {
                problems.add("", "is an empty batch; send at least one event");
            }
            if items.len() > MAX_BATCH {
                problems.add(
                    "",
                    format!(
                        "holds {} events; a batch holds at most {MAX_BATCH}",
                        items.len()
                    ),
                );
            }
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| read_event(item, &format!("[{i}]"), &mut problems))
                .collect()
        }
        item => read_event(item, "", &mut problems).into_iter().collect(),
    };
    problems.finish(events)
}

/// The CloudEvents types read as each kind. CDEvents' types carry their version as a suffix
/// (`dev.cdevents.service.deployed.0.2.0`), which is accepted whatever it is; their `data` is read
/// in Causeway's plain fields.
fn kind_of_type(event_type: &str) -> Option<&'static str> {
    const DEPLOYMENT: &[&str] = &[
        "dev.cdevents.service.deployed.",
        "dev.cdevents.service.upgraded.",
        "dev.cdevents.service.rolledback.",
    ];
    const CHANGE: &[&str] = &["dev.cdevents.change.merged."];
    const INCIDENT: &[&str] = &[
        "dev.cdevents.incident.detected.",
        "dev.cdevents.incident.reported.",
        "dev.cdevents.incident.resolved.",
    ];
    match event_type {
        "dev.causeway.deployment.finished" => return Some("deployment"),
        "dev.causeway.change.authored" => return Some("change"),
        "dev.causeway.incident.opened" | "dev.causeway.incident.resolved" => {
            return Some("incident");
        }
        _ => {}
    }
    let versioned = |prefixes: &[&str]| prefixes.iter().any(|p| event_type.starts_with(p));
    if versioned(DEPLOYMENT) {
        Some("deployment")
    } else if versioned(CHANGE) {
        Some("change")
    } else if versioned(INCIDENT) {
        Some("incident")
    } else {
        None
    }
}

fn read_event(item: &Value, at: &str, problems: &mut Problems) -> Option<Event> {
    let Some(object) = item.as_object() else {
        problems.add(at, "is not a JSON object; an event is an object");
        return None;
    };
    let mut fields = Fields {
        object,
        at: at.to_owned(),
        problems,
    };
    if object.contains_key("specversion") {
        read_cloud_event(&mut fields)
    } else if cdevents::is_cdevent(object) {
        cdevents::read(&mut fields)
    } else {
        read_plain_event(&mut fields)
    }
}

fn read_cloud_event(fields: &mut Fields<'_, '_>) -> Option<Event> {
    let version = fields.text("specversion", true, 16);
    if version.as_deref().is_some_and(|v| v != "1.0") {
        fields.problem("specversion", "must be \"1.0\" (CloudEvents 1.0)");
    }
    let id = fields.text("id", true, 200);
    let source = fields.text("source", true, 500);
    let event_type = fields.text("type", true, 200);
    let kind = event_type.as_deref().and_then(|t| {
        let kind = kind_of_type(t);
        if kind.is_none() {
            fields.problem(
                "type",
                format!(
                    "{t:?} is not a delivery event type; expected dev.causeway.deployment.finished, \
                     dev.causeway.change.authored, dev.causeway.incident.opened|resolved or a CDEvents \
                     dev.cdevents.service.deployed|upgraded|rolledback, change.merged or \
                     incident.detected|reported|resolved type"
                ),
            );
        }
        kind
    });
    if let Some(content_type) = fields.text("datacontenttype", false, 200)
        && !content_type.starts_with("application/json")
    {
        fields.problem(
            "datacontenttype",
            "must be application/json; events are read in structured JSON mode",
        );
    }
    let time = fields.time("time", false);
    let data = match fields.object.get("data") {
        Some(Value::Object(data)) => Some(data),
        Some(_) => {
            fields.problem("data", "is not a JSON object");
            None
        }
        None => {
            fields.problem("data", "is missing; it holds the event's fields");
            None
        }
    };
    let at = fields.path("data");
    let mut data_fields = Fields {
        object: data?,
        at,
        problems: fields.problems,
    };
    // CDEvents' CloudEvents binding puts the whole CDEvent (its context and subject) in `data`.
    if cdevents::is_cdevent(data_fields.object) {
        return cdevents::read(&mut data_fields);
    }
    let payload = read_payload(&mut data_fields, kind?, time)?;
    let service = data_fields.service()?;
    Some(Event {
        source: source?,
        id: id?,
        service,
        payload,
    })
}

fn read_plain_event(fields: &mut Fields<'_, '_>) -> Option<Event> {
    let kind = fields.text("kind", true, 20);
    let kind = kind.as_deref().and_then(|k| match k {
        "deployment" => Some("deployment"),
        "change" => Some("change"),
        "incident" => Some("incident"),
        other => {
            fields.problem(
                "kind",
                format!(
                    "{other:?} is not a kind of event; expected deployment, change or incident"
                ),
            );
            None
        }
    });
    let id = fields.text("id", true, 200);
    let source = fields
        .text("source", false, 500)
        .unwrap_or_else(|| PLAIN_SOURCE.to_owned());
    let service = fields.service();
    let payload = read_payload(fields, kind?, None)?;
    Some(Event {
        source,
        id: id?,
        service: service?,
        payload,
    })
}

/// The fields of one kind of event; `time` (CloudEvents' attribute) stands in for the time the
/// event is about when the data does not give it.
fn read_payload(fields: &mut Fields<'_, '_>, kind: &str, time: Option<i64>) -> Option<Payload> {
    match kind {
        "deployment" => {
            let environment = fields.environment("environment");
            let version = fields.text("version", true, 200);
            let status = fields.text("status", true, 20).and_then(|s| {
                let status = Status::parse(&s);
                if status.is_none() {
                    fields.problem(
                        "status",
                        format!("{s:?} is not a status; expected succeeded, failed or rolled_back"),
                    );
                }
                status
            });
            let started_at = fields.time("startedAt", true);
            let finished_at = fields.time("finishedAt", time.is_none()).or(time);
            if let (Some(start), Some(end)) = (started_at, finished_at)
                && end < start
            {
                fields.problem("finishedAt", "is before startedAt");
            }
            let commits = fields.commits();
            let pipeline_run = fields.pipeline_run("pipelineRun");
            Some(Payload::Deployment(Deployment {
                environment: environment?,
                version: version?,
                status: status?,
                started_at: started_at?,
                finished_at: finished_at?,
                commits: commits?,
                pipeline_run,
            }))
        }
        "change" => {
            let sha = fields.sha("sha");
            let authored_at = fields.time("authoredAt", true);
            let deployment = fields.text("deployment", false, 200);
            Some(Payload::Change(Change {
                sha: sha?,
                authored_at: authored_at?,
                deployment,
            }))
        }
        _ => {
            let incident = fields.text("incident", true, 200);
            let opened_at = fields.time("openedAt", true);
            let resolved_at = fields.time("resolvedAt", false);
            if let (Some(open), Some(resolved)) = (opened_at, resolved_at)
                && resolved < open
            {
                fields.problem("resolvedAt", "is before openedAt");
            }
            let severity = fields.text("severity", true, 50);
            let caused_by = fields.text("causedBy", false, 200);
            Some(Payload::Incident(Incident {
                incident: incident?,
                opened_at: opened_at?,
                resolved_at,
                severity: severity?,
                caused_by,
            }))
        }
    }
}
