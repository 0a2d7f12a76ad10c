//! Policies with a Kubernetes rule, compiled into the one admission policy and binding Causeway may
//! write (`charts/causeway/files/policies.yaml`) and a parameter ConfigMap per policy and
//! environment (and per team with values of its own).
//!
//! The binding evaluates the policy once per parameter ConfigMap. Each policy's validation first
//! asks whether that ConfigMap is its own and is meant for the namespace of the request (the same
//! environment, and the same team, or a team without values of its own); if not, it passes. So
//! every Causeway namespace is held to each policy exactly once, with the values resolved for its
//! environment and team, as `Parameters::resolve` does.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use serde_json::{Value, json};

use super::super::bundle::{ENVIRONMENT_LABEL, MANAGED_BY, TEAM_LABEL};
use super::super::config::ProvisionConfig;
use super::super::naming;
use super::{PARAMETERS_NAMESPACE, POLICY, POLICY_LABEL, TEAMS_WITH_OWN_ANNOTATION, check};
use crate::catalog::refs;
use crate::guardrails::policy::{KubernetesRule, Policy, ResourceRule, Severity};
use crate::{Error, Result};

/// Everything [`super::reconcile`] writes to a cluster.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The spec of `causeway-policies`, with one validation per enforced policy.
    pub policy: ValidatingAdmissionPolicy,
    pub binding: ValidatingAdmissionPolicyBinding,
    /// The namespace the parameters live in.
    pub namespace: Namespace,
    pub parameters: Vec<ConfigMap>,
}

/// The policies the API server enforces: those with a Kubernetes rule whose severity is `deny`.
/// A `warn` policy only warns in Causeway (see [`super::check_bundle`]); the admission binding is
/// shared by all policies and denies.
pub fn enforced(policies: &[Policy]) -> impl Iterator<Item = (&Policy, &KubernetesRule)> {
    policies
        .iter()
        .filter(|p| p.severity == Severity::Deny)
        .filter_map(|p| p.kubernetes.as_ref().map(|rule| (p, rule)))
}

/// The value of a namespace's team label for a group reference (`group:default/team-a` gives
/// `team-a`), made exactly as provisioning makes it.
pub fn team_label(reference: &str) -> String {
    let (_, _, name) = refs::split(reference);
    naming::namespace(name, "").trim_end_matches('-').to_owned()
}

/// The labels of the teams that have values of their own for `policy`.
pub(super) fn teams_with_own(policy: &Policy) -> BTreeSet<String> {
    policy
        .parameters
        .teams
        .keys()
        .map(|t| team_label(t))
        .collect()
}

/// The parameter ConfigMap of `policy` for `environment`, and for the team labelled `team` when it
/// has values of its own; the same object is given to the policy in Causeway and in the cluster.
/// Values are strings, as ConfigMaps hold them: a string as it is, anything else as its JSON.
pub(super) fn parameters(policy: &Policy, environment: &str, team: Option<&str>) -> ConfigMap {
    let reference = team.and_then(|label| {
        policy
            .parameters
            .teams
            .keys()
            .find(|t| team_label(t) == label)
            .map(String::as_str)
    });
    let values = policy.parameters.resolve(Some(environment), reference);
    let data: BTreeMap<String, String> = values
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect();
    let mut labels = BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (POLICY_LABEL.to_owned(), policy.id.clone()),
        (ENVIRONMENT_LABEL.to_owned(), environment.to_owned()),
    ]);
    let mut annotations = BTreeMap::new();
    let name = match reference.and(team) {
        Some(team) => {
            labels.insert(TEAM_LABEL.to_owned(), team.to_owned());
            format!("{}.{environment}.{team}", policy.id)
        }
        None => {
            // Commas around every name, so that a CEL `contains(',' + team + ',')` finds whole
            // names only.
            let teams: Vec<String> = teams_with_own(policy).into_iter().collect();
            annotations.insert(
                TEAMS_WITH_OWN_ANNOTATION.to_owned(),
                format!(",{},", teams.join(",")),
            );
            format!("{}.{environment}", policy.id)
        }
    };
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name),
            namespace: Some(PARAMETERS_NAMESPACE.to_owned()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

/// The fallback the API server shows when a policy's message expression fails.
pub(super) fn fallback_message(policy: &Policy) -> String {
    format!("denied by the platform policy {}", policy.id)
}

/// `text` as a CEL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| literal(i)).collect();
    format!("[{}]", items.join(", "))
}

/// The operations a rule covers: both writes when none are named.
pub(super) fn operations(rule: &ResourceRule) -> Vec<String> {
    if rule.operations.is_empty() {
        vec!["CREATE".to_owned(), "UPDATE".to_owned()]
    } else {
        rule.operations.clone()
    }
}

/// A CEL condition that holds when the request is for one of `rules`' resources and operations.
fn matches(rules: &[ResourceRule]) -> String {
    let clauses: Vec<String> = rules
        .iter()
        .map(|rule| {
            // The admission policy's own rules match no subresource (`resources` names whole
            // resources only), so none reaches here; the API server leaves `subResource` out of
            // such requests altogether, so it is not asked about.
            let mut parts = vec!["true".to_owned()];
            if !rule.api_groups.iter().any(|g| g == "*") {
                parts.push(format!(
                    "request.resource.group in {}",
                    list(&rule.api_groups)
                ));
            }
            if !rule.resources.iter().any(|r| r == "*") {
                parts.push(format!(
                    "request.resource.resource in {}",
                    list(&rule.resources)
                ));
            }
            let operations = operations(rule);
            if !operations.iter().any(|o| o == "*") {
                parts.push(format!("request.operation in {}", list(&operations)));
            }
            format!("({})", parts.join(" && "))
        })
        .collect();
    clauses.join(" || ")
}

/// The validation's expression: the policy's own, reached only for its own parameters, in a
/// namespace of their environment and team.
fn guarded(policy: &Policy, rule: &KubernetesRule) -> String {
    let param = |label: &str| format!("params.metadata.labels[{}]", literal(label));
    let namespace = |label: &str| format!("namespaceObject.metadata.labels[{}]", literal(label));
    format!(
        "{policy_label} != {id} || !({matches}) || namespaceObject == null || \
         {ns_environment} != {environment} || \
         ({team_key} in params.metadata.labels ? {ns_team} != {team} : \
         params.metadata.annotations[{teams_key}].contains(',' + {ns_team} + ',')) || \
         ({expression})",
        policy_label = param(POLICY_LABEL),
        id = literal(&policy.id),
        matches = matches(&rule.resources),
        ns_environment = namespace(ENVIRONMENT_LABEL),
        environment = param(ENVIRONMENT_LABEL),
        team_key = literal(TEAM_LABEL),
        ns_team = namespace(TEAM_LABEL),
        team = param(TEAM_LABEL),
        teams_key = literal(TEAMS_WITH_OWN_ANNOTATION),
        expression = rule.expression,
    )
}

fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    !text.is_empty()
        && text.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
}

fn is_name(text: &str) -> bool {
    text == "*"
        || !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
}

/// Everything about `policy` that would make its admission objects invalid or ambiguous.
fn problems(policy: &Policy, rule: &KubernetesRule) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, text: String| {
        problems.push(format!("policy {}: kubernetes.{field}: {text}", policy.id));
    };
    if !is_label_value(&policy.id) {
        problem(
            "id",
            "a policy enforced in the cluster needs an id of at most 63 lowercase letters, digits, \
             '-' or '.'"
                .to_owned(),
        );
    }
    if rule.resources.is_empty() {
        problem("resources", "names no resources".to_owned());
    }
    for (index, resource) in rule.resources.iter().enumerate() {
        if resource.api_groups.is_empty() || resource.resources.is_empty() {
            problem(
                &format!("resources[{index}]"),
                "needs apiGroups and resources".to_owned(),
            );
        }
        for name in resource.api_groups.iter().filter(|g| !g.is_empty()) {
            if !is_name(name) {
                problem(
                    &format!("resources[{index}].apiGroups"),
                    format!("{name:?} is not an API group"),
                );
            }
        }
        for name in &resource.resources {
            if !is_name(name) {
                problem(
                    &format!("resources[{index}].resources"),
                    format!(
                        "{name:?} is not a resource's plural name (subresources are not supported)"
                    ),
                );
            }
        }
        for operation in operations(resource) {
            if !matches!(
                operation.as_str(),
                "CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "*"
            ) {
                problem(
                    &format!("resources[{index}].operations"),
                    format!("{operation:?} is not CREATE, UPDATE, DELETE, CONNECT or *"),
                );
            }
        }
    }
    for (field, source) in [("expression", &rule.expression), ("message", &rule.message)] {
        if let Err(error) = check::compile(source) {
            problem(field, error);
        }
    }
    let mut seen = BTreeMap::new();
    for team in policy.parameters.teams.keys() {
        if let Some(other) = seen.insert(team_label(team), team) {
            problem(
                "parameters.teams",
                format!("{other} and {team} are the same team label in the cluster"),
            );
        }
    }
    let values = policy.parameters.default.keys().chain(
        policy
            .parameters
            .environments
            .values()
            .chain(policy.parameters.teams.values())
            .flat_map(BTreeMap::keys),
    );
    for key in values {
        let valid = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            problem(
                "parameters",
                format!("{key:?} cannot be a ConfigMap key (letters, digits, '-', '_', '.')"),
            );
        }
    }
    problems
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::invalid("policies", e.to_string()))
}

/// The admission objects for `policies` over `config`'s environments; an error lists every
/// policy that cannot be compiled, and nothing is rendered then.
pub fn render(policies: &[Policy], config: &ProvisionConfig) -> Result<Rendered> {
    let mut problems_found = Vec::new();
    let mut rules = Vec::new();
    let mut validations = Vec::new();
    let mut parameters_out = Vec::new();
    for (policy, rule) in enforced(policies) {
        let found = problems(policy, rule);
        if !found.is_empty() {
            problems_found.extend(found);
            continue;
        }
        for resource in &rule.resources {
            rules.push(json!({
                "apiGroups": resource.api_groups,
                "apiVersions": ["*"],
                "operations": operations(resource),
                "resources": resource.resources,
                "scope": "Namespaced",
            }));
        }
        validations.push(json!({
            "expression": guarded(policy, rule),
            "messageExpression": rule.message,
            "message": fallback_message(policy),
        }));
        for environment in &config.environments {
            parameters_out.push(parameters(policy, &environment.name, None));
            for team in teams_with_own(policy) {
                parameters_out.push(parameters(policy, &environment.name, Some(&team)));
            }
        }
    }
    if !problems_found.is_empty() {
        return Err(Error::invalid("policies", problems_found.join("; ")));
    }
    if validations.is_empty() {
        // The placeholder of policies.yaml: nothing to hold a request to.
        rules.push(json!({
            "apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
            "resources": ["resourcequotas"],
        }));
        validations.push(json!({
            "expression": "true", "message": "no policy has a Kubernetes rule yet",
        }));
    }
    let labels = json!({ "app.kubernetes.io/name": "causeway", MANAGED_BY.0: MANAGED_BY.1 });
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": { "name": POLICY, "labels": labels },
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": { "apiVersion": "v1", "kind": "ConfigMap" },
            "matchConstraints": { "resourceRules": rules },
            "validations": validations,
        },
    });
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": { "name": POLICY, "labels": labels },
        "spec": {
            "policyName": POLICY,
            "validationActions": ["Deny"],
            "paramRef": {
                "namespace": PARAMETERS_NAMESPACE,
                "selector": {
                    "matchLabels": { MANAGED_BY.0: MANAGED_BY.1 },
                    "matchExpressions": [{ "key": POLICY_LABEL, "operator": "Exists" }],
                },
                "parameterNotFoundAction": "Allow",
            },
            "matchResources": { "namespaceSelector": {
                "matchLabels": { MANAGED_BY.0: MANAGED_BY.1 },
                "matchExpressions": [
                    { "key": ENVIRONMENT_LABEL, "operator": "Exists" },
                    { "key": TEAM_LABEL, "operator": "Exists" },
                ],
            } },
        },
    });
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": PARAMETERS_NAMESPACE, "labels": labels },
    });
    Ok(Rendered {
        policy: typed(policy)?,
        binding: typed(binding)?,
        namespace: typed(namespace)?,
        parameters: parameters_out,
    })
}
