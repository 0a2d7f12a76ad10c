//! CDEvents' own layout (spec v0.4): a `context` (`version`, `id`, `source`, `type`,
//! `timestamp`) and a `subject` (`id`, `source`, `type`, `content`), sent alone or as the `data`
//! of a CloudEvent. What each type carries is mapped to Causeway's fields; what CDEvents does not
//! carry but Causeway needs is read from `customData`, and a problem names the field the sender
//! must add.
//!
//! | type | Causeway reads |
//! |---|---|
//! | `service.deployed`, `service.upgraded` | a successful deployment: `subject.id` the component, `subject.content.environment.id` the environment, `subject.content.artifactId` the version, `context.timestamp` its finish (and start, unless `customData.startedAt`); `customData.commits` and `customData.pipelineRun` when given |
//! | `service.rolledback` | the same, status `rolled_back` |
//! | `change.merged` | a change: `customData.sha` (else `subject.id`) the commit, `customData.authoredAt` (else `context.timestamp`) its time, `customData.service` the component |
//! | `incident.detected`, `incident.reported` | an incident opened at `context.timestamp`: `subject.id` the incident, `subject.content.service.id` the component, `customData.severity` (else `unknown`), `customData.causedBy` |
//! | `incident.resolved` | the same incident resolved at `context.timestamp` |

use serde_json::{Map, Value};

use super::{Change, Deployment, Event, Fields, Incident, Payload, Status};

/// Whether `object` is laid out as a CDEvent.
pub(super) fn is_cdevent(object: &Map<String, Value>) -> bool {
    object.contains_key("context") && object.contains_key("subject")
}

/// What a CDEvents type is to Causeway.
#[derive(Clone, Copy)]
enum Kind {
    Deployment(Status),
    Change,
    Incident { resolved: bool },
}

/// The kind of a CDEvents type; its version suffix (`.0.2.0`) is accepted whatever it is.
fn kind_of(event_type: &str) -> Option<Kind> {
    const KINDS: &[(&str, Kind)] = &[
        (
            "dev.cdevents.service.deployed.",
            Kind::Deployment(Status::Succeeded),
        ),
        (
            "dev.cdevents.service.upgraded.",
            Kind::Deployment(Status::Succeeded),
        ),
        (
            "dev.cdevents.service.rolledback.",
            Kind::Deployment(Status::RolledBack),
        ),
        ("dev.cdevents.change.merged.", Kind::Change),
        (
            "dev.cdevents.incident.detected.",
            Kind::Incident { resolved: false },
        ),
        (
            "dev.cdevents.incident.reported.",
            Kind::Incident { resolved: false },
        ),
        (
            "dev.cdevents.incident.resolved.",
            Kind::Incident { resolved: true },
        ),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| event_type.starts_with(prefix))
        .map(|(_, kind)| *kind)
}

/// The identity and time a CDEvent's context gives.
struct Context {
    id: Option<String>,
    source: Option<String>,
    kind: Option<Kind>,
    timestamp: Option<i64>,
}

fn read_context(fields: &mut Fields<'_, '_>) -> Option<Context> {
    let mut context = fields.nested("context", true)?;
    context.text("version", true, 32);
    let id = context.text("id", true, 200);
    let source = context.text("source", true, 500);
    let kind = context.text("type", true, 200).and_then(|t| {
        let kind = kind_of(&t);
        if kind.is_none() {
            context.problem(
                "type",
                format!(
                    "{t:?} is not a CDEvents type Causeway records; expected \
                     dev.cdevents.service.deployed|upgraded|rolledback, change.merged or \
                     incident.detected|reported|resolved with its version"
                ),
            );
        }
        kind
    });
    let timestamp = context.time("timestamp", true);
    Some(Context {
        id,
        source,
        kind,
        timestamp,
    })
}

/// What `customData` adds for Causeway (read only for the kinds that use each field).
#[derive(Default)]
struct Custom {
    started_at: Option<i64>,
    commits: Option<Vec<super::Commit>>,
    pipeline_run: Option<String>,
    service: Option<String>,
    sha: Option<Option<String>>,
    authored_at: Option<i64>,
    severity: Option<String>,
    caused_by: Option<String>,
    opened_at: Option<i64>,
}

fn read_custom(fields: &mut Fields<'_, '_>, kind: Kind, time: Option<i64>) -> Custom {
    let empty = Map::new();
    // `customData` is an object when Causeway's fields are in it; anything else is the sender's
    // own, which CDEvents allows, and is ignored.
    let object = match fields.object.get("customData") {
        Some(Value::Object(object)) => object,
        _ => &empty,
    };
    let mut custom = Fields {
        object,
        at: fields.path("customData"),
        problems: fields.problems,
    };
    let mut out = Custom::default();
    match kind {
        Kind::Deployment(_) => {
            out.started_at = custom.time("startedAt", false);
            if let (Some(start), Some(end)) = (out.started_at, time)
                && start > end
            {
                custom.problem("startedAt", "is after context.timestamp, when it finished");
            }
            out.commits = custom.commits();
            out.pipeline_run = custom.pipeline_run("pipelineRun");
        }
        Kind::Change => {
            out.service = custom.reference("service");
            out.sha = object.contains_key("sha").then(|| custom.sha("sha"));
            out.authored_at = custom.time("authoredAt", false);
        }
        Kind::Incident { .. } => {
            out.severity = custom.text("severity", false, 50);
            out.caused_by = custom.text("causedBy", false, 200);
            out.opened_at = custom.time("openedAt", false);
        }
    }
    out
}

/// Reads a CDEvent from `fields` (the event itself, or a CloudEvent's `data`).
pub(super) fn read(fields: &mut Fields<'_, '_>) -> Option<Event> {
    let context = read_context(fields);
    let kind = context.as_ref().and_then(|c| c.kind);
    let time = context.as_ref().and_then(|c| c.timestamp);
    let custom = kind.map(|kind| read_custom(fields, kind, time));
    let mut subject = fields.nested("subject", true)?;
    let (context, kind, custom) = (context?, kind?, custom?);
    let (service, payload) = match kind {
        Kind::Deployment(status) => {
            let service = subject.reference("id");
            let mut content = subject.nested("content", true)?;
            let environment = content
                .nested("environment", true)
                .and_then(|mut e| e.environment("id"));
            let version = content
                .text("artifactId", true, 500)
                .map(|a| version_of(&a));
            let finished_at = time?;
            let started_at = custom.started_at.unwrap_or(finished_at);
            if started_at > finished_at {
                return None;
            }
            (
                service,
                Payload::Deployment(Deployment {
                    environment: environment?,
                    version: version?,
                    status,
                    started_at,
                    finished_at,
                    commits: custom.commits?,
                    pipeline_run: custom.pipeline_run,
                }),
            )
        }
        Kind::Change => {
            let sha = match custom.sha {
                Some(sha) => sha,
                None => subject.sha("id"),
            };
            (
                custom.service,
                Payload::Change(Change {
                    sha: sha?,
                    authored_at: custom.authored_at.or(time)?,
                    deployment: None,
                }),
            )
        }
        Kind::Incident { resolved } => {
            let incident = subject.text("id", true, 200);
            let service = subject.nested("content", true).and_then(|mut content| {
                content
                    .nested("service", true)
                    .and_then(|mut service| service.reference("id"))
            });
            let resolved_at = if resolved { time } else { None };
            // A resolution alone says when it ended, not when it began: the incident counts as
            // opened then, unless an earlier event (or `customData.openedAt`) said otherwise.
            let opened_at = custom.opened_at.or(time)?;
            (
                service,
                Payload::Incident(Incident {
                    incident: incident?,
                    opened_at: resolved_at.map_or(opened_at, |r| opened_at.min(r)),
                    resolved_at,
                    severity: custom.severity.unwrap_or_else(|| "unknown".to_owned()),
                    caused_by: custom.caused_by,
                }),
            )
        }
    };
    Some(Event {
        source: context.source?,
        id: context.id?,
        service: service?,
        payload,
    })
}

/// The version a package URL names (`pkg:oci/myapp@sha256%3A0b31…` → `sha256:0b31…`), or the
/// artifact id itself when it names none (CDEvents also allows a bare digest or file name).
fn version_of(artifact: &str) -> String {
    let Some(rest) = artifact.strip_prefix("pkg:") else {
        return artifact.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.rsplit_once('@') {
        Some((_, version)) if !version.is_empty() => {
            version.replace("%3A", ":").replace("%3a", ":")
        }
        _ => artifact.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Payload, Status, parse};
    use crate::Error;

    fn problems(body: &Value) -> Vec<(String, String)> {
        match parse(body) {
            Err(Error::Rejected(problems)) => {
                problems.into_iter().map(|p| (p.field, p.message)).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    /// The spec's `service_deployed.json` example, with a component and environment Causeway
    /// knows.
    fn deployed() -> Value {
        json!({
            "context": {
                "version": "0.4.1",
                "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
                "source": "/event/source/123",
                "type": "dev.cdevents.service.deployed.0.2.0",
                "timestamp": "2023-03-20T14:27:05.315384Z"
            },
            "subject": {
                "id": "payments-api",
                "source": "/event/source/123",
                "type": "service",
                "content": {
                    "environment": { "id": "prod" },
                    "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
                }
            }
        })
    }

    #[test]
    fn a_service_deployed_cdevent_is_a_deployment_alone_or_in_a_cloud_event() {
        let alone = parse(&deployed()).expect("a CDEvent");
        let wrapped = parse(&json!({
            "specversion": "1.0", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "/event/source/123", "type": "dev.cdevents.service.deployed.0.2.0",
            "datacontenttype": "application/json", "data": deployed(),
        }))
        .expect("a CDEvent in a CloudEvent");
        assert_eq!(alone, wrapped);
        let event = &alone[0];
        assert_eq!(event.id, "271069a8-fc18-44f1-b38f-9d70a1695819");
        assert_eq!(event.source, "/event/source/123");
        assert_eq!(event.service, "component:default/payments-api");
        let Payload::Deployment(deployment) = &event.payload else {
            panic!("a deployment")
        };
        assert_eq!(deployment.environment, "prod");
        assert_eq!(
            deployment.version,
            "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
        );
        assert_eq!(deployment.status, Status::Succeeded);
        assert_eq!(deployment.started_at, deployment.finished_at);
        assert_eq!(deployment.finished_at, 1_679_322_425_315);

        let mut rolled = deployed();
        rolled["context"]["type"] = json!("dev.cdevents.service.rolledback.0.2.0");
        rolled["customData"] = json!({
            "startedAt": "2023-03-20T14:20:00Z", "commits": ["abcdef1"],
            "pipelineRun": "payments-api-prod/delivery-1",
        });
        let Payload::Deployment(deployment) = &parse(&rolled).expect("rolled back")[0].payload
        else {
            panic!("a deployment")
        };
        assert_eq!(deployment.status, Status::RolledBack);
        assert_eq!(deployment.commits[0].sha, "abcdef1");
        assert_eq!(
            deployment.pipeline_run.as_deref(),
            Some("payments-api-prod/delivery-1")
        );
        assert!(deployment.started_at < deployment.finished_at);
    }

    #[test]
    fn a_missing_required_field_is_named_by_its_cdevents_path() {
        let mut event = deployed();
        event["subject"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("environment");
        event["context"]
            .as_object_mut()
            .unwrap()
            .remove("timestamp");
        let found = problems(&event);
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["context.timestamp", "subject.content.environment"],
            "{found:?}"
        );
        assert!(found.iter().all(|(_, m)| m == "is missing"));

        let mut event = deployed();
        event["context"]["type"] = json!("dev.cdevents.build.finished.0.2.0");
        assert_eq!(problems(&event)[0].0, "context.type");
    }

    #[test]
    fn a_merged_change_needs_its_commit_and_service() {
        // The spec's `change_merged.json`: it names a change and a repository, but neither the
        // commit nor the component.
        let merged = json!({
            "context": {
                "version": "0.4.1", "id": "c-1", "source": "/event/source/123",
                "type": "dev.cdevents.change.merged.0.2.0",
                "timestamp": "2023-03-20T14:27:05.315384Z"
            },
            "subject": {
                "id": "mySubject123", "source": "/event/source/123", "type": "change",
                "content": { "repository": { "id": "TestRepo/TestOrg", "source": "https://example.org" } }
            }
        });
        let fields: Vec<String> = problems(&merged).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["customData.service", "subject.id"]);

        let mut merged = merged;
        merged["customData"] = json!({ "service": "payments-api", "sha": "ABCDEF1234" });
        let event = &parse(&merged).expect("a change")[0];
        assert_eq!(event.service, "component:default/payments-api");
        let Payload::Change(change) = &event.payload else {
            panic!("a change")
        };
        assert_eq!(change.sha, "abcdef1234");
        assert_eq!(change.authored_at, 1_679_322_425_315);
    }

    #[test]
    fn incidents_open_and_resolve_by_the_subject_id() {
        // The spec's `incident_detected.json` and `incident_resolved.json`.
        let incident = |kind: &str, id: &str, time: &str| {
            json!({
                "context": {
                    "version": "0.4.1", "id": id, "source": "/monitoring/prod1",
                    "type": format!("dev.cdevents.incident.{kind}.0.2.0"), "timestamp": time
                },
                "subject": {
                    "id": "incident-123", "source": "/monitoring/prod1", "type": "incident",
                    "content": {
                        "description": "Response time above threshold of 100ms",
                        "environment": { "id": "prod1", "source": "/iaas/geo1" },
                        "service": { "id": "payments-api", "source": "/clusterA/namespaceB" },
                        "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
                    }
                },
                "customData": { "metric": "responseTime", "severity": "page" },
                "customDataContentType": "application/json"
            })
        };
        let events = parse(&json!([
            incident("detected", "e-1", "2022-11-11T13:52:20.079Z"),
            incident("resolved", "e-2", "2022-11-11T14:52:20.079Z"),
        ]))
        .expect("incidents");
        let [Payload::Incident(opened), Payload::Incident(resolved)] =
            [&events[0].payload, &events[1].payload]
        else {
            panic!("incidents")
        };
        assert_eq!(opened.incident, "incident-123");
        assert_eq!(opened.severity, "page");
        assert_eq!(opened.resolved_at, None);
        assert_eq!(resolved.incident, "incident-123");
        assert_eq!(resolved.resolved_at, Some(opened.opened_at + 3_600_000));
        assert_eq!(events[0].service, "component:default/payments-api");

        let mut nameless = incident("detected", "e-3", "2022-11-11T13:52:20.079Z");
        nameless["subject"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("service");
        assert_eq!(problems(&nameless)[0].0, "subject.content.service");
    }
}
