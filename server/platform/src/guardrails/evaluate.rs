//! Evaluating the policies of a revision against one request's input: every policy that applies
//! gives a result, denials block, warnings and waived denials are shown.

use serde::Serialize;
use serde_json::Value;

use super::cel::Scope;
use super::documents::CompiledPolicy;
use super::policy::{Severity, Subject};
use super::waivers::Waiver;

/// What a policy concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The expression held.
    Allowed,
    /// A `deny` policy failed: the request is refused.
    Denied,
    /// A `warn` policy failed: shown, not blocking.
    Warned,
    /// A `deny` policy failed for a service with a waiver in force.
    Waived,
    /// The policy is not about this kind of request.
    NotApplicable,
}

/// One policy's result, with everything a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub policy: String,
    pub description: String,
    pub severity: Severity,
    /// The form field the policy concerns.
    pub field: String,
    pub outcome: Outcome,
    /// Why it failed (the policy's message), or why it could not be evaluated; empty when it
    /// held.
    pub message: String,
    pub fix: String,
    /// The waiver that set a denial aside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
}

/// Every policy's verdict on one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdicts: Vec<Verdict>,
}

impl Decision {
    /// The verdicts that refuse the request.
    pub fn denials(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Denied)
    }

    /// The verdicts shown without blocking: warnings and waived denials.
    pub fn notices(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| matches!(v.outcome, Outcome::Warned | Outcome::Waived))
    }

    pub fn allowed(&self) -> bool {
        self.denials().next().is_none()
    }

    /// Records that `policy` failed outside its expression (its Kubernetes rule refused one of
    /// the objects about to be applied), exactly as a failed expression would be: denied, or
    /// waived, or warned by its severity, with `message`.
    pub fn fail(&mut self, policy: &str, message: &str, lookup: Lookup<'_>, waivers: &[Waiver]) {
        let Some(verdict) = self.verdicts.iter_mut().find(|v| v.policy == policy) else {
            return;
        };
        if matches!(
            verdict.outcome,
            Outcome::Denied | Outcome::Warned | Outcome::Waived
        ) {
            if !verdict.message.contains(message) {
                verdict.message = format!("{}; {message}", verdict.message);
            }
            return;
        }
        verdict.message = message.to_owned();
        verdict.outcome = match verdict.severity {
            Severity::Warn => Outcome::Warned,
            Severity::Deny => match waiver_for(&verdict.policy, lookup, waivers) {
                Some(waiver) => {
                    verdict.waiver = Some(describe(waiver));
                    Outcome::Waived
                }
                None => Outcome::Denied,
            },
        };
    }
}

fn waiver_for<'w>(policy: &str, lookup: Lookup<'_>, waivers: &'w [Waiver]) -> Option<&'w Waiver> {
    let service = lookup.service?;
    waivers
        .iter()
        .find(|w| w.covers(policy, service, lookup.now_millis))
}

fn describe(waiver: &Waiver) -> String {
    format!(
        "{} (by {} until {}: {})",
        waiver.id,
        waiver.granted_by,
        crate::time::display(waiver.expires_at_millis),
        waiver.reason
    )
}

/// Who and what the parameters and waivers are looked up for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lookup<'a> {
    pub environment: Option<&'a str>,
    /// The owning team's group reference.
    pub team: Option<&'a str>,
    /// The component's normalised reference.
    pub service: Option<&'a str>,
    /// Now, in milliseconds (waivers expire against it).
    pub now_millis: i64,
}

/// Evaluates every policy in `policies` that applies to `subject` over `input`. A policy whose
/// expression cannot be evaluated counts as failed, with the reason in its message: a broken
/// rule must not silently let requests through.
pub fn evaluate(
    policies: &[CompiledPolicy],
    subject: Subject,
    input: &Value,
    lookup: Lookup<'_>,
    waivers: &[Waiver],
) -> Decision {
    let scope = Scope::new(input);
    let verdicts = policies
        .iter()
        .map(|compiled| {
            let policy = &compiled.policy;
            let mut verdict = Verdict {
                policy: policy.id.clone(),
                description: policy.description.clone(),
                severity: policy.severity,
                field: policy.field.clone(),
                outcome: Outcome::NotApplicable,
                message: String::new(),
                fix: policy.fix.clone(),
                waiver: None,
            };
            if !policy.applies_to.contains(&subject) {
                return verdict;
            }
            let params =
                serde_json::to_value(policy.parameters.resolve(lookup.environment, lookup.team))
                    .unwrap_or(Value::Null);
            let failed = match scope.test(&compiled.expression, &params) {
                Ok(true) => None,
                Ok(false) => Some(scope.text(&compiled.message, &params).unwrap_or_else(
                    |reason| {
                        format!(
                            "{} (its message could not be written: {reason})",
                            policy.description
                        )
                    },
                )),
                Err(reason) => Some(format!(
                    "policy {} could not be evaluated: {reason}",
                    policy.id
                )),
            };
            let Some(message) = failed else {
                verdict.outcome = Outcome::Allowed;
                return verdict;
            };
            verdict.message = message;
            verdict.outcome = match policy.severity {
                Severity::Warn => Outcome::Warned,
                Severity::Deny => match waiver_for(&policy.id, lookup, waivers) {
                    Some(waiver) => {
                        verdict.waiver = Some(describe(waiver));
                        Outcome::Waived
                    }
                    None => Outcome::Denied,
                },
            };
            verdict
        })
        .collect();
    Decision { verdicts }
}
