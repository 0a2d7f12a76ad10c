//! Alertmanager's webhook (payload version 4): a firing burn-rate alert of the PrometheusRule
//! Causeway provisions (`provision/observability.rs`: alert `ErrorBudgetBurn*`, labels `service`
//! and `severity`, and the rule's `namespace`) opens an incident on its service, and the same
//! alert resolved closes it at its `endsAt`.
//!
//! An incident is one firing of one alert: its id is the alert's fingerprint and `startsAt`, so a
//! re-fire (a new `startsAt`) is a new incident, while Alertmanager's repeated notifications of
//! the same firing are duplicates. Alerts that are not Causeway's (another alert name, no service,
//! a namespace Causeway does not manage for that service) are counted as skipped, never refused.

use serde_json::{Map, Value};

use super::Received;
use crate::catalog::Problem;
use crate::catalog::refs;
use crate::delivery::events::{Event, Incident, Payload};
use crate::delivery::{Delivery, Ingested};
use crate::identity::Principal;
use crate::provision::records::Records;
use crate::{Error, Result};

/// The source of the events this adapter records.
pub const SOURCE: &str = "alertmanager";
/// The names of the burn-rate alerts Causeway provisions begin so.
pub const ALERT_PREFIX: &str = "ErrorBudgetBurn";
/// The most alerts one notification may carry.
const MAX_ALERTS: usize = 1000;

/// One alert read from the payload: `None` when it is not Causeway's.
struct Alert<'a> {
    index: usize,
    labels: &'a Map<String, Value>,
    object: &'a Map<String, Value>,
}

impl Delivery {
    /// Records what an Alertmanager notification says about Causeway's burn-rate alerts, as
    /// `principal` (whose token must be allowed for every service it names).
    pub async fn alertmanager(
        &self,
        principal: &Principal,
        body: &Value,
        request_id: Option<&str>,
    ) -> Result<Received> {
        let alerts = read_alerts(body)?;
        let records = Records::new(self.store.clone());
        let mut problems = Vec::new();
        let mut events = Vec::new();
        let mut skipped = 0;
        for alert in alerts {
            match self.service_of(&records, &alert).await? {
                Some(service) => match event_of(&alert, service) {
                    Ok(event) => events.push(event),
                    Err(mut found) => problems.append(&mut found),
                },
                None => skipped += 1,
            }
        }
        if !problems.is_empty() {
            return Err(Error::Rejected(problems));
        }
        let ingested = if events.is_empty() {
            Ingested::default()
        } else {
            self.ingest(principal, &events, request_id).await?
        };
        Ok(Received {
            accepted: ingested.accepted,
            duplicates: ingested.duplicates,
            skipped,
        })
    }

    /// The component an alert is about, or `None` when it is not one of Causeway's burn-rate
    /// alerts: the environment record of its `namespace` label must belong to the component its
    /// `service` label names. Without a namespace label the service label alone is read as a
    /// component of the default namespace, which must be in the catalog.
    async fn service_of(&self, records: &Records, alert: &Alert<'_>) -> Result<Option<String>> {
        let label = |name: &str| alert.labels.get(name).and_then(Value::as_str);
        if !label("alertname").is_some_and(|a| a.starts_with(ALERT_PREFIX)) {
            return Ok(None);
        }
        let Some(service) = label("service").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        // Only a Kubernetes namespace name can be an environment's; anything else (also text
        // the database could not hold) is not Causeway's alert.
        let dns_label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        match label("namespace") {
            Some(namespace) if !dns_label(namespace) => Ok(None),
            Some(namespace) => Ok(records.get(namespace).await?.and_then(|record| {
                let (_, _, name) = refs::split(&record.service);
                (name == service).then_some(record.service)
            })),
            None => {
                let Ok(reference) = refs::parse(service, "component", "default") else {
                    return Ok(None);
                };
                Ok(self
                    .catalog
                    .index()
                    .by_ref(&reference)
                    .is_some()
                    .then_some(reference))
            }
        }
    }
}

fn problem(field: String, rule: impl Into<String>) -> Problem {
    Problem::new("alertmanager", None, &field, rule.into())
}

/// The alerts of a version 4 notification, each with its labels.
fn read_alerts(body: &Value) -> Result<Vec<Alert<'_>>> {
    let mut problems = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(Error::Rejected(vec![problem(
            "(body)".to_owned(),
            "is not a JSON object; Alertmanager sends an object with `alerts`",
        )]));
    };
    match object.get("version").and_then(Value::as_str) {
        Some("4") => {}
        other => problems.push(problem(
            "version".to_owned(),
            format!(
                "is {}; Causeway reads Alertmanager's webhook payload version \"4\"",
                other.map_or_else(|| "missing".to_owned(), |v| format!("{v:?}"))
            ),
        )),
    }
    let none: &[Value] = &[];
    let items: &[Value] = match object.get("alerts") {
        Some(Value::Array(items)) if items.len() > MAX_ALERTS => {
            problems.push(problem(
                "alerts".to_owned(),
                format!("holds more than {MAX_ALERTS} alerts"),
            ));
            none
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push(problem("alerts".to_owned(), "is not an array"));
            none
        }
        None => {
            problems.push(problem("alerts".to_owned(), "is missing"));
            none
        }
    };
    let mut alerts = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(alert) = item.as_object() else {
            problems.push(problem(format!("alerts[{index}]"), "is not a JSON object"));
            continue;
        };
        match alert.get("labels") {
            Some(Value::Object(labels)) => alerts.push(Alert {
                index,
                labels,
                object: alert,
            }),
            _ => problems.push(problem(
                format!("alerts[{index}].labels"),
                "is missing or not an object of label names and values",
            )),
        }
    }
    if problems.is_empty() {
        Ok(alerts)
    } else {
        Err(Error::Rejected(problems))
    }
}

/// The incident event of one of Causeway's alerts, or every problem with its fields.
fn event_of(alert: &Alert<'_>, service: String) -> std::result::Result<Event, Vec<Problem>> {
    let mut problems = Vec::new();
    let at = |field: &str| format!("alerts[{}].{field}", alert.index);
    let text = |field: &str, problems: &mut Vec<Problem>| match alert
        .object
        .get(field)
        .and_then(Value::as_str)
    {
        Some(text) if text.chars().any(char::is_control) => {
            problems.push(problem(at(field), "contains a control character"));
            None
        }
        Some(text) if !text.trim().is_empty() && text.len() <= 200 => Some(text.trim().to_owned()),
        _ => {
            problems.push(problem(
                at(field),
                "is missing, empty or longer than 200 characters",
            ));
            None
        }
    };
    let time = |field: &str, problems: &mut Vec<Problem>| {
        let text = text(field, problems)?;
        match text.parse::<k8s_openapi::jiff::Timestamp>() {
            Ok(time) => Some(time.as_millisecond()),
            Err(_) => {
                problems.push(problem(
                    at(field),
                    format!("{text:?} is not an RFC 3339 time"),
                ));
                None
            }
        }
    };
    let status = text("status", &mut problems);
    let resolved = match status.as_deref() {
        Some("firing") => false,
        Some("resolved") => true,
        Some(other) => {
            problems.push(problem(
                at("status"),
                format!("{other:?} is not an alert status; expected firing or resolved"),
            ));
            false
        }
        None => false,
    };
    let fingerprint = text("fingerprint", &mut problems);
    let starts_at = time("startsAt", &mut problems);
    let starts_text = alert.object.get("startsAt").and_then(Value::as_str);
    // A firing alert's endsAt is Alertmanager's guess of when it lapses, not a resolution.
    let resolved_at = if resolved {
        time("endsAt", &mut problems)
    } else {
        None
    };
    if let (Some(start), Some(end)) = (starts_at, resolved_at)
        && end < start
    {
        problems.push(problem(at("endsAt"), "is before startsAt"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(fingerprint), Some(opened_at), Some(starts_text)) =
        (fingerprint, starts_at, starts_text)
    else {
        return Err(problems);
    };
    let incident = format!("{fingerprint}@{}", starts_text.trim());
    let severity = alert
        .labels
        .get("severity")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
        .unwrap_or("unknown");
    Ok(Event {
        source: SOURCE.to_owned(),
        // Firing and resolved are two events about one incident; Alertmanager's repeats of
        // either are the same event again.
        id: format!(
            "{incident}/{}",
            if resolved { "resolved" } else { "firing" }
        ),
        service,
        payload: Payload::Incident(Incident {
            incident,
            opened_at,
            resolved_at,
            severity: severity.chars().take(50).collect(),
            caused_by: None,
        }),
    })
}
