//! A policy's Kubernetes rule evaluated in Causeway over a rendered bundle, with the variables and
//! parameters kube-apiserver gives the admission policy, so that a request is refused before
//! anything is applied, with the message the API server would give.
//!
//! The CEL environment is the standard library, the strings extension (`split`, `lowerAscii`,
//! `replace`, ...) and Kubernetes' quantity library (`quantity()`, `isQuantity()`,
//! `isLessThan`, `isGreaterThan`, `compareTo`, `add`, `sub`, `sign`, `isInteger`, `asInteger`,
//! `asApproximateFloat`; `quantity.rs`), all of which kube-apiserver also offers. Kubernetes' other
//! libraries (`url()`, `ip()`, `cidr()`, the authorizer, the regex functions `find` and
//! `findAll`) are not available here: a rule that uses them fails to compile when the policies
//! are rendered.

use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program, Value};
use kube::api::ApiResource;
use serde::Serialize;
use serde_json::json;

use super::super::bundle::{Desired, TEAM_LABEL};
use super::render::{fallback_message, operations, parameters, team_label, teams_with_own};
use crate::guardrails::policy::{Policy, ResourceRule, Severity};

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Both extensions declare functions the standard library does not have, so adding them
    // cannot clash; were one to, its functions would be missing and rules using them would fail
    // to compile, which rendering reports.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(super::quantity::extension);
    Arc::new(env)
});

/// Compiles `source` in the environment above; the error says where and why.
pub(super) fn compile(source: &str) -> Result<Program, String> {
    if source.trim().is_empty() {
        return Err("is empty; expected a CEL expression".to_owned());
    }
    ENV.compile(source)
        .map_err(|errors| match errors.errors.first() {
            Some(e) => format!(
                "is not valid CEL at line {}, column {}: {}",
                e.pos.0, e.pos.1, e.msg
            ),
            None => "cannot be parsed".to_owned(),
        })
}

/// One object of a bundle that a policy's Kubernetes rule refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The policy's id.
    pub policy: String,
    pub severity: Severity,
    /// `Kind/name`.
    pub object: String,
    /// The message the API server gives for the same object.
    pub message: String,
}

fn covers(rule: &ResourceRule, resource: &ApiResource) -> Option<&'static str> {
    let group = rule
        .api_groups
        .iter()
        .any(|g| g == "*" || *g == resource.group);
    let plural = rule
        .resources
        .iter()
        .any(|r| r == "*" || *r == resource.plural);
    if !(group && plural) {
        return None;
    }
    // Applying an object creates it the first time and updates it afterwards; a rule for either
    // applies to what Causeway is about to write.
    let operations = operations(rule);
    let has = |name: &str| operations.iter().any(|o| o == name || o == "*");
    if has("CREATE") {
        Some("CREATE")
    } else if has("UPDATE") {
        Some("UPDATE")
    } else {
        None
    }
}

/// Every object of `bundle` (an environment's rendered objects, the namespace among them) that a
/// policy's Kubernetes rule refuses, with the parameters resolved for `environment` and `team` (a
/// group reference, as in `Parameters::teams`, or the namespace's team label). Policies of either
/// severity are checked; only `deny` ones are enforced by the API server.
pub fn check_bundle(
    policies: &[Policy],
    bundle: &[Desired],
    environment: &str,
    team: &str,
) -> Vec<Violation> {
    let Some(namespace) = bundle
        .iter()
        .find(|d| d.resource.kind == "Namespace" && d.resource.group.is_empty())
    else {
        return Vec::new();
    };
    let namespace_object = serde_json::to_value(&namespace.object).unwrap_or_default();
    // The API server picks the team's parameters by the namespace's label; so does this.
    let team = namespace
        .object
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(TEAM_LABEL).cloned())
        .unwrap_or_else(|| team_label(team));
    let mut violations = Vec::new();
    for policy in policies {
        let Some(rule) = &policy.kubernetes else {
            continue;
        };
        let (Ok(expression), Ok(message)) = (compile(&rule.expression), compile(&rule.message))
        else {
            violations.push(Violation {
                policy: policy.id.clone(),
                severity: policy.severity,
                object: String::new(),
                message: format!("{}: the Kubernetes rule does not compile", policy.id),
            });
            continue;
        };
        let own = teams_with_own(policy).contains(&team);
        let params = parameters(policy, environment, own.then_some(team.as_str()));
        let params = serde_json::to_value(&params).unwrap_or_default();
        for desired in bundle {
            let Some(namespace_name) = desired.object.metadata.namespace.as_deref() else {
                continue;
            };
            let Some(operation) = rule
                .resources
                .iter()
                .find_map(|r| covers(r, &desired.resource))
            else {
                continue;
            };
            let object = serde_json::to_value(&desired.object).unwrap_or_default();
            let request = json!({
                "operation": operation,
                "namespace": namespace_name,
                "name": desired.object.metadata.name,
                "resource": {
                    "group": desired.resource.group,
                    "version": desired.resource.version,
                    "resource": desired.resource.plural,
                },
                "kind": {
                    "group": desired.resource.group,
                    "version": desired.resource.version,
                    "kind": desired.resource.kind,
                },
                "subResource": "",
                "dryRun": false,
            });
            let mut context = Context::with_env(ENV.clone());
            for (name, value) in [
                ("object", &object),
                ("oldObject", &serde_json::Value::Null),
                ("params", &params),
                ("namespaceObject", &namespace_object),
                ("request", &request),
            ] {
                context.add_variable_from_value(name, cel::to_value(value).unwrap_or(Value::Null));
            }
            let refusal = match expression.execute(&context) {
                Ok(Value::Bool(true)) => continue,
                Ok(Value::Bool(false)) => match message.execute(&context) {
                    // The API server ignores a message that is empty, blank or spans lines.
                    Ok(Value::String(text)) if !text.trim().is_empty() && !text.contains('\n') => {
                        text.to_string()
                    }
                    _ => fallback_message(policy),
                },
                Ok(other) => format!(
                    "{}: the Kubernetes rule returned {other:?} instead of true or false",
                    policy.id
                ),
                Err(error) => format!(
                    "{}: the Kubernetes rule could not be evaluated: {error}",
                    policy.id
                ),
            };
            violations.push(Violation {
                policy: policy.id.clone(),
                severity: policy.severity,
                object: desired.describe(),
                message: refusal,
            });
        }
    }
    violations
}
