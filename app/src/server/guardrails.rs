//! Building the guardrails' views from the domain: a policy's verdict next to the form field it
//! names, the platform page's configuration, policies and waivers, and the policy test bench.
//! Every rule (who may reload, grant or test; what a policy decides) is the domain's; this module
//! only arranges what the domain answered.

pub mod bench;

use std::collections::BTreeMap;

use causeway_platform::guardrails::{
    Failure, Guardrails, Outcome, RevisionSummary, Verdict, waivers::Waiver,
};
use causeway_platform::identity::{Principal, Role};
use causeway_platform::time::display;
use causeway_platform::{Error, catalog::Problem};

use crate::model::{
    ConfigProblemView, GuardrailsView, ParamField, PlanView, PolicyRow, RefusedView, RevisionView,
    VerdictView, WaiverForm, WaiverRow,
};

/// How many recorded revisions the platform page lists.
pub const HISTORY: i64 = 20;

/// The field a policy about the environment itself names.
pub const ENVIRONMENT_FIELD: &str = "environment";

pub fn verdict(verdict: &Verdict) -> VerdictView {
    VerdictView {
        policy: verdict.policy.clone(),
        description: verdict.description.clone(),
        severity: verdict.severity.as_str().to_owned(),
        field: verdict.field.clone(),
        outcome: match verdict.outcome {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Warned => "warned",
            Outcome::Waived => "waived",
            Outcome::NotApplicable => "not applicable",
        }
        .to_owned(),
        message: verdict.message.clone(),
        fix: verdict.fix.clone(),
        waiver: verdict.waiver.clone(),
    }
}

/// The parameter a policy's field names (`set.cpu` → `cpu`), if it names one.
fn parameter(field: &str) -> Option<&str> {
    field.strip_prefix("set.")
}

/// Puts each denial next to the parameter field it names; those about the environment or another
/// part of the request are returned, for the heading or the top of the form.
pub fn place(fields: &mut [ParamField], denials: &[Verdict]) -> Vec<VerdictView> {
    let mut rest = Vec::new();
    for denial in denials {
        let shown = verdict(denial);
        match parameter(&denial.field).and_then(|name| fields.iter_mut().find(|f| f.name == name)) {
            Some(field) => field.denials.push(shown),
            None => rest.push(shown),
        }
    }
    rest
}

/// Fills `plan` with what refused it: policy denials by their fields, other problems as the form
/// shows them. Values typed stay in the fields, so the person corrects rather than retypes.
pub fn refuse(plan: &mut PlanView, error: Error) {
    match error {
        Error::PolicyDenied(denials) => plan.denials = place(&mut plan.fields, &denials),
        other => plan.errors = super::environments::form_errors(&mut plan.fields, other),
    }
}

/// The warnings and waived denials of an allowed plan.
pub fn notices(verdicts: &[Verdict]) -> Vec<VerdictView> {
    verdicts.iter().map(verdict).collect()
}

/// The message a policy denial carries across the portal boundary: each denial with its field,
/// message and fix, so that a page it comes back to can say what to change.
pub fn denial_message(denials: &[Verdict]) -> String {
    let each: Vec<String> = denials
        .iter()
        .map(|d| format!("{}: {} (fix: {}) [{}]", d.field, d.message, d.fix, d.policy))
        .collect();
    format!("{DENIED}{}", each.join("; "))
}

/// How [`denial_message`] begins, so that a page can tell a posted denial from other errors.
pub const DENIED: &str = "denied by policy: ";

fn revision(summary: &RevisionSummary) -> RevisionView {
    RevisionView {
        short_hash: short(&summary.hash),
        hash: summary.hash.clone(),
        source: summary.source.clone(),
        loaded_at: display(summary.loaded_at_millis),
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

fn refused(failure: &Failure) -> RefusedView {
    RefusedView {
        short_hash: short(&failure.hash),
        source: failure.source.clone(),
        at: display(failure.at_millis),
        problems: failure.problems.iter().map(config_problem).collect(),
    }
}

/// A configuration problem: its source is already `file:line`.
fn config_problem(problem: &Problem) -> ConfigProblemView {
    ConfigProblemView {
        at: problem.source.clone(),
        field: problem.field.clone(),
        message: problem.message.clone(),
    }
}

fn waiver(waiver: &Waiver, revocable: bool) -> WaiverRow {
    WaiverRow {
        id: waiver.id.clone(),
        policy: waiver.policy.clone(),
        service: waiver.service.clone(),
        reason: waiver.reason.clone(),
        expires_at: display(waiver.expires_at_millis),
        granted_by: waiver.granted_by.clone(),
        revocable,
    }
}

/// The guardrails part of the platform page, as `principal` may see it: the refused read only
/// for platform admins (`Guardrails::failure_for` decides).
pub async fn overview(
    guardrails: &Guardrails,
    principal: &Principal,
    params: &BTreeMap<String, String>,
) -> Result<GuardrailsView, Error> {
    let current = guardrails.current();
    let value = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut waivers: Vec<WaiverRow> = current
        .config
        .waivers
        .iter()
        .map(|w| waiver(w, false))
        .collect();
    if let Some(store) = guardrails.waivers() {
        waivers.extend(store.active(None).await?.iter().map(|w| waiver(w, true)));
    }
    // A refused grant comes back in the address as `werr` (`field: rule`) with the values sent,
    // so that the problem shows next to its field and nothing has to be typed again.
    let (error_field, error) = match params.get("werr").filter(|e| !e.is_empty()).cloned() {
        Some(message) => match message.split_once(": ") {
            Some((field, rule)) if WAIVER_FIELDS.contains(&field) => {
                (field.to_owned(), Some(rule.to_owned()))
            }
            _ => (String::new(), Some(message)),
        },
        None => (String::new(), None),
    };
    Ok(GuardrailsView {
        is_admin: principal.role == Role::PlatformAdmin,
        active: revision(&current.summary()),
        history: guardrails
            .history(HISTORY)
            .await?
            .iter()
            .map(revision)
            .collect(),
        refused: guardrails.failure_for(principal).as_ref().map(refused),
        reloaded: params.get("reloaded").cloned().filter(|r| !r.is_empty()),
        policies: current
            .config
            .policies
            .iter()
            .map(|compiled| {
                let p = &compiled.policy;
                PolicyRow {
                    id: p.id.clone(),
                    description: p.description.clone(),
                    severity: p.severity.as_str().to_owned(),
                    field: p.field.clone(),
                    applies_to: p
                        .applies_to
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    fix: p.fix.clone(),
                    in_cluster: p.kubernetes.is_some(),
                }
            })
            .collect(),
        waivers,
        waiver_form: WaiverForm {
            policy: value("w.policy"),
            service: value("w.service"),
            reason: value("w.reason"),
            expires: value("w.expires"),
            error_field,
            error,
        },
    })
}

/// The waiver form's fields, as the domain names them in its errors.
pub const WAIVER_FIELDS: [&str; 4] = ["policy", "service", "reason", "expires"];

/// The text of `reloaded` the platform page shows after "Reload now".
pub fn reload_outcome(outcome: &causeway_platform::guardrails::Reloaded) -> String {
    use causeway_platform::guardrails::Reloaded;
    match outcome {
        Reloaded::Unchanged => "unchanged".to_owned(),
        Reloaded::Loaded(summary) => format!("loaded {}", short(&summary.hash)),
        Reloaded::Rejected(problems) => format!("rejected ({} problems)", problems.len()),
    }
}

#[cfg(test)]
mod tests;
