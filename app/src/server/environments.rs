//! Building the environment and task pages' views from the provisioning engine and the tasks
//! store.

use std::collections::BTreeMap;

use causeway_platform::catalog::Problem;
use causeway_platform::identity::Principal;
use causeway_platform::provision::config::{Environment, Expiry, Target};
use causeway_platform::provision::expiry::{expires_in, human};
use causeway_platform::provision::guardrails;
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::records::{Drift, Record};
use causeway_platform::provision::{Provisioner, Request, Requester};
use causeway_platform::tasks::{Event, Task};
use causeway_platform::time::display;
use causeway_platform::{Error, catalog::refs};
use leptos::prelude::*;

use crate::model::{
    DriftRow, EnvironmentCard, EventRow, ExpiryView, LinkView, ObjectRow, ParamField, PlanStep,
    RecordView, StepRow, TaskView, ref_path,
};

/// The provisioning engine the host put into the request's context.
pub fn provisioner() -> Result<Provisioner, crate::error::PortalError> {
    use_context::<Provisioner>().ok_or_else(|| {
        crate::error::PortalError::internal("the provisioning engine is not available")
    })
}

/// A request from the portal: the form's non-empty parameters.
pub fn request(
    principal: &Principal,
    service: &str,
    environment: &str,
    values: &BTreeMap<String, String>,
) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        set: values
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect(),
        request_id: format!("portal-{}", uuid::Uuid::new_v4()),
        requester: Requester::of(principal),
        // Adopting a namespace is a platform admin's deliberate act through the API or the
        // command line, never a side effect of a form.
        adopt: false,
    }
}

/// The form of `environment`'s parameters, filled with `values` (or the defaults).
pub fn fields(environment: &Environment, values: &BTreeMap<String, String>) -> Vec<ParamField> {
    guardrails::fields(&environment.quota)
        .into_iter()
        .map(|f| ParamField {
            name: f.name.to_owned(),
            help: f.help.to_owned(),
            value: values.get(f.name).cloned().unwrap_or_default(),
            default: f.default,
            error: None,
            denials: Vec::new(),
        })
        .collect()
}

/// Puts each problem next to its field (`set.cpu` → `cpu`); returns those that fit no field.
pub fn place(fields: &mut [ParamField], problems: Vec<Problem>) -> Vec<String> {
    let mut general = Vec::new();
    for problem in problems {
        let name = problem.field.strip_prefix("set.").unwrap_or(&problem.field);
        match fields.iter_mut().find(|f| f.name == name) {
            Some(field) => field.error = Some(problem.message),
            None => general.push(format!("{}: {}", problem.field, problem.message)),
        }
    }
    general
}

/// A domain error as a form shows it.
pub fn form_errors(fields: &mut [ParamField], error: Error) -> Vec<String> {
    match error {
        Error::Rejected(problems) => place(fields, problems),
        Error::InvalidInput { .. } | Error::Forbidden(_) | Error::Cluster(_) => {
            vec![error.to_string()]
        }
        other => {
            leptos::logging::error!("environment request failed: {other}");
            vec!["internal error; the server log has the details".to_owned()]
        }
    }
}

/// Whether `principal` may change `service`'s environments.
pub fn may_change(provisioner: &Provisioner, principal: &Principal, service: &str) -> bool {
    provisioner.authorize(principal, service).is_ok()
}

pub fn target(environment: &Environment) -> String {
    match &environment.target {
        Target::Cluster { name } => format!("cluster {name}"),
        Target::Gitops {
            repository,
            cluster,
        } => format!("git repository {} ({cluster})", repository.display()),
    }
}

pub fn record(record: &Record) -> RecordView {
    RecordView {
        status: record.status.as_str().to_owned(),
        message: record.message.clone(),
        requested_by: record.requested_by.clone(),
        request_id: record.request_id.clone(),
        updated_at: display(record.updated_at_millis),
        parameters: record
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The lifetime of an environment that expires, and of its record if it is provisioned.
pub fn expiry(expiry: &Expiry, record: Option<&Record>, now: i64) -> ExpiryView {
    let at = record.and_then(|r| r.expires_at_millis);
    ExpiryView {
        ttl: human(expiry.ttl_seconds),
        max: human(expiry.max_seconds),
        ttl_hours: (expiry.ttl_seconds / 3600).max(1),
        max_hours: (expiry.max_seconds / 3600).max(1),
        expires_at: at.map(display),
        expires_in: at.map(|at| expires_in(at, now)),
        reminded_at: record.and_then(|r| r.reminded_at_millis).map(display),
    }
}

/// How each object compares with the record.
pub fn objects(steps: &[Step]) -> Vec<ObjectRow> {
    steps
        .iter()
        .map(|step| {
            let (object, state) = match step {
                Step::Unchanged { object } => (object, "in sync"),
                Step::Create { object } => (object, "missing"),
                Step::Update { object, .. } => (object, "differs"),
                Step::Conflict { object, .. } => (object, "conflict"),
                Step::Delete { object } => (object, "left over"),
            };
            ObjectRow {
                object: object.clone(),
                state: state.to_owned(),
            }
        })
        .collect()
}

pub fn plan_steps(steps: &[Step]) -> Vec<PlanStep> {
    steps
        .iter()
        .map(|step| match step {
            Step::Create { object } => plain("create", object),
            Step::Unchanged { object } => plain("unchanged", object),
            Step::Delete { object } => plain("delete", object),
            Step::Conflict { object, message } => PlanStep {
                message: Some(message.clone()),
                ..plain("conflict", object)
            },
            Step::Update { object, fields } => PlanStep {
                fields: fields
                    .iter()
                    .map(|f| (f.path.clone(), f.live.to_string(), f.desired.to_string()))
                    .collect(),
                ..plain("update", object)
            },
        })
        .collect()
}

fn plain(action: &str, object: &str) -> PlanStep {
    PlanStep {
        action: action.to_owned(),
        object: object.to_owned(),
        fields: Vec::new(),
        message: None,
    }
}

pub fn drift(drift: &[Drift]) -> Vec<DriftRow> {
    drift
        .iter()
        .map(|d| DriftRow {
            at: display(d.at_millis),
            object: d.object.clone(),
            change: d.change.clone(),
            action: d.action.clone(),
        })
        .collect()
}

/// Where to look at an environment: its dashboard, from the configuration's URL pattern.
pub fn links(
    provisioner: &Provisioner,
    environment: &Environment,
    namespace: &str,
) -> Vec<LinkView> {
    let config = provisioner.config();
    vec![LinkView {
        title: "RED dashboard".to_owned(),
        url: config.link(&config.dashboard_url, namespace, environment),
    }]
}

pub fn task(task: &Task, now: i64) -> TaskView {
    let elapsed = |start: Option<i64>, end: Option<i64>| start.map(|s| end.unwrap_or(now) - s);
    let environments_href = task
        .input
        .get("service")
        .and_then(|s| s.as_str())
        .and_then(|s| refs::parse(s, "component", "default").ok())
        .map(|r| format!("{}/environments", ref_path(&r.to_string())));
    TaskView {
        id: task.id.clone(),
        title: task.title.clone(),
        kind: task.kind.clone(),
        status: task.status.as_str().to_owned(),
        requester: task.requester.clone(),
        owner: task.owner.clone(),
        created_at: display(task.created_at_millis),
        elapsed_ms: elapsed(task.started_at_millis, task.finished_at_millis),
        attempts: task.attempts,
        error: task.error.clone(),
        cancel_requested: task.cancel_requested,
        steps: task
            .steps
            .iter()
            .map(|s| StepRow {
                name: s.name.clone(),
                title: s.title.clone(),
                status: s.status.clone(),
                attempts: s.attempts,
                elapsed_ms: elapsed(s.started_at_millis, s.finished_at_millis),
                message: s.message.clone(),
            })
            .collect(),
        environments_href,
        // Backstage shows a run's links and text once it has succeeded; so does the task page.
        output: task
            .output
            .as_ref()
            .filter(|_| task.status == causeway_platform::tasks::TaskStatus::Completed)
            .map(super::create::output::task_output)
            .filter(|o| !o.is_empty()),
    }
}

pub fn events(events: &[Event]) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            id: e.id,
            at: display(e.at_millis),
            step: e.step.clone(),
            level: e.level.clone(),
            message: e.message.clone(),
        })
        .collect()
}

/// One environment of `service_ref` as its card shows it. The record (and so the destroy form)
/// is shown even when the live state cannot be read or the request would no longer pass the
/// guardrails: the namespace comes from the service reference alone.
pub async fn card(
    provisioner: &Provisioner,
    principal: &Principal,
    service_ref: &str,
    environment: &Environment,
) -> Result<EnvironmentCard, Error> {
    let probe = request(
        principal,
        service_ref,
        &environment.name,
        &Default::default(),
    );
    let mut card = EnvironmentCard {
        name: environment.name.clone(),
        protected: environment.protected,
        target: target(environment),
        ..EnvironmentCard::default()
    };
    card.namespace = provisioner.locate(&probe)?.namespace;
    let record = provisioner.records().get(&card.namespace).await?;
    card.approval = super::approvals::latest(provisioner, principal, &card.namespace).await?;
    card.expiry = environment
        .expiry
        .map(|e| expiry(&e, record.as_ref(), causeway_platform::time::now_millis()));
    card.fields = fields(
        environment,
        &record
            .as_ref()
            .map(|r| r.parameters.clone())
            .unwrap_or_default(),
    );
    let Some(found) = &record else {
        // Not provisioned: say now if a request would be refused whatever its parameters.
        if let Err(error) = provisioner.prepare(&probe) {
            card.error = Some(error.to_string());
        }
        return Ok(card);
    };
    card.record = Some(self::record(found));
    card.links = links(provisioner, environment, &card.namespace);
    let config = provisioner.config();
    card.kubectl = matches!(environment.target, Target::Cluster { .. })
        .then(|| config.link(&config.kubectl, &card.namespace, environment));
    // kubectl as the person themselves: offered to the team (and platform admins) when the
    // portal signs people in with a provider the cluster can trust too.
    card.kubeconfig = (matches!(environment.target, Target::Cluster { .. })
        && crate::server::portal_config().oidc_provider.is_some()
        && provisioner.authorize(principal, service_ref).is_ok())
    .then(|| {
        format!(
            "/api/provision/kubeconfig?service={}&environment={}",
            urlencoding(service_ref),
            urlencoding(&environment.name)
        )
    });
    match provisioner.status(&probe).await {
        Ok(status) => {
            card.objects = objects(&status.plan.steps);
            card.drift = drift(&status.drift);
        }
        Err(error) => {
            card.error = Some(error.to_string());
            card.drift = drift(&provisioner.records().drift(&card.namespace, 50).await?);
        }
    }
    Ok(card)
}

/// `text` for a query string: everything but unreserved characters percent-encoded.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
