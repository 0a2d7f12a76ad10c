//! Delivery events as they are sent: a CloudEvents 1.0 event in structured JSON mode, or
//! Causeway's plain JSON form, alone or in a batch (a JSON array). Reading one never stops at the
//! first problem: every field that breaks a rule is reported with its path (`[2].data.status`) and
//! the rule, so that a sender fixes a batch in one round.

use serde_json::{Map, Value};

mod cdevents;

use crate::catalog::Problem;
use crate::catalog::refs;
use crate::{Error, Result};

/// The most events one request may carry; larger histories are sent in several batches.
pub const MAX_BATCH: usize = 1000;
/// The most commits one deployment may list.
pub const MAX_COMMITS: usize = 10_000;
/// The source recorded for plain events that name none, so that their ids are compared with
/// each other and never with a CloudEvents sender's.
pub const PLAIN_SOURCE: &str = "urn:causeway:plain";
/// Where the problems of a request are said to come from.
const PROBLEM_SOURCE: &str = "events";

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

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: &str, rule: impl Into<String>) {
        let field = if field.is_empty() { "(body)" } else { field };
        self.0
            .push(Problem::new(PROBLEM_SOURCE, None, field, rule.into()));
    }

    fn finish<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Rejected(self.0))
        }
    }
}

/// One JSON object being read, with the path that names its fields in problems.
struct Fields<'a, 'p> {
    object: &'a Map<String, Value>,
    at: String,
    problems: &'p mut Problems,
}

impl Fields<'_, '_> {
    fn path(&self, field: &str) -> String {
        if self.at.is_empty() {
            field.to_owned()
        } else if field.starts_with('[') {
            format!("{}{field}", self.at)
        } else {
            format!("{}.{field}", self.at)
        }
    }

    fn problem(&mut self, field: &str, rule: impl Into<String>) {
        let path = self.path(field);
        self.problems.add(&path, rule);
    }

    /// A string field: present when `required`, not blank, at most `max` characters.
    fn text(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "is missing");
                }
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.problem(field, "is empty");
                None
            }
            Some(Value::String(text)) if text.chars().count() > max => {
                self.problem(field, format!("is longer than {max} characters"));
                None
            }
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(_) => {
                self.problem(field, "is not a string");
                None
            }
        }
    }

    /// An RFC 3339 time (`2026-12-01T10:00:00Z`), in milliseconds since the epoch.
    fn time(&mut self, field: &str, required: bool) -> Option<i64> {
        let text = self.text(field, required, 64)?;
        match text.parse::<k8s_openapi::jiff::Timestamp>() {
            Ok(time) => Some(time.as_millisecond()),
            Err(_) => {
                self.problem(
                    field,
                    format!("{text:?} is not an RFC 3339 time such as 2026-12-01T10:00:00Z"),
                );
                None
            }
        }
    }

    /// A git commit id: 7 to 64 hexadecimal digits, kept in lowercase.
    fn sha(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, true, 64)?;
        valid_sha(&text).or_else(|| {
            self.problem(
                field,
                format!("{text:?} is not a commit id: 7 to 64 hexadecimal digits"),
            );
            None
        })
    }

    /// An environment's name: lowercase letters, digits and '-'.
    fn environment(&mut self, field: &str) -> Option<String> {
        let env = self.text(field, true, 63)?;
        if env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            Some(env)
        } else {
            self.problem(
                field,
                "must be an environment's name: lowercase letters, digits and '-'",
            );
            None
        }
    }

    /// An optional PipelineRun as `namespace/name`: two Kubernetes names (lowercase letters,
    /// digits, '-' and, in the name, '.') joined by one '/'.
    fn pipeline_run(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, false, 317)?;
        let valid = text.split_once('/').is_some_and(|(namespace, name)| {
            let label = |s: &str, dots: bool| {
                !s.is_empty()
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || c == '-'
                            || (dots && c == '.')
                    })
            };
            namespace.len() <= 63
                && name.len() <= 253
                && label(namespace, false)
                && label(name, true)
        });
        if valid {
            Some(text)
        } else {
            self.problem(
                field,
                format!(
                    "{text:?} is not a PipelineRun as namespace/name (lowercase letters, digits, '-', and '.' in the name)"
                ),
            );
            None
        }
    }

    fn service(&mut self) -> Option<String> {
        self.reference("service")
    }

    /// A component's entity reference in `field`, normalised (`payments-api` reads as
    /// `component:default/payments-api`).
    fn reference(&mut self, field: &str) -> Option<String> {
        let text = self.text(field, true, 300)?;
        match refs::parse(&text, "component", "default") {
            Ok(service) => Some(service),
            Err(message) => {
                self.problem(field, message);
                None
            }
        }
    }

    /// A nested object in `field`, read with the same problems and a longer path.
    fn nested(&mut self, field: &str, required: bool) -> Option<Fields<'_, '_>> {
        match self.object.get(field) {
            Some(Value::Object(object)) => Some(Fields {
                object,
                at: self.path(field),
                problems: self.problems,
            }),
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "is missing");
                }
                None
            }
            Some(_) => {
                self.problem(field, "is not a JSON object");
                None
            }
        }
    }

    /// `commits`: an array of commit ids, or of objects `{sha, authoredAt}`.
    fn commits(&mut self) -> Option<Vec<Commit>> {
        let items = match self.object.get("commits") {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem("commits", "is not an array");
                return None;
            }
        };
        if items.len() > MAX_COMMITS {
            self.problem("commits", format!("lists more than {MAX_COMMITS} commits"));
            return None;
        }
        let mut commits = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = self.path(&format!("commits[{i}]"));
            match item {
                Value::String(text) => match valid_sha(text.trim()) {
                    Some(sha) => commits.push(Commit {
                        sha,
                        authored_at: None,
                    }),
                    None => {
                        ok = false;
                        self.problems.add(
                            &at,
                            format!("{text:?} is not a commit id: 7 to 64 hexadecimal digits"),
                        );
                    }
                },
                Value::Object(object) => {
                    let mut fields = Fields {
                        object,
                        at,
                        problems: self.problems,
                    };
                    let sha = fields.sha("sha");
                    let authored_at = fields.time("authoredAt", false);
                    match sha {
                        Some(sha) => commits.push(Commit { sha, authored_at }),
                        None => ok = false,
                    }
                }
                _ => {
                    ok = false;
                    self.problems.add(
                        &at,
                        "is neither a commit id nor an object {sha, authoredAt}",
                    );
                }
            }
        }
        ok.then_some(commits)
    }
}

fn valid_sha(text: &str) -> Option<String> {
    ((7..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_of(error: Error) -> Vec<String> {
        match error {
            Error::Rejected(problems) => problems.into_iter().map(|p| p.field).collect(),
            other => panic!("expected Rejected, got {other}"),
        }
    }

    #[test]
    fn a_cloud_event_and_its_plain_form_read_the_same() {
        let cloud = json!({
            "specversion": "1.0", "id": "d-1", "source": "ci", "type": "dev.cdevents.service.deployed.0.2.0",
            "time": "2026-12-01T10:05:00Z",
            "data": {"service": "payments-api", "environment": "prod", "version": "1.2.0",
                     "status": "succeeded", "startedAt": "2026-12-01T10:00:00Z",
                     "commits": ["ABCDEF1", {"sha": "1234567", "authoredAt": "2026-11-30T09:00:00Z"}]}
        });
        let plain = json!({
            "kind": "deployment", "id": "d-1", "source": "ci", "service": "component:default/payments-api",
            "environment": "prod", "version": "1.2.0", "status": "succeeded",
            "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:05:00Z",
            "commits": ["abcdef1", {"sha": "1234567", "authoredAt": "2026-11-30T09:00:00Z"}]
        });
        let cloud = parse(&cloud).expect("cloud event");
        assert_eq!(cloud, parse(&plain).expect("plain event"));
        assert_eq!(cloud[0].service, "component:default/payments-api");
    }

    #[test]
    fn every_bad_field_is_named() {
        let batch = json!([
            {"kind": "deployment", "id": "", "service": "payments-api", "environment": "Prod",
             "status": "done", "startedAt": "yesterday", "finishedAt": "2026-12-01T10:00:00Z",
             "commits": ["xyz"]},
            {"specversion": "0.3", "id": "e", "source": "s", "type": "com.example.other", "data": {}},
            {"kind": "incident", "id": "i", "service": "payments-api", "incident": "INC-1",
             "openedAt": "2026-12-01T10:00:00Z", "resolvedAt": "2026-12-01T09:00:00Z"},
        ]);
        let fields = fields_of(parse(&batch).expect_err("refused"));
        assert_eq!(
            fields,
            [
                "[0].id",
                "[0].environment",
                "[0].version",
                "[0].status",
                "[0].startedAt",
                "[0].commits[0]",
                "[1].specversion",
                "[1].type",
                "[2].resolvedAt",
                "[2].severity",
            ]
        );
    }
}
