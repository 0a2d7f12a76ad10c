//! A policy the platform team writes: a CEL expression over a documented input, with the message
//! a person sees, the fix they can make and the form field it concerns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a policy is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Subject {
    /// A request for a service's environment (plan or apply, from any door).
    Environment,
    /// A template run, before its first step.
    Template,
    /// Entities about to enter the catalog.
    Import,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Environment => "environment",
            Self::Template => "template",
            Self::Import => "import",
        }
    }
}

/// What a failed policy does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The request is refused.
    #[default]
    Deny,
    /// The request goes on; the message is shown.
    Warn,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Warn => "warn",
        }
    }
}

/// A policy's parameters: defaults, overridden per environment, then per team (a team's value
/// wins over its environment's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    #[serde(default)]
    pub default: BTreeMap<String, Value>,
    /// Environment name → values.
    #[serde(default)]
    pub environments: BTreeMap<String, BTreeMap<String, Value>>,
    /// Group reference (`group:default/payments`) → values.
    #[serde(default)]
    pub teams: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Parameters {
    /// The values in force for `team` in `environment`.
    pub fn resolve(
        &self,
        environment: Option<&str>,
        team: Option<&str>,
    ) -> BTreeMap<String, Value> {
        let mut values = self.default.clone();
        if let Some(overrides) = environment.and_then(|e| self.environments.get(e)) {
            values.extend(overrides.clone());
        }
        if let Some(overrides) = team.and_then(|t| self.teams.get(t)) {
            values.extend(overrides.clone());
        }
        values
    }
}

/// The kinds of Kubernetes object a policy also governs inside the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    /// `CREATE`, `UPDATE`, `DELETE`; both writes when empty.
    #[serde(default)]
    pub operations: Vec<String>,
}

/// The same rule enforced by kube-apiserver as a `ValidatingAdmissionPolicy`, so that nobody can
/// walk around it with `kubectl`. Its expressions are CEL over `object`, `oldObject`, `params`
/// and `namespaceObject`, as kube-apiserver evaluates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesRule {
    pub resources: Vec<ResourceRule>,
    /// True when the object is allowed.
    pub expression: String,
    /// The message's expression (a CEL string).
    pub message: String,
}

/// A policy as written in a `kind: Policy` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Unique among policies; the document's `metadata.name`.
    pub id: String,
    pub description: String,
    pub applies_to: Vec<Subject>,
    pub severity: Severity,
    /// The form field the policy concerns (`set.cpu`, `environment`, `parameters.name`).
    pub field: String,
    /// CEL; true when the request is allowed.
    pub expression: String,
    /// CEL; the message shown when the expression is false.
    pub message: String,
    /// What the person can do about it, in plain words.
    pub fix: String,
    pub parameters: Parameters,
    pub kubernetes: Option<KubernetesRule>,
}
