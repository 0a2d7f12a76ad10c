//! Guardrails on the wire: policies and their verdicts, waivers, and the platform configuration's
//! revisions.

use causeway_platform::guardrails::{self, waivers};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One policy's verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PolicyVerdict {
    pub policy: String,
    pub description: String,
    /// `deny` or `warn`.
    pub severity: String,
    /// The form field the policy concerns (`set.cpu`, `environment`).
    pub field: String,
    /// `allowed`, `denied`, `warned`, `waived` or `notapplicable`.
    pub outcome: String,
    /// Why it failed; empty when it held.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The waiver that set a denial aside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
}

impl From<&guardrails::Verdict> for PolicyVerdict {
    fn from(verdict: &guardrails::Verdict) -> Self {
        Self {
            policy: verdict.policy.clone(),
            description: verdict.description.clone(),
            severity: verdict.severity.as_str().to_owned(),
            field: verdict.field.clone(),
            outcome: serde_json::to_value(verdict.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: verdict.message.clone(),
            fix: verdict.fix.clone(),
            waiver: verdict.waiver.clone(),
        }
    }
}

/// A policy of the active configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    pub id: String,
    pub description: String,
    pub severity: String,
    pub field: String,
    /// `environment`, `template`, `import`.
    pub applies_to: Vec<String>,
    /// CEL; true when a request is allowed.
    pub expression: String,
    pub fix: String,
    /// Whether kube-apiserver enforces it too.
    pub in_cluster: bool,
}

impl From<&guardrails::Policy> for PolicySummary {
    fn from(policy: &guardrails::Policy) -> Self {
        Self {
            id: policy.id.clone(),
            description: policy.description.clone(),
            severity: policy.severity.as_str().to_owned(),
            field: policy.field.clone(),
            applies_to: policy
                .applies_to
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            expression: policy.expression.clone(),
            fix: policy.fix.clone(),
            in_cluster: policy.kubernetes.is_some(),
        }
    }
}

/// A policy test: the request to evaluate every policy against, as the plan would see it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTest {
    /// The component (`payments-api`, `component:default/payments-api`).
    pub service: String,
    pub environment: String,
    /// Parameters (`cpu`, `memory`, `pods`, `availability`), as an apply would send them.
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, String>,
    /// Whose request it is (a user reference); the caller when absent.
    #[serde(default)]
    pub requester: Option<String>,
}

/// Every policy's verdict, and the input they saw.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PolicyTestResult {
    pub allowed: bool,
    pub verdicts: Vec<PolicyVerdict>,
    /// The documented input the policies evaluated.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

/// A waiver: one policy set aside for one service until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Waiver {
    pub id: String,
    pub policy: String,
    pub service: String,
    pub reason: String,
    /// RFC 3339.
    pub expires: String,
    pub granted_by: String,
    /// RFC 3339.
    pub granted_at: String,
}

impl From<&waivers::Waiver> for Waiver {
    fn from(waiver: &waivers::Waiver) -> Self {
        Self {
            id: waiver.id.clone(),
            policy: waiver.policy.clone(),
            service: waiver.service.clone(),
            reason: waiver.reason.clone(),
            expires: causeway_platform::time::iso(waiver.expires_at_millis),
            granted_by: waiver.granted_by.clone(),
            granted_at: causeway_platform::time::iso(waiver.granted_at_millis),
        }
    }
}

/// A waiver to grant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWaiver {
    pub policy: String,
    pub service: String,
    pub reason: String,
    /// RFC 3339, within a year.
    pub expires: String,
}

/// A revision of the platform configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// SHA-256 of its files.
    pub hash: String,
    pub source: String,
    /// RFC 3339.
    pub loaded_at: String,
}

impl From<&guardrails::RevisionSummary> for Revision {
    fn from(summary: &guardrails::RevisionSummary) -> Self {
        Self {
            hash: summary.hash.clone(),
            source: summary.source.clone(),
            loaded_at: causeway_platform::time::iso(summary.loaded_at_millis),
        }
    }
}

/// The platform configuration as `causeway.dev/v1alpha1` YAML documents (the export's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = String)]
pub struct PlatformDocuments(pub String);

/// A problem of a refused revision: where and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigProblem {
    /// `file:line`.
    pub at: String,
    pub field: String,
    pub message: String,
}

impl From<&causeway_platform::catalog::Problem> for ConfigProblem {
    fn from(problem: &causeway_platform::catalog::Problem) -> Self {
        Self {
            at: problem.source.clone(),
            field: problem.field.clone(),
            message: problem.message.clone(),
        }
    }
}

/// The platform configuration in force, and why the newest read was refused (platform admins
/// only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformConfigStatus {
    pub active: Revision,
    /// The newest read, when it was refused; the active revision keeps serving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Rejected>,
    pub history: Vec<Revision>,
}

/// A refused read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    pub source: String,
    /// RFC 3339.
    pub at: String,
    pub problems: Vec<ConfigProblem>,
}

impl From<&guardrails::Failure> for Rejected {
    fn from(failure: &guardrails::Failure) -> Self {
        Self {
            source: failure.source.clone(),
            at: causeway_platform::time::iso(failure.at_millis),
            problems: failure.problems.iter().map(ConfigProblem::from).collect(),
        }
    }
}

/// What a reload did: `unchanged`, `loaded` (with the new revision) or `rejected` (with the
/// problems; the active revision stays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reload {
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ConfigProblem>,
}
